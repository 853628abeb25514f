DROP INDEX applicant_deadlines_next;
CREATE INDEX applicant_deadlines_next ON applicant_deadlines (next_remind_on)
    WHERE closed_at IS NULL AND next_remind_on IS NOT NULL;
DROP INDEX filings_yellow_pending;
CREATE INDEX filings_yellow_pending ON filings (escalation_warn_on)
    WHERE escalation_warn_on IS NOT NULL AND yellow_sent_for IS DISTINCT FROM escalation_due_on;
DROP INDEX filings_red_pending;
CREATE INDEX filings_red_pending ON filings (escalation_due_on)
    WHERE escalation_due_on IS NOT NULL AND red_sent_for IS DISTINCT FROM escalation_due_on;
