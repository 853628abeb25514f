-- The deadline scan reads a page at a time in (day, id) order with FOR UPDATE SKIP LOCKED.
-- With the day alone in the index, every page sorted all that was due (thousands of rows on a
-- busy morning, joined to filings and users first) to keep 200: ~50 ms a page over 1M filings.
-- With the id in the index the scan walks the index in order and stops after the page.
DROP INDEX applicant_deadlines_next;
CREATE INDEX applicant_deadlines_next ON applicant_deadlines (next_remind_on, id)
    WHERE closed_at IS NULL AND next_remind_on IS NOT NULL;
DROP INDEX filings_yellow_pending;
CREATE INDEX filings_yellow_pending ON filings (escalation_warn_on, id)
    WHERE escalation_warn_on IS NOT NULL AND yellow_sent_for IS DISTINCT FROM escalation_due_on;
DROP INDEX filings_red_pending;
CREATE INDEX filings_red_pending ON filings (escalation_due_on, id)
    WHERE escalation_due_on IS NOT NULL AND red_sent_for IS DISTINCT FROM escalation_due_on;
