-- Overdue now and due soon, per item, from a maintained aggregate instead of the filings.
--
-- The SLA report counted the open filings due by the horizon through the partial index
-- (item_code, statutory_due_on) WHERE closed_at IS NULL: with a backlog of half a million
-- overdue filings that is half a million index entries per report, most of its 200-450 ms.
-- `open_due` holds, per item and statutory due day, how many open filings are due that day
-- (spread over 8 shards by the filing id's last byte, so that concurrent changes on one busy
-- day do not queue behind one row lock). A report sums the days up to the horizon: a few
-- hundred rows a year per item.
--
-- Triggers keep it, whatever writes the filings (an action, an admin's new calendar year
-- recomputing due days, a bulk load): after INSERT, once per statement from the statement's
-- new rows; after an UPDATE that moves a due day or opens or closes a filing, per row (a
-- column-specific trigger with a WHEN clause costs nothing on the many updates that do neither).
-- Rows at zero stay; they are a few per item and day.
CREATE TABLE open_due (
    item_code text NOT NULL,
    due_on    date NOT NULL,
    shard     smallint NOT NULL,
    n         integer NOT NULL,
    PRIMARY KEY (item_code, due_on, shard)
);

INSERT INTO open_due (item_code, due_on, shard, n)
SELECT item_code, statutory_due_on, get_byte(uuid_send(id), 15) % 8, count(*)
FROM filings
WHERE closed_at IS NULL AND statutory_due_on IS NOT NULL
GROUP BY 1, 2, 3;

CREATE FUNCTION open_due_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO open_due (item_code, due_on, shard, n)
    SELECT item_code, statutory_due_on, get_byte(uuid_send(id), 15) % 8, count(*)
    FROM new_filings
    WHERE closed_at IS NULL AND statutory_due_on IS NOT NULL
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (item_code, due_on, shard) DO UPDATE SET n = open_due.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION open_due_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s smallint := get_byte(uuid_send(NEW.id), 15) % 8;
    was date := CASE WHEN OLD.closed_at IS NULL THEN OLD.statutory_due_on END;
    now_due date := CASE WHEN NEW.closed_at IS NULL THEN NEW.statutory_due_on END;
BEGIN
    -- The earlier day first, so that two filings of one shard moving in opposite directions
    -- take the two rows in the same order.
    IF was IS NOT NULL AND (now_due IS NULL OR was < now_due) THEN
        UPDATE open_due SET n = n - 1 WHERE item_code = OLD.item_code AND due_on = was AND shard = s;
        was := NULL;
    END IF;
    IF now_due IS NOT NULL THEN
        INSERT INTO open_due (item_code, due_on, shard, n) VALUES (NEW.item_code, now_due, s, 1)
        ON CONFLICT (item_code, due_on, shard) DO UPDATE SET n = open_due.n + 1;
    END IF;
    IF was IS NOT NULL THEN
        UPDATE open_due SET n = n - 1 WHERE item_code = OLD.item_code AND due_on = was AND shard = s;
    END IF;
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
