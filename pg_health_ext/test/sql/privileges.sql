--
-- EXECUTE belongs to pg_monitor: a role outside it is refused, a member
-- may call every function.
--
CREATE ROLE regress_pg_health_nobody;
CREATE ROLE regress_pg_health_monitor IN ROLE pg_monitor;

SET ROLE regress_pg_health_nobody;
SELECT * FROM health_connections();
SELECT * FROM health_slow_queries();
SELECT * FROM health_slow_queries('1s');
SELECT * FROM health_dead_tuples();
SELECT health_report();
RESET ROLE;

SET ROLE regress_pg_health_monitor;
SELECT status IN ('healthy', 'degraded', 'unhealthy') AS judged
FROM health_connections();
SELECT count(*) >= 0 AS ok FROM health_slow_queries();
SELECT count(*) >= 0 AS ok FROM health_dead_tuples();
SELECT health_report() ? 'status' AS ok;
-- pg_monitor sees every session: nothing is unknown for lack of privilege
SELECT health_report()->'checks'->'slow_queries'->>'not_visible' AS not_visible;
RESET ROLE;

-- EXECUTE granted outside pg_monitor works, with what that role may see
GRANT EXECUTE ON FUNCTION health_report() TO regress_pg_health_nobody;
SET ROLE regress_pg_health_nobody;
SELECT health_report() ? 'checks' AS ok;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION health_report() FROM regress_pg_health_nobody;

-- argument errors
SELECT * FROM health_slow_queries('-1 second');
SELECT * FROM health_dead_tuples(-1);

DROP ROLE regress_pg_health_nobody;
DROP ROLE regress_pg_health_monitor;
