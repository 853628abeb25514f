-- Overdue and due-soon counts per item read only the open filings due by the day asked, from
-- this index alone (an index-only scan once the table is vacuumed).
CREATE INDEX filings_open_item_due ON filings (item_code, statutory_due_on) WHERE closed_at IS NULL;
