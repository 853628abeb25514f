-- SLA reports read maintained aggregates, not the filings table: a report over a year of a
-- million filings sums a few thousand rows instead of sorting a million. The aggregates are
-- written in the same transaction as the submission or the closing action, so they never
-- disagree with the filings. Processing times are small integers (working days), so a
-- histogram (one row per value) gives exact medians and 90th percentiles.
--
-- `shard` (the filing id's hash modulo 8) spreads concurrent increments of one day's counters
-- over several rows, so that busy windows do not queue behind one row lock.

CREATE TABLE sla_received (
    day        date NOT NULL,
    item_code  text NOT NULL,
    department text NOT NULL,
    shard      smallint NOT NULL,
    n          integer NOT NULL,
    PRIMARY KEY (day, item_code, department, shard)
);

CREATE TABLE sla_closed (
    day                date NOT NULL,
    item_code          text NOT NULL,
    department         text NOT NULL,
    -- The member of staff who took the closing action (the applicant for a withdrawal).
    closer_id          uuid NOT NULL,
    -- approved, refused, withdrawn, not_accepted.
    outcome            text NOT NULL,
    -- Working days counted and suspended; -1 when the clock never started.
    used_days          integer NOT NULL,
    suspended_days     integer NOT NULL,
    on_time_statutory  boolean NOT NULL,
    -- NULL is not allowed in a key: false when the item has no promise.
    on_time_promised   boolean NOT NULL,
    shard              smallint NOT NULL,
    n                  integer NOT NULL,
    PRIMARY KEY (day, item_code, department, closer_id, outcome, used_days, suspended_days,
                 on_time_statutory, on_time_promised, shard)
);
CREATE INDEX sla_closed_item_day ON sla_closed (item_code, day);
