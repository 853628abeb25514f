-- What the deadline scan has told managers moves from `filings` to a narrow table of its own.
--
-- Marking a page of 200 filings as told was an UPDATE of the wide filings row: a new version of
-- each row (forms, promises and all) and an entry in every one of its indexes, ~33 ms a page,
-- the largest single cost of the morning's first tick. It also took a row lock on filings that
-- made a clerk's action on the same filing wait for the scan's page. Here a mark rewrites a row
-- of five dates with three indexes, and the scan locks only these rows.
--
-- `warn_on` / `due_on` follow `filings.escalation_warn_on` / `escalation_due_on` (the running
-- clock's warning and due days, NULL while no clock runs) by trigger, whatever writes them:
-- the service, an admin's new calendar year, a bulk load. The *_sent_for columns hold the due
-- day an escalation was sent for, as before: a moved due day makes the filing eligible again
-- without resetting anything, and the partial indexes hold exactly the filings not yet told for
-- their current due day.
CREATE TABLE escalations (
    filing_id uuid PRIMARY KEY REFERENCES filings (id),
    warn_on date,
    due_on date,
    yellow_sent_for date,
    red_sent_for date
);

INSERT INTO escalations (filing_id, warn_on, due_on, yellow_sent_for, red_sent_for)
SELECT id, escalation_warn_on, escalation_due_on, yellow_sent_for, red_sent_for
FROM filings
WHERE escalation_due_on IS NOT NULL OR escalation_warn_on IS NOT NULL
   OR yellow_sent_for IS NOT NULL OR red_sent_for IS NOT NULL;

CREATE INDEX escalations_yellow_pending ON escalations (warn_on, filing_id)
    WHERE warn_on IS NOT NULL AND yellow_sent_for IS DISTINCT FROM due_on;
CREATE INDEX escalations_red_pending ON escalations (due_on, filing_id)
    WHERE due_on IS NOT NULL AND red_sent_for IS DISTINCT FROM due_on;

CREATE FUNCTION escalations_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO escalations (filing_id, warn_on, due_on)
    VALUES (NEW.id, NEW.escalation_warn_on, NEW.escalation_due_on)
    ON CONFLICT (filing_id) DO UPDATE SET warn_on = EXCLUDED.warn_on, due_on = EXCLUDED.due_on;
    RETURN NULL;
END
$$;

-- A filing that never had a running clock has no row; one whose clock stopped keeps its row
-- with NULL days (outside both indexes), so what was told is remembered if a clock runs again.
CREATE TRIGGER filings_escalations_new AFTER INSERT ON filings
    FOR EACH ROW
    WHEN (NEW.escalation_warn_on IS NOT NULL OR NEW.escalation_due_on IS NOT NULL)
    EXECUTE FUNCTION escalations_follow();
CREATE TRIGGER filings_escalations_moved AFTER UPDATE OF escalation_warn_on, escalation_due_on ON filings
    FOR EACH ROW
    WHEN (OLD.escalation_warn_on IS DISTINCT FROM NEW.escalation_warn_on
          OR OLD.escalation_due_on IS DISTINCT FROM NEW.escalation_due_on)
    EXECUTE FUNCTION escalations_follow();

DROP INDEX filings_yellow_pending;
DROP INDEX filings_red_pending;
ALTER TABLE filings DROP COLUMN yellow_sent_for, DROP COLUMN red_sent_for;
