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
    body_text text NOT NULL,
    body_html text NOT NULL,
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
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);

CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
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
    closed_at timestamptz,
    UNIQUE (filing_id, code, due_on)
);

CREATE INDEX applicant_deadlines_next ON applicant_deadlines (next_remind_on)
    WHERE closed_at IS NULL AND next_remind_on IS NOT NULL;
CREATE INDEX applicant_deadlines_open ON applicant_deadlines (filing_id) WHERE closed_at IS NULL;

-- Escalation to managers. `escalation_warn_on` / `escalation_due_on` copy the running clock's
-- warning and due days (the statutory clock, or a step's own limit), NULL while no clock runs;
-- the *_sent_for columns hold the due day an escalation was sent for. A moved due day (an
-- extension, a suspension, a new calendar) makes the filing eligible again without resetting
-- anything, and the partial indexes hold exactly the filings not yet escalated for their
-- current due day, so a scan over a million open filings reads only the few that turned.
ALTER TABLE filings
    ADD COLUMN escalation_warn_on date,
    ADD COLUMN escalation_due_on date,
    ADD COLUMN yellow_sent_for date,
    ADD COLUMN red_sent_for date;

CREATE INDEX filings_yellow_pending ON filings (escalation_warn_on)
    WHERE escalation_warn_on IS NOT NULL AND yellow_sent_for IS DISTINCT FROM escalation_due_on;
CREATE INDEX filings_red_pending ON filings (escalation_due_on)
    WHERE escalation_due_on IS NOT NULL AND red_sent_for IS DISTINCT FROM escalation_due_on;

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

-- Contract: copies that nothing reads. The SLA aggregates keep the working days used and
-- suspended of every closed filing; login throttling moved to login_throttle (migration 4).
ALTER TABLE filings
    DROP COLUMN working_days_used,
    DROP COLUMN suspended_working_days;
ALTER TABLE users
    DROP COLUMN failed_logins,
    DROP COLUMN locked_until;
