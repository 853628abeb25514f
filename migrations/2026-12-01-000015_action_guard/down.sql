DROP FUNCTION permits_expect_row(bigint);
