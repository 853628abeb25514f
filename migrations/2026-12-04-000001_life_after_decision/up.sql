-- Life after the decision: deadlines on the applicant that an action extends (a permit's start
-- of works, at most twice) and that move the filing when they pass (the permit lapses, 废止),
-- an action the service takes itself, as the one `system` account.

-- The service's own account: the actor of the actions a deadline's expiry causes, so that the
-- audit log names who moved the filing. It has no department, no role rows and a password hash
-- no password matches; signing in refuses its kind.
ALTER TABLE users DROP CONSTRAINT users_kind_check;
ALTER TABLE users ADD CONSTRAINT users_kind_check
    CHECK (kind IN ('person', 'company', 'staff', 'system'));
INSERT INTO users (id, username, display_name, kind, password_hash, lang, created_at)
VALUES ('00000000-0000-0000-0000-000000000001', 'system', '系统', 'system', '!', 'zh',
        '2026-12-04T00:00:00Z');

-- How many times the deadline was extended (建筑法 §9: at most twice), and the action the
-- service takes when it passes still open (the item's `on_expiry`).
ALTER TABLE applicant_deadlines
    ADD COLUMN extensions int NOT NULL DEFAULT 0 CHECK (extensions >= 0),
    ADD COLUMN expires_with text;
-- The expiry scan reads the open deadlines that expire, by due day, a page at a time.
CREATE INDEX applicant_deadlines_expiring ON applicant_deadlines (due_on, id)
    WHERE closed_at IS NULL AND expires_with IS NOT NULL;
