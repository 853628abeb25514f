DROP TABLE audit_seal_heads;
DROP TABLE audit_seals;
DROP FUNCTION audit_seals_are_append_only();
ALTER TABLE audit_heads DROP COLUMN sealed_seq;
