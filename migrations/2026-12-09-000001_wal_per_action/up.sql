-- Less write-ahead log per action (issue 19 §4; README "Benchmarks" has the figures). Each change
-- keeps what the rows mean; it removes log records nobody needs.

-- A letter's text and HTML parts, deflated together against a fixed dictionary of the letter's
-- layout (src/mail/bodies.rs). Rendered once, in the action's transaction, as before: the sender
-- inflates what was rendered then, so a letter still says what was true as of the action. Much
-- smaller than the two lz4 columns, so the row stays under PostgreSQL's TOAST threshold and is
-- written as one heap record instead of three. Rows with `bodies` keep '' in body_text and
-- body_html; rows written before (and by hand) keep their text there and NULL here.
ALTER TABLE outbox ADD COLUMN bodies bytea;
ALTER TABLE outbox ADD CONSTRAINT outbox_bodies_or_text
    CHECK (bodies IS NULL OR (body_text = '' AND body_html = ''));

-- Why no index: Message-IDs are 128 random bits (mail::new_message_id), and nothing looks a row
-- up by one; the unique index was one more index entry for every letter.
ALTER TABLE outbox DROP CONSTRAINT outbox_message_id_key;

-- A person's claimed work: only claimed tasks. Unclaimed open tasks are in tasks_queue; with
-- them here too, every task opened unclaimed wrote an entry nobody reads.
DROP INDEX tasks_claimed;
CREATE INDEX tasks_claimed ON tasks (claimed_by) WHERE closed_at IS NULL AND claimed_by IS NOT NULL;

-- The escalation row follows its filing by an UPDATE, and is inserted only when missing: an
-- INSERT … ON CONFLICT DO UPDATE locks the row with a log record of its own before updating it.
CREATE OR REPLACE FUNCTION escalations_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE escalations SET warn_on = NEW.escalation_warn_on, due_on = NEW.escalation_due_on
    WHERE filing_id = NEW.id;
    IF NOT FOUND THEN
        INSERT INTO escalations (filing_id, warn_on, due_on)
        VALUES (NEW.id, NEW.escalation_warn_on, NEW.escalation_due_on)
        ON CONFLICT (filing_id) DO UPDATE SET warn_on = EXCLUDED.warn_on, due_on = EXCLUDED.due_on;
    END IF;
    RETURN NULL;
END
$$;
