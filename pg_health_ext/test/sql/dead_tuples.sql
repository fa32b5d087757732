--
-- Dead tuple verdicts on tables autovacuum leaves alone, read from the
-- cumulative statistics once they are flushed.
--
CREATE TABLE dead40 (id int) WITH (autovacuum_enabled = false);
CREATE TABLE dead15 (id int) WITH (autovacuum_enabled = false);
CREATE TABLE dead_few (id int) WITH (autovacuum_enabled = false);
CREATE TABLE dead_opts (id int) WITH (autovacuum_enabled = false,
    autovacuum_vacuum_threshold = 100, autovacuum_vacuum_scale_factor = 0.5);

INSERT INTO dead40 SELECT pg_catalog.generate_series(1, 10000);
INSERT INTO dead15 SELECT pg_catalog.generate_series(1, 10000);
INSERT INTO dead_few SELECT pg_catalog.generate_series(1, 5000);
INSERT INTO dead_opts SELECT pg_catalog.generate_series(1, 10000);
-- the inserts reach the statistics before VACUUM sets n_live_tup, and
-- reltuples = 10000 gives the per-table trigger 100 + 0.5 * 10000
SELECT pg_catalog.pg_stat_force_next_flush();
VACUUM dead_opts;

DELETE FROM dead40 WHERE id <= 4000;
DELETE FROM dead15 WHERE id <= 1500;
DELETE FROM dead_few WHERE id <= 900;
DELETE FROM dead_opts WHERE id <= 2000;
SELECT pg_catalog.pg_stat_force_next_flush();

-- 40% dead is unhealthy, 20% and 15% degraded, 900 dead is under the
-- minimum
SELECT relname, n_live_tup, n_dead_tup, dead_pct, vacuum_threshold,
       last_autovacuum IS NULL AS never_autovacuumed,
       last_vacuum IS NOT NULL AS vacuumed, status
FROM health_dead_tuples() ORDER BY relname;

-- rows come worst first
SELECT relname FROM health_dead_tuples();

-- the same figures as pg_stat_user_tables
SELECT h.relname, h.n_live_tup = s.n_live_tup AS live_ok,
       h.n_dead_tup = s.n_dead_tup AS dead_ok,
       h.last_vacuum IS NOT DISTINCT FROM s.last_vacuum AS last_vacuum_ok
FROM health_dead_tuples(0) h
JOIN pg_catalog.pg_stat_user_tables s USING (schemaname, relname)
ORDER BY h.relname;

-- an explicit minimum, and the setting
SELECT relname, status FROM health_dead_tuples(500) ORDER BY relname;
SELECT relname FROM health_dead_tuples(2000) ORDER BY relname;
SET pg_health.dead_tuples_min = 100;
SELECT relname FROM health_dead_tuples() ORDER BY relname;
RESET pg_health.dead_tuples_min;

-- thresholds set by a superuser change the verdicts
SET pg_health.dead_tuples_critical = 50;
SELECT relname, status FROM health_dead_tuples() ORDER BY relname;
SET pg_health.dead_tuples_warning = 18;
SELECT relname, status FROM health_dead_tuples() ORDER BY relname;
RESET pg_health.dead_tuples_critical;
RESET pg_health.dead_tuples_warning;
