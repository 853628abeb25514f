-- Open filings past the promised limit (承诺时限), for the dashboard beside the statutory one:
-- the same partial shape as filings_open_due.
CREATE INDEX filings_open_promised ON filings (promised_due_on, id) WHERE closed_at IS NULL AND promised_due_on IS NOT NULL;
