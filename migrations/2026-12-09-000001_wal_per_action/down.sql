CREATE OR REPLACE FUNCTION escalations_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO escalations (filing_id, warn_on, due_on)
    VALUES (NEW.id, NEW.escalation_warn_on, NEW.escalation_due_on)
    ON CONFLICT (filing_id) DO UPDATE SET warn_on = EXCLUDED.warn_on, due_on = EXCLUDED.due_on;
    RETURN NULL;
END
$$;

DROP INDEX tasks_claimed;
CREATE INDEX tasks_claimed ON tasks (claimed_by) WHERE closed_at IS NULL;

ALTER TABLE outbox ADD CONSTRAINT outbox_message_id_key UNIQUE (message_id);

-- SQL cannot inflate the deflated bodies: letters still pending that have them are parked as
-- failed, with the reason, rather than sent empty by the older binary (sent ones are history).
UPDATE outbox SET status = 'failed',
    last_error = 'its body was stored deflated (migration 2026-12-09-000001 reverted): render it again'
WHERE bodies IS NOT NULL AND status = 'pending';
ALTER TABLE outbox DROP CONSTRAINT outbox_bodies_or_text;
ALTER TABLE outbox DROP COLUMN bodies;
