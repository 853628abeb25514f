DROP INDEX filings_open_item_due;
