DROP INDEX tasks_queue;
CREATE INDEX tasks_queue ON tasks (department, role, created_at, id) WHERE closed_at IS NULL AND claimed_by IS NULL;
ALTER TABLE tasks DROP COLUMN due_on;
DROP INDEX filings_open_due;
ALTER TABLE filings
    DROP COLUMN statutory_due_on,
    DROP COLUMN promised_due_on,
    DROP COLUMN warn_on,
    DROP COLUMN step_due_on,
    DROP COLUMN clock_suspended,
    DROP COLUMN clock_provisional,
    DROP COLUMN working_days_used,
    DROP COLUMN suspended_working_days,
    DROP COLUMN on_time_statutory,
    DROP COLUMN on_time_promised;
DROP TABLE calendar_years;
DROP TABLE calendar_regions;
