DROP FUNCTION open_due_compact();
DROP TRIGGER filings_open_due_moved ON filings;
DROP TRIGGER filings_open_due_new ON filings;
DROP FUNCTION open_due_moved();
DROP FUNCTION open_due_inserted();
DROP TABLE open_due;
