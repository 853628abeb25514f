DROP INDEX filings_open_item_due;
DROP INDEX filings_open_due;
CREATE INDEX filings_open_due ON filings (statutory_due_on) WHERE closed_at IS NULL;
