CREATE INDEX applicant_deadlines_open ON applicant_deadlines (filing_id) WHERE closed_at IS NULL;
DROP INDEX applicant_deadlines_one_open;
ALTER TABLE applicant_deadlines ADD CONSTRAINT applicant_deadlines_filing_id_code_due_on_key
    UNIQUE (filing_id, code, due_on);
