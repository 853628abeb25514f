-- One write of a chain's head per entry. It was two, inside the function `audit_append`: an
-- upsert that took the next seq, then an UPDATE with the new hash, so every entry left two new
-- versions of the head row. The head now keeps the hash it replaced (`prev_hash`), and one
-- INSERT … ON CONFLICT DO UPDATE … RETURNING computes the next seq and hash from the locked,
-- latest head and returns the previous hash with them; the entry is an INSERT … SELECT of that
-- row. The two statements are plain SQL built in src/repo/audit.rs, so an action sends them in
-- the same statement as its other writes (src/db/batch.rs); the function is gone.
-- The rule is unchanged: hash = SHA-256(prev_hash || '\n' || entry) in lower-case hex, the
-- first prev_hash 64 zeros; verification still recomputes every link in Rust.
ALTER TABLE audit_heads ADD COLUMN prev_hash text;

DROP FUNCTION audit_append(text, uuid, uuid, text, timestamptz, text);
