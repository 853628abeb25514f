-- References from the rows every action writes, checked without locking the row referred to
-- (issue 19 §4; README "Benchmarks" has the figures).
--
-- A foreign key checks a written reference with SELECT … FOR KEY SHARE on the row referred to,
-- so that the row cannot be deleted or re-keyed before the transaction ends. So every action
-- locked its filing's new row version (for its audit entry, tasks, deadlines, letter and clock
-- events), its actor's row in `users` (audit entry, clock events), the applicant's (the letter)
-- and its department's (tasks, and the filing when it moves): a write-ahead log record for
-- each, and where two actions overlapped on one person or department a MultiXact besides (three
-- records an action under load, of 24.6). And while anyone held such a row locked (an
-- administrator editing an account in a long transaction), actions touching it waited.
--
-- But filings, people and departments are never deleted and never re-keyed (a filing is a
-- record kept by law; an account is deactivated, its name staying in the audit log): the
-- triggers below make that a rule of the database, and with it a row referred to cannot go
-- away, so a reference needs checking only when it is written. Each check below is what the
-- foreign key checked, after the row is written and without the lock, and fails as it did
-- (SQLSTATE 23503). The references accounts and filings are made with (tokens, roles, the
-- applicant, uploads) and the rarer rows keep their foreign keys.


CREATE FUNCTION users_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'people are never deleted or re-keyed (deactivate the account instead)'
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER users_kept_delete BEFORE DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_are_kept();
CREATE TRIGGER users_kept_key AFTER UPDATE OF id ON users
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION users_are_kept();

CREATE FUNCTION departments_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'departments are never deleted or re-keyed'
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER departments_kept_delete BEFORE DELETE ON departments
    FOR EACH ROW EXECUTE FUNCTION departments_are_kept();
CREATE TRIGGER departments_kept_key AFTER UPDATE OF code ON departments
    FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code) EXECUTE FUNCTION departments_are_kept();

CREATE FUNCTION filings_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'filings are never deleted or re-keyed (they are kept as records)'
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER filings_kept_delete BEFORE DELETE ON filings
    FOR EACH ROW EXECUTE FUNCTION filings_are_kept();
CREATE TRIGGER filings_kept_key AFTER UPDATE OF id ON filings
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION filings_are_kept();

-- Each check runs after the row is written, as a foreign key's does (a BEFORE UPDATE trigger of
-- any columns makes every UPDATE of the table lock the old row version first: one more log
-- record; so the re-keying guards above are AFTER triggers too), on insert, and on update only
-- when the reference changed. One function per reference, each naming its column: a shared
-- function would have to read the column by name from the row (`to_jsonb(NEW)`, the whole row
-- and its letter or audit text, on every insert) or run dynamic SQL without a kept plan.

ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_id_fkey;
CREATE FUNCTION audit_log_actor_id_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.actor_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.actor_id) THEN
        RAISE EXCEPTION 'insert or update on table "audit_log" violates the reference "audit_log_actor_id_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (actor_id)=(%s) is not present in table "users".', NEW.actor_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_log_actor_id_exists_on_insert AFTER INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_actor_id_exists();
CREATE TRIGGER audit_log_actor_id_exists_on_update AFTER UPDATE OF actor_id ON audit_log
    FOR EACH ROW WHEN (OLD.actor_id IS DISTINCT FROM NEW.actor_id) EXECUTE FUNCTION audit_log_actor_id_exists();

ALTER TABLE outbox DROP CONSTRAINT outbox_recipient_id_fkey;
CREATE FUNCTION outbox_recipient_id_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.recipient_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.recipient_id) THEN
        RAISE EXCEPTION 'insert or update on table "outbox" violates the reference "outbox_recipient_id_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (recipient_id)=(%s) is not present in table "users".', NEW.recipient_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_recipient_id_exists_on_insert AFTER INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION outbox_recipient_id_exists();
CREATE TRIGGER outbox_recipient_id_exists_on_update AFTER UPDATE OF recipient_id ON outbox
    FOR EACH ROW WHEN (OLD.recipient_id IS DISTINCT FROM NEW.recipient_id) EXECUTE FUNCTION outbox_recipient_id_exists();

ALTER TABLE clock_events DROP CONSTRAINT clock_events_actor_id_fkey;
CREATE FUNCTION clock_events_actor_id_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.actor_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.actor_id) THEN
        RAISE EXCEPTION 'insert or update on table "clock_events" violates the reference "clock_events_actor_id_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (actor_id)=(%s) is not present in table "users".', NEW.actor_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER clock_events_actor_id_exists_on_insert AFTER INSERT ON clock_events
    FOR EACH ROW EXECUTE FUNCTION clock_events_actor_id_exists();
CREATE TRIGGER clock_events_actor_id_exists_on_update AFTER UPDATE OF actor_id ON clock_events
    FOR EACH ROW WHEN (OLD.actor_id IS DISTINCT FROM NEW.actor_id) EXECUTE FUNCTION clock_events_actor_id_exists();

ALTER TABLE exchange_rows DROP CONSTRAINT exchange_rows_actor_id_fkey;
CREATE FUNCTION exchange_rows_actor_id_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.actor_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.actor_id) THEN
        RAISE EXCEPTION 'insert or update on table "exchange_rows" violates the reference "exchange_rows_actor_id_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (actor_id)=(%s) is not present in table "users".', NEW.actor_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER exchange_rows_actor_id_exists_on_insert AFTER INSERT ON exchange_rows
    FOR EACH ROW EXECUTE FUNCTION exchange_rows_actor_id_exists();
CREATE TRIGGER exchange_rows_actor_id_exists_on_update AFTER UPDATE OF actor_id ON exchange_rows
    FOR EACH ROW WHEN (OLD.actor_id IS DISTINCT FROM NEW.actor_id) EXECUTE FUNCTION exchange_rows_actor_id_exists();

ALTER TABLE reviews DROP CONSTRAINT reviews_decided_by_fkey;
CREATE FUNCTION reviews_decided_by_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.decided_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.decided_by) THEN
        RAISE EXCEPTION 'insert or update on table "reviews" violates the reference "reviews_decided_by_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (decided_by)=(%s) is not present in table "users".', NEW.decided_by);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER reviews_decided_by_exists_on_insert AFTER INSERT ON reviews
    FOR EACH ROW EXECUTE FUNCTION reviews_decided_by_exists();
CREATE TRIGGER reviews_decided_by_exists_on_update AFTER UPDATE OF decided_by ON reviews
    FOR EACH ROW WHEN (OLD.decided_by IS DISTINCT FROM NEW.decided_by) EXECUTE FUNCTION reviews_decided_by_exists();

ALTER TABLE documents DROP CONSTRAINT documents_issued_by_fkey;
CREATE FUNCTION documents_issued_by_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.issued_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.issued_by) THEN
        RAISE EXCEPTION 'insert or update on table "documents" violates the reference "documents_issued_by_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (issued_by)=(%s) is not present in table "users".', NEW.issued_by);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER documents_issued_by_exists_on_insert AFTER INSERT ON documents
    FOR EACH ROW EXECUTE FUNCTION documents_issued_by_exists();
CREATE TRIGGER documents_issued_by_exists_on_update AFTER UPDATE OF issued_by ON documents
    FOR EACH ROW WHEN (OLD.issued_by IS DISTINCT FROM NEW.issued_by) EXECUTE FUNCTION documents_issued_by_exists();

ALTER TABLE tasks DROP CONSTRAINT tasks_department_fkey;
CREATE FUNCTION tasks_department_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.department IS NOT NULL AND NOT EXISTS (SELECT 1 FROM departments WHERE code = NEW.department) THEN
        RAISE EXCEPTION 'insert or update on table "tasks" violates the reference "tasks_department_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (department)=(%s) is not present in table "departments".', NEW.department);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER tasks_department_exists_on_insert AFTER INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_department_exists();
CREATE TRIGGER tasks_department_exists_on_update AFTER UPDATE OF department ON tasks
    FOR EACH ROW WHEN (OLD.department IS DISTINCT FROM NEW.department) EXECUTE FUNCTION tasks_department_exists();

ALTER TABLE reviews DROP CONSTRAINT reviews_department_fkey;
CREATE FUNCTION reviews_department_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.department IS NOT NULL AND NOT EXISTS (SELECT 1 FROM departments WHERE code = NEW.department) THEN
        RAISE EXCEPTION 'insert or update on table "reviews" violates the reference "reviews_department_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (department)=(%s) is not present in table "departments".', NEW.department);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER reviews_department_exists_on_insert AFTER INSERT ON reviews
    FOR EACH ROW EXECUTE FUNCTION reviews_department_exists();
CREATE TRIGGER reviews_department_exists_on_update AFTER UPDATE OF department ON reviews
    FOR EACH ROW WHEN (OLD.department IS DISTINCT FROM NEW.department) EXECUTE FUNCTION reviews_department_exists();

ALTER TABLE filings DROP CONSTRAINT filings_department_fkey;
CREATE FUNCTION filings_department_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.department IS NOT NULL AND NOT EXISTS (SELECT 1 FROM departments WHERE code = NEW.department) THEN
        RAISE EXCEPTION 'insert or update on table "filings" violates the reference "filings_department_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (department)=(%s) is not present in table "departments".', NEW.department);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER filings_department_exists_on_insert AFTER INSERT ON filings
    FOR EACH ROW EXECUTE FUNCTION filings_department_exists();
CREATE TRIGGER filings_department_exists_on_update AFTER UPDATE OF department ON filings
    FOR EACH ROW WHEN (OLD.department IS DISTINCT FROM NEW.department) EXECUTE FUNCTION filings_department_exists();

ALTER TABLE audit_log DROP CONSTRAINT audit_log_filing_id_fkey;
CREATE FUNCTION audit_log_filing_id_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.filing_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM filings WHERE id = NEW.filing_id) THEN
        RAISE EXCEPTION 'insert or update on table "audit_log" violates the reference "audit_log_filing_id_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (filing_id)=(%s) is not present in table "filings".', NEW.filing_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_log_filing_id_exists_on_insert AFTER INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_filing_id_exists();
CREATE TRIGGER audit_log_filing_id_exists_on_update AFTER UPDATE OF filing_id ON audit_log
    FOR EACH ROW WHEN (OLD.filing_id IS DISTINCT FROM NEW.filing_id) EXECUTE FUNCTION audit_log_filing_id_exists();

ALTER TABLE outbox DROP CONSTRAINT outbox_filing_id_fkey;
CREATE FUNCTION outbox_filing_id_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.filing_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM filings WHERE id = NEW.filing_id) THEN
        RAISE EXCEPTION 'insert or update on table "outbox" violates the reference "outbox_filing_id_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (filing_id)=(%s) is not present in table "filings".', NEW.filing_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_filing_id_exists_on_insert AFTER INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION outbox_filing_id_exists();
CREATE TRIGGER outbox_filing_id_exists_on_update AFTER UPDATE OF filing_id ON outbox
    FOR EACH ROW WHEN (OLD.filing_id IS DISTINCT FROM NEW.filing_id) EXECUTE FUNCTION outbox_filing_id_exists();

ALTER TABLE tasks DROP CONSTRAINT tasks_filing_id_fkey;
CREATE FUNCTION tasks_filing_id_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.filing_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM filings WHERE id = NEW.filing_id) THEN
        RAISE EXCEPTION 'insert or update on table "tasks" violates the reference "tasks_filing_id_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (filing_id)=(%s) is not present in table "filings".', NEW.filing_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER tasks_filing_id_exists_on_insert AFTER INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_filing_id_exists();
CREATE TRIGGER tasks_filing_id_exists_on_update AFTER UPDATE OF filing_id ON tasks
    FOR EACH ROW WHEN (OLD.filing_id IS DISTINCT FROM NEW.filing_id) EXECUTE FUNCTION tasks_filing_id_exists();

ALTER TABLE applicant_deadlines DROP CONSTRAINT applicant_deadlines_filing_id_fkey;
CREATE FUNCTION applicant_deadlines_filing_id_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.filing_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM filings WHERE id = NEW.filing_id) THEN
        RAISE EXCEPTION 'insert or update on table "applicant_deadlines" violates the reference "applicant_deadlines_filing_id_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (filing_id)=(%s) is not present in table "filings".', NEW.filing_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER applicant_deadlines_filing_id_exists_on_insert AFTER INSERT ON applicant_deadlines
    FOR EACH ROW EXECUTE FUNCTION applicant_deadlines_filing_id_exists();
CREATE TRIGGER applicant_deadlines_filing_id_exists_on_update AFTER UPDATE OF filing_id ON applicant_deadlines
    FOR EACH ROW WHEN (OLD.filing_id IS DISTINCT FROM NEW.filing_id) EXECUTE FUNCTION applicant_deadlines_filing_id_exists();

ALTER TABLE clock_events DROP CONSTRAINT clock_events_filing_id_fkey;
CREATE FUNCTION clock_events_filing_id_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.filing_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM filings WHERE id = NEW.filing_id) THEN
        RAISE EXCEPTION 'insert or update on table "clock_events" violates the reference "clock_events_filing_id_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (filing_id)=(%s) is not present in table "filings".', NEW.filing_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER clock_events_filing_id_exists_on_insert AFTER INSERT ON clock_events
    FOR EACH ROW EXECUTE FUNCTION clock_events_filing_id_exists();
CREATE TRIGGER clock_events_filing_id_exists_on_update AFTER UPDATE OF filing_id ON clock_events
    FOR EACH ROW WHEN (OLD.filing_id IS DISTINCT FROM NEW.filing_id) EXECUTE FUNCTION clock_events_filing_id_exists();

-- A filing's audit entries are its chain's (`filing:` and its id): the check makes that a rule,
-- and the chain's unique index (chain, seq) finds them, so `audit_log_filing`, one more index
-- entry for every action, goes.
ALTER TABLE audit_log ADD CONSTRAINT audit_log_filing_is_its_chain
    CHECK (filing_id IS NULL OR chain = 'filing:' || filing_id::text);
DROP INDEX audit_log_filing;
