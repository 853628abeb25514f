-- The ceiling for one `permits` action: one transaction that locks a filing row, bumps its
-- version and appends an audit row, on tables of its own (schema pgbench_action, created by
-- benches/load.rs). Run by `cargo bench --bench load` as
--   pgbench -n -f benches/pgbench-action.sql -D n=<rows> -c 8 -j 2 -T 10 permits_bench
\set id random(1, :n)
BEGIN;
SELECT state, version FROM pgbench_action.filings WHERE id = :id FOR UPDATE;
UPDATE pgbench_action.filings SET version = version + 1, state = 'next' WHERE id = :id;
INSERT INTO pgbench_action.audit (filing_id, payload) VALUES (:id, '{"action":"next"}');
COMMIT;
