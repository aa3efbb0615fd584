/* SPDX-License-Identifier: MIT */
/* For tests that read or write a database straight through SQLite. */
#ifndef LNK_TEST_SQLITE_EXEC_H
#define LNK_TEST_SQLITE_EXEC_H

#include <sqlite3.h>

#include <stdint.h>

#include "check.h"

/* Runs sql (one or more statements) and fails the test if it errs. */
static inline void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        print_error("%s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    CHECK(rc == SQLITE_OK, "statement runs");
}

/* The first column of the first row of sql, or -1 when it has none. */
static inline int64_t query_i64_or(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "query prepares");
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

#endif
