-- The fire filing's spot-check draw (双随机、一公开; src/domain/draw.rs, src/services/draw.rs).
--
-- A draw is committed before its seed exists: `inputs` (the pool, the ratios, the inspectors'
-- roster and each filing's conflicts) is written with an entry in the `draws` audit chain at
-- `commit_seq`, and the seed is the hash of the first audit seal that records that chain at or
-- after it (`seal_seq`). Until then `seal_seq`, `seed`, `result` and `drawn_at` are null.
-- The row is a convenience for reading; the audit entries are the evidence, and
-- `permits draw verify` compares the two.
CREATE TABLE draws (
    id              uuid PRIMARY KEY,
    item_code       text NOT NULL,
    item_version_id integer NOT NULL REFERENCES item_versions (id),
    -- The state the pool was drawn from (the item's `select_for_check` leaves it).
    pool_state      text NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('at_receipt', 'daily')),
    rule_version    text NOT NULL,
    inputs          jsonb NOT NULL,
    committed_at    timestamptz NOT NULL,
    commit_seq      bigint NOT NULL,
    seal_seq        bigint REFERENCES audit_seals (seq),
    seed            text,
    result          jsonb,
    drawn_at        timestamptz,
    -- Why: a draw is either waiting for its seal or drawn whole.
    CHECK ((seal_seq IS NULL) = (drawn_at IS NULL)
       AND (seed IS NULL) = (drawn_at IS NULL)
       AND (result IS NULL) = (drawn_at IS NULL))
);
-- The public list, newest first.
CREATE INDEX draws_newest ON draws (committed_at DESC, id DESC);
-- The job completes draws committed but not drawn (a process that died in between).
CREATE INDEX draws_undrawn ON draws (committed_at) WHERE drawn_at IS NULL;

-- Each filing's place in a draw: what a filing's page, letters and documents read.
CREATE TABLE draw_filings (
    -- Why: a filing is drawn once; a second draw for it cannot be committed.
    filing_id  uuid PRIMARY KEY REFERENCES filings (id),
    draw_id    uuid NOT NULL REFERENCES draws (id),
    number     text NOT NULL,
    class      text NOT NULL,
    late       boolean NOT NULL,
    -- Null until drawn.
    selected   boolean,
    -- The drawn inspectors, lead first (empty unless selected).
    inspectors uuid[] NOT NULL DEFAULT '{}'
);
CREATE INDEX draw_filings_draw ON draw_filings (draw_id);

-- Declared conflicts of interest (回避): an inspector who may not inspect a builder's works (a
-- relative, a former employer), by the builder's unified social credit code.
CREATE TABLE draw_conflicts (
    user_id     uuid NOT NULL REFERENCES users (id),
    credit_code text NOT NULL,
    reason      text NOT NULL,
    declared_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, credit_code)
);
CREATE INDEX draw_conflicts_builder ON draw_conflicts (credit_code);
