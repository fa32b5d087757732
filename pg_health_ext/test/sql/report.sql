--
-- health_report(): the keys of the contract, every check with its common
-- fields, and the verdicts of the dead_tuples test's tables.
--
SELECT k FROM pg_catalog.jsonb_object_keys(health_report()) AS k ORDER BY k;
SELECT k FROM pg_catalog.jsonb_object_keys(health_report()->'checks') AS k ORDER BY k;

SELECT k, c ? 'status' AS status, c ? 'value' AS value, c ? 'unit' AS unit,
       c ? 'warning' AS warning, c ? 'critical' AS critical,
       c->>'status' IN ('healthy', 'degraded', 'unhealthy', 'unknown') AS word
FROM pg_catalog.jsonb_each(health_report()->'checks') AS x(k, c) ORDER BY k;

SELECT r->>'database' = pg_catalog.current_database() AS database,
       r->>'server_version' = pg_catalog.current_setting('server_version') AS version,
       pg_catalog.jsonb_typeof(r->'duration_ms') AS duration_ms,
       (r->>'generated_at')::timestamptz <= pg_catalog.clock_timestamp() AS generated_at
FROM health_report() AS r;

-- dead40 is over the critical 25%: the report is unhealthy
SELECT r->>'status' AS status,
       r->'checks'->'dead_tuples'->>'status' AS dead_tuples,
       r->'checks'->'dead_tuples'->'value' AS worst_pct,
       r->'checks'->'dead_tuples'->'judged' AS judged,
       r->'checks'->'dead_tuples'->'count' AS count
FROM health_report() AS r;
SELECT t->>'relname' AS relname, t->'n_dead_tup' AS n_dead_tup,
       t->'dead_pct' AS dead_pct, t->>'status' AS status
FROM health_report() AS r,
     pg_catalog.jsonb_array_elements(r->'checks'->'dead_tuples'->'tables') AS t;

-- dead40 and dead15 are past autovacuum's trigger with autovacuum off for
-- them: vacuum is degraded; dead_opts is under its own trigger
SELECT c->>'status' AS status, c->'value' AS value, c->'critical' AS critical,
       c->'past_trigger' AS past_trigger
FROM (SELECT health_report()->'checks'->'vacuum' AS c) AS x;
SELECT t->>'relname' AS relname, t->'vacuum_threshold' AS vacuum_threshold,
       t->'autovacuum_enabled' AS autovacuum_enabled, t->'overdue' AS overdue,
       t->>'reason' AS reason
FROM pg_catalog.jsonb_array_elements(health_report()->'checks'->'vacuum'->'tables') AS t;

-- wraparound: the oldest database of the cluster, in percent of the 2^31
-- IDs to wraparound
SELECT c->'freeze_max_age' = pg_catalog.to_jsonb(pg_catalog.current_setting('autovacuum_freeze_max_age')::int) AS max_age,
       (c->>'age')::bigint >= (SELECT pg_catalog.max(pg_catalog.age(d.datfrozenxid)) FROM pg_catalog.pg_database d) AS age,
       c->>'oldest_database' IN (SELECT d.datname FROM pg_catalog.pg_database d) AS named,
       (c->>'databases')::int = (SELECT pg_catalog.count(*) FROM pg_catalog.pg_database) AS databases,
       (c->>'age')::bigint + (c->>'remaining')::bigint = 2147483648 AS remaining,
       c->>'status' AS status
FROM (SELECT health_report()->'checks'->'wraparound' AS c) AS x;
SELECT c->'freeze_max_age' = pg_catalog.to_jsonb(pg_catalog.current_setting('autovacuum_multixact_freeze_max_age')::int) AS max_age,
       c->>'status' AS status
FROM (SELECT health_report()->'checks'->'multixact_wraparound' AS c) AS x;
SET pg_health.wraparound_warning = 0;
SELECT health_report()->'checks'->'wraparound'->>'status' AS status;
RESET pg_health.wraparound_warning;

-- nothing holds the xmin horizon but this session (never counted)
SELECT c->>'status' AS status, c->'holders' AS holders, c->'held_by' AS held_by
FROM (SELECT health_report()->'checks'->'xmin_horizon' AS c) AS x;

-- replication on a server without standbys: nothing connected; an
-- expected standby that is not there is named
SELECT c->>'status' AS status, c->>'role' AS role, c->'connected' AS connected,
       c->'warning' AS warning, c->'critical' AS critical
FROM (SELECT health_report()->'checks'->'replication' AS c) AS x;
SET pg_health.expected_standbys = 'standby_a, "Standby B"';
SELECT c->>'status' AS status, c->'missing' AS missing, c->>'reason' AS reason
FROM (SELECT health_report()->'checks'->'replication' AS c) AS x;
RESET pg_health.expected_standbys;

-- a slot no consumer uses is inactive: degraded, named
SELECT 1 FROM pg_catalog.pg_create_physical_replication_slot('regress_slot');
SELECT s->>'slot_name' AS slot_name, s->'active' AS active,
       s->'retained_bytes' AS retained_bytes, s->>'status' AS status,
       s->>'reason' AS reason
FROM pg_catalog.jsonb_array_elements(health_report()->'checks'->'replication_slots'->'slots') AS s
WHERE s->>'slot_name' = 'regress_slot';
SELECT 1 FROM pg_catalog.pg_drop_replication_slot('regress_slot');

-- no waits, no slow statements but our own (never counted)
SELECT c->>'status' AS status, c->'count' AS count, c->'sessions' AS sessions
FROM (SELECT health_report()->'checks'->'lock_waits' AS c) AS x;

-- a warning above its critical: that check is unknown, with the reason
SET pg_health.lock_wait_warning = '10min';
SELECT c->>'status' AS status, c->>'reason' AS reason
FROM (SELECT health_report()->'checks'->'lock_waits' AS c) AS x;
RESET pg_health.lock_wait_warning;

-- thresholds relaxed by a superuser: dead40 is only degraded
SET pg_health.dead_tuples_critical = 50;
SELECT r->'checks'->'dead_tuples'->>'status' AS dead_tuples
FROM health_report() AS r;
RESET pg_health.dead_tuples_critical;

DROP TABLE dead40, dead15, dead_few, dead_opts;
SELECT r->'checks'->'dead_tuples'->>'status' AS dead_tuples,
       r->'checks'->'vacuum'->>'status' AS vacuum
FROM health_report() AS r;
