-- Drops everything up.sql creates, dependents first, without CASCADE: an object this list
-- forgets, or one added elsewhere that depends on these, makes the revert fail instead of
-- vanishing silently. Triggers and indexes go with their tables; trigger functions go after the
-- tables whose triggers call them.

-- The audit log and its seals
DROP TABLE audit_seal_heads;
DROP TABLE audit_seals;
DROP FUNCTION audit_seals_are_append_only();
DROP TABLE audit_heads;
DROP TABLE audit_log;
DROP FUNCTION audit_log_is_append_only();

-- Mail, deadlines and jobs
DROP TABLE job_runs;
DROP TRIGGER filings_escalations_moved ON filings;
DROP TRIGGER filings_escalations_new ON filings;
DROP FUNCTION escalations_follow();
DROP TABLE escalations;
DROP TABLE applicant_deadlines;
DROP TABLE outbox;

-- Report aggregates
DROP FUNCTION open_due_compact();
DROP TRIGGER filings_open_due_moved ON filings;
DROP TRIGGER filings_open_due_new ON filings;
DROP FUNCTION open_due_moved();
DROP FUNCTION open_due_inserted();
DROP TABLE open_due;
DROP TABLE sla_closed;
DROP TABLE sla_received;

-- Work queues
DROP TABLE tasks;

-- Legal time
DROP TABLE clock_events;
DROP TABLE calendar_years;
DROP TABLE calendar_regions;

-- Filings and what hangs on them
DROP FUNCTION permits_expect_row(bigint);
DROP TABLE ratings;
DROP TABLE objections;
DROP TABLE reviews;
DROP TABLE materials;
DROP TABLE create_requests;
DROP TABLE filing_counters;
DROP TABLE filings;

-- Item definitions
DROP TABLE item_versions;

-- People and access
DROP TABLE login_throttle;
DROP TABLE api_tokens;
DROP TABLE user_roles;
DROP TABLE users;
DROP TABLE departments;
