-- Copyright (C) 2026 nginx-health authors
-- SPDX-License-Identifier: BSD-2-Clause
/* pg_health_ext/sql/pg_health--0.1.0--0.2.0.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_health UPDATE TO '0.2.0'" to load this file. \quit

--
-- 0.2.0 pins search_path for each call.  The functions keep their
-- signatures, privileges and comments but two: the checks themselves
-- changed in the library (see README, "Upgrading from 0.1.0").
--

ALTER FUNCTION @extschema@.health_connections() SET search_path = pg_catalog;
ALTER FUNCTION @extschema@.health_slow_queries(pg_catalog.interval) SET search_path = pg_catalog;
ALTER FUNCTION @extschema@.health_dead_tuples(pg_catalog.int8) SET search_path = pg_catalog;
ALTER FUNCTION @extschema@.health_report() SET search_path = pg_catalog;

COMMENT ON FUNCTION @extschema@.health_slow_queries(pg_catalog.interval) IS
'sessions whose statement or idle-in-transaction time exceeds threshold (default pg_health.statement_warning), as pg_stat_activity shows them to the caller';
COMMENT ON FUNCTION @extschema@.health_dead_tuples(pg_catalog.int8) IS
'user tables and their TOAST tables with at least min_dead dead tuples (default pg_health.dead_tuples_min), judged once past autovacuum''s trigger';
