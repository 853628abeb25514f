-- Overdue now and due soon, per item, from a maintained aggregate instead of the filings.
--
-- The SLA report counted the open filings due by the horizon through the partial index
-- (item_code, statutory_due_on) WHERE closed_at IS NULL: with a backlog of half a million
-- overdue filings that is half a million index entries per report, most of its 200-450 ms.
-- `open_due` holds signed counts of open filings per item and statutory due day; a report sums
-- the days up to the horizon (a few hundred rows a year per item).
--
-- Triggers keep it, whatever writes the filings (an action, an admin's new calendar year
-- recomputing due days, a bulk load): after INSERT, once per statement from the statement's
-- new rows; after an UPDATE that moves a due day or opens or closes a filing, per row (a
-- column-specific trigger with a WHEN clause costs nothing on the many updates that do neither).
--
-- The triggers only append (-1 on the day left, +1 on the day entered): moving a due day
-- touches two days, and read-modify-write counters would take their row locks in an order no
-- caller controls, so that a calendar reload recomputing a batch of filings and a clerk's action
-- could deadlock. Appending takes no lock. The deadline scan folds the rows into one per item
-- and day (`open_due_compact`), so the table stays small.
CREATE TABLE open_due (
    item_code text NOT NULL,
    due_on    date NOT NULL,
    n         integer NOT NULL
);
CREATE INDEX open_due_day ON open_due (due_on);

INSERT INTO open_due (item_code, due_on, n)
SELECT item_code, statutory_due_on, count(*)
FROM filings
WHERE closed_at IS NULL AND statutory_due_on IS NOT NULL
GROUP BY 1, 2;

CREATE FUNCTION open_due_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO open_due (item_code, due_on, n)
    SELECT item_code, statutory_due_on, count(*)
    FROM new_filings
    WHERE closed_at IS NULL AND statutory_due_on IS NOT NULL
    GROUP BY 1, 2;
    RETURN NULL;
END
$$;

CREATE FUNCTION open_due_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO open_due (item_code, due_on, n)
    SELECT OLD.item_code, OLD.statutory_due_on, -1
    WHERE OLD.closed_at IS NULL AND OLD.statutory_due_on IS NOT NULL
    UNION ALL
    SELECT NEW.item_code, NEW.statutory_due_on, 1
    WHERE NEW.closed_at IS NULL AND NEW.statutory_due_on IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER filings_open_due_new AFTER INSERT ON filings
    REFERENCING NEW TABLE AS new_filings
    FOR EACH STATEMENT EXECUTE FUNCTION open_due_inserted();
CREATE TRIGGER filings_open_due_moved AFTER UPDATE OF statutory_due_on, closed_at ON filings
    FOR EACH ROW
    WHEN (OLD.statutory_due_on IS DISTINCT FROM NEW.statutory_due_on
          OR (OLD.closed_at IS NULL) <> (NEW.closed_at IS NULL))
    EXECUTE FUNCTION open_due_moved();

-- Fold the rows into one per item and day, in one statement: what it deletes it sums back in.
-- Rows appended meanwhile by transactions it cannot see stay as they are, and two folds at once
-- are safe (the second skips what the first deleted). Returns the rows left.
CREATE FUNCTION open_due_compact() RETURNS bigint LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM open_due RETURNING item_code, due_on, n),
         kept AS (INSERT INTO open_due (item_code, due_on, n)
                  SELECT item_code, due_on, sum(n) FROM gone GROUP BY 1, 2 HAVING sum(n) <> 0
                  RETURNING 1)
    SELECT count(*) FROM kept;
$$;
