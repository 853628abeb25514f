-- Legal time: working-day calendars per region, and the derived deadlines of each filing.

CREATE TABLE calendar_regions (
    region         text PRIMARY KEY CHECK (region ~ '^[A-Z0-9-]{1,32}$'),
    name_zh        text NOT NULL,
    name_en        text NOT NULL,
    -- A city's calendar builds on its country's.
    base           text REFERENCES calendar_regions (region),
    local_holidays date[] NOT NULL DEFAULT '{}',
    local_workdays date[] NOT NULL DEFAULT '{}',
    updated_at     timestamptz NOT NULL
);

-- One row per region and year whose State Council notice is loaded; a year without a row is
-- provisional (only the statutory holidays are known).
CREATE TABLE calendar_years (
    region     text NOT NULL REFERENCES calendar_regions (region),
    year       integer NOT NULL CHECK (year BETWEEN 2000 AND 2099),
    notice     text NOT NULL CHECK (length(notice) BETWEEN 1 AND 200),
    holidays   date[] NOT NULL,
    workdays   date[] NOT NULL,
    -- seed: from seeds/calendars; admin: loaded by an administrator (never overwritten by seeds).
    source     text NOT NULL CHECK (source IN ('seed', 'admin')),
    loaded_at  timestamptz NOT NULL,
    loaded_by  uuid REFERENCES users (id),
    PRIMARY KEY (region, year)
);

-- Deadlines derived from the clock ledger and the calendar (principle 4: never the only truth;
-- recomputed on every clock event and whenever a calendar changes). Kept on the row so that
-- queues sort by urgency and reports find overdue and due-soon filings through an index.
ALTER TABLE filings
    ADD COLUMN statutory_due_on  date,
    ADD COLUMN promised_due_on   date,
    ADD COLUMN warn_on           date,
    ADD COLUMN step_due_on       date,
    ADD COLUMN clock_suspended   boolean NOT NULL DEFAULT false,
    ADD COLUMN clock_provisional boolean NOT NULL DEFAULT false,
    -- Set when the filing closes: working days used and suspended, and whether it was on time.
    ADD COLUMN working_days_used      integer,
    ADD COLUMN suspended_working_days integer,
    ADD COLUMN on_time_statutory      boolean,
    ADD COLUMN on_time_promised       boolean;

CREATE INDEX filings_open_due ON filings (statutory_due_on) WHERE closed_at IS NULL;

ALTER TABLE tasks ADD COLUMN due_on date;
DROP INDEX tasks_queue;
-- claim_next takes the most urgent first: the earliest due date, then the oldest.
CREATE INDEX tasks_queue ON tasks (department, role, due_on, created_at, id)
    WHERE closed_at IS NULL AND claimed_by IS NULL;
