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
--
-- `audit_heads.sealed_seq` marks how far each chain is sealed, so a seal takes only the heads
-- that moved (the column is in no index: appends stay HOT updates of the head row).
ALTER TABLE audit_heads ADD COLUMN sealed_seq bigint NOT NULL DEFAULT 0;

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

-- Seals are evidence too: append-only, like the log.
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
