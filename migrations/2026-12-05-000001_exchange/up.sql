-- Data exchange with the approval platforms (LAW.md §7, issue 17 §1).

-- GB/T 39046 A.5 办理形式: how the filing was submitted (1 窗口, 2 电脑端网上, 3 移动端), recorded
-- at submission; NULL while a draft.
ALTER TABLE filings ADD COLUMN channel smallint
    CHECK (channel IS NULL OR channel IN (1, 2, 3, 4, 9));

-- The exchange outbox: one row per reported transition (its BLZT code), written in the action's
-- transaction; the `exchange` job copies it to the province's front database (SPGL tables).
CREATE TABLE exchange_rows (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    filing_id       uuid NOT NULL REFERENCES filings (id),
    -- SPSXSLBM: the filing's public number.
    filing_number   text NOT NULL,
    action          text NOT NULL,
    blzt            smallint NOT NULL CHECK (blzt BETWEEN 1 AND 15),
    -- BLCS / BLR: the office and the person.
    department      text NOT NULL,
    actor_id        uuid NOT NULL REFERENCES users (id),
    actor_name      text NOT NULL,
    -- BLYJ.
    opinion         text,
    -- BLSJ.
    at              timestamptz NOT NULL,
    -- A special procedure (特别程序) this row starts or ends: {kind, name, limit_days}.
    special         jsonb,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'exported')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    exported_at     timestamptz
);
CREATE INDEX exchange_rows_pending ON exchange_rows (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX exchange_rows_filing ON exchange_rows (filing_id, id);

-- The upload of each issued permit to the 建筑市场监管 platform, within five working days of
-- issue (建办市〔2020〕25号).
CREATE TABLE platform_uploads (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    certificate_id  uuid NOT NULL UNIQUE REFERENCES certificates (id),
    filing_id       uuid NOT NULL REFERENCES filings (id),
    issued_at       timestamptz NOT NULL,
    due_on          date NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz,
    -- The platform's answer (its receipt).
    response        text
);
CREATE INDEX platform_uploads_pending ON platform_uploads (next_attempt_at, id) WHERE status = 'pending';
