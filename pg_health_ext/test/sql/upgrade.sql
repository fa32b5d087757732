--
-- An install of 0.1.0 updates to 0.2.0 and then has what a fresh install
-- of 0.2.0 has: the same functions, privileges, comments, and each call's
-- search_path pinned to pg_catalog.
--
CREATE TEMP TABLE fresh AS
SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text AS function,
       pg_catalog.pg_get_function_result(p.oid) AS result,
       p.proconfig, p.proacl::pg_catalog.text AS acl,
       pg_catalog.obj_description(p.oid, 'pg_proc') AS comment
FROM pg_catalog.pg_proc p WHERE p.proname LIKE 'health\_%';

DROP EXTENSION pg_health;
CREATE EXTENSION pg_health VERSION '0.1.0';
SELECT p.proname, p.proconfig
FROM pg_catalog.pg_proc p WHERE p.proname LIKE 'health\_%' ORDER BY 1;

ALTER EXTENSION pg_health UPDATE;
SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_health';

-- nothing differs from the fresh install (no rows)
(SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text,
        pg_catalog.pg_get_function_result(p.oid), p.proconfig,
        p.proacl::pg_catalog.text, pg_catalog.obj_description(p.oid, 'pg_proc')
 FROM pg_catalog.pg_proc p WHERE p.proname LIKE 'health\_%'
 EXCEPT SELECT * FROM fresh)
UNION ALL
(SELECT * FROM fresh
 EXCEPT SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text,
        pg_catalog.pg_get_function_result(p.oid), p.proconfig,
        p.proacl::pg_catalog.text, pg_catalog.obj_description(p.oid, 'pg_proc')
 FROM pg_catalog.pg_proc p WHERE p.proname LIKE 'health\_%');

-- a plain call resolves through the default search_path, as in psql
SELECT health_report() ? 'checks' AS plain_call;

