ALTER TABLE filings DROP COLUMN filed_by;
