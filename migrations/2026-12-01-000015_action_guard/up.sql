-- An action reads its filing without a lock and writes everything in one statement whose
-- first part updates the filing only if the row is still the version it read (its xmin): see
-- `services::filings::act`. This function is that statement's check: it fails the statement,
-- so that nothing of it is written, unless the UPDATE found the row (n = 1). The error is
-- serialization_failure (SQLSTATE 40001), which the service takes as "read again".
CREATE FUNCTION permits_expect_row(n bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF n <> 1 THEN
        RAISE EXCEPTION 'the filing changed after it was read'
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN true;
END
$$;
