-- Core schema: people, item definitions, filings, materials, work queues and the audit chain.
-- Enumerations are text with CHECK constraints: readable in psql, mapped to Rust enums on read
-- (an unknown value is an error there, not a silent default).

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
    credit_code   text CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    lang          text NOT NULL DEFAULT 'zh' CHECK (lang IN ('zh', 'en')),
    password_hash text NOT NULL,
    -- Staff belong to exactly one department; applicants to none.
    department    text REFERENCES departments (code),
    active        boolean NOT NULL DEFAULT true,
    -- Login throttling: consecutive failures and the time before which logins are refused.
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL,
    CHECK ((kind = 'staff') = (department IS NOT NULL)),
    CHECK (kind <> 'company' OR credit_code IS NOT NULL)
);

CREATE TABLE user_roles (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    text NOT NULL CHECK (role IN ('applicant', 'clerk', 'reviewer', 'inspector', 'manager', 'admin', 'auditor')),
    PRIMARY KEY (user_id, role)
);

-- Opaque bearer tokens; only their SHA-256 is stored, so a database leak does not leak sessions.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Item definitions, versioned: a changed file is a new version; filings keep theirs.
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

CREATE TABLE filings (
    id               uuid PRIMARY KEY,
    item_version_id  integer NOT NULL REFERENCES item_versions (id),
    item_code        text NOT NULL,
    -- Public number, e.g. SGXK-2025-000123; assigned on submission, gapless per prefix and year.
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
    updated_at       timestamptz NOT NULL
);
CREATE INDEX filings_applicant ON filings (applicant_id, created_at DESC);
CREATE INDEX filings_department_open ON filings (department, state) WHERE closed_at IS NULL;
CREATE INDEX filings_item ON filings (item_code, created_at);

-- Gapless numbering: the counter row is locked by the submitting transaction until it commits,
-- so a rolled-back submission gives its number back.
CREATE TABLE filing_counters (
    prefix text NOT NULL,
    year   integer NOT NULL,
    last   integer NOT NULL,
    PRIMARY KEY (prefix, year)
);

CREATE TABLE materials (
    id            uuid PRIMARY KEY,
    filing_id     uuid NOT NULL REFERENCES filings (id),
    material      text NOT NULL,
    file_name     text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
    content_type  text NOT NULL,
    size_bytes    bigint NOT NULL CHECK (size_bytes > 0),
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- Files are stored content-addressed under the upload directory by their SHA-256.
    uploaded_by   uuid NOT NULL REFERENCES users (id),
    uploaded_at   timestamptz NOT NULL,
    -- A replaced or removed file is kept (evidence) and marked.
    superseded_at timestamptz
);
CREATE INDEX materials_filing ON materials (filing_id) WHERE superseded_at IS NULL;

-- One row per department per visit of a joint-review state.
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

CREATE TABLE objections (
    id          bigserial PRIMARY KEY,
    filing_id   uuid NOT NULL REFERENCES filings (id),
    visit       integer NOT NULL,
    body        text NOT NULL,
    recorded_by uuid NOT NULL REFERENCES users (id),
    recorded_at timestamptz NOT NULL
);
CREATE INDEX objections_filing ON objections (filing_id, visit);

-- The main clocks' ledger (行政许可法 §42, §45): due dates are derived from it, never stored alone.
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

-- Work queues: one open task per (filing, role, department) in the state that needs it.
CREATE TABLE tasks (
    id          bigserial PRIMARY KEY,
    filing_id   uuid NOT NULL REFERENCES filings (id),
    state       text NOT NULL,
    role        text NOT NULL CHECK (role IN ('clerk', 'reviewer', 'inspector', 'manager')),
    department  text NOT NULL REFERENCES departments (code),
    created_at  timestamptz NOT NULL,
    claimed_by  uuid REFERENCES users (id),
    claimed_at  timestamptz,
    closed_at   timestamptz
);
CREATE UNIQUE INDEX tasks_one_open ON tasks (filing_id, role, department) WHERE closed_at IS NULL;
-- claim_next scans this index in queue order and skips locked rows.
CREATE INDEX tasks_queue ON tasks (department, role, created_at, id) WHERE closed_at IS NULL AND claimed_by IS NULL;
CREATE INDEX tasks_claimed ON tasks (claimed_by) WHERE closed_at IS NULL;

-- The audit log is evidence: append-only, hash-chained per chain ('filing:<id>', 'user:<id>',
-- 'admin'). The canonical entry text is stored as hashed, so verification needs no re-encoding
-- of database values.
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
    UNIQUE (chain, seq)
);
CREATE INDEX audit_log_filing ON audit_log (filing_id, seq) WHERE filing_id IS NOT NULL;

-- The head of each chain, locked by the appending transaction so that appends to one chain are
-- serialised; verification compares it with the chain's last entry to detect a cut-off tail.
CREATE TABLE audit_heads (
    chain      text PRIMARY KEY,
    seq        bigint NOT NULL,
    hash       text NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Why: evidence must not change. Refuse UPDATE and DELETE row by row and TRUNCATE as a
-- statement. (A superuser can still disable triggers; the hash chain and head records detect
-- what such a person changes.)
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
