/* SPDX-License-Identifier: MIT */
/* For tests that read or write a database straight through SQLite. */
#ifndef LNK_TEST_SQLITE_EXEC_H
#define LNK_TEST_SQLITE_EXEC_H

#include <sqlite3.h>

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

#endif
