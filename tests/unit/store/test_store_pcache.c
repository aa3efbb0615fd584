/* SPDX-License-Identifier: MIT */
/* The page cache layer (src/store/store_sqlite_pcache.c) on a real SQLite
 * file: commits that split index pages no longer make SQLite scan its cache,
 * and a rollback that must drop pages still drops them, so what is read
 * afterwards is what was committed. */
#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/sqlite_exec.h"
#include "tmp_db.h"
#include "store/store_sqlite_pcache.h"

struct fixture {
    struct tmp_db t;
    sqlite3 *db;
};

static void check_integrity(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK,
          "integrity_check prepares");
    CHECK(sqlite3_step(st) == SQLITE_ROW &&
              strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0,
          "integrity_check says ok");
    sqlite3_finalize(st);
}

/* n rows with keys spread over the index in random order, as generated
 * short codes are: most commits split a leaf somewhere in the middle. */
static void insert_random(sqlite3 *db, unsigned *seed, int n, int tag)
{
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO t (code, tag) VALUES (?, ?)", -1, &st, NULL) ==
              SQLITE_OK,
          "insert prepares");
    for (int i = 0; i < n; i++) {
        char code[24];
        snprintf(code, sizeof(code), "%08x%08x", (unsigned)rand_r(seed), (unsigned)rand_r(seed));
        sqlite3_bind_text(st, 1, code, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 2, tag);
        CHECK(sqlite3_step(st) == SQLITE_DONE, "row inserted");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
}

/* insert_random in a transaction of its own */
static void commit_random(sqlite3 *db, unsigned *seed, int n, int tag)
{
    exec_ok(db, "BEGIN IMMEDIATE");
    insert_random(db, seed, n, tag);
    exec_ok(db, "COMMIT");
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || tmp_db_make(&f->t, "t.db") != 0) {
        free(f);
        return -1;
    }
    *state = f;
    if (sqlite3_open(f->t.path, &f->db) != SQLITE_OK)
        return -1;
    exec_ok(f->db, "PRAGMA journal_mode = WAL");
    exec_ok(f->db, "PRAGMA cache_size = -65536");
    exec_ok(f->db, "CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE,"
                   " tag INTEGER NOT NULL)");
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sqlite3_close(f->db);
    tmp_db_remove(&f->t);
    free(f);
    return 0;
}

static void test_commits_that_split_pages_drop_nothing(void **state)
{
    struct fixture *f = *state;
    unsigned seed = 7;
    commit_random(f->db, &seed, 20000, 0);

    struct lnk_sqlite_pcache_counts before, after;
    lnk_sqlite_pcache_counts(&before);
    for (int commit = 0; commit < 200; commit++) {
        commit_random(f->db, &seed, 50, 1);
    }
    lnk_sqlite_pcache_counts(&after);

    CHECK(after.moved_high > before.moved_high,
          "page splits renumbered pages past the end of the file");
    CHECK(after.truncates - before.truncates >= 200, "every commit asked the cache to truncate");
    CHECK(after.forwarded == before.forwarded,
          "no commit made SQLite's cache look for pages to drop");
    CHECK(query_i64_or(f->db, "SELECT count(*) FROM t") == 30000, "every row is there");
    check_integrity(f->db);
}

/* After a rollback of rows tagged 2: commits rows on the same page numbers
 * again, with other content, and checks that what is read is what was
 * committed (total rows in all). */
static void check_reused_pages(sqlite3 *db, unsigned *seed, int64_t total)
{
    commit_random(db, seed, 20000, 3);
    CHECK(query_i64_or(db, "SELECT count(*) FROM t WHERE tag = 2") == 0,
          "nothing of the rolled-back rows is read back");
    CHECK(query_i64_or(db, "SELECT count(*) FROM t") == total, "the committed rows are there");
    check_integrity(db);
}

static void test_rollback_of_a_grown_file_drops_its_pages(void **state)
{
    struct fixture *f = *state;
    unsigned seed = 11;
    commit_random(f->db, &seed, 5000, 0);
    int64_t pages = query_i64_or(f->db, "PRAGMA page_count");

    struct lnk_sqlite_pcache_counts before, after;
    lnk_sqlite_pcache_counts(&before);
    exec_ok(f->db, "BEGIN IMMEDIATE");
    insert_random(f->db, &seed, 20000, 2);
    CHECK(query_i64_or(f->db, "PRAGMA page_count") > pages, "the transaction grew the file");
    exec_ok(f->db, "ROLLBACK");
    lnk_sqlite_pcache_counts(&after);
    CHECK(after.forwarded > before.forwarded, "the rollback dropped the pages past the end");

    check_reused_pages(f->db, &seed, 25000);
}

static void test_savepoint_rollback_then_commit(void **state)
{
    struct fixture *f = *state;
    unsigned seed = 13;
    commit_random(f->db, &seed, 5000, 0);

    struct lnk_sqlite_pcache_counts before, after;
    lnk_sqlite_pcache_counts(&before);
    exec_ok(f->db, "BEGIN IMMEDIATE");
    insert_random(f->db, &seed, 100, 1);
    exec_ok(f->db, "SAVEPOINT op");
    insert_random(f->db, &seed, 20000, 2);
    exec_ok(f->db, "ROLLBACK TO op");
    exec_ok(f->db, "RELEASE op");
    exec_ok(f->db, "COMMIT");
    lnk_sqlite_pcache_counts(&after);
    CHECK(after.forwarded > before.forwarded, "the pages the savepoint had added were dropped");

    check_reused_pages(f->db, &seed, 25100);
}

int main(void)
{
    /* before anything initializes SQLite; a second install is a no-op */
    if (lnk_sqlite_pcache_install() != SQLITE_OK || lnk_sqlite_pcache_install() != SQLITE_OK) {
        fprintf(stderr, "page cache not installed\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commits_that_split_pages_drop_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rollback_of_a_grown_file_drops_its_pages, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_savepoint_rollback_then_commit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
