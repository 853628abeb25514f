DROP TABLE platform_uploads;
DROP TABLE exchange_rows;
ALTER TABLE filings DROP COLUMN channel;
