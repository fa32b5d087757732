--
-- The extension installs, with the signatures of the design and the
-- privileges of its SQL script.
--
CREATE EXTENSION pg_health;

SELECT e.extname, e.extversion, e.extrelocatable
FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_health';

-- every function of the extension, with its result and attributes
SELECT p.oid::pg_catalog.regprocedure AS function,
       pg_catalog.pg_get_function_arguments(p.oid) AS arguments,
       p.prosecdef AS security_definer, p.provolatile, p.proparallel,
       p.proconfig
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_depend d
  ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid
WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
  AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension
                    WHERE extname = 'pg_health')
  AND d.deptype = 'e'
ORDER BY 1::pg_catalog.text;

SELECT pg_catalog.pg_get_function_result('health_connections()'::pg_catalog.regprocedure);
SELECT pg_catalog.pg_get_function_result('health_slow_queries(interval)'::pg_catalog.regprocedure);
SELECT pg_catalog.pg_get_function_result('health_dead_tuples(bigint)'::pg_catalog.regprocedure);
SELECT pg_catalog.pg_get_function_result('health_report()'::pg_catalog.regprocedure);

-- EXECUTE for pg_monitor only, besides the owner: nothing for PUBLIC (0)
SELECT p.proname, a.grantee::pg_catalog.regrole AS grantee, a.privilege_type
FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
WHERE p.proname LIKE 'health\_%' AND a.grantee <> p.proowner
ORDER BY 1, 2;

SELECT p.proname,
       pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE') AS public_may
FROM pg_catalog.pg_proc p WHERE p.proname LIKE 'health\_%' ORDER BY 1;
