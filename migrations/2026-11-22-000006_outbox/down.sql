ALTER TABLE users
    ADD COLUMN failed_logins integer NOT NULL DEFAULT 0,
    ADD COLUMN locked_until timestamptz;
ALTER TABLE filings
    ADD COLUMN working_days_used integer,
    ADD COLUMN suspended_working_days integer;
DROP TABLE job_runs;
DROP INDEX filings_red_pending;
DROP INDEX filings_yellow_pending;
ALTER TABLE filings
    DROP COLUMN red_sent_for,
    DROP COLUMN yellow_sent_for,
    DROP COLUMN escalation_due_on,
    DROP COLUMN escalation_warn_on;
DROP TABLE applicant_deadlines;
DROP TABLE outbox;
