--
-- health_connections() counts what pg_stat_activity shows, and judges the
-- slots in use against the usable ones (max_connections minus reserved).
--
SELECT used = (SELECT count(*) FROM pg_catalog.pg_stat_activity
               WHERE backend_type = 'client backend') AS used_is_client_backends,
       max_connections = pg_catalog.current_setting('max_connections')::int
           AS max_connections_ok,
       reserved = pg_catalog.current_setting('superuser_reserved_connections')::int
           AS reserved_ok,
       usage_pct = pg_catalog.round(used * 100.0 / (max_connections - reserved), 2)::float8
           AS usage_pct_ok,
       active >= 1 AS this_session_active,
       waiting = 0 AS none_waiting,
       status
FROM health_connections();

-- the thresholds apply to usage_pct
SET pg_health.connections_warning = 0;
SELECT status FROM health_connections();
SET pg_health.connections_critical = 0;
SELECT status FROM health_connections();
RESET pg_health.connections_warning;
RESET pg_health.connections_critical;

-- the caller's own statement is never a slow query
SELECT count(*) FROM health_slow_queries('0') WHERE pid = pg_catalog.pg_backend_pid();
