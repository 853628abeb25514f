DROP INDEX filings_open_promised;
