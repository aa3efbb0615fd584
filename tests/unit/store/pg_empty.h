/* SPDX-License-Identifier: MIT */
/* Empties a PostgreSQL database between store tests, with no store open on
 * it: every table of the public schema but linkd_schema (the schema version)
 * is truncated with its identities restarted, and every sequence that no
 * column owns (the code sequence) restarts. The tables are read from
 * pg_tables at run time, so the list follows the schema. The only test code
 * that includes libpq. */
#ifndef LNK_TEST_PG_EMPTY_H
#define LNK_TEST_PG_EMPTY_H

#include <libpq-fe.h>

#include <stddef.h>
#include <stdio.h>

static const char PG_EMPTY_SQL[] =
    "DO $$ DECLARE tables text; seq regclass; BEGIN "
    "SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO tables "
    "  FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'linkd_schema'; "
    "IF tables IS NOT NULL THEN "
    "  EXECUTE 'TRUNCATE TABLE ' || tables || ' RESTART IDENTITY CASCADE'; "
    "END IF; "
    "FOR seq IN SELECT c.oid::regclass FROM pg_class c "
    "  JOIN pg_namespace n ON n.oid = c.relnamespace "
    "  WHERE c.relkind = 'S' AND n.nspname = 'public' AND NOT EXISTS "
    "  (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
    "   AND d.objid = c.oid AND d.deptype IN ('a', 'i')) LOOP "
    "  EXECUTE format('ALTER SEQUENCE %s RESTART', seq); "
    "END LOOP; "
    "END $$";

/* 0, or -1 with the reason in err (never the URL: it holds a password). */
static inline int pg_empty_database(const char *url, char *err, size_t cap)
{
    int rc = -1;
    PGresult *res = NULL;
    PGconn *conn = PQconnectdb(url);
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(err, cap, "connecting: %s", PQerrorMessage(conn));
        goto out;
    }
    res = PQexec(conn, PG_EMPTY_SQL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(err, cap, "emptying the tables: %s", PQresultErrorMessage(res));
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    PQfinish(conn);
    return rc;
}

#endif
