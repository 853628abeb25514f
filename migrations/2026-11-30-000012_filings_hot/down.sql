ALTER TABLE filings RESET (fillfactor);
CREATE INDEX filings_department_open ON filings (department, state) WHERE closed_at IS NULL;
