-- Urgency queries walk open filings in due-date order. The id breaks ties so that "the 200
-- most urgent" is read straight from the index (thousands of filings share a due date).
DROP INDEX filings_open_due;
CREATE INDEX filings_open_due ON filings (statutory_due_on, id) WHERE closed_at IS NULL;
-- Per item: overdue and due-soon counts (an index-only scan once vacuumed) and one item's
-- most urgent filings.
CREATE INDEX filings_open_item_due ON filings (item_code, statutory_due_on, id) WHERE closed_at IS NULL;
