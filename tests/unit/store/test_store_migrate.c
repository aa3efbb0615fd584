/* SPDX-License-Identifier: MIT */
/* What the file holds beyond the ops' results, read straight through
 * SQLite: schema upgrades (src/store/migrations.h: a database written by an
 * older linkd opens in this one with every row, id and counter it had; the
 * old file is built here with the old migrations) and the code sequence. */
#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/sqlite_exec.h"
#include "tmp_db.h"
#include "linkd/err.h"
#include "linkd/store.h"
#include "store/migrations.h"

/* An id edge of the events buckets of migration 5 (2^18 ids) and of
 * migration 7 (2^16) alike. */
enum { BUCKET = 1 << 18 };

struct fixture {
    struct tmp_db t;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || tmp_db_make(&f->t, "old.db") != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tmp_db_remove(&f->t);
    free(f);
    return 0;
}

/* A version-4 file: two users, two urls, events on both sides of the first
 * bucket edge, click rollups for url 1, and AUTOINCREMENT counters above the
 * largest event and url ids (the newest were deleted), which the upgrades
 * must keep. */
static void write_v4_database(const char *path)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK, "create the old file");
    exec_ok(db, "PRAGMA foreign_keys = ON");
    exec_ok(db, "BEGIN");
    for (size_t v = 0; v < 4; v++)
        exec_ok(db, lnk_sqlite_migrations[v]);
    exec_ok(db, "PRAGMA user_version = 4");
    exec_ok(db, "INSERT INTO users (id, username, email, created_at) VALUES"
                " (1, 'ann', 'ann@x.io', 1), (2, 'bo', 'bo@x.io', 1)");
    exec_ok(db, "INSERT INTO urls (id, user_id, short_code, original_url, title, is_active,"
                " created_at, updated_at) VALUES"
                " (1, 1, 'annOne', 'https://a.example/', NULL, 1, 1, 1),"
                " (2, 2, 'boOne1', 'https://b.example/', NULL, 1, 1, 1)");
    exec_ok(db, "INSERT INTO events (id, url_id, user_id, event_type, timestamp, details) VALUES"
                " (1, 1, 1, 'created', 1, '{}'), (2, 2, 2, 'created', 1, '{}'),"
                " (262143, 1, 1, 'click', 5, '{}'), (262144, 2, 1, 'share', 5, '{}'),"
                " (262145, 1, 1, 'click', 6, '{}')");
    exec_ok(db, "UPDATE sqlite_sequence SET seq = 300000 WHERE name = 'events'");
    exec_ok(db, "INSERT INTO link_clicks (url_id, clicks, last_click_at) VALUES (1, 2, 6)");
    exec_ok(db, "INSERT INTO link_clicks_daily (url_id, day, clicks) VALUES (1, 0, 2)");
    exec_ok(db, "UPDATE sqlite_sequence SET seq = 40 WHERE name = 'urls'");
    exec_ok(db, "COMMIT");
    CHECK(sqlite3_close(db) == SQLITE_OK, "close the old file");
}

static struct lnk_store *open_store(const char *path)
{
    char url[160], err[256] = "";
    snprintf(url, sizeof(url), "sqlite://%s", path);
    struct lnk_store_config cfg = {.url = url, .synchronous_full = 1};
    struct lnk_store *s = NULL;
    int rc = lnk_store_open(&cfg, &s, err, sizeof(err));
    if (rc != LNK_OK)
        print_error("lnk_store_open: %s\n", err);
    CHECK(rc == LNK_OK, "the old file opens and is upgraded");
    return s;
}

static struct lnk_op_list *list_events(struct lnk_store *s, int64_t url_id, int64_t user_id)
{
    struct lnk_op_list *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_EVENT_LIST), list);
    op->q = (struct lnk_list_query){.is_active = -1,
                                    .has_url_id = url_id != 0,
                                    .url_id = url_id,
                                    .has_user_id = user_id != 0,
                                    .user_id = user_id};
    lnk_store_run(s, &op->op);
    return op;
}

/* The first column of the first row of sql, read from the closed file. */
static int64_t file_i64(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK,
          "the file opens read-only");
    int64_t v = query_i64_or(db, sql);
    sqlite3_close(db);
    return v;
}

static int delete_user(struct lnk_store *s, int64_t id)
{
    struct lnk_op_user *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_USER_DELETE), user);
    op->id = id;
    int rc = lnk_store_run(s, &op->op);
    lnk_store_op_free(&op->op);
    return rc;
}

static void test_version_4_file_keeps_events_ids_and_counter(void **state)
{
    struct fixture *f = *state;
    write_v4_database(f->t.path);
    struct lnk_store *s = open_store(f->t.path);

    struct lnk_op_list *op = list_events(s, 0, 0);
    CHECK(op->op.rc == LNK_OK && op->n_rows == 5, "every event is still there");
    lnk_store_op_free(&op->op);

    op = list_events(s, 1, 0);
    CHECK(op->op.rc == LNK_OK && op->n_rows == 3, "url 1's events, found through the new index");
    CHECK(op->n_rows == 3 && op->events[0].id == 1 && op->events[1].id == BUCKET - 1 &&
              op->events[2].id == BUCKET + 1,
          "in id order across the bucket edge");
    lnk_store_op_free(&op->op);

    op = list_events(s, 0, 1);
    CHECK(op->op.rc == LNK_OK && op->n_rows == 4, "ann's events, including hers on bo's url");
    lnk_store_op_free(&op->op);

    struct lnk_op_event *ev = LNK_OP_AS(lnk_store_op_new(LNK_OP_EVENT_CREATE), event);
    ev->in = (struct lnk_event){.url_id = 2, .event_type = "note"};
    CHECK(lnk_store_run(s, &ev->op) == LNK_OK && ev->out.id == 300001,
          "the next event id follows the kept counter, not max(id)");
    lnk_store_op_free(&ev->op);

    CHECK(delete_user(s, 1) == LNK_OK, "delete ann");
    op = list_events(s, 0, 0);
    CHECK(op->op.rc == LNK_OK && op->n_rows == 2 && op->events[0].id == 2 &&
              op->events[1].id == 300001,
          "her url's events and the events naming her are gone; bo's remain");
    lnk_store_op_free(&op->op);
    lnk_store_close(s);

    /* migration 7: buckets of 2^16 ids, listed again from the rows */
    CHECK(file_i64(f->t.path, "SELECT count(*) FROM event_buckets WHERE b = 3") == 1,
          "the bucket list was made again: id 262143 is in bucket 3 of 2^16 ids");
    CHECK(file_i64(f->t.path, "SELECT count(*) FROM events"
                              " WHERE id >> 16 NOT IN (SELECT b FROM event_buckets)") == 0,
          "every event's bucket is listed");
    CHECK(file_i64(f->t.path, "SELECT count(*) FROM sqlite_master WHERE sql LIKE '%>> 18%'") == 0,
          "no index or trigger names the old buckets");
}

static struct lnk_op_list *list_urls_of(struct lnk_store *s, int64_t user_id)
{
    struct lnk_op_list *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_LIST), list);
    op->q = (struct lnk_list_query){.is_active = -1, .has_user_id = true, .user_id = user_id};
    lnk_store_run(s, &op->op);
    return op;
}

/* A url created for user_id; its id, or -1. */
static int64_t create_url(struct lnk_store *s, int64_t user_id, const char *target)
{
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_CREATE), url);
    op->in = (struct lnk_url){.user_id = user_id, .original_url = target};
    int64_t id = lnk_store_run(s, &op->op) == LNK_OK ? op->out.id : -1;
    lnk_store_op_free(&op->op);
    return id;
}

/* Migration 6 rebuilds urls, which the click rollups reference: the
 * rollups survive it (foreign keys are off while it runs), the url counter
 * is kept, lists by owner go through the new index, and deleting a user
 * still takes its urls and their rollups with it. */
static void test_version_4_file_keeps_urls_rollups_and_counter(void **state)
{
    struct fixture *f = *state;
    write_v4_database(f->t.path);
    struct lnk_store *s = open_store(f->t.path);

    struct lnk_op_list *op = list_urls_of(s, 2);
    CHECK(op->op.rc == LNK_OK && op->n_rows == 1 && op->urls[0].id == 2, "bo's url, by owner");
    lnk_store_op_free(&op->op);

    struct lnk_op_url_stats *st = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_STATS), url_stats);
    st->id = 1;
    CHECK(lnk_store_run(s, &st->op) == LNK_OK && st->clicks == 2,
          "url 1's click rollup survived the rebuild of urls");
    lnk_store_op_free(&st->op);

    CHECK(create_url(s, 2, "https://c.example/") == 41,
          "the next url id follows the kept counter, not max(id)");

    CHECK(delete_user(s, 1) == LNK_OK, "delete ann");
    op = list_urls_of(s, 1);
    CHECK(op->op.rc == LNK_OK && op->n_rows == 0, "her url went with her");
    lnk_store_op_free(&op->op);
    op = list_urls_of(s, 2);
    CHECK(op->op.rc == LNK_OK && op->n_rows == 2, "bo's urls stay");
    lnk_store_op_free(&op->op);
    lnk_store_close(s);

    CHECK(file_i64(f->t.path, "SELECT count(*) FROM link_clicks") == 0 &&
              file_i64(f->t.path, "SELECT count(*) FROM link_clicks_daily") == 0,
          "and so did its click rollups");
    CHECK(file_i64(f->t.path, "SELECT count(*) FROM retired_codes WHERE code = 'annOne'") == 1,
          "its code is retired");
    CHECK(file_i64(f->t.path, "SELECT count(*) FROM pragma_foreign_key_check") == 0,
          "no row names a missing parent");
}

/* Generated codes come from blocks of sequence numbers reserved in the
 * database: the block is stored with the first link that uses it, and a
 * restart reserves the next one, so no number is handed out twice. */
static void test_code_blocks_are_stored_with_their_links(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = open_store(f->t.path);
    struct lnk_op_user *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_USER_CREATE), user);
    op->in = (struct lnk_user){.username = "ann", .email = "ann@x.io"};
    CHECK(lnk_store_run(s, &op->op) == LNK_OK, "a user");
    int64_t uid = op->out.id;
    lnk_store_op_free(&op->op);
    for (int i = 0; i < 3; i++)
        CHECK(create_url(s, uid, "https://a.example/") > 0, "a generated code");
    lnk_store_close(s);
    int64_t seq = file_i64(f->t.path, "SELECT value FROM meta WHERE key = 'code_seq'");
    CHECK(seq == 1024, "meta.code_seq moved past the block the three codes came from");
    s = open_store(f->t.path);
    CHECK(create_url(s, uid, "https://b.example/") > 0, "a code after a restart");
    lnk_store_close(s);
    seq = file_i64(f->t.path, "SELECT value FROM meta WHERE key = 'code_seq'");
    CHECK(seq == 2048, "comes from the next block");
}

/* Every detail line of EXPLAIN QUERY PLAN for sql, joined by " | ". */
static void plan_of(sqlite3 *db, const char *sql, char *out, size_t cap)
{
    char q[1024];
    sqlite3_stmt *st = NULL;
    snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
    out[0] = '\0';
    CHECK(sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK, "the query prepares");
    size_t len = 0;
    while (sqlite3_step(st) == SQLITE_ROW && len < cap)
        len += (size_t)snprintf(out + len, cap - len, "%s | ",
                                (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
}

/* The lists by url and by user seek each bucket and need no sort; a list of
 * a rare event type uses the partial index. A plan that scans the events
 * table or one of its indexes, or sorts, fails here (no statistics, as linkd
 * runs: it never runs ANALYZE). */
static void test_event_list_plans_seek_and_do_not_sort(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK, "a database");
    for (size_t v = 0; v < LNK_SQLITE_N_MIGRATIONS; v++)
        exec_ok(db, lnk_sqlite_migrations[v]);
    static const char *const lists[] = {
        "SELECT id" LNK_SQLITE_EVENTS_BY_URL " AND url_id = 7 ORDER BY " LNK_SQLITE_EVENT_ORDER
        " LIMIT 10 OFFSET 20",
        "SELECT id" LNK_SQLITE_EVENTS_BY_USER " AND user_id = 7 ORDER BY " LNK_SQLITE_EVENT_ORDER,
        "SELECT id" LNK_SQLITE_EVENTS_BY_URL " AND url_id = 7 AND user_id = 3 AND event_type ="
        " 'click' ORDER BY " LNK_SQLITE_EVENT_ORDER,
        "SELECT count(*)" LNK_SQLITE_EVENTS_BY_URL " AND url_id = 7 AND event_type = 'click'",
    };
    char plan[2048];
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        plan_of(db, lists[i], plan, sizeof(plan));
        if (strstr(plan, "SCAN events") || strstr(plan, "TEMP B-TREE") ||
            !strstr(plan, "SEARCH events USING"))
            print_error("%s\n  plan: %s\n", lists[i], plan);
        CHECK(strstr(plan, "SEARCH events USING") && !strstr(plan, "SCAN events"),
              "events are reached by seeks, bucket by bucket");
        CHECK(!strstr(plan, "TEMP B-TREE"), "and come out in id order without a sort");
    }
    plan_of(db,
            "SELECT id FROM events WHERE event_type = 'created' AND event_type <> 'click'"
            " ORDER BY id",
            plan, sizeof(plan));
    CHECK(strstr(plan, "INDEX events_event_type") && !strstr(plan, "TEMP B-TREE"),
          "a rare type reads the partial type index in id order");
    /* an owner's events: each bucket's events of several urls are sorted */
    plan_of(db,
            "SELECT id" LNK_SQLITE_EVENTS_BY_URL " AND url_id IN (SELECT id" LNK_SQLITE_URLS_BY_USER
            " AND user_id = 3) ORDER BY " LNK_SQLITE_EVENT_ORDER,
            plan, sizeof(plan));
    CHECK(strstr(plan, "SEARCH events USING") && strstr(plan, "SEARCH urls USING") &&
              !strstr(plan, "SCAN events") && !strstr(plan, "SCAN urls"),
          "an owner's events are sought through the owner's urls");
    plan_of(db,
            "SELECT id" LNK_SQLITE_URLS_BY_USER
            " AND user_id = 3 AND is_active = 1 ORDER BY " LNK_SQLITE_URL_ORDER " LIMIT 10",
            plan, sizeof(plan));
    if (strstr(plan, "SCAN urls") || strstr(plan, "TEMP B-TREE"))
        print_error("plan: %s\n", plan);
    CHECK(strstr(plan, "SEARCH urls USING INDEX urls_user_id") && !strstr(plan, "SCAN urls") &&
              !strstr(plan, "TEMP B-TREE"),
          "an owner's urls are sought bucket by bucket and come out in id order");

    sqlite3_close(db);
}

/* Deleting a user reaches its urls and events through the bucketed
 * indexes: no step of the DELETE, its triggers and its cascades included,
 * scans a table. */
static void test_user_delete_does_not_scan(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK, "a database");
    for (size_t v = 0; v < LNK_SQLITE_N_MIGRATIONS; v++)
        exec_ok(db, lnk_sqlite_migrations[v]);
    exec_ok(db, "PRAGMA foreign_keys = ON");
    exec_ok(db, "INSERT INTO users (id, username, email, created_at) VALUES"
                " (1, 'ann', 'ann@x.io', 1), (2, 'bo', 'bo@x.io', 1)");
    exec_ok(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
                " INSERT INTO urls (user_id, short_code, original_url, is_active, created_at,"
                " updated_at) SELECT 1 + (i % 500 != 0), 'c' || i, 'https://a.example/', 1, 1, 1"
                " FROM n");
    exec_ok(db, "INSERT INTO events (url_id, user_id, event_type, timestamp)"
                " SELECT id, user_id, 'created', 1 FROM urls");
    /* the store lists the buckets of what it inserts (migration 8) */
    exec_ok(db, "INSERT OR IGNORE INTO event_buckets (b) SELECT DISTINCT id >> 16 FROM events");
    CHECK(sqlite3_prepare_v2(db, "DELETE FROM users WHERE id = 1", -1, &st, NULL) == SQLITE_OK,
          "the delete prepares");
    CHECK(sqlite3_step(st) == SQLITE_DONE, "ann is deleted");
    int scanned = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
    sqlite3_finalize(st);
    if (scanned > 3)
        print_error("full-scan steps: %d\n", scanned);
    CHECK(scanned <= 3, "her urls and events were sought, not scanned for (the 3 steps are the"
                        " bucket lists')");
    sqlite3_stmt *cnt = NULL;
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT (SELECT count(*) FROM urls), (SELECT count(*) FROM events),"
                             " (SELECT count(*) FROM urls WHERE user_id = 1)",
                             -1, &cnt, NULL) == SQLITE_OK &&
              sqlite3_step(cnt) == SQLITE_ROW,
          "count what is left");
    CHECK(sqlite3_column_int(cnt, 0) == 4990 && sqlite3_column_int(cnt, 1) == 4990 &&
              sqlite3_column_int(cnt, 2) == 0,
          "her 10 urls and their events are gone, bo's 4,990 remain");
    sqlite3_finalize(cnt);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_version_4_file_keeps_events_ids_and_counter, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_version_4_file_keeps_urls_rollups_and_counter, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_code_blocks_are_stored_with_their_links, setup,
                                        teardown),
        cmocka_unit_test(test_event_list_plans_seek_and_do_not_sort),
        cmocka_unit_test(test_user_delete_does_not_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
