-- Copyright (C) 2026 nginx-health authors
-- SPDX-License-Identifier: BSD-2-Clause
/* pg_health_ext/sql/pg_health--0.1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_health" to load this file. \quit

--
-- Every function reads the server's statistics and backend status from C;
-- none takes a lock on a user table.  They run with the caller's
-- privileges (no SECURITY DEFINER): what a caller may see of other roles'
-- sessions follows pg_stat_activity.
--

CREATE FUNCTION @extschema@.health_connections(
	OUT used pg_catalog.int4,
	OUT max_connections pg_catalog.int4,
	OUT reserved pg_catalog.int4,
	OUT usage_pct pg_catalog.float8,
	OUT active pg_catalog.int4,
	OUT idle pg_catalog.int4,
	OUT idle_in_transaction pg_catalog.int4,
	OUT idle_in_transaction_aborted pg_catalog.int4,
	OUT waiting pg_catalog.int4,
	OUT status pg_catalog.text)
RETURNS pg_catalog.record
AS 'MODULE_PATHNAME', 'health_connections'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.health_slow_queries(
	threshold pg_catalog.interval DEFAULT NULL)
RETURNS TABLE (
	pid pg_catalog.int4,
	datname pg_catalog.name,
	usename pg_catalog.name,
	application_name pg_catalog.text,
	state pg_catalog.text,
	duration pg_catalog.interval,
	wait_event_type pg_catalog.text,
	wait_event pg_catalog.text,
	query pg_catalog.text,
	status pg_catalog.text)
AS 'MODULE_PATHNAME', 'health_slow_queries'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.health_dead_tuples(
	min_dead pg_catalog.int8 DEFAULT NULL)
RETURNS TABLE (
	schemaname pg_catalog.name,
	relname pg_catalog.name,
	n_live_tup pg_catalog.int8,
	n_dead_tup pg_catalog.int8,
	dead_pct pg_catalog.float8,
	vacuum_threshold pg_catalog.int8,
	last_autovacuum pg_catalog.timestamptz,
	last_vacuum pg_catalog.timestamptz,
	status pg_catalog.text)
AS 'MODULE_PATHNAME', 'health_dead_tuples'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION @extschema@.health_report()
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'health_report'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION @extschema@.health_connections() IS
'connection slots in use against the usable ones (max_connections minus the reserved slots)';
COMMENT ON FUNCTION @extschema@.health_slow_queries(pg_catalog.interval) IS
'sessions whose statement or idle-in-transaction time exceeds threshold (default pg_health.statement_warning)';
COMMENT ON FUNCTION @extschema@.health_dead_tuples(pg_catalog.int8) IS
'user tables with at least min_dead dead tuples (default pg_health.dead_tuples_min)';
COMMENT ON FUNCTION @extschema@.health_report() IS
'every check of pg_health with its verdict, as one jsonb document';

REVOKE EXECUTE ON FUNCTION @extschema@.health_connections() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.health_slow_queries(pg_catalog.interval) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.health_dead_tuples(pg_catalog.int8) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.health_report() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION @extschema@.health_connections() TO pg_monitor;
GRANT EXECUTE ON FUNCTION @extschema@.health_slow_queries(pg_catalog.interval) TO pg_monitor;
GRANT EXECUTE ON FUNCTION @extschema@.health_dead_tuples(pg_catalog.int8) TO pg_monitor;
GRANT EXECUTE ON FUNCTION @extschema@.health_report() TO pg_monitor;
