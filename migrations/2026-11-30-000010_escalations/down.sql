ALTER TABLE filings ADD COLUMN yellow_sent_for date, ADD COLUMN red_sent_for date;
UPDATE filings f SET yellow_sent_for = e.yellow_sent_for, red_sent_for = e.red_sent_for
FROM escalations e WHERE e.filing_id = f.id;
CREATE INDEX filings_yellow_pending ON filings (escalation_warn_on, id)
    WHERE escalation_warn_on IS NOT NULL AND yellow_sent_for IS DISTINCT FROM escalation_due_on;
CREATE INDEX filings_red_pending ON filings (escalation_due_on, id)
    WHERE escalation_due_on IS NOT NULL AND red_sent_for IS DISTINCT FROM escalation_due_on;
DROP TRIGGER filings_escalations_moved ON filings;
DROP TRIGGER filings_escalations_new ON filings;
DROP FUNCTION escalations_follow();
DROP TABLE escalations;
