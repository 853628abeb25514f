-- The schema of permits, as one baseline.
--
-- It replaces the 18 pre-release migrations of 2026-11-22 to 2026-12-01 (nothing was deployed
-- with them) and creates exactly the schema they ended with: what they created and later
-- dropped is not here, and tables they altered are created in their final form. A database
-- migrated with them is refused by `db::migrate`, which says to drop it and start again.
-- Changes from here on are new migrations (expand, then contract), each with a working
-- down.sql; no seed data here (departments, items and calendars are loaded from seeds/).
--
-- Conventions:
-- * Enumerations are text with CHECK constraints: readable in psql, mapped to Rust enums on
--   read (an unknown value is an error there, not a silent default).
-- * Instants are timestamptz; legal days (due days, holidays) are dates.
-- * Plain bounds (lengths, formats, the values of an enumeration) are the column's meaning;
--   every rule beyond that (a cross-column check, a unique key that is not the identity, a
--   trigger) says why beside it.
--
-- Sections: people and access; item definitions; filings and what hangs on them; legal time;
-- work queues; report aggregates; mail, deadlines and jobs; the audit log and its seals.


-- =============================================================================================
-- People and access
-- =============================================================================================

CREATE TABLE departments (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9-]{0,62}$'),
    name_zh     text NOT NULL CHECK (length(name_zh) BETWEEN 1 AND 100),
    name_en     text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_.@-]{3,64}$'),
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    -- person: a resident; company: an organisation with a credit code; staff: bureau personnel.
    kind          text NOT NULL CHECK (kind IN ('person', 'company', 'staff')),
    email         text CHECK (length(email) <= 254),
    phone         text CHECK (length(phone) <= 20),
    -- The unified social credit code (统一社会信用代码): 18 characters, no I, O, S, V, Z.
    credit_code   text CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    lang          text NOT NULL DEFAULT 'zh' CHECK (lang IN ('zh', 'en')),
    password_hash text NOT NULL,
    -- Staff belong to exactly one department; applicants to none.
    department    text REFERENCES departments (code),
    -- Deactivation keeps the row (filings and the audit log name it) and refuses its tokens.
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL,
    -- Why: a department decides what staff see and which queues they work; an applicant with a
    -- department would see the bureau's work.
    CHECK ((kind = 'staff') = (department IS NOT NULL)),
    -- Why: a company files as a legal person, identified by its credit code on every permit.
    CHECK (kind <> 'company' OR credit_code IS NOT NULL)
);

CREATE TABLE user_roles (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    text NOT NULL CHECK (role IN ('applicant', 'clerk', 'reviewer', 'inspector', 'manager', 'admin', 'auditor')),
    PRIMARY KEY (user_id, role)
);

-- Opaque bearer tokens (the API's and the pages' sessions); only their SHA-256 is stored, so a
-- database leak does not leak sessions. Sign-out, deactivation and a password change set
-- revoked_at; an expired or revoked token is refused.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
-- Deactivation and a password change revoke every token of one person at once.
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Login throttling by the name typed, whether or not an account has it: a locked name answers
-- the same for known and unknown accounts, so the lockout does not reveal which names exist.
-- (Hence a table of its own keyed by the text, not counters on users.)
CREATE TABLE login_throttle (
    username     text PRIMARY KEY,
    failures     integer NOT NULL,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL
);


-- =============================================================================================
-- Item definitions
-- =============================================================================================

-- Item definitions (seeds/items/*.toml), versioned: a changed file is a new version, and a
-- filing keeps the version it was made under, so a rule changed mid-procedure does not apply
-- to it retroactively. The digest makes loading the same file again a no-op.
CREATE TABLE item_versions (
    id         serial PRIMARY KEY,
    code       text NOT NULL,
    version    integer NOT NULL CHECK (version >= 1),
    digest     text NOT NULL,
    source     text NOT NULL,
    definition jsonb NOT NULL,
    loaded_at  timestamptz NOT NULL,
    UNIQUE (code, version),
    UNIQUE (code, digest)
);


-- =============================================================================================
-- Filings and what hangs on them
-- =============================================================================================

-- Every filing, from draft to closing. `fillfactor = 85` keeps 15% of each page free, so that
-- an action's UPDATE can put the new row version on the same page (a HOT update: no new index
-- entries). For the same reason no index covers `state` (every action changes it): lists by
-- department go through `tasks`, reports through `item_code` and the due days. An action that
-- neither moves a statutory due day nor closes the filing writes no index entry for it.
CREATE TABLE filings (
    id               uuid PRIMARY KEY,
    item_version_id  integer NOT NULL REFERENCES item_versions (id),
    item_code        text NOT NULL,
    -- Public number, e.g. SGXK-2025-000123; assigned on submission, gapless per prefix and year
    -- (see filing_counters).
    number           text UNIQUE,
    applicant_id     uuid NOT NULL REFERENCES users (id),
    state            text NOT NULL,
    state_kind       text NOT NULL CHECK (state_kind IN ('draft', 'intake', 'review', 'waiting_applicant',
                         'suspended', 'approved', 'refused', 'withdrawn', 'not_accepted')),
    -- The department working the current state (visibility for staff).
    department       text NOT NULL REFERENCES departments (code),
    -- Optimistic concurrency: every change increments it; actions carry the version they saw.
    version          integer NOT NULL DEFAULT 1,
    -- The version at which the current state was entered: keys this visit's reviews and objections.
    state_visit      integer NOT NULL DEFAULT 1,
    form             jsonb NOT NULL DEFAULT '{}',
    -- 容缺: material code -> promised date.
    promises         jsonb NOT NULL DEFAULT '{}',
    -- The current one-time notice (一次性告知), while the applicant supplements.
    notice           jsonb,
    entered_state_at timestamptz NOT NULL,
    submitted_at     timestamptz,
    accepted_at      timestamptz,
    closed_at        timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    -- Deadlines derived from the clock ledger (clock_events) and the calendar: never the only
    -- truth, recomputed on every clock event and whenever a calendar changes. Kept on the row so
    -- that queues sort by urgency and reports find overdue and due-soon filings by index.
    statutory_due_on  date,
    promised_due_on   date,
    warn_on           date,
    step_due_on       date,
    clock_suspended   boolean NOT NULL DEFAULT false,
    -- The due days fall in a year whose holiday notice is not loaded yet.
    clock_provisional boolean NOT NULL DEFAULT false,
    -- Set when the filing closes: whether it was decided in time. (The working days used and
    -- suspended are kept by the SLA aggregates, not here.)
    on_time_statutory boolean,
    on_time_promised  boolean,
    -- The running clock's warning and due days (the statutory clock, or a step's own limit),
    -- NULL while no clock runs. What managers were told about them lives in `escalations`,
    -- which follows these two columns by trigger (see there).
    escalation_warn_on date,
    escalation_due_on  date
) WITH (fillfactor = 85);
-- "My filings", newest first.
CREATE INDEX filings_applicant ON filings (applicant_id, created_at DESC);
CREATE INDEX filings_item ON filings (item_code, created_at);
-- Urgency queries walk open filings in due-date order. The id breaks ties so that "the 200
-- most urgent" is read straight from the index (thousands of filings share a due date).
CREATE INDEX filings_open_due ON filings (statutory_due_on, id) WHERE closed_at IS NULL;
-- Per item: one item's most urgent filings (one department's list merges these walks).
CREATE INDEX filings_open_item_due ON filings (item_code, statutory_due_on, id) WHERE closed_at IS NULL;

-- Gapless numbering: the counter row is locked by the submitting transaction until it commits,
-- so a rolled-back submission gives its number back.
CREATE TABLE filing_counters (
    prefix text NOT NULL,
    year   integer NOT NULL,
    last   integer NOT NULL,
    PRIMARY KEY (prefix, year)
);

-- A create sent again with the same Idempotency-Key (a client retrying after an answer it never
-- got) is answered with the filing the first one made instead of making a second draft. The
-- key is the applicant's own (two applicants choosing the same key do not meet); the
-- request's SHA-256 tells a retry from a key reused for a different request.
CREATE TABLE create_requests (
    applicant_id uuid NOT NULL REFERENCES users (id),
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    request_sha256 text NOT NULL CHECK (request_sha256 ~ '^[0-9a-f]{64}$'),
    filing_id uuid NOT NULL REFERENCES filings (id),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (applicant_id, key)
);

CREATE TABLE materials (
    id            uuid PRIMARY KEY,
    filing_id     uuid NOT NULL REFERENCES filings (id),
    material      text NOT NULL,
    file_name     text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
    content_type  text NOT NULL,
    -- An empty file is no material.
    size_bytes    bigint NOT NULL CHECK (size_bytes > 0),
    -- Files are stored content-addressed under the upload directory by their SHA-256; the
    -- same file sent again for a material is recognised by it.
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    uploaded_by   uuid NOT NULL REFERENCES users (id),
    uploaded_at   timestamptz NOT NULL,
    -- A replaced or removed file is kept (evidence) and marked.
    superseded_at timestamptz
);
CREATE INDEX materials_filing ON materials (filing_id) WHERE superseded_at IS NULL;

-- One row per department per visit of a joint-review state: a department decides once per
-- visit, and a filing sent back and reviewed again starts a new visit.
CREATE TABLE reviews (
    id          bigserial PRIMARY KEY,
    filing_id   uuid NOT NULL REFERENCES filings (id),
    visit       integer NOT NULL,
    department  text NOT NULL REFERENCES departments (code),
    verdict     text NOT NULL CHECK (verdict IN ('approve', 'refuse')),
    opinion     text,
    reason      text,
    decided_by  uuid NOT NULL REFERENCES users (id),
    decided_at  timestamptz NOT NULL,
    UNIQUE (filing_id, visit, department)
);

-- Objections recorded during a visit of a state (residents objecting to an elevator during
-- its public notice), kept per visit like reviews.
CREATE TABLE objections (
    id          bigserial PRIMARY KEY,
    filing_id   uuid NOT NULL REFERENCES filings (id),
    visit       integer NOT NULL,
    body        text NOT NULL,
    recorded_by uuid NOT NULL REFERENCES users (id),
    recorded_at timestamptz NOT NULL
);
CREATE INDEX objections_filing ON objections (filing_id, visit);

-- 好差评: the applicant rates a closed filing once (the primary key), from 1 (very
-- dissatisfied) to 5 (very satisfied); the rating is part of the filing's record and audited.
CREATE TABLE ratings (
    filing_id uuid PRIMARY KEY REFERENCES filings (id),
    score smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment text CHECK (char_length(comment) <= 2000),
    rated_by uuid NOT NULL REFERENCES users (id),
    rated_at timestamptz NOT NULL
);

-- An action reads its filing without a lock and writes everything in one statement whose
-- first part updates the filing only if the row is still the version it read (its xmin): see
-- `services::filings::act` and `db::batch`. This function is that statement's check: it fails
-- the statement, so that nothing of it is written, unless the UPDATE found the row (n = 1).
-- The error is serialization_failure (SQLSTATE 40001), which the service takes as "read again".
CREATE FUNCTION permits_expect_row(n bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF n <> 1 THEN
        RAISE EXCEPTION 'the filing changed after it was read'
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN true;
END
$$;


-- =============================================================================================
-- Legal time
-- =============================================================================================

-- Working-day calendars per region (行政许可法 §82: limits count working days).
CREATE TABLE calendar_regions (
    region         text PRIMARY KEY CHECK (region ~ '^[A-Z0-9-]{1,32}$'),
    name_zh        text NOT NULL,
    name_en        text NOT NULL,
    -- A city's calendar builds on its country's, adding local days.
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
    -- Every loaded year names the notice it comes from (the legal basis of its days).
    notice     text NOT NULL CHECK (length(notice) BETWEEN 1 AND 200),
    holidays   date[] NOT NULL,
    workdays   date[] NOT NULL,
    -- seed: from seeds/calendars; admin: loaded by an administrator (never overwritten by seeds).
    source     text NOT NULL CHECK (source IN ('seed', 'admin')),
    loaded_at  timestamptz NOT NULL,
    loaded_by  uuid REFERENCES users (id),
    PRIMARY KEY (region, year)
);

-- The main clocks' ledger (行政许可法 §42, §45): due dates are derived from it, never stored
-- alone, so a newly loaded calendar year recomputes them.
CREATE TABLE clock_events (
    id        bigserial PRIMARY KEY,
    filing_id uuid NOT NULL REFERENCES filings (id),
    event     text NOT NULL CHECK (event IN ('start', 'suspend', 'resume', 'extend', 'stop')),
    reason    text,
    days      integer,
    at        timestamptz NOT NULL,
    actor_id  uuid REFERENCES users (id)
);
CREATE INDEX clock_events_filing ON clock_events (filing_id, id);


-- =============================================================================================
-- Work queues
-- =============================================================================================

-- One open task per (filing, role, department) in the state that needs it.
CREATE TABLE tasks (
    id          bigserial PRIMARY KEY,
    filing_id   uuid NOT NULL REFERENCES filings (id),
    state       text NOT NULL,
    role        text NOT NULL CHECK (role IN ('clerk', 'reviewer', 'inspector', 'manager')),
    department  text NOT NULL REFERENCES departments (code),
    created_at  timestamptz NOT NULL,
    claimed_by  uuid REFERENCES users (id),
    claimed_at  timestamptz,
    closed_at   timestamptz,
    -- When the work is due (the filing's running clock), copied for queue order.
    due_on      date
);
-- Why: a filing waits on a role of a department once; entering a state closes the old state's
-- tasks before opening the new ones (src/repo/tasks.rs), and this index refuses a second.
CREATE UNIQUE INDEX tasks_one_open ON tasks (filing_id, role, department) WHERE closed_at IS NULL;
-- claim_next scans this index in queue order (the most urgent first: the earliest due day,
-- then the oldest) and skips locked rows (FOR UPDATE SKIP LOCKED).
CREATE INDEX tasks_queue ON tasks (department, role, due_on, created_at, id)
    WHERE closed_at IS NULL AND claimed_by IS NULL;
-- A person's claimed work (the workbench, the digest, deactivation releasing claims).
CREATE INDEX tasks_claimed ON tasks (claimed_by) WHERE closed_at IS NULL;


-- =============================================================================================
-- Report aggregates
-- =============================================================================================

-- SLA reports read maintained aggregates, not the filings table: a report over a year of a
-- million filings sums a few thousand rows instead of sorting a million. The aggregates are
-- written in the same transaction as the submission or the closing action, so they never
-- disagree with the filings. Processing times are small integers (working days), so a
-- histogram (one row per value) gives exact medians and 90th percentiles.
--
-- `shard` (the filing id's hash modulo 8) spreads concurrent increments of one day's counters
-- over several rows, so that busy windows do not queue behind one row lock.

CREATE TABLE sla_received (
    day        date NOT NULL,
    item_code  text NOT NULL,
    department text NOT NULL,
    shard      smallint NOT NULL,
    n          integer NOT NULL,
    PRIMARY KEY (day, item_code, department, shard)
);

CREATE TABLE sla_closed (
    day                date NOT NULL,
    item_code          text NOT NULL,
    department         text NOT NULL,
    -- The member of staff who took the closing action (the applicant for a withdrawal).
    closer_id          uuid NOT NULL,
    -- approved, refused, withdrawn, not_accepted.
    outcome            text NOT NULL,
    -- Working days counted and suspended; -1 when the clock never started.
    used_days          integer NOT NULL,
    suspended_days     integer NOT NULL,
    on_time_statutory  boolean NOT NULL,
    -- NULL is not allowed in a key: false when the item has no promise.
    on_time_promised   boolean NOT NULL,
    shard              smallint NOT NULL,
    n                  integer NOT NULL,
    PRIMARY KEY (day, item_code, department, closer_id, outcome, used_days, suspended_days,
                 on_time_statutory, on_time_promised, shard)
);
CREATE INDEX sla_closed_item_day ON sla_closed (item_code, day);

-- Overdue now and due soon, per item, from a maintained aggregate instead of the filings.
--
-- Counting the open filings due by a horizon through an index on filings reads one index entry
-- per filing: with a backlog of half a million overdue filings, most of a report's 200-450 ms.
-- `open_due` holds signed counts of open filings per item and statutory due day; a report sums
-- the days up to the horizon (a few hundred rows a year per item).
--
-- Triggers keep it, whatever writes the filings (an action, an admin's new calendar year
-- recomputing due days, a bulk load): after INSERT, once per statement from the statement's
-- new rows; after an UPDATE that moves a due day or opens or closes a filing, per row (a
-- column-specific trigger with a WHEN clause costs nothing on the many updates that do neither).
--
-- The triggers only append (-1 on the day left, +1 on the day entered): moving a due day
-- touches two days, and read-modify-write counters would take their row locks in an order no
-- caller controls, so that a calendar reload recomputing a batch of filings and a clerk's action
-- could deadlock. Appending takes no lock. The deadline scan folds the rows into one per item
-- and day (`open_due_compact`), so the table stays small. It has no key (rows for one day are
-- many until folded), so it is not in schema.rs and is read with SQL.
CREATE TABLE open_due (
    item_code text NOT NULL,
    due_on    date NOT NULL,
    n         integer NOT NULL
);
CREATE INDEX open_due_day ON open_due (due_on);

CREATE FUNCTION open_due_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO open_due (item_code, due_on, n)
    SELECT item_code, statutory_due_on, count(*)
    FROM new_filings
    WHERE closed_at IS NULL AND statutory_due_on IS NOT NULL
    GROUP BY 1, 2;
    RETURN NULL;
END
$$;

CREATE FUNCTION open_due_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO open_due (item_code, due_on, n)
    SELECT OLD.item_code, OLD.statutory_due_on, -1
    WHERE OLD.closed_at IS NULL AND OLD.statutory_due_on IS NOT NULL
    UNION ALL
    SELECT NEW.item_code, NEW.statutory_due_on, 1
    WHERE NEW.closed_at IS NULL AND NEW.statutory_due_on IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER filings_open_due_new AFTER INSERT ON filings
    REFERENCING NEW TABLE AS new_filings
    FOR EACH STATEMENT EXECUTE FUNCTION open_due_inserted();
CREATE TRIGGER filings_open_due_moved AFTER UPDATE OF statutory_due_on, closed_at ON filings
    FOR EACH ROW
    WHEN (OLD.statutory_due_on IS DISTINCT FROM NEW.statutory_due_on
          OR (OLD.closed_at IS NULL) <> (NEW.closed_at IS NULL))
    EXECUTE FUNCTION open_due_moved();

-- Fold the rows into one per item and day, in one statement: what it deletes it sums back in.
-- Rows appended meanwhile by transactions it cannot see stay as they are, and two folds at once
-- are safe (the second skips what the first deleted). Days whose sum is zero go. Returns the
-- rows left.
CREATE FUNCTION open_due_compact() RETURNS bigint LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM open_due RETURNING item_code, due_on, n),
         kept AS (INSERT INTO open_due (item_code, due_on, n)
                  SELECT item_code, due_on, sum(n) FROM gone GROUP BY 1, 2 HAVING sum(n) <> 0
                  RETURNING 1)
    SELECT count(*) FROM kept;
$$;


-- =============================================================================================
-- Mail, deadlines and jobs
-- =============================================================================================

-- Mail goes through an outbox (DESIGN principle 6): each message is rendered into a row in the
-- transaction that causes it, so nothing is sent for work that rolled back and nothing committed
-- is lost; a sender sends after commit.
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    -- What makes the message unique (filing, kind, deadline …). Two scheduler ticks, a restart
    -- or a second instance inserting the same reminder meet this key and insert nothing.
    dedupe_key text NOT NULL UNIQUE,
    kind text NOT NULL,
    filing_id uuid REFERENCES filings (id),
    recipient_id uuid REFERENCES users (id),
    to_address text NOT NULL CHECK (to_address <> ''),
    lang text NOT NULL CHECK (lang IN ('zh', 'en')),
    subject text NOT NULL,
    -- lz4: a busy morning's scan writes thousands of letters of several KB each; lz4 compresses
    -- them many times faster than the default pglz, and they are written far more often than read.
    body_text text COMPRESSION lz4 NOT NULL,
    body_html text COMPRESSION lz4 NOT NULL,
    -- Assigned once: a message sent again after a crash between sending and marking carries the
    -- same Message-ID, so mail clients show it once.
    message_id text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts int NOT NULL DEFAULT 0,
    -- A pending row is due at this time. Claiming a row moves it forward by the lease, so a
    -- sender that dies mid-send leaves the row to be claimed again once the lease is over.
    next_attempt_at timestamptz NOT NULL,
    claimed_by text,
    last_error text,
    created_at timestamptz NOT NULL,
    sent_at timestamptz,
    smtp_response text,
    -- Why: a row is sent exactly when it has the time it was sent; the sender marks both at
    -- once, so a half-marked row is a bug refused here rather than a letter sent twice or never.
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
-- The sender claims due rows in order with FOR UPDATE SKIP LOCKED.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
-- Failed mail, for administrators to send again.
CREATE INDEX outbox_failed ON outbox (id) WHERE status = 'failed';
CREATE INDEX outbox_filing ON outbox (filing_id, id) WHERE filing_id IS NOT NULL;

-- Deadlines on the applicant (a 容缺 promise date, the start of works within 3 months of a
-- permit, a rectification period), with the working days on which to remind. The scan reads
-- only rows whose next reminder has come, through the partial index.
CREATE TABLE applicant_deadlines (
    id bigserial PRIMARY KEY,
    filing_id uuid NOT NULL REFERENCES filings (id),
    -- `promise:<material>` or the code of a deadline in the item definition.
    code text NOT NULL,
    due_on date NOT NULL,
    -- Set for a deadline that lapses when the filing leaves the state visit that opened it.
    state_visit int,
    remind_on date[] NOT NULL,
    next_remind_on date,
    reminders_sent int NOT NULL DEFAULT 0,
    opened_at timestamptz NOT NULL,
    closed_at timestamptz
);
-- The deadline scan reads a page at a time in (day, id) order with FOR UPDATE SKIP LOCKED;
-- with the id in the index it walks the index in order and stops after the page instead of
-- sorting all that is due (thousands of rows on a busy morning).
CREATE INDEX applicant_deadlines_next ON applicant_deadlines (next_remind_on, id)
    WHERE closed_at IS NULL AND next_remind_on IS NOT NULL;
-- Why: one open deadline per (filing, code, due day), not one ever. A deadline closed earlier
-- must not keep a new one with the same due day from opening (a rectification ordered again
-- on the day of the first one's re-check request: the same 30 days, the same due day), or its
-- reminders would never go out. It also serves the lookups of a filing's open deadlines.
CREATE UNIQUE INDEX applicant_deadlines_one_open ON applicant_deadlines (filing_id, code, due_on)
    WHERE closed_at IS NULL;

-- Escalation to managers (a yellow card on the warning day, a red card after the due day):
-- what the deadline scan has told them, in a narrow table of its own rather than on `filings`.
-- Marking a page of 200 filings as told on the wide filings row would write a new version of
-- each (forms, promises and all) and an entry in every one of its indexes, and take a row lock
-- that makes a clerk's action on the same filing wait for the scan; here a mark rewrites a row
-- of five dates, and the scan locks only these rows.
--
-- `warn_on` / `due_on` follow `filings.escalation_warn_on` / `escalation_due_on` by trigger,
-- whatever writes them (the service, an admin's new calendar year, a bulk load). The *_sent_for
-- columns hold the due day an escalation was sent for: a moved due day (an extension, a
-- suspension, a new calendar) makes the filing eligible again without resetting anything, and
-- the partial indexes hold exactly the filings not yet told for their current due day, so a
-- scan over a million open filings reads only the few that turned, in (day, id) pages.
CREATE TABLE escalations (
    filing_id uuid PRIMARY KEY REFERENCES filings (id),
    warn_on date,
    due_on date,
    yellow_sent_for date,
    red_sent_for date
);
CREATE INDEX escalations_yellow_pending ON escalations (warn_on, filing_id)
    WHERE warn_on IS NOT NULL AND yellow_sent_for IS DISTINCT FROM due_on;
CREATE INDEX escalations_red_pending ON escalations (due_on, filing_id)
    WHERE due_on IS NOT NULL AND red_sent_for IS DISTINCT FROM due_on;

-- Copies the filing's escalation days into its row (an upsert that leaves *_sent_for alone).
CREATE FUNCTION escalations_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO escalations (filing_id, warn_on, due_on)
    VALUES (NEW.id, NEW.escalation_warn_on, NEW.escalation_due_on)
    ON CONFLICT (filing_id) DO UPDATE SET warn_on = EXCLUDED.warn_on, due_on = EXCLUDED.due_on;
    RETURN NULL;
END
$$;

-- A filing that never had a running clock has no row; one whose clock stopped keeps its row
-- with NULL days (outside both indexes), so what was told is remembered if a clock runs again.
-- The UPDATE trigger fires only when a day really moves, so most actions do not touch the table.
CREATE TRIGGER filings_escalations_new AFTER INSERT ON filings
    FOR EACH ROW
    WHEN (NEW.escalation_warn_on IS NOT NULL OR NEW.escalation_due_on IS NOT NULL)
    EXECUTE FUNCTION escalations_follow();
CREATE TRIGGER filings_escalations_moved AFTER UPDATE OF escalation_warn_on, escalation_due_on ON filings
    FOR EACH ROW
    WHEN (OLD.escalation_warn_on IS DISTINCT FROM NEW.escalation_warn_on
          OR OLD.escalation_due_on IS DISTINCT FROM NEW.escalation_due_on)
    EXECUTE FUNCTION escalations_follow();

-- Scheduled jobs: when each last ran, where and with what result. `running_until` is a lease
-- (on the database's own clock) that keeps a second instance from running the same scan at the
-- same time; it only saves work, since every job is idempotent by its unique keys and
-- SKIP LOCKED. A crashed run's lease simply expires.
CREATE TABLE job_runs (
    job text PRIMARY KEY,
    running_until timestamptz,
    last_started_at timestamptz NOT NULL,
    last_finished_at timestamptz,
    last_instance text NOT NULL,
    last_result jsonb,
    last_error text
);


-- =============================================================================================
-- The audit log and its seals
-- =============================================================================================

-- The audit log is evidence: append-only, hash-chained per chain ('filing:<id>', 'user:<id>',
-- 'admin'). The canonical entry text is stored as hashed, so verification needs no re-encoding
-- of database values. The link is SHA-256(prev_hash || '\n' || entry) in lower-case hex, the
-- first prev_hash 64 zeros (src/domain/audit.rs recomputes every link).
CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    chain     text NOT NULL,
    seq       bigint NOT NULL CHECK (seq >= 1),
    filing_id uuid REFERENCES filings (id),
    actor_id  uuid REFERENCES users (id),
    action    text NOT NULL,
    at        timestamptz NOT NULL,
    entry     text NOT NULL,
    prev_hash text NOT NULL,
    hash      text NOT NULL,
    -- Why: one entry per place in a chain, so a chain cannot fork (gaps are caught by verify).
    UNIQUE (chain, seq)
);
-- A filing's history.
CREATE INDEX audit_log_filing ON audit_log (filing_id, seq) WHERE filing_id IS NOT NULL;

-- The head of each chain. An append is one INSERT … ON CONFLICT DO UPDATE … RETURNING on the
-- head (src/repo/audit.rs): it locks the head row until the transaction ends, so appends to one
-- chain are serialised and gapless while different chains do not contend, and computes the next
-- seq and hash from the locked, latest head; the entry is an INSERT … SELECT of the row it
-- returns, so one write of the head per entry. Verification compares the head with the chain's
-- last entry to detect a cut-off tail.
CREATE TABLE audit_heads (
    chain      text PRIMARY KEY,
    seq        bigint NOT NULL,
    hash       text NOT NULL,
    updated_at timestamptz NOT NULL,
    -- How far the chain is sealed (see audit_seals), so a seal takes only the heads that moved.
    -- In no index, so that appends stay HOT updates of the head row.
    sealed_seq bigint NOT NULL DEFAULT 0,
    -- The hash this head replaced: the new entry's prev_hash, returned by the append's upsert.
    -- Every append writes it (nullable only because it was added to existing heads).
    prev_hash  text
);

-- Why: evidence must not change. Refuse UPDATE and DELETE row by row and TRUNCATE as a
-- statement. (A superuser can still disable triggers; the hash chain, the head records and the
-- seals detect what such a person changes.)
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- Seals over the chain heads (DESIGN principle 5). Each chain proves its own entries, but
-- someone able to write the tables (a superuser with the triggers disabled) could rewrite a
-- whole chain and its head consistently, and the chain alone would still verify. A seal
-- records, at a point in time, the head (seq, hash) of every chain that grew since the last
-- seal, and is itself linked to the previous seal by SHA-256 like a chain entry. Verification
-- checks the seals' own chain, that each seal's recorded heads hash to its digest, and that
-- each recorded head is still the entry at that place in its chain: a rewritten chain no longer
-- has the sealed hash at the sealed seq. Rewriting the seals as well changes the latest seal's
-- hash, which `permits audit verify` prints and which operators keep elsewhere (a ticket, a
-- printed report) to compare.
CREATE TABLE audit_seals (
    seq        bigint PRIMARY KEY CHECK (seq >= 1),
    sealed_at  timestamptz NOT NULL,
    heads      integer NOT NULL,
    -- Canonical JSON of {"at", "heads", "heads_digest", "seq"}, as hashed.
    entry      text NOT NULL,
    prev_hash  text NOT NULL,
    hash       text NOT NULL
);

CREATE TABLE audit_seal_heads (
    seal_seq bigint NOT NULL REFERENCES audit_seals (seq),
    chain    text NOT NULL,
    seq      bigint NOT NULL,
    hash     text NOT NULL,
    PRIMARY KEY (seal_seq, chain)
);

-- Why: seals are evidence too: append-only, like the log, by the same kind of triggers.
CREATE FUNCTION audit_seals_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_seals_no_update_delete BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION audit_seals_are_append_only();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION audit_seals_are_append_only();
CREATE TRIGGER audit_seal_heads_no_update_delete BEFORE UPDATE OR DELETE ON audit_seal_heads
    FOR EACH ROW EXECUTE FUNCTION audit_seals_are_append_only();
CREATE TRIGGER audit_seal_heads_no_truncate BEFORE TRUNCATE ON audit_seal_heads
    FOR EACH STATEMENT EXECUTE FUNCTION audit_seals_are_append_only();
