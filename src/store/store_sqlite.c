/* SPDX-License-Identifier: MIT */
/* The SQLite store backend: WAL, one write connection driven by store.c's
 * writer thread, one read connection per worker, statements prepared once
 * per connection and always parameterised, schema migrations from
 * migrations.h keyed by PRAGMA user_version. The only file that includes
 * sqlite3.h. A connection is used by one thread at a time (NOMUTEX).
 * Write health: the SQLite error behind a failed write is classified into a
 * fault; the file is identified by (device, inode) so that a removed or
 * replaced file is noticed, copied out (rescue) and reopened safely. */
#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/shortcode.h"
#include "store/migrations.h"
#include "store/store_int.h"
#include "store/store_sqlite_pcache.h"

#define SQ_BUSY_TIMEOUT_MS 5000

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_PING,
    ST_COUNT_ROWS,
    ST_USER_GET,
    ST_USER_EXISTS,
    ST_USER_ID_BY_NAME,
    ST_USER_ID_BY_EMAIL,
    ST_USER_INSERT,
    ST_USER_UPDATE,
    ST_USER_DELETE,
    ST_USER_UPSERT,
    ST_URL_GET,
    ST_URL_BY_CODE,
    ST_URL_OWNER,
    ST_URLS_OF_USER,
    ST_CODE_TAKEN,
    ST_SEQ_GET,
    ST_SEQ_SET,
    ST_URL_INSERT,
    ST_URL_UPDATE,
    ST_URL_DEACTIVATE,
    ST_URL_UPSERT,
    ST_EVENT_GET,
    ST_EVENT_INSERT,
    ST_EVENT_CREATED,
    ST_EVENT_UPDATED,
    ST_EVENT_DELETED,
    ST_EVENT_UPSERT,
    ST_CLICKS_TOTAL,
    ST_CLICKS_DAILY,
    ST_HEARTBEAT,
    ST_ROLLUP_ADD,
    ST_ROLLUP_ADD_DAY,
    ST_ROLLUP_CLEAR,
    ST_ROLLUP_CLEAR_DAYS,
    ST_ROLLUP_RECOUNT,
    ST_ROLLUP_RECOUNT_DAYS,
    ST_CLICK_URL_OF,
    ST_KEY_INSERT,
    ST_KEY_GET,
    ST_KEY_LIST,
    ST_KEY_REVOKE,
    ST_KEY_BY_HASH,
    ST_KEY_COUNT_ACTIVE,
    ST_URL_REUSE,
    ST_URL_REACTIVATE,
    ST_SAVEPOINT_ROW,
    ST_RELEASE_ROW,
    ST_ROLLBACK_TO_ROW,
    ST_STATS_TOTALS,
    ST_STATS_TOTALS_OWNER,
    ST_STATS_TYPES,
    ST_STATS_TYPES_OWNER,
    ST__COUNT
};

#define USER_COLS  "id, username, email, created_at"
#define URL_COLS   "id, user_id, short_code, original_url, title, is_active, created_at, updated_at"
#define EVENT_COLS "id, url_id, user_id, event_type, timestamp, details"
#define EVENT_INS  "INSERT INTO events (url_id, user_id, event_type, timestamp, details) "
#define KEY_COLS   "id, name, prefix, admin, user_id, created_at, revoked_at"

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT op",
    [ST_RELEASE] = "RELEASE op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO op",
    [ST_PING] = "SELECT 1",
    /* one statement, so the three counts come from one snapshot */
    [ST_COUNT_ROWS] = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM urls),"
                      " (SELECT count(*) FROM events)",
    [ST_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    [ST_USER_EXISTS] = "SELECT 1 FROM users WHERE id = ?1",
    [ST_USER_ID_BY_NAME] = "SELECT id FROM users WHERE username = ?1",
    [ST_USER_ID_BY_EMAIL] = "SELECT id FROM users WHERE email = ?1",
    [ST_USER_INSERT] = "INSERT INTO users (username, email, created_at) VALUES (?1, ?2, ?3)",
    [ST_USER_UPDATE] = "UPDATE users SET username = coalesce(?2, username),"
                       " email = coalesce(?3, email) WHERE id = ?1",
    [ST_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
    /* ?1 NULL inserts with a new id; ?5 says whether created_at was given */
    [ST_USER_UPSERT] = "INSERT INTO users (id, username, email, created_at) VALUES (?1, ?2, ?3, ?4)"
                       " ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
                       " email = excluded.email, created_at = CASE WHEN ?5"
                       " THEN excluded.created_at ELSE users.created_at END",
    [ST_URL_GET] = "SELECT " URL_COLS " FROM urls WHERE id = ?1",
    [ST_URL_BY_CODE] = "SELECT " URL_COLS " FROM urls WHERE short_code = ?1",
    [ST_URL_OWNER] = "SELECT user_id FROM urls WHERE id = ?1",
    [ST_URLS_OF_USER] = "SELECT " URL_COLS LNK_SQLITE_URLS_BY_USER
                        " AND user_id = ?1 ORDER BY " LNK_SQLITE_URL_ORDER,
    [ST_CODE_TAKEN] = "SELECT 1 FROM urls WHERE short_code = ?1"
                      " UNION ALL SELECT 1 FROM retired_codes WHERE code = ?1",
    [ST_SEQ_GET] = "SELECT value FROM meta WHERE key = 'code_seq'",
    [ST_SEQ_SET] = "UPDATE meta SET value = ?1 WHERE key = 'code_seq'",
    [ST_URL_INSERT] = "INSERT INTO urls (user_id, short_code, original_url, title, is_active,"
                      " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
                      " RETURNING " URL_COLS,
    [ST_URL_UPDATE] = "UPDATE urls SET title = ?2, is_active = ?3, original_url = ?4,"
                      " updated_at = ?5 WHERE id = ?1",
    [ST_URL_DEACTIVATE] = "UPDATE urls SET is_active = 0, updated_at = ?2 WHERE id = ?1",
    [ST_URL_UPSERT] = "INSERT INTO urls (" URL_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                      " ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,"
                      " short_code = excluded.short_code, original_url = excluded.original_url,"
                      " title = excluded.title, is_active = excluded.is_active,"
                      " created_at = excluded.created_at, updated_at = excluded.updated_at",
    [ST_EVENT_GET] = "SELECT " EVENT_COLS " FROM events WHERE id = ?1",
    [ST_EVENT_INSERT] = EVENT_INS "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_EVENT_CREATED] = EVENT_INS "VALUES (?1, ?2, 'created', ?3,"
                                   " json_object('short_code', ?4, 'original_url', ?5))",
    [ST_EVENT_UPDATED] = EVENT_INS "VALUES (?1, ?2, 'updated', ?3,"
                                   " json_object('field', ?4, 'new_value', ?5))",
    [ST_EVENT_DELETED] = EVENT_INS "VALUES (?1, ?2, 'deleted', ?3,"
                                   " json_object('reason', 'user_requested'))",
    [ST_EVENT_UPSERT] = "INSERT INTO events (" EVENT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                        " ON CONFLICT (id) DO UPDATE SET url_id = excluded.url_id,"
                        " user_id = excluded.user_id, event_type = excluded.event_type,"
                        " timestamp = excluded.timestamp, details = excluded.details",
    [ST_CLICKS_TOTAL] = "SELECT clicks, last_click_at FROM link_clicks WHERE url_id = ?1",
    /* one row each, for a url its caller found in this transaction
     * (event_create, resolve_owners) */
    [ST_ROLLUP_ADD] = "INSERT INTO link_clicks (url_id, clicks, last_click_at) VALUES (?1, ?2, ?3)"
                      " ON CONFLICT (url_id) DO UPDATE SET clicks = clicks + excluded.clicks,"
                      " last_click_at = max(last_click_at, excluded.last_click_at)",
    [ST_ROLLUP_ADD_DAY] = "INSERT INTO link_clicks_daily (url_id, day, clicks) VALUES (?1, ?2, ?3)"
                          " ON CONFLICT (url_id, day) DO UPDATE SET"
                          " clicks = clicks + excluded.clicks",
    [ST_ROLLUP_CLEAR] = "DELETE FROM link_clicks WHERE url_id = ?1",
    [ST_ROLLUP_CLEAR_DAYS] = "DELETE FROM link_clicks_daily WHERE url_id = ?1",
    [ST_ROLLUP_RECOUNT] = "INSERT INTO link_clicks (url_id, clicks, last_click_at)"
                          " SELECT url_id, count(*), max(timestamp)" LNK_SQLITE_EVENTS_BY_URL
                          " AND url_id = ?1 AND event_type = 'click' GROUP BY url_id",
    [ST_ROLLUP_RECOUNT_DAYS] =
        "INSERT INTO link_clicks_daily (url_id, day, clicks)"
        " SELECT url_id, timestamp / 86400, count(*)" LNK_SQLITE_EVENTS_BY_URL
        " AND url_id = ?1 AND event_type = 'click'"
        " GROUP BY url_id, timestamp / 86400",
    [ST_CLICK_URL_OF] = "SELECT url_id FROM events WHERE id = ?1 AND event_type = 'click'",
    [ST_KEY_INSERT] = "INSERT INTO api_keys (name, key_hash, prefix, admin, user_id, created_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_KEY_GET] = "SELECT " KEY_COLS " FROM api_keys WHERE id = ?1",
    [ST_KEY_LIST] = "SELECT " KEY_COLS " FROM api_keys ORDER BY id",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    [ST_KEY_BY_HASH] = "SELECT " KEY_COLS " FROM api_keys WHERE key_hash = ?1"
                       " AND revoked_at IS NULL",
    [ST_KEY_COUNT_ACTIVE] = "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL",
    [ST_CLICKS_DAILY] = "SELECT day, clicks FROM link_clicks_daily WHERE url_id = ?1 ORDER BY day",
    /* the owner's newest url to that destination, an active one first; it
     * reads the owner's urls through their index, so it costs as many rows
     * as the owner has urls (only creates that ask for reuse run it) */
    [ST_URL_REUSE] = "SELECT " URL_COLS LNK_SQLITE_URLS_BY_USER
                     " AND user_id = ?1 AND original_url = ?2 ORDER BY is_active DESC, id DESC"
                     " LIMIT 1",
    [ST_URL_REACTIVATE] = "UPDATE urls SET is_active = 1, updated_at = ?2 WHERE id = ?1",
    /* one row of a bulk operation, inside the op's own savepoint */
    [ST_SAVEPOINT_ROW] = "SAVEPOINT bulk_row",
    [ST_RELEASE_ROW] = "RELEASE bulk_row",
    [ST_ROLLBACK_TO_ROW] = "ROLLBACK TO bulk_row",
    /* STATS, in one snapshot each. Clicks are counted from the rollups, the
     * other types through their partial index: neither scans events. */
    [ST_STATS_TOTALS] = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM urls),"
                        " (SELECT count(*) FROM urls WHERE is_active)",
    [ST_STATS_TOTALS_OWNER] =
        "SELECT (SELECT count(*) FROM users WHERE id = ?1),"
        " (SELECT count(*)" LNK_SQLITE_URLS_BY_USER " AND user_id = ?1),"
        " (SELECT count(*)" LNK_SQLITE_URLS_BY_USER " AND user_id = ?1 AND is_active)",
    [ST_STATS_TYPES] = "SELECT event_type, count(*) FROM events WHERE event_type <> 'click'"
                       " GROUP BY event_type UNION ALL"
                       " SELECT 'click', coalesce(sum(clicks), 0) FROM link_clicks ORDER BY 1",
    [ST_STATS_TYPES_OWNER] =
        "SELECT event_type, count(*) FROM events WHERE event_type <> 'click' AND url_id IN"
        " (SELECT id" LNK_SQLITE_URLS_BY_USER " AND user_id = ?1) GROUP BY event_type UNION ALL"
        " SELECT 'click', coalesce(sum(clicks), 0) FROM link_clicks WHERE url_id IN"
        " (SELECT id" LNK_SQLITE_URLS_BY_USER " AND user_id = ?1) ORDER BY 1",
    /* the write probe of a degraded store: one small row, one page */
    [ST_HEARTBEAT] = "INSERT INTO meta (key, value) VALUES ('heartbeat', ?1)"
                     " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
};

/* Result row shapes, also the tables a list reads. */
enum row_kind { ROW_USER, ROW_URL, ROW_EVENT, ROW_KEY, ROW__COUNT };

/* List filter bits; a list statement is cached per (table, bit set). */
#define LF_USER     1u
#define LF_URL      2u
#define LF_ACTIVE   4u
#define LF_TYPE     8u
#define LF_PAGED    16u
#define LF_OWNER    32u
#define LF_RARE     64u /* an event type other than click: its index is partial */
#define LF_VARIANTS 128u

struct lnk_store_bconn {
    sqlite3 *db;
    struct lnk_store_backend *b;
    sqlite3_stmt *st[ST__COUNT];
    sqlite3_stmt *list[ROW__COUNT][LF_VARIANTS];
    sqlite3_stmt *click_chunk; /* CLICK_CHUNK rows at once (writer only) */
};

/* A file's identity; 0/0 when unknown or absent. */
struct file_id {
    uint64_t dev, ino;
};

struct lnk_store_backend {
    char *path;
    bool synchronous_full;
    struct lnk_store_bconn *wr; /* the writer's; writer thread only once open returns;
                                   NULL after a failed reopen */
    struct lnk_codegen gen;     /* from meta.code_key; writer thread only after open */
    /* meta.code_seq as the current batch has advanced it; stored once, at
     * its commit (writer thread only) */
    int64_t code_seq;
    bool seq_loaded, seq_dirty;

    /* Identity of the file wr has open, read by conn_open on any thread. */
    _Atomic uint64_t db_dev, db_ino;

    /* Writer thread only. */
    struct file_id wal_id, shm_id; /* the WAL and shm files wr created or found */
    int fail_src;                  /* extended SQLite code of the latest storage failure */
    int fail_errno;                /* and its errno, 0 if none */
    struct stat candidate;         /* the file at the path seen by the last reopen_ready */
    bool have_candidate;

    /* sq_sync's, on the store's syncer thread; the writer touches them only
     * in reopen and close, when the syncer is idle. */
    int wal_fd;            /* the WAL wr writes, opened by the first sync; -1 */
    atomic_int sync_errno; /* a failed sync: sticky until the file is reopened */
};

/* One positional statement argument (?1, ?2, ... in order). */
enum arg_type { ARG_NULL, ARG_I64, ARG_TEXT, ARG_BLOB };
struct sq_arg {
    enum arg_type type;
    int64_t i;
    const char *s; /* NULL binds NULL; borrowed until the statement is reset */
    size_t len;    /* ARG_BLOB */
};
#define A_I64(v)  ((struct sq_arg){.type = ARG_I64, .i = (v)})
#define A_TEXT(v) ((struct sq_arg){.type = ARG_TEXT, .s = (v)})
#define A_ID(v)   ((struct sq_arg){.type = (v) > 0 ? ARG_I64 : ARG_NULL, .i = (v)})
#define A_BOOL(v) ((struct sq_arg){.type = ARG_I64, .i = (v) ? 1 : 0})
#define ARGS(...)                                                                                  \
    (const struct sq_arg[]){__VA_ARGS__},                                                          \
        sizeof((const struct sq_arg[]){__VA_ARGS__}) / sizeof(struct sq_arg)
#define NO_ARGS NULL, 0

/* SQLite result code (extended) -> lnk_err. */
static int map_sqlite_rc(int src)
{
    switch (src) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return LNK_OK;
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return LNK_EEXISTS;
    default:
        break;
    }
    switch (src & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
        return LNK_EINVAL;
    case SQLITE_NOMEM:
        return LNK_ENOMEM;
    case SQLITE_TOOBIG:
        return LNK_ETOOBIG;
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOLFS:
    case SQLITE_AUTH:
        return LNK_EUNAVAIL;
    default:
        return LNK_EBACKEND;
    }
}

static void set_err(char *errbuf, size_t errcap, const char *what, const char *why)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "sqlite: %s: %s", what, why);
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- statements ------------------------------------------------------- */

static int prepare_sql(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    int src = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    return src == SQLITE_OK ? LNK_OK : map_sqlite_rc(src);
}

/* Resets a cached statement so that it holds no read snapshot or lock. */
static void release_stmt(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

static int bind_args(sqlite3_stmt *st, const struct sq_arg *args, size_t n)
{
    int src = SQLITE_OK;
    for (size_t i = 0; i < n && src == SQLITE_OK; i++) {
        int idx = (int)i + 1;
        const struct sq_arg *a = &args[i];
        if (a->type == ARG_I64)
            src = sqlite3_bind_int64(st, idx, a->i);
        else if (a->type == ARG_TEXT && a->s)
            src = sqlite3_bind_text(st, idx, a->s, -1, SQLITE_STATIC);
        else if (a->type == ARG_BLOB && a->s)
            src = sqlite3_bind_blob(st, idx, a->s, (int)a->len, SQLITE_STATIC);
        else
            src = sqlite3_bind_null(st, idx);
    }
    return src == SQLITE_OK ? LNK_OK : map_sqlite_rc(src);
}

/* The cached statement sid with args bound. On success the caller owns it
 * until release_stmt. */
static int prepare_bound(struct lnk_store_bconn *c, enum stmt_id sid, const struct sq_arg *args,
                         size_t n, sqlite3_stmt **out)
{
    int rc = LNK_OK;
    *out = NULL;
    if (!c->st[sid])
        rc = prepare_sql(c->db, stmt_sql[sid], &c->st[sid]);
    if (rc == LNK_OK)
        rc = bind_args(c->st[sid], args, n);
    if (rc == LNK_OK)
        *out = c->st[sid];
    else
        release_stmt(c->st[sid]);
    return rc;
}

/* Runs a statement that returns no rows. *changes (may be NULL) gets the
 * number of rows it inserted, updated or deleted. */
static int exec_stmt(struct lnk_store_bconn *c, enum stmt_id sid, const struct sq_arg *args,
                     size_t n, int64_t *changes)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_bound(c, sid, args, n, &st);
    if (rc != LNK_OK)
        goto out;
    int src = sqlite3_step(st);
    while (src == SQLITE_ROW)
        src = sqlite3_step(st);
    rc = map_sqlite_rc(src);
    if (rc == LNK_OK && changes)
        *changes = sqlite3_changes64(c->db);
out:
    release_stmt(st);
    return rc;
}

/* The first column of the first row as an integer; LNK_ENOTFOUND if no row. */
static int query_i64(struct lnk_store_bconn *c, enum stmt_id sid, const struct sq_arg *args,
                     size_t n, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_bound(c, sid, args, n, &st);
    if (rc != LNK_OK)
        goto out;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    rc = src == SQLITE_DONE ? LNK_ENOTFOUND : map_sqlite_rc(src);
out:
    release_stmt(st);
    return rc;
}

/* ---- rows --------------------------------------------------------------- */

/* Column i copied into the arena; NULL for SQL NULL. */
static const char *column_str(sqlite3_stmt *st, int i, struct lnk_arena *a)
{
    const unsigned char *p = sqlite3_column_text(st, i);
    if (!p)
        return NULL;
    return lnk_arena_strndup(a, (const char *)p, (size_t)sqlite3_column_bytes(st, i));
}

static const char *column_str_nonnull(sqlite3_stmt *st, int i, struct lnk_arena *a)
{
    const char *s = column_str(st, i, a);
    return s ? s : "";
}

static void read_row(sqlite3_stmt *st, enum row_kind k, struct lnk_arena *a, void *row)
{
    if (k == ROW_USER) {
        struct lnk_user *u = row;
        u->id = sqlite3_column_int64(st, 0);
        u->username = column_str_nonnull(st, 1, a);
        u->email = column_str_nonnull(st, 2, a);
        u->created_at = sqlite3_column_int64(st, 3);
    } else if (k == ROW_URL) {
        struct lnk_url *u = row;
        u->id = sqlite3_column_int64(st, 0);
        u->user_id = sqlite3_column_int64(st, 1);
        u->short_code = column_str_nonnull(st, 2, a);
        u->original_url = column_str_nonnull(st, 3, a);
        u->title = column_str(st, 4, a);
        u->is_active = sqlite3_column_int64(st, 5) != 0;
        u->created_at = sqlite3_column_int64(st, 6);
        u->updated_at = sqlite3_column_int64(st, 7);
    } else if (k == ROW_KEY) {
        struct lnk_api_key *key = row;
        key->id = sqlite3_column_int64(st, 0);
        key->name = column_str_nonnull(st, 1, a);
        key->prefix = column_str_nonnull(st, 2, a);
        key->admin = sqlite3_column_int64(st, 3) != 0;
        key->user_id = sqlite3_column_int64(st, 4); /* NULL reads as 0 */
        key->created_at = sqlite3_column_int64(st, 5);
        key->revoked_at = sqlite3_column_int64(st, 6);
    } else {
        struct lnk_event *e = row;
        e->id = sqlite3_column_int64(st, 0);
        e->url_id = sqlite3_column_int64(st, 1);
        e->user_id = sqlite3_column_int64(st, 2); /* NULL reads as 0 */
        e->event_type = column_str_nonnull(st, 3, a);
        e->timestamp = sqlite3_column_int64(st, 4);
        e->details = column_str(st, 5, a);
        if (!e->details)
            e->details = "{}";
    }
}

static size_t row_size(enum row_kind k)
{
    return k == ROW_USER  ? sizeof(struct lnk_user)
           : k == ROW_URL ? sizeof(struct lnk_url)
           : k == ROW_KEY ? sizeof(struct lnk_api_key)
                          : sizeof(struct lnk_event);
}

/* Steps st to the end and stores every row in op (arena memory). The rows
 * grow in a heap buffer first so the arena holds only the final array. */
static int fetch_rows(sqlite3_stmt *st, enum row_kind k, struct lnk_store_op *op)
{
    size_t size = row_size(k), n = 0, cap = 0;
    char *buf = NULL;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            buf = lnk_xrealloc(buf, cap * size);
        }
        memset(buf + n * size, 0, size);
        read_row(st, k, &op->arena, buf + n * size);
        n++;
    }
    int rc = map_sqlite_rc(src);
    if (rc == LNK_OK) {
        void *rows = lnk_arena_alloc(&op->arena, n * size);
        if (n)
            memcpy(rows, buf, n * size);
        op->n_rows = n;
        op->users = k == ROW_USER ? rows : NULL;
        op->urls = k == ROW_URL ? rows : NULL;
        op->events = k == ROW_EVENT ? rows : NULL;
        op->keys = k == ROW_KEY ? rows : NULL;
    }
    free(buf);
    return rc;
}

/* Runs sid and stores its rows in op. */
static int query_rows(struct lnk_store_bconn *c, enum stmt_id sid, const struct sq_arg *args,
                      size_t n, enum row_kind k, struct lnk_store_op *op)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_bound(c, sid, args, n, &st);
    if (rc == LNK_OK)
        rc = fetch_rows(st, k, op);
    release_stmt(st);
    return rc;
}

/* Loads the one row that sid selects by id (or code) into op; when there is
 * none, LNK_ENOTFOUND naming `field`. */
static int load_one(struct lnk_store_bconn *c, enum stmt_id sid, struct sq_arg key, enum row_kind k,
                    struct lnk_store_op *op, const char *field)
{
    int rc = query_rows(c, sid, &key, 1, k, op);
    if (rc == LNK_OK && op->n_rows == 0) {
        op->err_field = field;
        rc = LNK_ENOTFOUND;
    }
    return rc;
}

/* Keeps rc and err_field, drops any rows an op produced before failing. */
static void drop_rows(struct lnk_store_op *op)
{
    op->n_rows = 0;
    op->users = NULL;
    op->urls = NULL;
    op->events = NULL;
    op->keys = NULL;
}

/* ---- reads -------------------------------------------------------------- */

/* The events of one url or user sit in one run per id bucket of their
 * index (migration 5): a list by url, user or owner probes the buckets in
 * order, and orders by bucket then id, which is id order that the index
 * delivers without a sort. Other event lists read the table in id order. */
/* The bucketed FROM ... WHERE a list of kind k with these filters reads
 * through (migrations 5 and 6), with its ORDER BY; NULL for a plain one. */
static const char *bucketed_source(enum row_kind k, unsigned mask, const char **order)
{
    if (k == ROW_EVENT) {
        *order = LNK_SQLITE_EVENT_ORDER;
        if (mask & LF_URL)
            return LNK_SQLITE_EVENTS_BY_URL;
        if (mask & LF_USER)
            return LNK_SQLITE_EVENTS_BY_USER;
        if (mask & LF_OWNER)
            return LNK_SQLITE_EVENTS_BY_URL;
    }
    if (k == ROW_URL && (mask & (LF_USER | LF_OWNER))) {
        *order = LNK_SQLITE_URL_ORDER;
        return LNK_SQLITE_URLS_BY_USER;
    }
    *order = "id";
    return NULL;
}

static int build_list_stmt(struct lnk_store_bconn *c, enum row_kind k, unsigned mask,
                           sqlite3_stmt **out)
{
    static const char *const select_sql[ROW__COUNT] = {
        [ROW_USER] = "SELECT " USER_COLS " FROM users",
        [ROW_URL] = "SELECT " URL_COLS " FROM urls",
        [ROW_EVENT] = "SELECT " EVENT_COLS " FROM events",
        [ROW_KEY] = "SELECT " KEY_COLS " FROM api_keys",
    };
    /* the owner filter reads differently per table */
    static const char *const owner_sql[ROW__COUNT] = {
        [ROW_URL] = "user_id = :owner_id",
        [ROW_EVENT] = "url_id IN (SELECT id" LNK_SQLITE_URLS_BY_USER " AND user_id = :owner_id)",
    };
    static const struct {
        unsigned bit;
        const char *sql;
    } filters[] = {
        {LF_USER, "user_id = :user_id"},       {LF_URL, "url_id = :url_id"},
        {LF_ACTIVE, "is_active = :is_active"}, {LF_TYPE, "event_type = :event_type"},
        {LF_RARE, "event_type <> 'click'"}, /* the WHERE of events_event_type */
    };
    static const char *const cols_sql[ROW__COUNT] = {
        [ROW_URL] = "SELECT " URL_COLS,
        [ROW_EVENT] = "SELECT " EVENT_COLS,
    };
    char sql[640];
    const char *order = NULL;
    const char *bucketed = bucketed_source(k, mask, &order);
    size_t len = bucketed ? (size_t)snprintf(sql, sizeof(sql), "%s%s", cols_sql[k], bucketed)
                          : (size_t)snprintf(sql, sizeof(sql), "%s", select_sql[k]);
    const char *joiner = bucketed ? " AND " : " WHERE ";
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        if (mask & filters[i].bit) {
            len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s%s", joiner, filters[i].sql);
            joiner = " AND ";
        }
    }
    if ((mask & LF_OWNER) && owner_sql[k]) {
        len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s%s", joiner, owner_sql[k]);
        joiner = " AND ";
    }
    snprintf(sql + len, sizeof(sql) - len, " ORDER BY %s%s", order,
             (mask & LF_PAGED) ? " LIMIT :limit OFFSET :offset" : "");
    return prepare_sql(c->db, sql, out);
}

static void bind_named_i64(sqlite3_stmt *st, const char *name, int64_t v, int *src)
{
    int idx = sqlite3_bind_parameter_index(st, name);
    if (*src == SQLITE_OK && idx > 0)
        *src = sqlite3_bind_int64(st, idx, v);
}

static int check_user_exists(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t id);

/* A nested list (/users/{id}/urls, /urls/{id}/events) names its parent,
 * which must exist and, for a user key, be its own. */
static int check_list_parent(struct lnk_store_bconn *c, enum row_kind k, struct lnk_store_op *op)
{
    const struct lnk_list_query *q = &op->in.list;
    int64_t owner = 0;
    int rc = LNK_OK;
    if (k == ROW_URL && q->has_user_id) {
        rc = check_user_exists(c, op, q->user_id);
        if (rc == LNK_OK && q->has_owner_id && q->owner_id != q->user_id) {
            op->err_field = "user";
            rc = LNK_ENOTFOUND;
        }
    } else if (k == ROW_EVENT && q->has_url_id) {
        rc = query_i64(c, ST_URL_OWNER, ARGS(A_I64(q->url_id)), &owner);
        if (rc == LNK_OK && q->has_owner_id && q->owner_id != owner)
            rc = LNK_ENOTFOUND;
        if (rc == LNK_ENOTFOUND)
            op->err_field = "url";
    }
    return rc;
}

/* USER_LIST, URL_LIST, EVENT_LIST: the filters that apply to the table,
 * ANDed, ordered by id, one page or every row. */
static int read_list(struct lnk_store_bconn *c, enum row_kind k, struct lnk_store_op *op)
{
    static const unsigned allowed[ROW__COUNT] = {
        [ROW_USER] = 0,
        [ROW_URL] = LF_USER | LF_ACTIVE | LF_OWNER,
        [ROW_EVENT] = LF_USER | LF_URL | LF_TYPE | LF_OWNER | LF_RARE,
        [ROW_KEY] = 0,
    };
    const struct lnk_list_query *q = &op->in.list;
    sqlite3_stmt *st = NULL;
    int64_t offset = 0;
    unsigned mask = 0;
    int rc = LNK_OK;
    int src = SQLITE_OK;

    mask |= q->has_user_id ? LF_USER : 0;
    mask |= q->has_url_id ? LF_URL : 0;
    mask |= q->is_active >= 0 ? LF_ACTIVE : 0;
    mask |= q->event_type ? LF_TYPE : 0;
    mask |= q->event_type && strcmp(q->event_type, "click") != 0 ? LF_RARE : 0;
    mask |= q->has_owner_id ? LF_OWNER : 0;
    mask &= allowed[k];
    if (q->parent_must_exist) {
        rc = check_list_parent(c, k, op);
        if (rc != LNK_OK)
            goto out;
    }
    if (q->page > 0) {
        if (q->per_page <= 0) {
            rc = LNK_EINVAL;
            goto out;
        }
        mask |= LF_PAGED;
        /* a page past any possible row reads as empty, not as an overflow */
        offset = q->page - 1 > INT64_MAX / q->per_page ? INT64_MAX : (q->page - 1) * q->per_page;
    }
    if (!c->list[k][mask]) {
        rc = build_list_stmt(c, k, mask, &c->list[k][mask]);
        if (rc != LNK_OK)
            goto out;
    }
    st = c->list[k][mask];
    bind_named_i64(st, ":user_id", q->user_id, &src);
    bind_named_i64(st, ":url_id", q->url_id, &src);
    bind_named_i64(st, ":owner_id", q->owner_id, &src);
    bind_named_i64(st, ":is_active", q->is_active > 0 ? 1 : 0, &src);
    bind_named_i64(st, ":limit", q->per_page, &src);
    bind_named_i64(st, ":offset", offset, &src);
    int idx = sqlite3_bind_parameter_index(st, ":event_type");
    if (src == SQLITE_OK && idx > 0)
        src = sqlite3_bind_text(st, idx, q->event_type, -1, SQLITE_STATIC);
    rc = map_sqlite_rc(src);
    if (rc == LNK_OK)
        rc = fetch_rows(st, k, op);
out:
    release_stmt(st);
    return rc;
}

static int read_ping(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    struct timespec t0, t1;
    int64_t one = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = query_i64(c, ST_PING, NO_ARGS, &one);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    op->latency_us =
        (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (int64_t)(t1.tv_nsec - t0.tv_nsec) / 1000;
    return rc;
}

static int read_counts(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_bound(c, ST_COUNT_ROWS, NO_ARGS, &st);
    if (rc != LNK_OK)
        goto out;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        for (int i = 0; i < 3; i++)
            op->counts[i] = sqlite3_column_int64(st, i);
        rc = LNK_OK;
    } else {
        rc = src == SQLITE_DONE ? LNK_EBACKEND : map_sqlite_rc(src);
    }
out:
    release_stmt(st);
    return rc;
}

static int key_auth(struct lnk_store_bconn *c, struct lnk_store_op *op);

/* The url (404 if unknown), its click total and its clicks per day. */
static int read_url_stats(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    sqlite3_stmt *st = NULL;
    int rc = load_one(c, ST_URL_GET, A_I64(op->in.id), ROW_URL, op, "url");
    if (rc != LNK_OK)
        goto out;
    rc = prepare_bound(c, ST_CLICKS_TOTAL, ARGS(A_I64(op->in.id)), &st);
    if (rc != LNK_OK)
        goto out;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        op->click_total = sqlite3_column_int64(st, 0);
        op->last_click_at = sqlite3_column_int64(st, 1);
    } else if (src != SQLITE_DONE) {
        rc = map_sqlite_rc(src);
        goto out;
    }
    release_stmt(st);
    st = NULL;
    rc = prepare_bound(c, ST_CLICKS_DAILY, ARGS(A_I64(op->in.id)), &st);
    if (rc != LNK_OK)
        goto out;
    size_t cap = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (op->n_days == cap) {
            cap = cap ? cap * 2 : 32;
            struct lnk_click_day *d = lnk_arena_alloc(&op->arena, cap * sizeof(*d));
            if (op->n_days)
                memcpy(d, op->days, op->n_days * sizeof(*d));
            op->days = d;
        }
        op->days[op->n_days++] =
            (struct lnk_click_day){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)};
    }
    rc = src == SQLITE_DONE ? LNK_OK : map_sqlite_rc(src);
out:
    release_stmt(st);
    return rc;
}

/* One event; with an owner guard, an event of another user's url does
 * not exist for this caller. */
static int read_event(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    int64_t owner = 0;
    int rc = load_one(c, ST_EVENT_GET, A_I64(op->in.id), ROW_EVENT, op, "event");
    if (rc == LNK_OK && op->owner_guard) {
        rc = query_i64(c, ST_URL_OWNER, ARGS(A_I64(op->events[0].url_id)), &owner);
        if (rc == LNK_OK && owner != op->owner_guard)
            rc = LNK_ENOTFOUND;
        if (rc == LNK_ENOTFOUND)
            op->err_field = "event";
    }
    return rc;
}

/* Totals, then events by type (STATS). */
static int read_stats(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    struct lnk_store_stats *t = &op->stats;
    bool mine = op->owner_guard != 0;
    sqlite3_stmt *st = NULL;
    int rc = mine ? prepare_bound(c, ST_STATS_TOTALS_OWNER, ARGS(A_I64(op->owner_guard)), &st)
                  : prepare_bound(c, ST_STATS_TOTALS, NO_ARGS, &st);
    if (rc != LNK_OK)
        goto out;
    int src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? LNK_EBACKEND : map_sqlite_rc(src);
        goto out;
    }
    t->users = sqlite3_column_int64(st, 0);
    t->urls = sqlite3_column_int64(st, 1);
    t->active_urls = sqlite3_column_int64(st, 2);
    release_stmt(st);
    st = NULL;
    rc = mine ? prepare_bound(c, ST_STATS_TYPES_OWNER, ARGS(A_I64(op->owner_guard)), &st)
              : prepare_bound(c, ST_STATS_TYPES, NO_ARGS, &st);
    if (rc != LNK_OK)
        goto out;
    size_t cap = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->n_types == cap) {
            cap = cap ? cap * 2 : 8;
            struct lnk_type_count *grown = lnk_arena_alloc(&op->arena, cap * sizeof(*grown));
            if (t->n_types)
                memcpy(grown, t->types, t->n_types * sizeof(*grown));
            t->types = grown;
        }
        struct lnk_type_count *tc = &t->types[t->n_types++];
        tc->event_type = column_str_nonnull(st, 0, &op->arena);
        tc->n = sqlite3_column_int64(st, 1);
        t->events += tc->n;
    }
    rc = src == SQLITE_DONE ? LNK_OK : map_sqlite_rc(src);
out:
    release_stmt(st);
    return rc;
}

static int run_read(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    switch (op->kind) {
    case LNK_OP_PING:
        return read_ping(c, op);
    case LNK_OP_COUNT_ROWS:
        return read_counts(c, op);
    case LNK_OP_URL_STATS:
        return read_url_stats(c, op);
    case LNK_OP_EVENT_GET:
        return read_event(c, op);
    case LNK_OP_STATS:
        memset(&op->stats, 0, sizeof(op->stats));
        return read_stats(c, op);
    case LNK_OP_KEY_LIST:
        return query_rows(c, ST_KEY_LIST, NO_ARGS, ROW_KEY, op);
    case LNK_OP_KEY_AUTH:
        return key_auth(c, op);
    case LNK_OP_USER_LIST:
        return read_list(c, ROW_USER, op);
    case LNK_OP_URL_LIST:
        return read_list(c, ROW_URL, op);
    case LNK_OP_EVENT_LIST:
        return read_list(c, ROW_EVENT, op);
    case LNK_OP_USER_GET:
        return load_one(c, ST_USER_GET, A_I64(op->in.id), ROW_USER, op, "user");
    case LNK_OP_URL_GET:
        return load_one(c, ST_URL_GET, A_I64(op->in.id), ROW_URL, op, "url");
    case LNK_OP_URL_BY_CODE:
        if (!op->in.code)
            return LNK_EINVAL;
        return load_one(c, ST_URL_BY_CODE, A_TEXT(op->in.code), ROW_URL, op, "url");
    default:
        return LNK_EINVAL;
    }
}

static void sq_read(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    lnk_store_op_reset_outputs(op);
    op->rc = run_read(c, op);
    if (op->rc != LNK_OK)
        drop_rows(op);
}

/* ---- writes: users ------------------------------------------------------ */

/* LNK_EEXISTS naming the field when username or email (NULL: not checked)
 * belongs to a user other than self_id. */
static int check_user_unique(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t self_id)
{
    int64_t other = 0;
    int rc = LNK_OK;
    if (op->user.username) {
        rc = query_i64(c, ST_USER_ID_BY_NAME, ARGS(A_TEXT(op->user.username)), &other);
        if (rc == LNK_OK && other != self_id) {
            op->err_field = "username";
            return LNK_EEXISTS;
        }
        if (rc != LNK_OK && rc != LNK_ENOTFOUND)
            return rc;
    }
    if (op->user.email) {
        rc = query_i64(c, ST_USER_ID_BY_EMAIL, ARGS(A_TEXT(op->user.email)), &other);
        if (rc == LNK_OK && other != self_id) {
            op->err_field = "email";
            return LNK_EEXISTS;
        }
        if (rc != LNK_OK && rc != LNK_ENOTFOUND)
            return rc;
    }
    return LNK_OK;
}

/* LNK_ENOTFOUND naming "user" when no user has this id. */
static int check_user_exists(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t id)
{
    int64_t one = 0;
    int rc = query_i64(c, ST_USER_EXISTS, ARGS(A_I64(id)), &one);
    if (rc == LNK_ENOTFOUND)
        op->err_field = "user";
    return rc;
}

static int user_create(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t now)
{
    const struct lnk_user *u = &op->user;
    if (!u->username || !u->email)
        return LNK_EINVAL;
    int rc = check_user_unique(c, op, 0);
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_USER_INSERT, ARGS(A_TEXT(u->username), A_TEXT(u->email), A_I64(now)),
                       NULL);
    if (rc == LNK_OK)
        rc =
            load_one(c, ST_USER_GET, A_I64(sqlite3_last_insert_rowid(c->db)), ROW_USER, op, "user");
    return rc;
}

static int user_update(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    const struct lnk_user *u = &op->user;
    int64_t id = op->in.id;
    int rc = check_user_exists(c, op, id);
    if (rc == LNK_OK)
        rc = check_user_unique(c, op, id);
    if (rc == LNK_OK && (u->username || u->email))
        rc = exec_stmt(c, ST_USER_UPDATE, ARGS(A_I64(id), A_TEXT(u->username), A_TEXT(u->email)),
                       NULL);
    if (rc == LNK_OK)
        rc = load_one(c, ST_USER_GET, A_I64(id), ROW_USER, op, "user");
    return rc;
}

/* Returns the deleted user's urls in op->urls so that callers can drop their
 * codes from caches; triggers delete its urls and events (migrations 5, 6). */
static int user_delete(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    int64_t id = op->in.id;
    int rc = check_user_exists(c, op, id);
    if (rc == LNK_OK)
        rc = query_rows(c, ST_URLS_OF_USER, ARGS(A_I64(id)), ROW_URL, op);
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_USER_DELETE, ARGS(A_I64(id)), NULL);
    return rc;
}

/* Upsert by id, insert without; a row whose username or email belongs to
 * another user is skipped, as is a row without them. */
/* Which of a user row's username and email another user holds (after the
 * upsert refused it). */
static const char *taken_user_field(struct lnk_store_bconn *c, const struct lnk_user *u,
                                    int64_t self_id)
{
    int64_t other = 0;
    int rc = query_i64(c, ST_USER_ID_BY_NAME, ARGS(A_TEXT(u->username)), &other);
    return rc == LNK_OK && other != self_id ? "username" : "email";
}

/* One users row: upsert by id, insert without; res says what happened. A
 * conflict on username or email (LNK_EEXISTS) changes nothing. */
static int import_user(struct lnk_store_bconn *c, const struct lnk_user *u, bool has_id,
                       int64_t now, struct lnk_row_result *res)
{
    int64_t one = 0;
    int rc = LNK_OK;
    if (!u->username || !u->email || (has_id && u->id <= 0)) {
        res->err_field = !u->username ? "username" : !u->email ? "email" : "id";
        return LNK_EINVAL;
    }
    if (has_id) {
        rc = query_i64(c, ST_USER_EXISTS, ARGS(A_I64(u->id)), &one);
        res->existed = rc == LNK_OK;
        rc = rc == LNK_ENOTFOUND ? LNK_OK : rc;
    }
    bool has_created = u->created_at > 0;
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_USER_UPSERT,
                       ARGS(A_ID(has_id ? u->id : 0), A_TEXT(u->username), A_TEXT(u->email),
                            A_I64(has_created ? u->created_at : now), A_BOOL(has_created)),
                       NULL);
    if (rc == LNK_OK)
        res->id = has_id ? u->id : sqlite3_last_insert_rowid(c->db);
    else if (rc == LNK_EEXISTS)
        res->err_field = taken_user_field(c, u, has_id ? u->id : 0);
    return rc;
}

/* Every row on its own: a row that breaks a rule (an empty name, a taken
 * username or email) is skipped and reported in rows.results; any other
 * failure fails the op. */
static int user_import(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t now)
{
    struct lnk_import_rows *r = &op->rows;
    int64_t imported = 0, skipped = 0;
    int rc = LNK_OK;
    r->results = lnk_arena_alloc(&op->arena, sizeof(*r->results) * (r->n ? r->n : 1));
    memset(r->results, 0, sizeof(*r->results) * r->n);
    for (size_t i = 0; i < r->n && rc == LNK_OK; i++) {
        const struct lnk_user *u = &r->users[i];
        struct lnk_row_result *res = &r->results[i];
        res->rc = import_user(c, u, r->has_id ? r->has_id[i] : u->id > 0, now, res);
        if (res->rc == LNK_OK)
            imported++;
        else if (res->rc == LNK_EEXISTS || res->rc == LNK_EINVAL)
            skipped++;
        else
            rc = res->rc;
    }
    if (rc == LNK_OK) {
        op->imported += imported;
        op->skipped += skipped;
    }
    return rc;
}

/* ---- writes: urls ------------------------------------------------------- */

/* The next generated code: sequence numbers through the keyed permutation,
 * skipping reserved words and codes in use or retired. The batch reads the
 * sequence once and stores it before its COMMIT (sq_batch_commit), so a
 * number is never reused; one skipped by an op that failed stays unused. */
static int next_code(struct lnk_store_bconn *c, char code[LNK_CODE_LEN + 1])
{
    struct lnk_store_backend *b = c->b;
    int64_t one = 0;
    int rc = LNK_OK;
    if (!b->seq_loaded) {
        rc = query_i64(c, ST_SEQ_GET, NO_ARGS, &b->code_seq);
        if (rc == LNK_ENOTFOUND || (rc == LNK_OK && b->code_seq < 0))
            rc = LNK_EBACKEND; /* meta row missing or corrupt */
        b->seq_loaded = rc == LNK_OK;
    }
    while (rc == LNK_OK) {
        if (lnk_codegen_code(&b->gen, (uint64_t)b->code_seq, code) != LNK_OK) {
            rc = LNK_EUNAVAIL; /* all 62^6 codes handed out */
            break;
        }
        b->code_seq++;
        b->seq_dirty = true;
        if (lnk_code_is_reserved(code, LNK_CODE_LEN))
            continue;
        rc = query_i64(c, ST_CODE_TAKEN, ARGS(A_TEXT(code)), &one);
        if (rc == LNK_ENOTFOUND) {
            rc = LNK_OK;
            break;
        }
    }
    return rc;
}

/* Reuse (URL_CREATE with url_reuse): the owner's newest url to the same
 * destination, in op->urls; an inactive one is reactivated, which its
 * 'updated' event records. LNK_ENOTFOUND when the owner has none. */
static int reuse_url(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t now)
{
    const struct lnk_url *u = &op->url;
    int rc =
        query_rows(c, ST_URL_REUSE, ARGS(A_I64(u->user_id), A_TEXT(u->original_url)), ROW_URL, op);
    if (rc == LNK_OK && op->n_rows == 0)
        rc = LNK_ENOTFOUND;
    if (rc != LNK_OK || op->urls[0].is_active)
        goto out;
    const struct lnk_url cur = op->urls[0];
    rc = exec_stmt(c, ST_URL_REACTIVATE, ARGS(A_I64(cur.id), A_I64(now)), NULL);
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_EVENT_UPDATED,
                       ARGS(A_I64(cur.id), A_I64(cur.user_id), A_I64(now), A_TEXT("is_active"),
                            A_TEXT("true")),
                       NULL);
    if (rc == LNK_OK)
        rc = load_one(c, ST_URL_GET, A_I64(cur.id), ROW_URL, op, "url");
out:
    op->reused = rc == LNK_OK;
    if (rc != LNK_OK)
        drop_rows(op);
    return rc;
}

static int url_create(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t now)
{
    const struct lnk_url *u = &op->url;
    char generated[LNK_CODE_LEN + 1];
    /* store.h names both url.short_code and in.code for the custom code */
    const char *code = u->short_code ? u->short_code : op->in.code;
    int64_t one = 0;
    int rc = LNK_OK;

    if (!u->original_url)
        return LNK_EINVAL;
    rc = check_user_exists(c, op, u->user_id);
    if (rc == LNK_OK && op->url_reuse) {
        rc = reuse_url(c, op, now);
        if (rc != LNK_ENOTFOUND)
            return rc;
        rc = LNK_OK;
    }
    if (rc == LNK_OK && code) {
        rc = query_i64(c, ST_CODE_TAKEN, ARGS(A_TEXT(code)), &one);
        if (rc == LNK_OK) {
            op->err_field = "short_code";
            rc = LNK_EEXISTS;
        } else if (rc == LNK_ENOTFOUND) {
            rc = LNK_OK;
        }
    } else if (rc == LNK_OK) {
        rc = next_code(c, generated);
        code = generated;
    }
    if (rc == LNK_OK)
        rc = query_rows(c, ST_URL_INSERT,
                        ARGS(A_I64(u->user_id), A_TEXT(code), A_TEXT(u->original_url),
                             A_TEXT(u->title), A_BOOL(u->is_active), A_I64(now)),
                        ROW_URL, op);
    if (rc == LNK_EEXISTS)
        op->err_field = "short_code";
    if (rc == LNK_OK && op->n_rows != 1)
        rc = LNK_EBACKEND;
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_EVENT_CREATED,
                       ARGS(A_I64(op->urls[0].id), A_I64(u->user_id), A_I64(now), A_TEXT(code),
                            A_TEXT(u->original_url)),
                       NULL);
    return rc;
}

static bool str_eq_nullable(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* One 'updated' event per field whose value changes; nothing changed means
 * no event and an unchanged updated_at. */
/* Loads the url an update or delete names; with an owner guard, a url of
 * another user does not exist for this caller (a user API key). */
static int load_guarded_url(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    int rc = load_one(c, ST_URL_GET, A_I64(op->in.id), ROW_URL, op, "url");
    if (rc == LNK_OK && op->owner_guard && op->urls[0].user_id != op->owner_guard) {
        drop_rows(op);
        op->err_field = "url";
        rc = LNK_ENOTFOUND;
    }
    return rc;
}

static int url_update(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t now)
{
    const struct lnk_url_patch *p = &op->url_patch;
    int rc = load_guarded_url(c, op);
    if (rc != LNK_OK)
        return rc;
    struct lnk_url cur = op->urls[0]; /* arena strings stay valid */
    bool title_changed = p->set_title && !str_eq_nullable(cur.title, p->title);
    bool active_changed = p->set_is_active && p->is_active != cur.is_active;
    bool url_changed = p->original_url && strcmp(p->original_url, cur.original_url) != 0;
    if (!title_changed && !active_changed && !url_changed)
        return LNK_OK;

    const char *title = title_changed ? p->title : cur.title;
    bool active = active_changed ? p->is_active : cur.is_active;
    const char *target = url_changed ? p->original_url : cur.original_url;
    rc = exec_stmt(c, ST_URL_UPDATE,
                   ARGS(A_I64(cur.id), A_TEXT(title), A_BOOL(active), A_TEXT(target), A_I64(now)),
                   NULL);
    if (rc == LNK_OK && title_changed)
        rc = exec_stmt(
            c, ST_EVENT_UPDATED,
            ARGS(A_I64(cur.id), A_I64(cur.user_id), A_I64(now), A_TEXT("title"), A_TEXT(title)),
            NULL);
    if (rc == LNK_OK && active_changed)
        rc = exec_stmt(c, ST_EVENT_UPDATED,
                       ARGS(A_I64(cur.id), A_I64(cur.user_id), A_I64(now), A_TEXT("is_active"),
                            A_TEXT(active ? "true" : "false")),
                       NULL);
    if (rc == LNK_OK && url_changed)
        rc = exec_stmt(c, ST_EVENT_UPDATED,
                       ARGS(A_I64(cur.id), A_I64(cur.user_id), A_I64(now), A_TEXT("original_url"),
                            A_TEXT(target)),
                       NULL);
    if (rc == LNK_OK)
        rc = load_one(c, ST_URL_GET, A_I64(cur.id), ROW_URL, op, "url");
    return rc;
}

/* Soft delete, idempotent: the 'deleted' event is written once. Returns the
 * row so that callers can invalidate its code. */
static int url_delete(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t now)
{
    int rc = load_guarded_url(c, op);
    if (rc != LNK_OK || !op->urls[0].is_active)
        return rc;
    const struct lnk_url cur = op->urls[0];
    rc = exec_stmt(c, ST_URL_DEACTIVATE, ARGS(A_I64(cur.id), A_I64(now)), NULL);
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_EVENT_DELETED, ARGS(A_I64(cur.id), A_I64(cur.user_id), A_I64(now)),
                       NULL);
    if (rc == LNK_OK)
        rc = load_one(c, ST_URL_GET, A_I64(cur.id), ROW_URL, op, "url");
    return rc;
}

/* Strict upsert by id: an unknown owner is LNK_EINVAL ("user"), a code held
 * by another url LNK_EEXISTS ("short_code"). The generator's sequence is not
 * touched; it skips imported codes when it reaches them. */
static int url_import(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    const struct lnk_import_rows *r = &op->rows;
    int64_t imported = 0;
    int rc = LNK_OK;
    for (size_t i = 0; i < r->n && rc == LNK_OK; i++) {
        const struct lnk_url *u = &r->urls[i];
        if (!u->short_code || !u->original_url) {
            rc = LNK_EINVAL;
            op->err_field = !u->short_code ? "short_code" : "url";
            break;
        }
        /* urls have no foreign key (migration 6): the owner is checked here */
        rc = check_user_exists(c, op, u->user_id);
        if (rc == LNK_ENOTFOUND)
            rc = LNK_EINVAL;
        if (rc == LNK_OK)
            rc = exec_stmt(c, ST_URL_UPSERT,
                           ARGS(A_ID(u->id), A_I64(u->user_id), A_TEXT(u->short_code),
                                A_TEXT(u->original_url), A_TEXT(u->title), A_BOOL(u->is_active),
                                A_I64(u->created_at), A_I64(u->updated_at)),
                           NULL);
        if (rc == LNK_OK)
            imported++;
        else if (rc == LNK_EEXISTS)
            op->err_field = "short_code";
    }
    if (rc == LNK_OK)
        op->imported += imported;
    return rc;
}

/* ---- rollups -------------------------------------------------------------
 * link_clicks and link_clicks_daily follow the click events: a batch of
 * clicks adds its counts per link and per link-day in one upsert each;
 * a single click event adds one; an import recounts the links it touched. */

struct counted_click {
    int64_t url_id, day, ts;
    size_t idx; /* of the click in its op (clicks_append) */
};

static int cmp_counted(const void *a, const void *b)
{
    const struct counted_click *x = a, *y = b;
    if (x->url_id != y->url_id)
        return x->url_id < y->url_id ? -1 : 1;
    return x->day < y->day ? -1 : x->day > y->day;
}

/* Adds n sorted clicks to the rollups: one upsert per run of (url, day) and
 * one per run of url. */
static int rollup_add_sorted(struct lnk_store_bconn *c, const struct counted_click *k, size_t n)
{
    int rc = LNK_OK;
    size_t i = 0;
    while (i < n && rc == LNK_OK) {
        size_t j = i;
        int64_t last = 0;
        while (j < n && k[j].url_id == k[i].url_id && rc == LNK_OK) {
            size_t d = j;
            while (d < n && k[d].url_id == k[j].url_id && k[d].day == k[j].day) {
                last = k[d].ts > last ? k[d].ts : last;
                d++;
            }
            rc =
                exec_stmt(c, ST_ROLLUP_ADD_DAY,
                          ARGS(A_I64(k[j].url_id), A_I64(k[j].day), A_I64((int64_t)(d - j))), NULL);
            j = d;
        }
        if (rc == LNK_OK)
            rc = exec_stmt(c, ST_ROLLUP_ADD,
                           ARGS(A_I64(k[i].url_id), A_I64((int64_t)(j - i)), A_I64(last)), NULL);
        i = j;
    }
    return rc;
}

/* Recounts one link's rollups from its click events. */
static int rollup_recount(struct lnk_store_bconn *c, int64_t url_id)
{
    int rc = exec_stmt(c, ST_ROLLUP_CLEAR, ARGS(A_I64(url_id)), NULL);
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_ROLLUP_CLEAR_DAYS, ARGS(A_I64(url_id)), NULL);
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_ROLLUP_RECOUNT, ARGS(A_I64(url_id)), NULL);
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_ROLLUP_RECOUNT_DAYS, ARGS(A_I64(url_id)), NULL);
    return rc;
}

/* ---- writes: events ----------------------------------------------------- */

static int event_create(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t now)
{
    const struct lnk_event *e = &op->event;
    int64_t owner = 0;
    if (!e->event_type)
        return LNK_EINVAL;
    int rc = query_i64(c, ST_URL_OWNER, ARGS(A_I64(e->url_id)), &owner);
    if (rc == LNK_OK && op->owner_guard && owner != op->owner_guard)
        rc = LNK_ENOTFOUND;
    if (rc == LNK_ENOTFOUND)
        op->err_field = "url";
    int64_t user_id = e->user_id ? e->user_id : owner;
    int64_t ts = e->timestamp > 0 ? e->timestamp : now;
    if (rc == LNK_OK && e->user_id)
        rc = check_user_exists(c, op, e->user_id);
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_EVENT_INSERT,
                       ARGS(A_I64(e->url_id), A_I64(user_id), A_TEXT(e->event_type), A_I64(ts),
                            A_TEXT(e->details ? e->details : "{}")),
                       NULL);
    /* before the rollup's upsert, whose rowid (the url's id) would replace it */
    int64_t id = sqlite3_last_insert_rowid(c->db);
    if (rc == LNK_OK && strcmp(e->event_type, "click") == 0) {
        struct counted_click one = {e->url_id, ts / 86400, ts, 0};
        rc = rollup_add_sorted(c, &one, 1);
    }
    if (rc == LNK_OK)
        rc = load_one(c, ST_EVENT_GET, A_I64(id), ROW_EVENT, op, "event");
    return rc;
}

/* The url and the user an imported event names must exist: events have
 * no foreign keys (migration 5). A missing one is LNK_EINVAL naming it. */
static int check_event_refs(struct lnk_store_bconn *c, struct lnk_store_op *op,
                            const struct lnk_event *e)
{
    int64_t one = 0;
    int rc = query_i64(c, ST_URL_OWNER, ARGS(A_I64(e->url_id)), &one);
    if (rc == LNK_ENOTFOUND)
        op->err_field = "url";
    else if (rc == LNK_OK && e->user_id)
        rc = check_user_exists(c, op, e->user_id);
    return rc == LNK_ENOTFOUND ? LNK_EINVAL : rc;
}

/* Strict upsert by id; a missing url or user is LNK_EINVAL naming it. */
static int event_import(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    const struct lnk_import_rows *r = &op->rows;
    int64_t imported = 0;
    int rc = LNK_OK;
    for (size_t i = 0; i < r->n && rc == LNK_OK; i++) {
        const struct lnk_event *e = &r->events[i];
        if (!e->event_type) {
            rc = LNK_EINVAL;
            break;
        }
        rc = check_event_refs(c, op, e);
        /* a click added, moved, or turned into or out of a click, changes
         * the counts of its url(s): recount them after the upsert */
        int64_t was_click_of = 0;
        if (rc == LNK_OK)
            rc = query_i64(c, ST_CLICK_URL_OF, ARGS(A_I64(e->id)), &was_click_of);
        if (rc == LNK_ENOTFOUND)
            rc = LNK_OK;
        if (rc == LNK_OK)
            rc = exec_stmt(c, ST_EVENT_UPSERT,
                           ARGS(A_ID(e->id), A_I64(e->url_id), A_ID(e->user_id),
                                A_TEXT(e->event_type), A_I64(e->timestamp),
                                A_TEXT(e->details ? e->details : "{}")),
                           NULL);
        if (rc == LNK_OK && (was_click_of == e->url_id || strcmp(e->event_type, "click") == 0))
            rc = rollup_recount(c, e->url_id);
        if (rc == LNK_OK && was_click_of && was_click_of != e->url_id)
            rc = rollup_recount(c, was_click_of);
        if (rc == LNK_OK)
            imported++;
    }
    if (rc == LNK_OK)
        op->imported += imported;
    return rc;
}

/* Clicks go in CLICK_CHUNK rows per statement: inside a savepoint (where
 * clicks once ran) every statement keeps a journal of the pages it changes,
 * and one statement per click made that journal the main cost of recording a
 * click (measured: 23 -> 9 us of writer CPU per click with the rollups of the
 * time). */
#define CLICK_CHUNK 256

/* A plain multi-row INSERT: the owners were looked up once per url
 * (resolve_owners), which costs half of joining every row with urls, and
 * the details are written here (click_details), cheaper than SQLite's
 * json_object(). OR IGNORE keeps SQLite from journaling every page the
 * statement changes so that it could undo itself alone, which a click batch
 * never needs (a failure fails the group commit): no click row can conflict,
 * and insert_click_chunk checks that all went in. */
static char *click_chunk_sql(size_t n)
{
    static const char head[] =
        "INSERT OR IGNORE INTO events (url_id, user_id, event_type, timestamp, details) VALUES ";
    static const char row[] = "(?,?,'click',?,?),";
    size_t len = sizeof(head) - 1 + n * (sizeof(row) - 1);
    char *sql = lnk_xmalloc(len), *p = sql;
    memcpy(p, head, sizeof(head) - 1);
    p += sizeof(head) - 1;
    for (size_t i = 0; i < n; i++, p += sizeof(row) - 1)
        memcpy(p, row, sizeof(row) - 1);
    p[-1] = '\0'; /* over the last comma */
    return sql;
}

/* A click about to be inserted, with its url's owner and its details. */
struct owned_click {
    const struct lnk_click *k;
    int64_t owner;
    const char *details;
};

/* The three strings of a click's details, never NULL, and their lengths. */
struct details_parts {
    const char *v[3];
    size_t len[3];
};

static struct details_parts details_parts(const struct lnk_click *k)
{
    struct details_parts d = {{k->short_code ? k->short_code : "",
                               k->user_agent ? k->user_agent : "", k->referrer ? k->referrer : ""},
                              {0, 0, 0}};
    for (size_t i = 0; i < 3; i++)
        d.len[i] = strlen(d.v[i]);
    return d;
}

/* Bytes that hold the details whatever their escapes, NUL included. */
static size_t details_cap(const struct details_parts *d)
{
    return 64 + 6 * (d->len[0] + d->len[1] + d->len[2]) + 6;
}

/* {"short_code":...,"user_agent":...,"referrer":...} into p, which holds
 * details_cap(d) bytes: a click's details as the events API shows them.
 * Returns the bytes written, NUL included. */
static size_t write_details(char *p, const struct details_parts *d)
{
    static const char *const keys[] = {"{\"short_code\":", ",\"user_agent\":", ",\"referrer\":"};
    size_t len = 0, cap = details_cap(d);
    bool truncated = false; /* cap holds the longest escape */
    for (size_t i = 0; i < 3; i++) {
        size_t kl = strlen(keys[i]);
        memcpy(p + len, keys[i], kl);
        len += kl;
        len += lnk_json_escape(p + len, cap - len - 2, d->v[i], d->len[i], &truncated);
    }
    memcpy(p + len, "}", 2);
    return len + 2;
}

/* Writes the details of o[0..n) into one buffer, which the caller frees
 * once the chunk's statement has run. */
static char *chunk_details(struct owned_click *o, size_t n)
{
    struct details_parts parts[CLICK_CHUNK];
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        parts[i] = details_parts(o[i].k);
        total += details_cap(&parts[i]);
    }
    char *buf = lnk_xmalloc(total), *p = buf;
    for (size_t i = 0; i < n; i++) {
        o[i].details = p;
        p += write_details(p, &parts[i]);
    }
    return buf;
}

static int bind_clicks(sqlite3_stmt *st, const struct owned_click *o, size_t n, int64_t now)
{
    int src = SQLITE_OK;
    for (size_t i = 0; i < n && src == SQLITE_OK; i++) {
        const struct lnk_click *k = o[i].k;
        int at = (int)(i * 4);
        src = sqlite3_bind_int64(st, at + 1, k->url_id);
        if (src == SQLITE_OK)
            src = sqlite3_bind_int64(st, at + 2, o[i].owner);
        if (src == SQLITE_OK)
            src = sqlite3_bind_int64(st, at + 3, k->timestamp > 0 ? k->timestamp : now);
        if (src == SQLITE_OK)
            src = sqlite3_bind_text(st, at + 4, o[i].details, -1, SQLITE_STATIC);
    }
    return map_sqlite_rc(src);
}

/* Inserts o[0..n), n <= CLICK_CHUNK. */
static int insert_click_chunk(struct lnk_store_bconn *c, const struct owned_click *o, size_t n,
                              int64_t now)
{
    sqlite3_stmt *st = NULL, *once = NULL;
    int rc = LNK_OK;
    if (n == CLICK_CHUNK && !c->click_chunk) {
        char *sql = click_chunk_sql(n);
        rc = prepare_sql(c->db, sql, &c->click_chunk);
        free(sql);
    } else if (n != CLICK_CHUNK) {
        char *sql = click_chunk_sql(n);
        int src = sqlite3_prepare_v2(c->db, sql, -1, &once, NULL);
        rc = map_sqlite_rc(src);
        free(sql);
    }
    if (rc != LNK_OK)
        goto out;
    st = n == CLICK_CHUNK ? c->click_chunk : once;
    rc = bind_clicks(st, o, n, now);
    if (rc == LNK_OK) {
        int src = sqlite3_step(st);
        rc = src == SQLITE_DONE ? LNK_OK : map_sqlite_rc(src);
    }
    if (rc == LNK_OK && sqlite3_changes(c->db) != (int)n)
        rc = LNK_EBACKEND; /* a row OR IGNORE skipped: none can be */
out:
    release_stmt(n == CLICK_CHUNK ? c->click_chunk : NULL);
    sqlite3_finalize(once);
    return rc;
}

/* Looks up the owner of each url in counted[0..n) (sorted by url), once per
 * url, into owners[] by click; a url hard-deleted since its clicks were
 * queued has owner 0. Leaves in counted only the clicks of urls that exist,
 * in order, and returns their number in *kept. */
static int resolve_owners(struct lnk_store_bconn *c, struct counted_click *counted, size_t n,
                          int64_t *owners, size_t *kept)
{
    size_t out = 0;
    int rc = LNK_OK;
    for (size_t i = 0; i < n && rc == LNK_OK;) {
        int64_t owner = 0;
        rc = query_i64(c, ST_URL_OWNER, ARGS(A_I64(counted[i].url_id)), &owner);
        if (rc == LNK_ENOTFOUND) {
            rc = LNK_OK;
            owner = 0;
        }
        size_t j = i;
        for (; j < n && counted[j].url_id == counted[i].url_id; j++) {
            owners[counted[j].idx] = owner;
            if (owner)
                counted[out++] = counted[j];
        }
        i = j;
    }
    *kept = out;
    return rc;
}

/* The order a batch's clicks are inserted in: by timestamp, then owner, then
 * url, then arrival. Within a batch, ids follow time to the second (the
 * timestamps' resolution). Within a second the rows follow the keys of
 * events_user_id after the bucket, and those of events_url_id within each
 * owner, so a batch walks the indexes forward instead of landing anywhere in
 * them (bench/click-floor: 3.7 -> 2.2 us of CPU per row). */
struct timed_click {
    int64_t ts, owner, url_id;
    size_t idx; /* of the click in its op */
};

static int cmp_timed(const void *a, const void *b)
{
    const struct timed_click *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->owner != y->owner)
        return x->owner < y->owner ? -1 : 1;
    if (x->url_id != y->url_id)
        return x->url_id < y->url_id ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The kept clicks of counted[0..n) with their owners, in insertion order. */
static struct timed_click *insertion_order(struct lnk_store_op *op,
                                           const struct counted_click *counted, size_t n,
                                           const int64_t *owners)
{
    struct timed_click *t = lnk_arena_alloc(&op->arena, sizeof(*t) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        t[i] = (struct timed_click){counted[i].ts, owners[counted[i].idx], counted[i].url_id,
                                    counted[i].idx};
    qsort(t, n, sizeof(*t), cmp_timed);
    return t;
}

/* Inserts the clicks t[0..n), CLICK_CHUNK rows per statement; *written
 * counts them. */
static int insert_owned_clicks(struct lnk_store_bconn *c, const struct lnk_store_op *op,
                               const struct timed_click *t, size_t n_clicks,
                               struct owned_click *chunk, int64_t now, int64_t *written)
{
    size_t n = 0;
    int rc = LNK_OK;
    for (size_t i = 0; i < n_clicks && rc == LNK_OK; i++) {
        chunk[n++] = (struct owned_click){&op->clicks[t[i].idx], t[i].owner, NULL};
        if (n == CLICK_CHUNK || i + 1 == n_clicks) {
            char *details = chunk_details(chunk, n);
            rc = insert_click_chunk(c, chunk, n, now);
            free(details);
            *written += rc == LNK_OK ? (int64_t)n : 0;
            n = 0;
        }
    }
    return rc;
}

/* op->imported counts the clicks written; clicks of vanished urls are not. */
static int clicks_append(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t now)
{
    size_t n = op->n_clicks, kept = 0;
    struct counted_click *counted = lnk_arena_alloc(&op->arena, sizeof(*counted) * n);
    int64_t *owners = lnk_arena_alloc(&op->arena, sizeof(*owners) * n);
    struct owned_click *chunk = lnk_arena_alloc(&op->arena, sizeof(*chunk) * CLICK_CHUNK);
    for (size_t i = 0; i < n; i++) {
        int64_t ts = op->clicks[i].timestamp > 0 ? op->clicks[i].timestamp : now;
        counted[i] = (struct counted_click){op->clicks[i].url_id, ts / 86400, ts, i};
    }
    qsort(counted, n, sizeof(*counted), cmp_counted);
    int rc = resolve_owners(c, counted, n, owners, &kept);
    if (rc == LNK_OK)
        rc = insert_owned_clicks(c, op, insertion_order(op, counted, kept, owners), kept, chunk,
                                 now, &op->imported);
    if (rc == LNK_OK)
        rc = rollup_add_sorted(c, counted, kept);
    return rc;
}

/* ---- API keys ----------------------------------------------------------- */

static int key_create(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t now)
{
    const struct lnk_api_key *k = &op->key;
    if (!k->name || !k->prefix || !op->key_hash || (!k->admin && k->user_id <= 0))
        return LNK_EINVAL;
    int rc = k->admin ? LNK_OK : check_user_exists(c, op, k->user_id);
    struct sq_arg user = A_ID(k->admin ? 0 : k->user_id);
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_KEY_INSERT,
                       ARGS(A_TEXT(k->name), A_TEXT(op->key_hash), A_TEXT(k->prefix),
                            A_BOOL(k->admin), user, A_I64(now)),
                       NULL);
    if (rc == LNK_OK)
        rc = load_one(c, ST_KEY_GET, A_I64(sqlite3_last_insert_rowid(c->db)), ROW_KEY, op, "key");
    return rc;
}

static int key_revoke(struct lnk_store_bconn *c, struct lnk_store_op *op, int64_t now)
{
    int rc = exec_stmt(c, ST_KEY_REVOKE, ARGS(A_I64(op->in.id), A_I64(now)), NULL);
    if (rc == LNK_OK)
        rc = load_one(c, ST_KEY_GET, A_I64(op->in.id), ROW_KEY, op, "key");
    return rc;
}

/* The active key with this hash (if any) and how many keys are active: the
 * second answers protected mode (DESIGN.md §6) in the same read. */
static int key_auth(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    int rc = query_i64(c, ST_KEY_COUNT_ACTIVE, NO_ARGS, &op->counts[0]);
    if (rc == LNK_OK && op->key_hash)
        rc = load_one(c, ST_KEY_BY_HASH, A_TEXT(op->key_hash), ROW_KEY, op, "key");
    return rc;
}

/* ---- bulk ----------------------------------------------------------------
 * A bulk op runs each row as the single op it stands for (a create, or an
 * upsert by id), inside a savepoint of its own: a row that fails is undone
 * alone and reported in rows.results; only a failure that lost the
 * transaction fails the whole op (and its batch). */

static int run_write(struct lnk_store_bconn *c, struct lnk_store_op *op);

/* The single op for row i of a bulk op. */
static struct lnk_store_op *row_op(const struct lnk_store_op *op, size_t i)
{
    const struct lnk_import_rows *r = &op->rows;
    bool has_id = r->has_id ? r->has_id[i] : false;
    bool urls = op->kind == LNK_OP_URL_BULK;
    struct lnk_store_op *sub =
        lnk_store_op_new(urls ? (has_id ? LNK_OP_URL_IMPORT : LNK_OP_URL_CREATE)
                              : (has_id ? LNK_OP_EVENT_IMPORT : LNK_OP_EVENT_CREATE));
    sub->owner_guard = op->owner_guard;
    if (has_id) {
        sub->rows.n = 1;
        sub->rows.urls = urls ? &r->urls[i] : NULL;
        sub->rows.events = urls ? NULL : &r->events[i];
    } else if (urls) {
        sub->url = r->urls[i];
        sub->url_reuse = r->reuse && r->reuse[i];
    } else {
        sub->event = r->events[i];
    }
    return sub;
}

/* Runs row i in its savepoint and records its result. */
static int apply_row(struct lnk_store_bconn *c, struct lnk_store_op *op, size_t i)
{
    struct lnk_store_op *sub = row_op(op, i);
    struct lnk_row_result *res = &op->rows.results[i];
    int rc = exec_stmt(c, ST_SAVEPOINT_ROW, NO_ARGS, NULL);
    if (rc != LNK_OK)
        goto out;
    if (sub->kind == LNK_OP_URL_IMPORT) {
        /* the code it had, which caches may hold */
        rc = query_rows(c, ST_URL_GET, ARGS(A_I64(op->rows.urls[i].id)), ROW_URL, sub);
        if (rc == LNK_OK && sub->n_rows == 1) {
            const char *prev = sub->urls[0].short_code;
            res->prev_short_code = lnk_arena_strndup(&op->arena, prev, strlen(prev));
            res->existed = true;
        }
    } else if (sub->kind == LNK_OP_EVENT_IMPORT) {
        rc = query_rows(c, ST_EVENT_GET, ARGS(A_I64(op->rows.events[i].id)), ROW_EVENT, sub);
        res->existed = rc == LNK_OK && sub->n_rows == 1;
    }
    if (rc != LNK_OK)
        goto out;
    drop_rows(sub);
    sub->rc = run_write(c, sub);
    res->rc = sub->rc;
    res->err_field = sub->err_field; /* static strings */
    if (sub->rc == LNK_OK) {
        bool imported = sub->kind == LNK_OP_URL_IMPORT || sub->kind == LNK_OP_EVENT_IMPORT;
        if (sub->kind == LNK_OP_URL_IMPORT || sub->kind == LNK_OP_URL_CREATE) {
            const struct lnk_url *u = imported ? &op->rows.urls[i] : &sub->urls[0];
            res->id = u->id;
            res->short_code = lnk_arena_strndup(&op->arena, u->short_code, strlen(u->short_code));
        } else {
            res->id = imported ? op->rows.events[i].id : sub->events[0].id;
        }
        res->existed |= sub->reused;
    } else if (sqlite3_get_autocommit(c->db)) {
        rc = sub->rc; /* the transaction is gone: the batch fails */
        goto out;
    } else {
        res->existed = false;
        res->prev_short_code = NULL;
        rc = exec_stmt(c, ST_ROLLBACK_TO_ROW, NO_ARGS, NULL);
    }
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_RELEASE_ROW, NO_ARGS, NULL);
out:
    lnk_store_op_free(sub);
    return rc;
}

static int bulk(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    struct lnk_import_rows *r = &op->rows;
    int rc = LNK_OK;
    r->results = lnk_arena_alloc(&op->arena, sizeof(*r->results) * (r->n ? r->n : 1));
    memset(r->results, 0, sizeof(*r->results) * r->n);
    for (size_t i = 0; i < r->n && rc == LNK_OK; i++) {
        rc = apply_row(c, op, i);
        if (rc == LNK_OK && r->results[i].rc == LNK_OK)
            op->imported++;
        else if (rc == LNK_OK)
            op->skipped++;
    }
    return rc;
}

static int run_write(struct lnk_store_bconn *c, struct lnk_store_op *op)
{
    int64_t now = now_s();
    switch (op->kind) {
    case LNK_OP_USER_CREATE:
        return user_create(c, op, now);
    case LNK_OP_USER_UPDATE:
        return user_update(c, op);
    case LNK_OP_USER_DELETE:
        return user_delete(c, op);
    case LNK_OP_USER_IMPORT:
        return user_import(c, op, now);
    case LNK_OP_URL_CREATE:
        return url_create(c, op, now);
    case LNK_OP_URL_UPDATE:
        return url_update(c, op, now);
    case LNK_OP_URL_DELETE:
        return url_delete(c, op, now);
    case LNK_OP_URL_IMPORT:
        return url_import(c, op);
    case LNK_OP_EVENT_CREATE:
        return event_create(c, op, now);
    case LNK_OP_EVENT_IMPORT:
        return event_import(c, op);
    case LNK_OP_CLICKS_APPEND:
        return clicks_append(c, op, now);
    case LNK_OP_URL_BULK:
    case LNK_OP_EVENT_BULK:
        return bulk(c, op);
    case LNK_OP_KEY_CREATE:
        return key_create(c, op, now);
    case LNK_OP_KEY_REVOKE:
        return key_revoke(c, op, now);
    default:
        return LNK_EINVAL;
    }
}

/* ---- group commit ------------------------------------------------------- */

/* The errno of the latest failed system call on the WAL (or journal) or
 * the database file. sqlite3_system_errno misses errors met while
 * committing, which is where a WAL write fails. */
static int file_errno(sqlite3 *db)
{
    sqlite3_file *jf = NULL;
    int e = 0;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &jf) == SQLITE_OK && jf &&
        jf->pMethods && jf->pMethods->xFileControl(jf, SQLITE_FCNTL_LAST_ERRNO, &e) == SQLITE_OK &&
        e)
        return e;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_LAST_ERRNO, &e) != SQLITE_OK)
        e = 0;
    return e;
}

/* Remembers the error of the write connection's latest failed call, before
 * a ROLLBACK can overwrite it, for last_fault. */
static void note_failure(struct lnk_store_backend *b)
{
    if (b->wr) {
        b->fail_src = sqlite3_extended_errcode(b->wr->db);
        b->fail_errno = sqlite3_system_errno(b->wr->db);
        if (!b->fail_errno)
            b->fail_errno = file_errno(b->wr->db);
    } else {
        b->fail_src = SQLITE_CANTOPEN;
        b->fail_errno = 0;
    }
}

static int sq_batch_begin(struct lnk_store_backend *b)
{
    b->seq_loaded = false;
    b->seq_dirty = false;
    int rc = b->wr ? exec_stmt(b->wr, ST_BEGIN, NO_ARGS, NULL) : LNK_EUNAVAIL;
    if (rc != LNK_OK)
        note_failure(b);
    return rc;
}

/* Each write runs inside SAVEPOINT op so that its failure undoes only its
 * own changes. If SQLite rolled the whole transaction back (SQLITE_FULL,
 * IOERR, ...: sqlite3_get_autocommit turns true), the batch is lost. */
static int apply_guarded(struct lnk_store_backend *b, struct lnk_store_op *op)
{
    struct lnk_store_bconn *c = b->wr;
    int rc = exec_stmt(c, ST_SAVEPOINT, NO_ARGS, NULL);
    if (rc != LNK_OK)
        goto out;
    op->rc = run_write(c, op);
    if (op->rc == LNK_EUNAVAIL)
        note_failure(b);
    if (op->rc != LNK_OK) {
        drop_rows(op);
        if (sqlite3_get_autocommit(c->db)) {
            /* only I/O-class failures end a transaction; never report a
             * lost batch as a client error */
            rc = op->rc == LNK_EUNAVAIL || op->rc == LNK_ENOMEM ? op->rc : LNK_EBACKEND;
            goto out;
        }
        rc = exec_stmt(c, ST_ROLLBACK_TO, NO_ARGS, NULL);
    }
    if (rc == LNK_OK)
        rc = exec_stmt(c, ST_RELEASE, NO_ARGS, NULL);
out:
    if (rc != LNK_OK && rc != op->rc)
        note_failure(b);
    return rc;
}

/* Kinds that refuse (bad input, a missing user or url, a taken code) before
 * their first write, and after it fail only when the storage or memory does.
 * They run without a savepoint: it journals every page an op touches first,
 * which cost a fifth of the writer's CPU per click (7.6 -> 6.1 us). */
static bool refuses_before_writing(enum lnk_op_kind kind)
{
    return kind == LNK_OP_URL_CREATE || kind == LNK_OP_USER_CREATE || kind == LNK_OP_EVENT_CREATE ||
           kind == LNK_OP_CLICKS_APPEND;
}

/* An op of those kinds that failed without changing a row fails alone; one
 * that failed after a change cannot be undone alone, so it fails its whole
 * batch (which is rolled back: nothing of it is answered as written). */
static int apply_unguarded(struct lnk_store_backend *b, struct lnk_store_op *op)
{
    sqlite3 *db = b->wr->db;
    sqlite3_int64 before = sqlite3_total_changes64(db);
    op->rc = run_write(b->wr, op);
    if (op->rc == LNK_OK)
        return LNK_OK;
    drop_rows(op);
    bool refused = !sqlite3_get_autocommit(db) && sqlite3_total_changes64(db) == before;
    if (op->rc == LNK_EUNAVAIL || !refused)
        note_failure(b);
    if (refused)
        return LNK_OK;
    return op->rc == LNK_EUNAVAIL || op->rc == LNK_ENOMEM ? op->rc : LNK_EBACKEND;
}

static int sq_batch_apply(struct lnk_store_backend *b, struct lnk_store_op *op)
{
    if (lnk_store_op_is_read(op->kind)) {
        sq_read(b->wr, op);
        return LNK_OK;
    }
    lnk_store_op_reset_outputs(op);
    return refuses_before_writing(op->kind) ? apply_unguarded(b, op) : apply_guarded(b, op);
}

static void sq_batch_abort(struct lnk_store_backend *b)
{
    if (b->wr && !sqlite3_get_autocommit(b->wr->db))
        exec_stmt(b->wr, ST_ROLLBACK, NO_ARGS, NULL);
}

static int sq_batch_commit(struct lnk_store_backend *b)
{
    int rc = b->seq_dirty ? exec_stmt(b->wr, ST_SEQ_SET, ARGS(A_I64(b->code_seq)), NULL) : LNK_OK;
    if (rc == LNK_OK)
        rc = exec_stmt(b->wr, ST_COMMIT, NO_ARGS, NULL);
    if (rc != LNK_OK) {
        note_failure(b);
        sq_batch_abort(b);
    }
    return rc;
}

/* ---- write health ------------------------------------------------------- */

/* The fault behind an SQLite failure. errno decides for I/O errors only:
 * SQLite leaves it from the last I/O error, which may be an old one. */
static enum lnk_store_fault classify(int src, int sys_errno)
{
    int primary = src & 0xff;
    if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL) {
        if (sys_errno == ENOSPC || sys_errno == EDQUOT)
            return LNK_STORE_FAULT_DISK_FULL;
        if (sys_errno == EROFS)
            return LNK_STORE_FAULT_READ_ONLY;
    }
    switch (primary) {
    case SQLITE_FULL:
        return LNK_STORE_FAULT_DISK_FULL;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return LNK_STORE_FAULT_READ_ONLY;
    case SQLITE_IOERR:
    case SQLITE_NOLFS:
        return LNK_STORE_FAULT_IO_ERROR;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return LNK_STORE_FAULT_LOCKED;
    case SQLITE_CANTOPEN:
        return LNK_STORE_FAULT_UNAVAILABLE;
    default:
        return LNK_STORE_OK; /* not the storage's: constraints, misuse, code space */
    }
}

/* Whether the filesystem holding path is mounted read-only. */
static bool fs_read_only(const char *path)
{
    struct statvfs sv;
    return statvfs(path, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

static enum lnk_store_fault sq_last_fault(struct lnk_store_backend *b, int *sys_errno)
{
    enum lnk_store_fault f = classify(b->fail_src, b->fail_errno);
    if (f == LNK_STORE_FAULT_IO_ERROR && !b->fail_errno && fs_read_only(b->path)) {
        f = LNK_STORE_FAULT_READ_ONLY; /* the errno was lost; the mount says why */
        b->fail_errno = EROFS;
    }
    *sys_errno = f == LNK_STORE_OK ? 0 : b->fail_errno;
    if (f == LNK_STORE_FAULT_DISK_FULL && !*sys_errno)
        *sys_errno = ENOSPC;
    return f;
}

static struct file_id stat_id(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return (struct file_id){0, 0};
    return (struct file_id){(uint64_t)st.st_dev, (uint64_t)st.st_ino};
}

/* "<path><suffix>" in buf. */
static const char *sibling(const struct lnk_store_backend *b, const char *suffix, char *buf,
                           size_t cap)
{
    snprintf(buf, cap, "%s%s", b->path, suffix);
    return buf;
}

/* Records the identity of the files wr has open: right after it opened
 * them, so that nothing else can have taken the names in between. */
static void record_ids(struct lnk_store_backend *b)
{
    char p[4096];
    struct file_id db = stat_id(b->path);
    atomic_store(&b->db_dev, db.dev);
    atomic_store(&b->db_ino, db.ino);
    b->wal_id = stat_id(sibling(b, "-wal", p, sizeof(p)));
    b->shm_id = stat_id(sibling(b, "-shm", p, sizeof(p)));
    b->have_candidate = false;
}

static bool same_id(struct file_id a, uint64_t dev, uint64_t ino)
{
    return a.ino != 0 && a.dev == dev && a.ino == ino;
}

static enum lnk_store_fault sq_check(struct lnk_store_backend *b)
{
    if (!b->wr)
        return LNK_STORE_FAULT_UNAVAILABLE;
    /* SQLite compares the path with the inode it has open; the stat also
     * catches a file replaced by one on another device. */
    int moved = 0;
    if (sqlite3_file_control(b->wr->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK)
        moved = 0;
    struct file_id now = stat_id(b->path);
    if (now.ino == 0)
        return LNK_STORE_FAULT_FILE_REMOVED;
    if (moved || !same_id(now, atomic_load(&b->db_dev), atomic_load(&b->db_ino)))
        return LNK_STORE_FAULT_FILE_REPLACED;
    if (sqlite3_db_readonly(b->wr->db, "main") == 1)
        return LNK_STORE_FAULT_READ_ONLY;
    return LNK_STORE_OK;
}

/* A probe waits briefly for a lock held elsewhere: the writer must get back
 * to refusing queued writes rather than sit out the whole busy timeout. */
#define SQ_PROBE_BUSY_MS 100

/* The WAL that wr writes, for syncing: its name must still lead to the
 * file record_ids saw. Returns an errno, 0 when b->wal_fd is open. */
static int open_wal_fd(struct lnk_store_backend *b)
{
    char p[4096];
    struct stat st;
    int fd = open(sibling(b, "-wal", p, sizeof(p)), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno ? errno : EBADF;
    if (fstat(fd, &st) != 0 ||
        (b->wal_id.ino && !same_id(b->wal_id, (uint64_t)st.st_dev, (uint64_t)st.st_ino))) {
        close(fd);
        return ESTALE;
    }
    b->wal_fd = fd;
    return 0;
}

/* Durability after commit: one fdatasync of the WAL covers every
 * transaction committed before the call. The store's syncer thread calls it
 * while the writer already runs the next batch; it touches no connection,
 * only the WAL file (whose directory entry was synced at open). A WAL that
 * lost its name would be gone after a crash, so that fails too. A failure
 * is sticky: the kernel reports a writeback error once, and pages it could
 * not write may be dropped, so no later sync may vouch for them. */
static int sq_sync(struct lnk_store_backend *b, int *sys_errno)
{
    struct stat st;
    int e = atomic_load(&b->sync_errno);
    if (!e && b->wal_fd < 0)
        e = open_wal_fd(b);
    if (!e && fdatasync(b->wal_fd) != 0)
        e = errno ? errno : EIO;
    if (!e && (fstat(b->wal_fd, &st) != 0 || st.st_nlink == 0))
        e = ENOENT;
    if (e)
        atomic_store(&b->sync_errno, e);
    *sys_errno = e;
    return e ? LNK_EUNAVAIL : LNK_OK;
}

/* Before open_writer: the next sync starts from the new file's WAL. */
static void close_wal_fd(struct lnk_store_backend *b)
{
    if (b->wal_fd >= 0)
        close(b->wal_fd);
    b->wal_fd = -1;
    atomic_store(&b->sync_errno, 0);
}

static int sq_probe(struct lnk_store_backend *b)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (!b->wr)
        return sq_batch_begin(b);
    sqlite3_busy_timeout(b->wr->db, SQ_PROBE_BUSY_MS);
    int rc = sq_batch_begin(b);
    if (rc == LNK_OK) {
        rc = exec_stmt(b->wr, ST_HEARTBEAT,
                       ARGS(A_I64((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000)), NULL);
        if (rc == LNK_OK) {
            rc = sq_batch_commit(b);
        } else {
            note_failure(b);
            sq_batch_abort(b);
        }
    }
    int sys_errno = 0;
    if (rc == LNK_OK && b->synchronous_full && sq_sync(b, &sys_errno) != LNK_OK) {
        b->fail_src = SQLITE_IOERR_FSYNC;
        b->fail_errno = sys_errno;
        rc = LNK_EUNAVAIL;
    }
    sqlite3_busy_timeout(b->wr->db, SQ_BUSY_TIMEOUT_MS);
    return rc;
}

/* Makes a new directory entry durable. */
static void sync_parent_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* The online backup API reads through wr, so the copy holds every
 * committed transaction, those still in the WAL included. */
static int sq_rescue(struct lnk_store_backend *b, char *path_out, size_t cap)
{
    char tmp[4096];
    sqlite3 *dst = NULL;
    sqlite3_backup *bk = NULL;
    int rc = LNK_EUNAVAIL;
    if (!b->wr)
        goto out;
    int n = snprintf(path_out, cap, "%s.rescue-%lld", b->path, (long long)time(NULL));
    if (n < 0 || (size_t)n >= cap)
        goto out;
    for (int i = 2; access(path_out, F_OK) == 0 && i < 100; i++)
        snprintf(path_out, cap, "%s.rescue-%lld-%d", b->path, (long long)time(NULL), i);
    int src = sqlite3_open_v2(
        path_out, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_exec(dst, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    if (src == SQLITE_OK) {
        bk = sqlite3_backup_init(dst, "main", b->wr->db, "main");
        src = bk ? sqlite3_backup_step(bk, -1) : sqlite3_errcode(dst);
        int fsrc = bk ? sqlite3_backup_finish(bk) : SQLITE_OK;
        if (src == SQLITE_DONE)
            src = fsrc;
    }
    rc = map_sqlite_rc(src);
    if (rc == LNK_OK && src != SQLITE_OK)
        rc = LNK_EBACKEND;
out:
    sqlite3_close_v2(dst);
    if (dst && rc != LNK_OK) {
        snprintf(tmp, sizeof(tmp), "%s-journal", path_out);
        unlink(path_out);
        unlink(tmp);
    }
    if (rc == LNK_OK)
        sync_parent_dir(path_out);
    else if (cap)
        path_out[0] = '\0';
    return rc;
}

/* Whether the file at path is a whole SQLite database: the header's page
 * count (valid when its version-valid-for number matches the change
 * counter) times the page size is the file's size. A copy still being
 * written is shorter. */
static bool looks_complete(const char *path, const struct stat *st)
{
    unsigned char h[100];
    bool ok = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
        goto out;
    if (memcmp(h, "SQLite format 3", 16) != 0)
        goto out;
    uint32_t page = (uint32_t)h[16] << 8 | h[17];
    if (page == 1)
        page = 65536;
    uint32_t counter = (uint32_t)h[24] << 24 | (uint32_t)h[25] << 16 | (uint32_t)h[26] << 8 | h[27];
    uint32_t pages = (uint32_t)h[28] << 24 | (uint32_t)h[29] << 16 | (uint32_t)h[30] << 8 | h[31];
    uint32_t valid_for =
        (uint32_t)h[92] << 24 | (uint32_t)h[93] << 16 | (uint32_t)h[94] << 8 | h[95];
    ok = page >= 512 && counter == valid_for && pages > 0 &&
         (uint64_t)page * pages == (uint64_t)st->st_size;
out:
    close(fd);
    return ok;
}

static bool sq_reopen_ready(struct lnk_store_backend *b)
{
    struct stat st;
    if (b->wr && sqlite3_db_readonly(b->wr->db, "main") == 1 &&
        same_id(stat_id(b->path), atomic_load(&b->db_dev), atomic_load(&b->db_ino)))
        return access(b->path, R_OK | W_OK) == 0; /* same file, writable again */
    if (stat(b->path, &st) != 0 || !S_ISREG(st.st_mode)) {
        b->have_candidate = false;
        return false;
    }
    /* unchanged since the previous look, so not a copy in progress */
    bool stable = b->have_candidate && b->candidate.st_dev == st.st_dev &&
                  b->candidate.st_ino == st.st_ino && b->candidate.st_size == st.st_size &&
                  b->candidate.st_mtim.tv_sec == st.st_mtim.tv_sec &&
                  b->candidate.st_mtim.tv_nsec == st.st_mtim.tv_nsec;
    b->candidate = st;
    b->have_candidate = true;
    return stable && looks_complete(b->path, &st);
}

/* ---- open, migrate, close ----------------------------------------------- */

static void close_conn(struct lnk_store_bconn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(c->st[i]);
    for (size_t k = 0; k < ROW__COUNT; k++)
        for (size_t m = 0; m < LF_VARIANTS; m++)
            sqlite3_finalize(c->list[k][m]);
    sqlite3_finalize(c->click_chunk);
    sqlite3_close_v2(c->db);
    free(c);
}

/* Runs fixed SQL (pragmas, migrations; never client data). */
static int exec_sql(sqlite3 *db, const char *sql, char *errbuf, size_t errcap, const char *what)
{
    int src = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (src != SQLITE_OK)
        set_err(errbuf, errcap, what, sqlite3_errmsg(db));
    return map_sqlite_rc(src);
}

static int open_conn(struct lnk_store_backend *b, bool writer, struct lnk_store_bconn **out,
                     char *errbuf, size_t errcap)
{
    struct lnk_store_bconn *c = lnk_xcalloc(1, sizeof(*c));
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    int rc;
    c->b = b;
    int src = sqlite3_open_v2(b->path, &c->db, flags, NULL);
    if (src != SQLITE_OK) {
        set_err(errbuf, errcap, b->path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
        rc = map_sqlite_rc(src);
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, SQ_BUSY_TIMEOUT_MS);
    rc = exec_sql(c->db, "PRAGMA foreign_keys = ON", errbuf, errcap, "foreign_keys");
    if (rc == LNK_OK && !writer)
        rc = exec_sql(c->db, "PRAGMA query_only = ON", errbuf, errcap, "query_only");
out:
    if (rc == LNK_OK) {
        *out = c;
    } else {
        close_conn(c);
        *out = NULL;
    }
    return rc;
}

static int set_wal(sqlite3 *db, char *errbuf, size_t errcap)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_sql(db, "PRAGMA journal_mode = WAL", &st);
    if (rc != LNK_OK) {
        set_err(errbuf, errcap, "journal_mode", sqlite3_errmsg(db));
        goto out;
    }
    int src = sqlite3_step(st);
    const unsigned char *mode = src == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    if (!mode || strcmp((const char *)mode, "wal") != 0) {
        set_err(errbuf, errcap, "journal_mode", "WAL is not available for this file");
        rc = src == SQLITE_ROW ? LNK_EBACKEND : map_sqlite_rc(src);
        if (rc == LNK_OK)
            rc = LNK_EBACKEND;
    }
out:
    sqlite3_finalize(st);
    return rc;
}

static int read_user_version(sqlite3 *db, int64_t *version)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_sql(db, "PRAGMA user_version", &st);
    if (rc != LNK_OK)
        goto out;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *version = sqlite3_column_int64(st, 0);
    rc = src == SQLITE_ROW ? LNK_OK : LNK_EBACKEND;
out:
    sqlite3_finalize(st);
    return rc;
}

static int fill_random(uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0) {
            int err = errno;
            if (err == EINTR)
                continue;
            return lnk_err_from_errno(err);
        }
        got += (size_t)n;
    }
    return LNK_OK;
}

/* Reads meta.code_key into key: LNK_ENOTFOUND when absent, LNK_EBACKEND
 * when it is not a 16-byte blob. */
static int read_code_key(sqlite3 *db, uint8_t key[LNK_CODEGEN_KEY_BYTES])
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_sql(db, "SELECT value FROM meta WHERE key = 'code_key'", &st);
    if (rc != LNK_OK)
        goto out;
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = LNK_ENOTFOUND;
    } else if (src != SQLITE_ROW) {
        rc = map_sqlite_rc(src);
    } else if (sqlite3_column_type(st, 0) != SQLITE_BLOB ||
               sqlite3_column_bytes(st, 0) != LNK_CODEGEN_KEY_BYTES) {
        rc = LNK_EBACKEND;
    } else {
        memcpy(key, sqlite3_column_blob(st, 0), LNK_CODEGEN_KEY_BYTES);
    }
out:
    sqlite3_finalize(st);
    return rc;
}

/* A fresh database gets its secret code key once, from the kernel CSPRNG. */
static int store_code_key(sqlite3 *db, uint8_t key[LNK_CODEGEN_KEY_BYTES])
{
    sqlite3_stmt *st = NULL;
    int rc = fill_random(key, LNK_CODEGEN_KEY_BYTES);
    if (rc == LNK_OK)
        rc = prepare_sql(db, "INSERT INTO meta (key, value) VALUES ('code_key', ?1)", &st);
    if (rc == LNK_OK)
        rc = bind_args(st,
                       &(struct sq_arg){
                           .type = ARG_BLOB, .s = (const char *)key, .len = LNK_CODEGEN_KEY_BYTES},
                       1);
    if (rc == LNK_OK)
        rc = map_sqlite_rc(sqlite3_step(st));
    sqlite3_finalize(st);
    return rc;
}

/* Brings the schema to the newest version and loads the code key. A file
 * already up to date is only read, so that a read-only database still
 * opens (its writes then fail with LNK_EUNAVAIL). Otherwise everything
 * happens in one IMMEDIATE transaction, so that two processes opening a new
 * file at once cannot both migrate it. */
/* LNK_EBACKEND when a row names a parent that does not exist. */
static int check_foreign_keys(sqlite3 *db, char *errbuf, size_t errcap)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src == SQLITE_ROW) {
        set_err(errbuf, errcap, "migrate", "a row names a missing parent after the upgrade");
        return LNK_EBACKEND;
    }
    return src == SQLITE_DONE ? LNK_OK : map_sqlite_rc(src);
}

/* Moves the schema from the file's user_version to the newest. */
static int apply_migrations(sqlite3 *db, char *errbuf, size_t errcap)
{
    int64_t version = 0;
    char sql[64];
    int rc = read_user_version(db, &version);
    if (rc == LNK_OK && (version < 0 || (uint64_t)version > LNK_SQLITE_N_MIGRATIONS)) {
        set_err(errbuf, errcap, "migrate", "the database schema is newer than this linkd");
        rc = LNK_EINVAL;
    }
    for (int64_t v = version; rc == LNK_OK && (uint64_t)v < LNK_SQLITE_N_MIGRATIONS; v++) {
        rc = exec_sql(db, lnk_sqlite_migrations[v], errbuf, errcap, "migration");
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)(v + 1));
        if (rc == LNK_OK)
            rc = exec_sql(db, sql, errbuf, errcap, "migration");
    }
    return rc;
}

static int ensure_code_key(sqlite3 *db, uint8_t key[LNK_CODEGEN_KEY_BYTES], char *errbuf,
                           size_t errcap)
{
    int rc = read_code_key(db, key);
    if (rc == LNK_ENOTFOUND)
        rc = store_code_key(db, key);
    if (rc != LNK_OK)
        set_err(errbuf, errcap, "code key", "cannot read or create meta.code_key");
    return rc;
}

/* The migrations and the code key in one transaction, the way SQLite
 * rebuilds a table others reference: foreign keys off (dropping the old
 * table would delete its children otherwise), checked before COMMIT, on
 * again after. The pragma does nothing inside a transaction. */
static int upgrade(sqlite3 *db, uint8_t key[LNK_CODEGEN_KEY_BYTES], char *errbuf, size_t errcap)
{
    int rc = exec_sql(db, "PRAGMA foreign_keys = OFF", errbuf, errcap, "migrate");
    if (rc == LNK_OK)
        rc = exec_sql(db, "BEGIN IMMEDIATE", errbuf, errcap, "migrate");
    bool in_txn = rc == LNK_OK;
    if (rc == LNK_OK)
        rc = apply_migrations(db, errbuf, errcap);
    if (rc == LNK_OK)
        rc = ensure_code_key(db, key, errbuf, errcap);
    if (rc == LNK_OK)
        rc = check_foreign_keys(db, errbuf, errcap);
    if (rc == LNK_OK)
        rc = exec_sql(db, "COMMIT", errbuf, errcap, "migrate");
    if (rc != LNK_OK && in_txn && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (rc != LNK_OK) { /* keep the first error; the caller closes db */
        sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
        return rc;
    }
    return exec_sql(db, "PRAGMA foreign_keys = ON", errbuf, errcap, "migrate");
}

static int migrate(struct lnk_store_backend *b, char *errbuf, size_t errcap)
{
    sqlite3 *db = b->wr->db;
    uint8_t key[LNK_CODEGEN_KEY_BYTES];
    int64_t version = 0;
    int rc = read_user_version(db, &version);
    if (rc != LNK_OK || (uint64_t)version != LNK_SQLITE_N_MIGRATIONS ||
        read_code_key(db, key) != LNK_OK)
        rc = upgrade(db, key, errbuf, errcap);
    if (rc == LNK_OK)
        lnk_codegen_init(&b->gen, key);
    return rc;
}

static void sq_close(struct lnk_store_backend *b)
{
    if (!b)
        return;
    close_conn(b->wr);
    close_wal_fd(b);
    free(b->path);
    free(b);
}

/* Opens b->wr on b->path: WAL, synchronous, schema, code key; records the
 * files' identities. On failure b->wr stays NULL. */
static int open_writer(struct lnk_store_backend *b, char *errbuf, size_t errcap)
{
    struct lnk_store_bconn *c = NULL;
    int rc = open_conn(b, true, &c, errbuf, errcap);
    if (rc != LNK_OK)
        goto out;
    rc = set_wal(c->db, errbuf, errcap);
    if (rc != LNK_OK)
        goto out;
    /* full: NORMAL writes the WAL at COMMIT without syncing it; sq_sync
     * syncs it before any op of the batch is answered. */
    rc = exec_sql(c->db,
                  b->synchronous_full ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = OFF",
                  errbuf, errcap, "synchronous");
    /* A group commit of thousands of clicks touches many pages: a large cache
     * keeps them in memory until COMMIT instead of spilling to the WAL early,
     * and rarer checkpoints keep the copy-back off most commits. */
    if (rc == LNK_OK)
        rc = exec_sql(c->db, "PRAGMA cache_size = -65536", errbuf, errcap, "cache_size");
    if (rc == LNK_OK)
        rc = exec_sql(c->db, "PRAGMA wal_autocheckpoint = 10000", errbuf, errcap, "checkpoint");
    if (rc != LNK_OK)
        goto out;
    b->wr = c;
    rc = migrate(b, errbuf, errcap);
    if (rc == LNK_OK)
        record_ids(b);
    /* the WAL exists now (the migration read the file): make its name
     * durable, which sq_sync's fdatasync does not */
    if (rc == LNK_OK && b->synchronous_full)
        sync_parent_dir(b->path);
out:
    if (rc != LNK_OK) {
        b->wr = NULL;
        close_conn(c);
    }
    return rc;
}

/* Removes path if it still names the file `id` (the old file's WAL or
 * shm): applied to another database, an old WAL corrupts it. */
static void remove_if_same(const char *path, struct file_id id)
{
    if (id.ino && same_id(stat_id(path), id.dev, id.ino))
        unlink(path);
}

static int sq_reopen(struct lnk_store_backend *b, char *errbuf, size_t errcap)
{
    char p[4096];
    struct lnk_store_bconn *old = b->wr;
    bool same_file = same_id(stat_id(b->path), atomic_load(&b->db_dev), atomic_load(&b->db_ino));
    b->wr = NULL;
    if (old && !same_file) {
        /* Closing the last connection checkpoints into the old inode and
         * would delete the WAL and shm by name, which may by now be the
         * new file's; keep them and remove only what is provably old. */
        int persist = 1;
        sqlite3_file_control(old->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    }
    close_conn(old);
    if (!same_file) {
        remove_if_same(sibling(b, "-wal", p, sizeof(p)), b->wal_id);
        remove_if_same(sibling(b, "-shm", p, sizeof(p)), b->shm_id);
    }
    atomic_store(&b->db_dev, 0);
    atomic_store(&b->db_ino, 0);
    close_wal_fd(b);
    return open_writer(b, errbuf, errcap);
}

/* Possible only before SQLite initializes; when it already has (a caller
 * used SQLite first), the calls fail and nothing changes.
 * - SQLite counts the memory it allocates under a global mutex on every
 *   malloc, for sqlite3_memory_used(), which linkd does not call.
 * - The page cache skips a scan of itself on most commits
 *   (store_sqlite_pcache.c). */
static void configure_sqlite(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)lnk_sqlite_pcache_install();
}

static int sq_open(const char *target, const struct lnk_store_config *cfg,
                   struct lnk_store_backend **out, char *errbuf, size_t errcap)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, configure_sqlite);
    struct lnk_store_backend *b = lnk_xcalloc(1, sizeof(*b));
    b->path = lnk_xstrndup(target, strlen(target));
    b->synchronous_full = cfg->synchronous_full != 0;
    b->wal_fd = -1;
    atomic_init(&b->sync_errno, 0);
    atomic_init(&b->db_dev, 0);
    atomic_init(&b->db_ino, 0);
    int rc = open_writer(b, errbuf, errcap);
    if (rc == LNK_OK) {
        *out = b;
    } else {
        sq_close(b);
        *out = NULL;
    }
    return rc;
}

/* A reader must open the file the writer has: after a removal or a
 * replacement the path may name a file whose WAL is not the one at
 * "<path>-wal" yet (store_int.h). It reads once at open: SQLite fails the
 * first read of a connection whose file was unlinked before it ever read
 * (SQLITE_IOERR_FSTAT), while a connection that has read keeps reading. */
static int sq_conn_open(struct lnk_store_backend *b, struct lnk_store_bconn **out)
{
    int rc = open_conn(b, false, out, NULL, 0);
    if (rc == LNK_OK &&
        !same_id(stat_id(b->path), atomic_load(&b->db_dev), atomic_load(&b->db_ino)))
        rc = LNK_EUNAVAIL;
    if (rc == LNK_OK)
        rc = exec_sql((*out)->db, "SELECT 1 FROM meta LIMIT 1", NULL, 0, "warm up");
    if (rc != LNK_OK) {
        close_conn(*out);
        *out = NULL;
    }
    return rc;
}

const struct lnk_store_ops lnk_store_sqlite_ops = {
    .name = "sqlite",
    .caps = LNK_STORE_CAP_INLINE_READS | LNK_STORE_CAP_GROUP_COMMIT,
    .open = sq_open,
    .close = sq_close,
    .conn_open = sq_conn_open,
    .conn_close = close_conn,
    .read = sq_read,
    .batch_begin = sq_batch_begin,
    .batch_apply = sq_batch_apply,
    .batch_commit = sq_batch_commit,
    .batch_abort = sq_batch_abort,
    .sync = sq_sync,
    .check = sq_check,
    .probe = sq_probe,
    .last_fault = sq_last_fault,
    .rescue = sq_rescue,
    .reopen_ready = sq_reopen_ready,
    .reopen = sq_reopen,
};
