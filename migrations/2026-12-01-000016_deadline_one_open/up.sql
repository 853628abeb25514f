-- One open deadline per (filing, code, due day), not one ever. With the old key a deadline
-- closed earlier kept a new one with the same due day from opening: a rectification ordered
-- again on the day of the first one's re-check request (the same 30 days, the same due day)
-- opened nothing, and its reminders never went out. The new unique index covers only open
-- rows; it also serves the lookups of a filing's open deadlines, so the index that did that
-- alone goes.
ALTER TABLE applicant_deadlines DROP CONSTRAINT applicant_deadlines_filing_id_code_due_on_key;
CREATE UNIQUE INDEX applicant_deadlines_one_open ON applicant_deadlines (filing_id, code, due_on)
    WHERE closed_at IS NULL;
DROP INDEX applicant_deadlines_open;
