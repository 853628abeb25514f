DROP FUNCTION audit_append(text, uuid, uuid, text, timestamptz, text);
