--
-- The pg_health.* settings: defaults, units, and who may change them.
--
LOAD 'pg_health';

SELECT name, setting, unit, context, vartype, min_val, max_val
FROM pg_catalog.pg_settings WHERE name LIKE 'pg\_health.%' ORDER BY name;

SHOW pg_health.connections_warning;
SHOW pg_health.connections_critical;
SHOW pg_health.statement_warning;
SHOW pg_health.statement_critical;
SHOW pg_health.transaction_warning;
SHOW pg_health.transaction_critical;
SHOW pg_health.lock_wait_warning;
SHOW pg_health.lock_wait_critical;
SHOW pg_health.dead_tuples_min;
SHOW pg_health.dead_tuples_warning;
SHOW pg_health.dead_tuples_critical;
SHOW pg_health.vacuum_overdue;
SHOW pg_health.wraparound_warning;
SHOW pg_health.wraparound_critical;
SHOW pg_health.multixact_wraparound_warning;
SHOW pg_health.multixact_wraparound_critical;

-- a superuser may change them
SET pg_health.statement_warning = '1s';
SHOW pg_health.statement_warning;
SET pg_health.connections_warning = 70;
SHOW pg_health.connections_warning;
RESET pg_health.statement_warning;
RESET pg_health.connections_warning;

-- out of range
SET pg_health.connections_warning = 101;
SET pg_health.statement_warning = '-1s';

-- the prefix is reserved: a misspelt setting is an error, not a placeholder
SET pg_health.statement_warnings = '1s';

-- nobody else may, not even pg_monitor
CREATE ROLE regress_pg_health_settings IN ROLE pg_monitor;
SET ROLE regress_pg_health_settings;
SET pg_health.statement_warning = '1s';
SET pg_health.dead_tuples_critical = 90;
SHOW pg_health.statement_warning;
RESET ROLE;
DROP ROLE regress_pg_health_settings;

-- a warning above its critical cannot be judged against
SET pg_health.dead_tuples_warning = 30;
SELECT * FROM health_dead_tuples();
SET pg_health.statement_warning = '3s';
SELECT * FROM health_slow_queries();
SELECT * FROM health_connections() WHERE false;
RESET pg_health.dead_tuples_warning;
RESET pg_health.statement_warning;
