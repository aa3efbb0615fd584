/* SPDX-License-Identifier: MIT */
/* The store's floor for recording clicks: appends click rows to the events
 * table of an existing linkd database the way linkd's writer does (256-row
 * INSERT OR IGNORE statements, the batch's buckets listed once, one
 * transaction per batch, WAL,
 * synchronous=FULL, a batch's rows sorted by owner then url: all of a
 * batch's clicks here share one timestamp), and prints the CPU time per row.
 * Nothing else runs: no HTTP, no owner lookups, no rollups. bench/click-floor
 * runs it against a database linkd created, with and without parts of the
 * events schema. ORDER "arrival" leaves the rows in the order they were drawn.
 *
 * usage: click_append DB BATCHES ROWS_PER_BATCH sorted|arrival */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define CHUNK 256

struct link {
    int64_t id, owner;
};

static int cmp_owner_url(const void *a, const void *b)
{
    const struct link *x = *(const struct link *const *)a, *y = *(const struct link *const *)b;
    if (x->owner != y->owner)
        return x->owner < y->owner ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void must(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "click_append: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (!p) {
        fprintf(stderr, "click_append: out of memory\n");
        exit(1);
    }
    return p;
}

static struct link *load_links(sqlite3 *db, size_t *n)
{
    sqlite3_stmt *st;
    must(db, sqlite3_prepare_v2(db, "SELECT id, user_id FROM urls ORDER BY id", -1, &st, NULL),
         "select urls");
    size_t cap = 1024;
    struct link *links = xrealloc(NULL, cap * sizeof(*links));
    *n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap)
            links = xrealloc(links, (cap *= 2) * sizeof(*links));
        links[(*n)++] = (struct link){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)};
    }
    sqlite3_finalize(st);
    if (*n == 0) {
        fprintf(stderr, "click_append: no urls in the database\n");
        exit(1);
    }
    return links;
}

static sqlite3_stmt *prepare_chunk(sqlite3 *db)
{
    static const char head[] =
        "INSERT OR IGNORE INTO events (url_id, user_id, event_type, timestamp, details) VALUES ";
    static const char row[] = "(?,?,'click',?,?),";
    char sql[sizeof(head) + CHUNK * sizeof(row)];
    size_t len = sizeof(head) - 1;
    memcpy(sql, head, len);
    for (int i = 0; i < CHUNK; i++) {
        memcpy(sql + len, row, sizeof(row) - 1);
        len += sizeof(row) - 1;
    }
    sql[len - 1] = '\0'; /* the last comma */
    sqlite3_stmt *st;
    must(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL), "prepare insert");
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[4], "sorted") != 0 && strcmp(argv[4], "arrival") != 0)) {
        fprintf(stderr, "usage: click_append DB BATCHES ROWS_PER_BATCH sorted|arrival\n");
        return 2;
    }
    long batches = atol(argv[2]), per = atol(argv[3]) / CHUNK * CHUNK;
    bool sorted = strcmp(argv[4], "sorted") == 0;
    if (batches < 1 || per < CHUNK) {
        fprintf(stderr, "click_append: at least 1 batch of %d rows\n", CHUNK);
        return 2;
    }
    sqlite3 *db;
    must(db, sqlite3_open(argv[1], &db), "open");
    must(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", 0, 0, 0),
         "pragmas");
    size_t n_links;
    struct link *links = load_links(db, &n_links);
    sqlite3_stmt *st = prepare_chunk(db), *buckets;
    must(db,
         sqlite3_prepare_v2(db,
                            "WITH RECURSIVE s(b) AS (SELECT ?1 >> 16 UNION ALL"
                            " SELECT b + 1 FROM s WHERE b < ?2 >> 16)"
                            " INSERT OR IGNORE INTO event_buckets (b) SELECT b FROM s",
                            -1, &buckets, NULL),
         "prepare buckets");
    char details[CHUNK][96];
    const struct link **batch = xrealloc(NULL, (size_t)per * sizeof(*batch));
    uint64_t rnd = 88172645463325252ull;
    double t0 = cpu_seconds();
    for (long b = 0; b < batches; b++) {
        for (long i = 0; i < per; i++) {
            rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
            batch[i] = &links[rnd % n_links];
        }
        if (sorted)
            qsort(batch, (size_t)per, sizeof(*batch), cmp_owner_url);
        int64_t first = 0;
        must(db, sqlite3_exec(db, "BEGIN", 0, 0, 0), "begin");
        for (long done = 0; done < per; done += CHUNK) {
            for (int i = 0; i < CHUNK; i++) {
                const struct link *l = batch[done + i];
                int len =
                    snprintf(details[i], sizeof(details[i]),
                             "{\"short_code\":\"c%06lld\",\"user_agent\":\"\",\"referrer\":\"\"}",
                             (long long)(l->id % 1000000));
                sqlite3_bind_int64(st, i * 4 + 1, l->id);
                sqlite3_bind_int64(st, i * 4 + 2, l->owner);
                sqlite3_bind_int64(st, i * 4 + 3, 1767225600 + b);
                sqlite3_bind_text(st, i * 4 + 4, details[i], len, SQLITE_STATIC);
            }
            must(db, sqlite3_step(st), "insert");
            sqlite3_reset(st);
            if (done == 0)
                first = sqlite3_last_insert_rowid(db) - CHUNK + 1;
        }
        /* the buckets of the batch's ids, listed once as the store does
         * (migration 8; a no-op where the table has the older trigger) */
        sqlite3_bind_int64(buckets, 1, first);
        sqlite3_bind_int64(buckets, 2, sqlite3_last_insert_rowid(db));
        must(db, sqlite3_step(buckets), "buckets");
        sqlite3_reset(buckets);
        must(db, sqlite3_exec(db, "COMMIT", 0, 0, 0), "commit");
    }
    double secs = cpu_seconds() - t0;
    printf("%.3f us CPU per row (%ld rows in %ld batches)\n", secs * 1e6 / (double)(batches * per),
           batches * per, batches);
    sqlite3_finalize(st);
    sqlite3_finalize(buckets);
    sqlite3_close(db);
    free(batch);
    free(links);
    return 0;
}
