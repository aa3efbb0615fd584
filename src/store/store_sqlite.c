/* SPDX-License-Identifier: MIT */
/* The SQLite store backend: storage only (store_int.h). WAL, one write
 * connection driven by store.c's writer thread, read connections for the
 * workers and the reader pool, statements prepared once per connection and
 * always parameterised. A connection is used by one thread at a time
 * (NOMUTEX). Connections and the schema are in store_sqlite_schema.c, the
 * file's health in store_sqlite_file.c. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "linkd/err.h"
#include "store/store_sqlite_int.h"
#include "store/store_sqlite_query.h"

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT_OP,
    ST_RELEASE_OP,
    ST_ROLLBACK_TO_OP,
    ST_SAVEPOINT_ROW,
    ST_RELEASE_ROW,
    ST_ROLLBACK_TO_ROW,
    ST_PING,
    ST_COUNT_ROWS,
    ST_USER_GET,
    ST_USER_ID_BY_NAME,
    ST_USER_ID_BY_EMAIL,
    ST_USER_INSERT,
    ST_USER_UPSERT,
    ST_USER_UPDATE,
    ST_USER_DELETE,
    ST_URL_GET,
    ST_URL_BY_CODE,
    ST_URL_OWNER,
    ST_URL_BY_DEST,
    ST_URLS_OF_USER,
    ST_SEQ_RESERVE,
    ST_URL_INSERT,
    ST_URL_UPSERT,
    ST_URL_SET,
    ST_SLOT_TAKE,
    ST_SLOT_USED,
    ST_SLOT_LIST,
    ST_SLOT_PUT,
    ST_IDEM_GET,
    ST_IDEM_PUT,
    ST_IDEM_DELETE,
    ST_IDEM_EXPIRE,
    ST_EVENT_GET,
    ST_EVENT_INSERT,
    ST_EVENT_UPSERT,
    ST_EVENT_BUCKETS,
    ST_CLICK_OF,
    ST_CLICKS_TOTAL,
    ST_CLICKS_DAILY,
    ST_ROLLUP_ADD,
    ST_ROLLUP_ADD_DAY,
    ST_ROLLUP_CLEAR,
    ST_ROLLUP_CLEAR_DAYS,
    ST_ROLLUP_RECOUNT,
    ST_ROLLUP_RECOUNT_DAYS,
    ST_KEY_INSERT,
    ST_KEY_GET,
    ST_KEY_LIST,
    ST_KEY_LIST_HASHES,
    ST_KEY_PUT,
    ST_KEY_REVOKE,
    ST_RETIRED_LIST,
    ST_RETIRED_ADD,
    ST_KEY_BY_HASH,
    ST_KEY_COUNT_ACTIVE,
    ST_STATS_TOTALS,
    ST_STATS_TOTALS_OWNER,
    ST_STATS_TYPES,
    ST_STATS_TYPES_OWNER,
    ST_HEARTBEAT,
    ST_ID_TOPS,
    ST_DOMAIN_LIST,
    ST_DOMAIN_GET,
    ST_DOMAIN_INSERT,
    ST_DOMAIN_PUT,
    ST_DOMAIN_SET,
    ST_DOMAIN_DELETE,
    ST_DOMAIN_IN_USE,
    ST__COUNT
};

#define USER_COLS   LNK_SQ_USER_COLS
#define URL_COLS    LNK_SQ_URL_COLS
#define EVENT_COLS  LNK_SQ_EVENT_COLS
#define KEY_COLS    "id, name, prefix, admin, user_id, created_at, revoked_at, scopes, expires_at"
#define DOMAIN_COLS "id, host, root_url, not_found_url, fallback_url, created_at"
/* the key a retired code is kept under: "<domain id>:<code>", or the code
 * alone on the default domain (migration 10) */
#define RETIRED_KEY(dom, code)                                                                     \
    "CASE WHEN " dom " IS NULL THEN " code " ELSE " dom " || ':' || " code " END"

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT_OP] = "SAVEPOINT op",
    [ST_RELEASE_OP] = "RELEASE op",
    [ST_ROLLBACK_TO_OP] = "ROLLBACK TO op",
    [ST_SAVEPOINT_ROW] = "SAVEPOINT bulk_row",
    [ST_RELEASE_ROW] = "RELEASE bulk_row",
    [ST_ROLLBACK_TO_ROW] = "ROLLBACK TO bulk_row",
    [ST_PING] = "SELECT 1",
    /* one statement, so the counts come from one snapshot */
    [ST_COUNT_ROWS] = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM urls),"
                      " (SELECT count(*) FROM events), (SELECT count(*) FROM api_keys),"
                      " (SELECT count(*) FROM retired_codes),"
                      " (SELECT coalesce(sum(clicks), 0) FROM link_clicks),"
                      " (SELECT count(*) FROM domains),"
                      " (SELECT count(*) FROM link_slots),"
                      " (SELECT coalesce(sum(used), 0) FROM link_slots)",
    [ST_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    [ST_USER_ID_BY_NAME] = "SELECT id FROM users WHERE username = ?1",
    [ST_USER_ID_BY_EMAIL] = "SELECT id FROM users WHERE email = ?1",
    /* a taken username or email inserts nothing (no row back), and never
     * fails the statement */
    [ST_USER_INSERT] = "INSERT INTO users (username, email, created_at) VALUES (?1, ?2, ?3)"
                       " ON CONFLICT DO NOTHING RETURNING id",
    /* created_at 0 keeps an existing row's */
    [ST_USER_UPSERT] = "INSERT INTO users (id, username, email, created_at) VALUES (?1, ?2, ?3, ?4)"
                       " ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
                       " email = excluded.email, created_at = CASE WHEN excluded.created_at > 0"
                       " THEN excluded.created_at ELSE users.created_at END",
    [ST_USER_UPDATE] = "UPDATE users SET username = coalesce(?2, username),"
                       " email = coalesce(?3, email) WHERE id = ?1",
    [ST_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
    [ST_URL_GET] = "SELECT " URL_COLS " FROM urls WHERE id = ?1",
    /* through urls_domain_code (migration 10) */
    [ST_URL_BY_CODE] = "SELECT " URL_COLS " FROM urls WHERE coalesce(domain_id, 0) = ?2"
                       " AND short_code = ?1",
    [ST_URL_OWNER] = "SELECT user_id FROM urls WHERE id = ?1",
    /* it reads the owner's urls through their index, so it costs as many
     * rows as the owner has urls (only creates that ask for reuse run it) */
    [ST_URL_BY_DEST] = "SELECT " URL_COLS LNK_SQLITE_URLS_BY_USER
                       " AND user_id = ?1 AND original_url = ?2 ORDER BY is_active DESC, id DESC"
                       " LIMIT 1",
    [ST_URLS_OF_USER] = "SELECT " URL_COLS LNK_SQLITE_URLS_BY_USER
                        " AND user_id = ?1 ORDER BY " LNK_SQLITE_URL_ORDER,
    [ST_SEQ_RESERVE] = "UPDATE meta SET value = value + ?1 WHERE key = 'code_seq'"
                       " RETURNING value - ?1",
    /* an unknown owner, or a code in use or retired, inserts nothing (no
     * row back) */
    [ST_URL_INSERT] = "INSERT INTO urls (user_id, short_code, original_url, title, is_active,"
                      " created_at, updated_at, opts, domain_id)"
                      " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9"
                      " WHERE EXISTS (SELECT 1 FROM users WHERE id = ?1)"
                      " AND (?9 IS NULL OR EXISTS (SELECT 1 FROM domains WHERE id = ?9))"
                      " AND NOT EXISTS (SELECT 1 FROM retired_codes WHERE code = " RETIRED_KEY(
                          "?9", "?2") ")"
                                      " ON CONFLICT DO NOTHING RETURNING " URL_COLS,
    /* no options (NULL) or no domain (NULL) keep an existing url's */
    [ST_URL_UPSERT] = "INSERT INTO urls (id, user_id, short_code, original_url, title, is_active,"
                      " created_at, updated_at, opts, domain_id)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                      " ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,"
                      " short_code = excluded.short_code, original_url = excluded.original_url,"
                      " title = excluded.title, is_active = excluded.is_active,"
                      " created_at = excluded.created_at, updated_at = excluded.updated_at,"
                      " opts = coalesce(excluded.opts, urls.opts),"
                      " domain_id = coalesce(excluded.domain_id, urls.domain_id)",
    /* a row back: a slot taken (the first insert, or a count under ?2) */
    [ST_SLOT_TAKE] = "INSERT INTO link_slots (url_id, used) SELECT ?1, 1"
                     " WHERE EXISTS (SELECT 1 FROM urls WHERE id = ?1)"
                     " ON CONFLICT (url_id) DO UPDATE SET used = used + 1 WHERE used < ?2"
                     " RETURNING used",
    [ST_SLOT_LIST] = "SELECT url_id, used FROM link_slots ORDER BY url_id",
    /* a row back: the count set (none: the url is not there) */
    [ST_SLOT_PUT] = "INSERT INTO link_slots (url_id, used) SELECT ?1, ?2"
                    " WHERE EXISTS (SELECT 1 FROM urls WHERE id = ?1)"
                    " ON CONFLICT (url_id) DO UPDATE SET used = excluded.used"
                    " RETURNING used",
    [ST_SLOT_USED] = "SELECT coalesce((SELECT used FROM link_slots WHERE url_id = ?1), 0)",
    [ST_IDEM_GET] = "SELECT fingerprint, status, body, created_at FROM idempotency"
                    " WHERE caller = ?1 AND idem_key = ?2",
    [ST_IDEM_PUT] = "INSERT OR REPLACE INTO idempotency (caller, idem_key, fingerprint, status,"
                    " body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_IDEM_DELETE] = "DELETE FROM idempotency WHERE caller = ?1 AND idem_key = ?2",
    [ST_IDEM_EXPIRE] = "DELETE FROM idempotency WHERE created_at < ?1",
    [ST_URL_SET] = "UPDATE urls SET title = ?2, is_active = ?3, original_url = ?4,"
                   " updated_at = ?5, opts = ?6 WHERE id = ?1",
    [ST_EVENT_GET] = "SELECT " EVENT_COLS " FROM events WHERE id = ?1",
    [ST_EVENT_INSERT] = "INSERT INTO events (url_id, user_id, event_type, timestamp, details)"
                        " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
    [ST_EVENT_UPSERT] = "INSERT INTO events (" EVENT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                        " ON CONFLICT (id) DO UPDATE SET url_id = excluded.url_id,"
                        " user_id = excluded.user_id, event_type = excluded.event_type,"
                        " timestamp = excluded.timestamp, details = excluded.details",
    /* the buckets of ids ?1..?2 (migration 8: the store keeps the list) */
    [ST_EVENT_BUCKETS] = "WITH RECURSIVE s(b) AS (SELECT ?1 >> 16 UNION ALL"
                         " SELECT b + 1 FROM s WHERE b < ?2 >> 16)"
                         " INSERT OR IGNORE INTO event_buckets (b) SELECT b FROM s",
    [ST_CLICK_OF] = "SELECT url_id, timestamp FROM events WHERE id = ?1 AND event_type = 'click'",
    [ST_CLICKS_TOTAL] = "SELECT clicks, last_click_at FROM link_clicks WHERE url_id = ?1",
    [ST_CLICKS_DAILY] = "SELECT day, clicks FROM link_clicks_daily WHERE url_id = ?1 ORDER BY day",
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
    [ST_KEY_INSERT] = "INSERT INTO api_keys (name, key_hash, prefix, admin, user_id, created_at,"
                      " scopes, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
    [ST_KEY_GET] = "SELECT " KEY_COLS " FROM api_keys WHERE id = ?1",
    [ST_KEY_LIST] = "SELECT " KEY_COLS " FROM api_keys ORDER BY id",
    [ST_KEY_LIST_HASHES] = "SELECT " KEY_COLS ", key_hash FROM api_keys ORDER BY id",
    /* a hash that another key holds writes nothing (no row back) */
    [ST_KEY_PUT] = "INSERT INTO api_keys (id, name, key_hash, prefix, admin, user_id, created_at,"
                   " revoked_at, scopes, expires_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10"
                   " WHERE NOT EXISTS (SELECT 1 FROM api_keys WHERE key_hash = ?3 AND id <> ?1)"
                   " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                   " key_hash = excluded.key_hash, prefix = excluded.prefix,"
                   " admin = excluded.admin, user_id = excluded.user_id,"
                   " created_at = excluded.created_at, revoked_at = excluded.revoked_at,"
                   " scopes = excluded.scopes, expires_at = excluded.expires_at"
                   " RETURNING id",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    [ST_KEY_BY_HASH] = "SELECT " KEY_COLS " FROM api_keys WHERE key_hash = ?1"
                       " AND revoked_at IS NULL",
    [ST_KEY_COUNT_ACTIVE] = "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL",
    [ST_RETIRED_LIST] = "SELECT code FROM retired_codes WHERE code > ?1 ORDER BY code LIMIT ?2",
    [ST_RETIRED_ADD] = "INSERT INTO retired_codes (code) VALUES (?1) ON CONFLICT DO NOTHING",
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
    /* AUTOINCREMENT keeps each table's highest id ever here */
    [ST_ID_TOPS] = "SELECT name, seq FROM sqlite_sequence",
    [ST_DOMAIN_LIST] = "SELECT " DOMAIN_COLS " FROM domains ORDER BY id",
    [ST_DOMAIN_GET] = "SELECT " DOMAIN_COLS " FROM domains WHERE id = ?1",
    /* a listed host inserts nothing (no row back) */
    [ST_DOMAIN_INSERT] = "INSERT INTO domains (host, root_url, not_found_url, fallback_url,"
                         " created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING"
                         " RETURNING " DOMAIN_COLS,
    /* a host that another domain holds writes nothing (no row back) */
    [ST_DOMAIN_PUT] = "INSERT INTO domains (" DOMAIN_COLS ") SELECT ?1, ?2, ?3, ?4, ?5, ?6"
                      " WHERE NOT EXISTS (SELECT 1 FROM domains WHERE host = ?2 AND id <> ?1)"
                      " ON CONFLICT (id) DO UPDATE SET host = excluded.host,"
                      " root_url = excluded.root_url, not_found_url = excluded.not_found_url,"
                      " fallback_url = excluded.fallback_url, created_at = excluded.created_at"
                      " RETURNING id",
    [ST_DOMAIN_SET] = "UPDATE domains SET root_url = ?2, not_found_url = ?3, fallback_url = ?4"
                      " WHERE id = ?1",
    [ST_DOMAIN_DELETE] = "DELETE FROM domains WHERE id = ?1",
    [ST_DOMAIN_IN_USE] = "SELECT count(*) FROM (SELECT 1 FROM urls WHERE domain_id = ?1 LIMIT 1)",
    /* the write probe of a degraded store: one small row, one page */
    [ST_HEARTBEAT] = "INSERT INTO meta (key, value) VALUES ('heartbeat', ?1)"
                     " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
};

struct lnk_sq_stmts {
    sqlite3_stmt *st[ST__COUNT];
    sqlite3_stmt *click_chunk; /* CLICK_CHUNK rows at once (writer only) */
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
int lnk_sq_map_rc(int src)
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

void lnk_sq_set_err(char *errbuf, size_t errcap, const char *what, const char *why)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "sqlite: %s: %s", what, why);
}

/* ---- statements ------------------------------------------------------- */

static int prepare_sql(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    int src = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    return src == SQLITE_OK ? LNK_OK : lnk_sq_map_rc(src);
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
    return src == SQLITE_OK ? LNK_OK : lnk_sq_map_rc(src);
}

/* A failure on the writer's connection is kept for last_fault, except the
 * outcomes the rules expect (no row, a unique conflict). */
static int noted(struct lnk_store_bconn *c, int rc)
{
    if (rc != LNK_OK && rc != LNK_ENOTFOUND && rc != LNK_EEXISTS && c->b && c == c->b->wr)
        lnk_sq_note_failure(c->b);
    return rc;
}

/* The cached statement sid with args bound. On success the caller owns it
 * until release_stmt. */
static int prepare_bound(struct lnk_store_bconn *c, enum stmt_id sid, const struct sq_arg *args,
                         size_t n, sqlite3_stmt **out)
{
    int rc = LNK_OK;
    *out = NULL;
    if (!c->st->st[sid])
        rc = prepare_sql(c->db, stmt_sql[sid], &c->st->st[sid]);
    if (rc == LNK_OK)
        rc = bind_args(c->st->st[sid], args, n);
    if (rc == LNK_OK)
        *out = c->st->st[sid];
    else
        release_stmt(c->st->st[sid]);
    return noted(c, rc);
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
    rc = noted(c, lnk_sq_map_rc(src));
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
    rc = src == SQLITE_DONE ? LNK_ENOTFOUND : noted(c, lnk_sq_map_rc(src));
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

/* Column i without a copy, valid until the statement steps on. */
static const char *column_peek(sqlite3_stmt *st, int i)
{
    const unsigned char *p = sqlite3_column_text(st, i);
    return p ? (const char *)p : NULL;
}

/* A row's strings: copied into a, or (a NULL) borrowed from the statement. */
static const char *text_of(sqlite3_stmt *st, int i, struct lnk_arena *a)
{
    return a ? column_str(st, i, a) : column_peek(st, i);
}

void lnk_sq_read_user(sqlite3_stmt *st, struct lnk_arena *a, void *row)
{
    struct lnk_user *u = row;
    u->id = sqlite3_column_int64(st, 0);
    u->username = text_of(st, 1, a);
    u->email = text_of(st, 2, a);
    u->username = u->username ? u->username : "";
    u->email = u->email ? u->email : "";
    u->created_at = sqlite3_column_int64(st, 3);
}

void lnk_sq_read_url(sqlite3_stmt *st, struct lnk_arena *a, void *row)
{
    struct lnk_url *u = row;
    u->id = sqlite3_column_int64(st, 0);
    u->user_id = sqlite3_column_int64(st, 1);
    u->short_code = text_of(st, 2, a);
    u->original_url = text_of(st, 3, a);
    u->short_code = u->short_code ? u->short_code : "";
    u->original_url = u->original_url ? u->original_url : "";
    u->title = text_of(st, 4, a);
    u->is_active = sqlite3_column_int64(st, 5) != 0;
    u->created_at = sqlite3_column_int64(st, 6);
    u->updated_at = sqlite3_column_int64(st, 7);
    u->opts = text_of(st, 8, a);
    u->domain_id = sqlite3_column_int64(st, 9); /* NULL reads as 0 */
}

static void read_domain(sqlite3_stmt *st, struct lnk_arena *a, void *row)
{
    struct lnk_domain *d = row;
    d->id = sqlite3_column_int64(st, 0);
    d->host = text_of(st, 1, a);
    d->host = d->host ? d->host : "";
    d->root_url = text_of(st, 2, a);
    d->not_found_url = text_of(st, 3, a);
    d->fallback_url = text_of(st, 4, a);
    d->created_at = sqlite3_column_int64(st, 5);
}

void lnk_sq_read_event(sqlite3_stmt *st, struct lnk_arena *a, void *row)
{
    struct lnk_event *e = row;
    e->id = sqlite3_column_int64(st, 0);
    e->url_id = sqlite3_column_int64(st, 1);
    e->user_id = sqlite3_column_int64(st, 2); /* NULL reads as 0 */
    e->event_type = text_of(st, 3, a);
    e->event_type = e->event_type ? e->event_type : "";
    e->timestamp = sqlite3_column_int64(st, 4);
    e->details = text_of(st, 5, a);
    if (!e->details)
        e->details = "{}";
}

static void read_key(sqlite3_stmt *st, struct lnk_arena *a, void *row)
{
    struct lnk_api_key *k = row;
    k->id = sqlite3_column_int64(st, 0);
    k->name = column_str_nonnull(st, 1, a);
    k->prefix = column_str_nonnull(st, 2, a);
    k->admin = sqlite3_column_int64(st, 3) != 0;
    k->user_id = sqlite3_column_int64(st, 4); /* NULL reads as 0 */
    k->created_at = sqlite3_column_int64(st, 5);
    k->revoked_at = sqlite3_column_int64(st, 6);
    k->scopes = column_str(st, 7, a);
    k->expires_at = sqlite3_column_int64(st, 8);
}

typedef void (*read_fn)(sqlite3_stmt *st, struct lnk_arena *a, void *row);

/* The one row sid selects into *row (arena strings); LNK_ENOTFOUND if none. */
static int load_one(struct lnk_store_bconn *c, enum stmt_id sid, const struct sq_arg *args,
                    size_t n, read_fn read, struct lnk_arena *a, void *row)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_bound(c, sid, args, n, &st);
    if (rc != LNK_OK)
        goto out;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        read(st, a, row);
    rc = src == SQLITE_DONE ? LNK_ENOTFOUND : noted(c, lnk_sq_map_rc(src));
out:
    release_stmt(st);
    return rc;
}

/* Every row of sid into an arena array of `size`-byte rows. */
static int load_all(struct lnk_store_bconn *c, enum stmt_id sid, const struct sq_arg *args,
                    size_t n, read_fn read, size_t size, struct lnk_arena *a, void **out,
                    size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    size_t cnt = 0, cap = 0;
    char *buf = NULL;
    int rc = prepare_bound(c, sid, args, n, &st);
    int src = SQLITE_DONE;
    while (rc == LNK_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            buf = lnk_xrealloc(buf, cap * size);
        }
        memset(buf + cnt * size, 0, size);
        read(st, a, buf + cnt * size);
        cnt++;
    }
    if (rc == LNK_OK)
        rc = noted(c, lnk_sq_map_rc(src));
    if (rc == LNK_OK) {
        *out = lnk_arena_alloc(a, cnt * size + 1);
        if (cnt)
            memcpy(*out, buf, cnt * size);
        *n_out = cnt;
    }
    free(buf);
    release_stmt(st);
    return rc;
}

/* ---- point reads --------------------------------------------------------- */

static int sq_ping(struct lnk_store_bconn *c)
{
    int64_t one = 0;
    return query_i64(c, ST_PING, NO_ARGS, &one);
}

static int sq_user_get(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                       struct lnk_user *out)
{
    return load_one(c, ST_USER_GET, ARGS(A_I64(id)), lnk_sq_read_user, a, out);
}

static int sq_user_by_name(struct lnk_store_bconn *c, const char *username, int64_t *id)
{
    return query_i64(c, ST_USER_ID_BY_NAME, ARGS(A_TEXT(username)), id);
}

static int sq_user_by_email(struct lnk_store_bconn *c, const char *email, int64_t *id)
{
    return query_i64(c, ST_USER_ID_BY_EMAIL, ARGS(A_TEXT(email)), id);
}

static int sq_url_get(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                      struct lnk_url *out)
{
    return load_one(c, ST_URL_GET, ARGS(A_I64(id)), lnk_sq_read_url, a, out);
}

static int sq_url_by_code(struct lnk_store_bconn *c, int64_t domain_id, const char *code,
                          struct lnk_arena *a, struct lnk_url *out)
{
    return load_one(c, ST_URL_BY_CODE, ARGS(A_TEXT(code), A_I64(domain_id)), lnk_sq_read_url, a,
                    out);
}

static int sq_url_owner(struct lnk_store_bconn *c, int64_t id, int64_t *owner)
{
    return query_i64(c, ST_URL_OWNER, ARGS(A_I64(id)), owner);
}

static int sq_url_by_dest(struct lnk_store_bconn *c, int64_t user_id, const char *dest,
                          struct lnk_arena *a, struct lnk_url *out)
{
    return load_one(c, ST_URL_BY_DEST, ARGS(A_I64(user_id), A_TEXT(dest)), lnk_sq_read_url, a, out);
}

static int sq_urls_of_user(struct lnk_store_bconn *c, int64_t user_id, struct lnk_arena *a,
                           struct lnk_url **out, size_t *n)
{
    return load_all(c, ST_URLS_OF_USER, ARGS(A_I64(user_id)), lnk_sq_read_url,
                    sizeof(struct lnk_url), a, (void **)out, n);
}

static int sq_event_get(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                        struct lnk_event *out)
{
    return load_one(c, ST_EVENT_GET, ARGS(A_I64(id)), lnk_sq_read_event, a, out);
}

static int sq_click_of(struct lnk_store_bconn *c, int64_t id, int64_t *url_id, int64_t *timestamp)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_bound(c, ST_CLICK_OF, ARGS(A_I64(id)), &st);
    if (rc != LNK_OK)
        goto out;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *url_id = sqlite3_column_int64(st, 0);
        *timestamp = sqlite3_column_int64(st, 1);
    }
    rc = src == SQLITE_DONE ? LNK_ENOTFOUND : noted(c, lnk_sq_map_rc(src));
out:
    release_stmt(st);
    return rc;
}

static int sq_counts(struct lnk_store_bconn *c, struct lnk_op_counts *out)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_bound(c, ST_COUNT_ROWS, NO_ARGS, &st);
    if (rc != LNK_OK)
        goto out;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        out->users = sqlite3_column_int64(st, 0);
        out->urls = sqlite3_column_int64(st, 1);
        out->events = sqlite3_column_int64(st, 2);
        out->keys = sqlite3_column_int64(st, 3);
        out->retired_codes = sqlite3_column_int64(st, 4);
        out->clicks = sqlite3_column_int64(st, 5);
        out->domains = sqlite3_column_int64(st, 6);
        out->slots = sqlite3_column_int64(st, 7);
        out->slots_used = sqlite3_column_int64(st, 8);
    }
    rc = src == SQLITE_ROW ? LNK_OK : src == SQLITE_DONE ? LNK_EBACKEND : lnk_sq_map_rc(src);
out:
    release_stmt(st);
    return rc;
}

static int sq_stats(struct lnk_store_bconn *c, int64_t owner, struct lnk_arena *a,
                    struct lnk_op_stats *t)
{
    sqlite3_stmt *st = NULL;
    int rc = owner ? prepare_bound(c, ST_STATS_TOTALS_OWNER, ARGS(A_I64(owner)), &st)
                   : prepare_bound(c, ST_STATS_TOTALS, NO_ARGS, &st);
    if (rc != LNK_OK)
        goto out;
    int src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? LNK_EBACKEND : lnk_sq_map_rc(src);
        goto out;
    }
    t->users = sqlite3_column_int64(st, 0);
    t->urls = sqlite3_column_int64(st, 1);
    t->active_urls = sqlite3_column_int64(st, 2);
    release_stmt(st);
    st = NULL;
    rc = owner ? prepare_bound(c, ST_STATS_TYPES_OWNER, ARGS(A_I64(owner)), &st)
               : prepare_bound(c, ST_STATS_TYPES, NO_ARGS, &st);
    if (rc != LNK_OK)
        goto out;
    size_t cap = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->n_types == cap) {
            cap = cap ? cap * 2 : 8;
            struct lnk_type_count *grown = lnk_arena_alloc(a, cap * sizeof(*grown));
            if (t->n_types)
                memcpy(grown, t->types, t->n_types * sizeof(*grown));
            t->types = grown;
        }
        struct lnk_type_count *tc = &t->types[t->n_types++];
        tc->event_type = column_str_nonnull(st, 0, a);
        tc->n = sqlite3_column_int64(st, 1);
        t->events += tc->n;
    }
    rc = src == SQLITE_DONE ? LNK_OK : lnk_sq_map_rc(src);
out:
    release_stmt(st);
    return rc;
}

static int sq_url_clicks(struct lnk_store_bconn *c, int64_t url_id, int64_t *clicks,
                         int64_t *last_click_at)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_bound(c, ST_CLICKS_TOTAL, ARGS(A_I64(url_id)), &st);
    if (rc != LNK_OK)
        goto out;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *clicks = sqlite3_column_int64(st, 0);
        *last_click_at = sqlite3_column_int64(st, 1);
    }
    rc = src == SQLITE_DONE ? LNK_ENOTFOUND : lnk_sq_map_rc(src);
out:
    release_stmt(st);
    return rc;
}

static void read_day(sqlite3_stmt *st, struct lnk_arena *a, void *row)
{
    struct lnk_click_day *d = row;
    (void)a;
    d->day = sqlite3_column_int64(st, 0);
    d->clicks = sqlite3_column_int64(st, 1);
}

static int sq_url_days(struct lnk_store_bconn *c, int64_t url_id, struct lnk_arena *a,
                       struct lnk_click_day **days, size_t *n)
{
    return load_all(c, ST_CLICKS_DAILY, ARGS(A_I64(url_id)), read_day, sizeof(struct lnk_click_day),
                    a, (void **)days, n);
}

static int sq_key_get(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                      struct lnk_api_key *out)
{
    return load_one(c, ST_KEY_GET, ARGS(A_I64(id)), read_key, a, out);
}

static int sq_key_by_hash(struct lnk_store_bconn *c, const char *hash, struct lnk_arena *a,
                          struct lnk_api_key *out)
{
    return load_one(c, ST_KEY_BY_HASH, ARGS(A_TEXT(hash)), read_key, a, out);
}

/* A key and, in the column after its own, its hash. */
struct key_with_hash {
    struct lnk_api_key k;
    const char *hash;
};

static void read_key_with_hash(sqlite3_stmt *st, struct lnk_arena *a, void *row)
{
    struct key_with_hash *kh = row;
    read_key(st, a, &kh->k);
    kh->hash = column_str_nonnull(st, 9, a);
}

static int sq_key_list(struct lnk_store_bconn *c, struct lnk_arena *a, struct lnk_api_key **out,
                       const char ***hashes, size_t *n)
{
    struct key_with_hash *rows = NULL;
    if (!hashes)
        return load_all(c, ST_KEY_LIST, NO_ARGS, read_key, sizeof(struct lnk_api_key), a,
                        (void **)out, n);
    int rc = load_all(c, ST_KEY_LIST_HASHES, NO_ARGS, read_key_with_hash, sizeof(*rows), a,
                      (void **)&rows, n);
    if (rc != LNK_OK)
        return rc;
    *out = lnk_arena_alloc(a, *n * sizeof(**out) + 1);
    *hashes = lnk_arena_alloc(a, *n * sizeof(**hashes) + 1);
    for (size_t i = 0; i < *n; i++) {
        (*out)[i] = rows[i].k;
        (*hashes)[i] = rows[i].hash;
    }
    return LNK_OK;
}

static int sq_keys_active(struct lnk_store_bconn *c, int64_t *n)
{
    return query_i64(c, ST_KEY_COUNT_ACTIVE, NO_ARGS, n);
}

/* Through the primary key of retired_codes, from `after` on. */
static int sq_retired_list(struct lnk_store_bconn *c, const char *after, int64_t limit,
                           lnk_list_row_fn fn, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int src = SQLITE_DONE;
    int rc =
        prepare_bound(c, ST_RETIRED_LIST, ARGS(A_TEXT(after), A_I64(limit > 0 ? limit : -1)), &st);
    while (rc == LNK_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        union lnk_list_row row = {.code = column_peek(st, 0)};
        if (!row.code)
            continue;
        if (!fn(ctx, row)) {
            src = SQLITE_DONE;
            break;
        }
    }
    if (rc == LNK_OK)
        rc = noted(c, lnk_sq_map_rc(src));
    release_stmt(st);
    return rc;
}

static int sq_domain_list(struct lnk_store_bconn *c, struct lnk_arena *a, struct lnk_domain **out,
                          size_t *n)
{
    return load_all(c, ST_DOMAIN_LIST, NO_ARGS, read_domain, sizeof(struct lnk_domain), a,
                    (void **)out, n);
}

static int sq_domain_get(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                         struct lnk_domain *out)
{
    return load_one(c, ST_DOMAIN_GET, ARGS(A_I64(id)), read_domain, a, out);
}

static void read_slot(sqlite3_stmt *st, struct lnk_arena *a, void *row)
{
    struct lnk_slot *s = row;
    (void)a;
    s->url_id = sqlite3_column_int64(st, 0);
    s->used = sqlite3_column_int64(st, 1);
}

static int sq_slot_list(struct lnk_store_bconn *c, struct lnk_arena *a, struct lnk_slot **out,
                        size_t *n)
{
    return load_all(c, ST_SLOT_LIST, NO_ARGS, read_slot, sizeof(struct lnk_slot), a, (void **)out,
                    n);
}

/* ---- writes ------------------------------------------------------------------ */

static int sq_user_put(struct lnk_store_bconn *c, const struct lnk_user *u, bool by_id, int64_t *id)
{
    if (!by_id) {
        int rc = query_i64(c, ST_USER_INSERT,
                           ARGS(A_TEXT(u->username), A_TEXT(u->email), A_I64(u->created_at)), id);
        return rc == LNK_ENOTFOUND ? LNK_EEXISTS : rc; /* no row back: taken */
    }
    *id = u->id;
    return exec_stmt(
        c, ST_USER_UPSERT,
        ARGS(A_I64(u->id), A_TEXT(u->username), A_TEXT(u->email), A_I64(u->created_at)), NULL);
}

static int sq_user_update(struct lnk_store_bconn *c, int64_t id, const char *username,
                          const char *email)
{
    return exec_stmt(c, ST_USER_UPDATE, ARGS(A_I64(id), A_TEXT(username), A_TEXT(email)), NULL);
}

/* Triggers delete the user's urls and their events (migrations 5 to 7);
 * its keys follow by foreign key. */
static int sq_user_delete(struct lnk_store_bconn *c, int64_t id)
{
    return exec_stmt(c, ST_USER_DELETE, ARGS(A_I64(id)), NULL);
}

static int sq_url_put(struct lnk_store_bconn *c, const struct lnk_url *u, struct lnk_arena *a,
                      struct lnk_url *out)
{
    if (u->id <= 0) {
        int rc = load_one(c, ST_URL_INSERT,
                          ARGS(A_I64(u->user_id), A_TEXT(u->short_code), A_TEXT(u->original_url),
                               A_TEXT(u->title), A_BOOL(u->is_active), A_I64(u->created_at),
                               A_I64(u->updated_at), A_TEXT(u->opts), A_ID(u->domain_id)),
                          lnk_sq_read_url, a, out);
        if (rc == LNK_ENOTFOUND) { /* no row back: which refusal? */
            struct lnk_user owner;
            rc = sq_user_get(c, u->user_id, a, &owner);
            rc = rc == LNK_OK ? LNK_EEXISTS : rc;
        }
        return rc;
    }
    int rc = exec_stmt(c, ST_URL_UPSERT,
                       ARGS(A_I64(u->id), A_I64(u->user_id), A_TEXT(u->short_code),
                            A_TEXT(u->original_url), A_TEXT(u->title), A_BOOL(u->is_active),
                            A_I64(u->created_at), A_I64(u->updated_at), A_TEXT(u->opts),
                            A_ID(u->domain_id)),
                       NULL);
    if (rc == LNK_OK)
        rc = sq_url_get(c, u->id, a, out);
    return rc;
}

static int sq_url_set(struct lnk_store_bconn *c, const struct lnk_url *u)
{
    return exec_stmt(c, ST_URL_SET,
                     ARGS(A_I64(u->id), A_TEXT(u->title), A_BOOL(u->is_active),
                          A_TEXT(u->original_url), A_I64(u->updated_at), A_TEXT(u->opts)),
                     NULL);
}

static int sq_slot_take(struct lnk_store_bconn *c, int64_t url_id, int64_t max, bool *taken)
{
    int64_t used = 0;
    int rc = query_i64(c, ST_SLOT_TAKE, ARGS(A_I64(url_id), A_I64(max)), &used);
    *taken = rc == LNK_OK;
    return rc == LNK_ENOTFOUND ? LNK_OK : rc;
}

static int sq_slot_put(struct lnk_store_bconn *c, const struct lnk_slot *s)
{
    int64_t used = 0;
    return query_i64(c, ST_SLOT_PUT, ARGS(A_I64(s->url_id), A_I64(s->used)), &used);
}

static int sq_slot_used(struct lnk_store_bconn *c, int64_t url_id, int64_t *used)
{
    return query_i64(c, ST_SLOT_USED, ARGS(A_I64(url_id)), used);
}

static void read_idem(sqlite3_stmt *st, struct lnk_arena *a, void *row)
{
    struct lnk_idem_row *r = row;
    r->fingerprint = column_str_nonnull(st, 0, a);
    r->status = (int)sqlite3_column_int64(st, 1);
    r->body = column_str_nonnull(st, 2, a);
    r->created_at = sqlite3_column_int64(st, 3);
}

static int sq_idem_get(struct lnk_store_bconn *c, const char *caller, const char *key,
                       struct lnk_arena *a, struct lnk_idem_row *out)
{
    return load_one(c, ST_IDEM_GET, ARGS(A_TEXT(caller), A_TEXT(key)), read_idem, a, out);
}

static int sq_idem_put(struct lnk_store_bconn *c, const char *caller, const char *key,
                       const struct lnk_idem_row *row)
{
    return exec_stmt(c, ST_IDEM_PUT,
                     ARGS(A_TEXT(caller), A_TEXT(key), A_TEXT(row->fingerprint), A_I64(row->status),
                          A_TEXT(row->body), A_I64(row->created_at)),
                     NULL);
}

static int sq_idem_delete(struct lnk_store_bconn *c, const char *caller, const char *key)
{
    return exec_stmt(c, ST_IDEM_DELETE, ARGS(A_TEXT(caller), A_TEXT(key)), NULL);
}

static int sq_idem_expire(struct lnk_store_bconn *c, int64_t before)
{
    return exec_stmt(c, ST_IDEM_EXPIRE, ARGS(A_I64(before)), NULL);
}

/* Lists the buckets of event ids first..last in event_buckets, which the
 * queries by url and user probe: after every insert into events, once per
 * statement (migration 8). */
static int list_event_buckets(struct lnk_store_bconn *c, int64_t first, int64_t last)
{
    return exec_stmt(c, ST_EVENT_BUCKETS, ARGS(A_I64(first), A_I64(last)), NULL);
}

static int sq_event_put(struct lnk_store_bconn *c, const struct lnk_event *e, int64_t *id)
{
    int64_t new_id = e->id;
    int rc;
    if (e->id <= 0)
        rc = query_i64(c, ST_EVENT_INSERT,
                       ARGS(A_I64(e->url_id), A_ID(e->user_id), A_TEXT(e->event_type),
                            A_I64(e->timestamp), A_TEXT(e->details)),
                       &new_id);
    else
        rc = exec_stmt(c, ST_EVENT_UPSERT,
                       ARGS(A_I64(e->id), A_I64(e->url_id), A_ID(e->user_id), A_TEXT(e->event_type),
                            A_I64(e->timestamp), A_TEXT(e->details)),
                       NULL);
    if (rc == LNK_OK)
        rc = list_event_buckets(c, new_id, new_id);
    if (rc == LNK_OK && id)
        *id = new_id;
    return rc;
}

/* ---- imports in one set ------------------------------------------------------
 * A statement costs microseconds in process, so a set goes row by row over
 * the primitives above: every row checked first, then every row written
 * (ADR 0020). */

/* LNK_EEXISTS when a lookup found the key held by another id (or, for a
 * reference, found nothing); a lookup's other failure as it is. */
static int refused(int rc, bool found_refuses, int64_t holder, int64_t self)
{
    if (rc == LNK_ENOTFOUND)
        return found_refuses ? LNK_OK : LNK_EEXISTS;
    if (rc == LNK_OK && found_refuses && holder != self)
        return LNK_EEXISTS;
    return rc;
}

/* Whether row i of set would be refused on its own, and what it replaces. */
static int check_set_row(struct lnk_store_bconn *c, const struct lnk_import_set *set, size_t i,
                         struct lnk_arena *a, struct lnk_import_prior *p)
{
    int64_t holder = 0;
    int rc;
    if (set->kind == LNK_ROW_USER) {
        const struct lnk_user *u = &set->users[i];
        struct lnk_user cur;
        rc = refused(sq_user_by_name(c, u->username, &holder), true, holder, u->id);
        if (rc == LNK_OK)
            rc = refused(sq_user_by_email(c, u->email, &holder), true, holder, u->id);
        if (rc == LNK_OK) {
            rc = sq_user_get(c, u->id, a, &cur);
            p->existed = rc == LNK_OK;
        }
    } else if (set->kind == LNK_ROW_URL) {
        const struct lnk_url *u = &set->urls[i];
        struct lnk_user owner;
        struct lnk_domain dom;
        struct lnk_url cur = {0}, other = {0};
        rc = refused(sq_user_get(c, u->user_id, a, &owner), false, 0, 0);
        if (rc == LNK_OK && u->domain_id > 0)
            rc = refused(sq_domain_get(c, u->domain_id, a, &dom), false, 0, 0);
        if (rc == LNK_OK) {
            rc = sq_url_get(c, u->id, a, &cur);
            p->existed = rc == LNK_OK;
            rc = rc == LNK_ENOTFOUND ? LNK_OK : rc;
        }
        if (rc == LNK_OK) { /* on the url's domain: no domain keeps an existing url's */
            int64_t domain_id = u->domain_id > 0 ? u->domain_id : p->existed ? cur.domain_id : 0;
            rc = sq_url_by_code(c, domain_id, u->short_code, a, &other);
            rc = refused(rc, true, rc == LNK_OK ? other.id : 0, u->id);
        }
    } else {
        const struct lnk_event *e = &set->events[i];
        struct lnk_user user;
        rc = refused(sq_url_owner(c, e->url_id, &holder), false, 0, 0);
        if (rc == LNK_OK && e->user_id)
            rc = refused(sq_user_get(c, e->user_id, a, &user), false, 0, 0);
        if (rc == LNK_OK) {
            rc = sq_click_of(c, e->id, &p->url_id, &p->timestamp);
            p->was_click = rc == LNK_OK;
        }
    }
    return rc == LNK_ENOTFOUND ? LNK_OK : rc;
}

static int sq_import_set(struct lnk_store_bconn *c, const struct lnk_import_set *set,
                         struct lnk_import_prior *prior)
{
    struct lnk_arena a;
    int64_t id = 0;
    int rc = LNK_OK;
    lnk_arena_init(&a);
    for (size_t i = 0; i < set->n && rc == LNK_OK; i++) {
        prior[i] = (struct lnk_import_prior){0};
        rc = check_set_row(c, set, i, &a, &prior[i]);
    }
    for (size_t i = 0; i < set->n && rc == LNK_OK; i++) {
        struct lnk_url out;
        rc = set->kind == LNK_ROW_USER  ? sq_user_put(c, &set->users[i], true, &id)
             : set->kind == LNK_ROW_URL ? sq_url_put(c, &set->urls[i], &a, &out)
                                        : sq_event_put(c, &set->events[i], NULL);
    }
    lnk_arena_cleanup(&a);
    return rc;
}

/* Clicks go in CLICK_CHUNK rows per statement: one statement per click made
 * the statement overhead the main cost of recording a click (measured: 23 ->
 * 9 us of writer CPU per click with the rollups of the time). A plain
 * multi-row INSERT: OR IGNORE keeps SQLite from journaling every page the
 * statement changes so that it could undo itself alone, which a click batch
 * never needs (a failure fails the group commit): no click row can
 * conflict, and insert_click_chunk checks that all went in. */
#define CLICK_CHUNK 256

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

static int bind_clicks(sqlite3_stmt *st, const struct lnk_click_row *rows, size_t n)
{
    int src = SQLITE_OK;
    for (size_t i = 0; i < n && src == SQLITE_OK; i++) {
        int at = (int)(i * 4);
        src = sqlite3_bind_int64(st, at + 1, rows[i].url_id);
        if (src == SQLITE_OK)
            src = sqlite3_bind_int64(st, at + 2, rows[i].user_id);
        if (src == SQLITE_OK)
            src = sqlite3_bind_int64(st, at + 3, rows[i].timestamp);
        if (src == SQLITE_OK)
            src = sqlite3_bind_text(st, at + 4, rows[i].details, -1, SQLITE_STATIC);
    }
    return lnk_sq_map_rc(src);
}

/* Inserts rows[0..n), n <= CLICK_CHUNK. */
static int insert_click_chunk(struct lnk_store_bconn *c, const struct lnk_click_row *rows, size_t n)
{
    sqlite3_stmt *st = NULL, *once = NULL;
    int rc = LNK_OK;
    if (n == CLICK_CHUNK && !c->st->click_chunk) {
        char *sql = click_chunk_sql(n);
        rc = prepare_sql(c->db, sql, &c->st->click_chunk);
        free(sql);
    } else if (n != CLICK_CHUNK) {
        char *sql = click_chunk_sql(n);
        rc = lnk_sq_map_rc(sqlite3_prepare_v2(c->db, sql, -1, &once, NULL));
        free(sql);
    }
    if (rc != LNK_OK)
        goto out;
    st = n == CLICK_CHUNK ? c->st->click_chunk : once;
    rc = bind_clicks(st, rows, n);
    if (rc == LNK_OK) {
        int src = sqlite3_step(st);
        rc = src == SQLITE_DONE ? LNK_OK : lnk_sq_map_rc(src);
    }
    if (rc == LNK_OK && sqlite3_changes(c->db) != (int)n)
        rc = LNK_EBACKEND; /* a row OR IGNORE skipped: none can be */
out:
    release_stmt(n == CLICK_CHUNK ? c->st->click_chunk : NULL);
    sqlite3_finalize(once);
    return noted(c, rc);
}

/* The rows take the ids after the largest ever used (AUTOINCREMENT, one
 * writer): their buckets are listed once, from the first id to the last. */
static int sq_clicks_insert(struct lnk_store_bconn *c, const struct lnk_click_row *rows, size_t n)
{
    int rc = LNK_OK;
    int64_t first = 0;
    for (size_t i = 0; i < n && rc == LNK_OK; i += CLICK_CHUNK) {
        size_t k = n - i < CLICK_CHUNK ? n - i : CLICK_CHUNK;
        rc = insert_click_chunk(c, rows + i, k);
        if (rc == LNK_OK && i == 0)
            first = sqlite3_last_insert_rowid(c->db) - (int64_t)k + 1;
    }
    if (rc == LNK_OK && n > 0)
        rc = list_event_buckets(c, first, sqlite3_last_insert_rowid(c->db));
    return rc;
}

/* One upsert per (url, day), then one per url with their sum. */
static int sq_rollups_add(struct lnk_store_bconn *c, const struct lnk_rollup_delta *d, size_t n)
{
    int rc = LNK_OK;
    for (size_t i = 0; i < n && rc == LNK_OK;) {
        int64_t clicks = 0, last = 0;
        size_t j = i;
        for (; j < n && d[j].url_id == d[i].url_id && rc == LNK_OK; j++) {
            rc = exec_stmt(c, ST_ROLLUP_ADD_DAY,
                           ARGS(A_I64(d[j].url_id), A_I64(d[j].day), A_I64(d[j].clicks)), NULL);
            clicks += d[j].clicks;
            last = d[j].last_click_at > last ? d[j].last_click_at : last;
        }
        if (rc == LNK_OK)
            rc = exec_stmt(c, ST_ROLLUP_ADD, ARGS(A_I64(d[i].url_id), A_I64(clicks), A_I64(last)),
                           NULL);
        i = j;
    }
    return rc;
}

static int sq_rollups_recount(struct lnk_store_bconn *c, int64_t url_id)
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

static int sq_key_insert(struct lnk_store_bconn *c, const struct lnk_api_key *k, const char *hash,
                         int64_t *id)
{
    return query_i64(c, ST_KEY_INSERT,
                     ARGS(A_TEXT(k->name), A_TEXT(hash), A_TEXT(k->prefix), A_BOOL(k->admin),
                          A_ID(k->user_id), A_I64(k->created_at), A_TEXT(k->scopes),
                          A_ID(k->expires_at)),
                     id);
}

/* AUTOINCREMENT moves past an explicit id by itself. */
static int sq_key_put(struct lnk_store_bconn *c, const struct lnk_api_key *k, const char *hash)
{
    int64_t id = 0;
    int rc = query_i64(c, ST_KEY_PUT,
                       ARGS(A_I64(k->id), A_TEXT(k->name), A_TEXT(hash), A_TEXT(k->prefix),
                            A_BOOL(k->admin), A_ID(k->user_id), A_I64(k->created_at),
                            A_ID(k->revoked_at), A_TEXT(k->scopes), A_ID(k->expires_at)),
                       &id);
    return rc == LNK_ENOTFOUND ? LNK_EEXISTS : rc; /* no row back: the hash is another's */
}

static int sq_key_revoke(struct lnk_store_bconn *c, int64_t id, int64_t now)
{
    return exec_stmt(c, ST_KEY_REVOKE, ARGS(A_I64(id), A_I64(now)), NULL);
}

static int sq_domain_insert(struct lnk_store_bconn *c, const struct lnk_domain *d,
                            struct lnk_arena *a, struct lnk_domain *out)
{
    int rc = load_one(c, ST_DOMAIN_INSERT,
                      ARGS(A_TEXT(d->host), A_TEXT(d->root_url), A_TEXT(d->not_found_url),
                           A_TEXT(d->fallback_url), A_I64(d->created_at)),
                      read_domain, a, out);
    return rc == LNK_ENOTFOUND ? LNK_EEXISTS : rc; /* no row back: the host is listed */
}

static int sq_domain_put(struct lnk_store_bconn *c, const struct lnk_domain *d)
{
    int64_t id = 0;
    int rc =
        query_i64(c, ST_DOMAIN_PUT,
                  ARGS(A_I64(d->id), A_TEXT(d->host), A_TEXT(d->root_url), A_TEXT(d->not_found_url),
                       A_TEXT(d->fallback_url), A_I64(d->created_at)),
                  &id);
    return rc == LNK_ENOTFOUND ? LNK_EEXISTS : rc; /* no row back: the host is another's */
}

static int sq_domain_set(struct lnk_store_bconn *c, const struct lnk_domain *d)
{
    return exec_stmt(
        c, ST_DOMAIN_SET,
        ARGS(A_I64(d->id), A_TEXT(d->root_url), A_TEXT(d->not_found_url), A_TEXT(d->fallback_url)),
        NULL);
}

static int sq_domain_delete(struct lnk_store_bconn *c, int64_t id, bool *in_use)
{
    int64_t n = 0;
    int rc = query_i64(c, ST_DOMAIN_IN_USE, ARGS(A_I64(id)), &n);
    *in_use = rc == LNK_OK && n > 0;
    if (rc == LNK_OK && !*in_use)
        rc = exec_stmt(c, ST_DOMAIN_DELETE, ARGS(A_I64(id)), NULL);
    return rc;
}

static int sq_retired_add(struct lnk_store_bconn *c, const char *code)
{
    return exec_stmt(c, ST_RETIRED_ADD, ARGS(A_TEXT(code)), NULL);
}

static int sq_id_tops(struct lnk_store_bconn *c, int64_t tops[LNK_ID__N])
{
    static const char *const tables[LNK_ID__N] = {"users", "urls", "events", "api_keys"};
    sqlite3_stmt *st = NULL;
    int src = SQLITE_DONE;
    int rc = prepare_bound(c, ST_ID_TOPS, NO_ARGS, &st);
    for (size_t t = 0; t < LNK_ID__N; t++)
        tops[t] = 0;
    while (rc == LNK_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (size_t t = 0; name && t < LNK_ID__N; t++)
            if (strcmp(name, tables[t]) == 0)
                tops[t] = sqlite3_column_int64(st, 1);
    }
    if (rc == LNK_OK)
        rc = noted(c, lnk_sq_map_rc(src));
    release_stmt(st);
    return rc;
}

/* In the writer's transaction, which holds the database's write lock: no
 * other process can reserve meanwhile, and a rollback returns the block
 * (the rules then forget it too). */
static int sq_seq_reserve(struct lnk_store_bconn *c, int64_t n, int64_t *first)
{
    int rc = query_i64(c, ST_SEQ_RESERVE, ARGS(A_I64(n)), first);
    if (rc == LNK_ENOTFOUND || (rc == LNK_OK && *first < 0))
        rc = LNK_EBACKEND; /* meta row missing or corrupt */
    if (rc == LNK_OK && c->b)
        c->b->reserve_changes++; /* the meta row, as PostgreSQL's nextval changes none */
    return rc;
}

/* ---- transactions -------------------------------------------------------------- */

int lnk_sq_begin(struct lnk_store_backend *b)
{
    return b->wr ? exec_stmt(b->wr, ST_BEGIN, NO_ARGS, NULL) : LNK_EUNAVAIL;
}

void lnk_sq_rollback(struct lnk_store_backend *b)
{
    if (b->wr && !sqlite3_get_autocommit(b->wr->db))
        exec_stmt(b->wr, ST_ROLLBACK, NO_ARGS, NULL);
}

int lnk_sq_commit(struct lnk_store_backend *b)
{
    int rc = exec_stmt(b->wr, ST_COMMIT, NO_ARGS, NULL);
    if (rc != LNK_OK)
        lnk_sq_rollback(b);
    return rc;
}

int lnk_sq_heartbeat(struct lnk_store_backend *b, int64_t now_ms)
{
    return exec_stmt(b->wr, ST_HEARTBEAT, ARGS(A_I64(now_ms)), NULL);
}

static int sq_savepoint(struct lnk_store_backend *b, enum lnk_savepoint sp, enum lnk_sp_cmd cmd)
{
    static const enum stmt_id ids[2][3] = {
        [LNK_SP_OP] = {ST_SAVEPOINT_OP, ST_RELEASE_OP, ST_ROLLBACK_TO_OP},
        [LNK_SP_ROW] = {ST_SAVEPOINT_ROW, ST_RELEASE_ROW, ST_ROLLBACK_TO_ROW},
    };
    return exec_stmt(b->wr, ids[sp][cmd], NO_ARGS, NULL);
}

/* Only I/O-class failures end an SQLite transaction by themselves. */
static bool sq_tx_lost(struct lnk_store_backend *b)
{
    return !b->wr || sqlite3_get_autocommit(b->wr->db);
}

static uint64_t sq_changes(struct lnk_store_backend *b)
{
    return b->wr ? (uint64_t)sqlite3_total_changes64(b->wr->db) - b->reserve_changes : 0;
}

static struct lnk_store_bconn *sq_writer(struct lnk_store_backend *b)
{
    return b->wr;
}

/* ---- connections ------------------------------------------------------------ */

struct lnk_sq_stmts *lnk_sq_stmts_new(void)
{
    return lnk_xcalloc(1, sizeof(struct lnk_sq_stmts));
}

void lnk_sq_close_conn(struct lnk_store_bconn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(c->st->st[i]);
    sqlite3_finalize(c->st->click_chunk);
    lnk_sq_lists_free(c->lists);
    sqlite3_close_v2(c->db);
    free(c->st);
    free(c);
}

const struct lnk_store_ops lnk_store_sqlite_ops = {
    .name = "sqlite",
    .caps = LNK_STORE_CAP_INLINE_READS,
    .open = lnk_sq_open,
    .close = lnk_sq_close,
    .code_key = lnk_sq_code_key,
    .conn_open = lnk_sq_conn_open,
    .conn_close = lnk_sq_close_conn,
    .writer = sq_writer,
    .begin = lnk_sq_begin,
    .commit = lnk_sq_commit,
    .rollback = lnk_sq_rollback,
    .savepoint = sq_savepoint,
    .tx_lost = sq_tx_lost,
    .changes = sq_changes,
    .sync = lnk_sq_sync,
    .check = lnk_sq_check,
    .last_fault = lnk_sq_last_fault,
    .recover = lnk_sq_recover,
    .probe = lnk_sq_probe,
    .describe = lnk_sq_describe,
    .ping = sq_ping,
    .user_get = sq_user_get,
    .user_by_name = sq_user_by_name,
    .user_by_email = sq_user_by_email,
    .url_get = sq_url_get,
    .url_by_code = sq_url_by_code,
    .url_owner = sq_url_owner,
    .url_by_dest = sq_url_by_dest,
    .urls_of_user = sq_urls_of_user,
    .event_get = sq_event_get,
    .click_of = sq_click_of,
    .list = lnk_sq_list,
    .list_count = lnk_sq_list_count,
    .counts = sq_counts,
    .stats = sq_stats,
    .url_clicks = sq_url_clicks,
    .url_days = sq_url_days,
    .key_get = sq_key_get,
    .key_by_hash = sq_key_by_hash,
    .key_list = sq_key_list,
    .keys_active = sq_keys_active,
    .retired_list = sq_retired_list,
    .domain_list = sq_domain_list,
    .domain_get = sq_domain_get,
    .slot_list = sq_slot_list,
    .user_put = sq_user_put,
    .user_update = sq_user_update,
    .user_delete = sq_user_delete,
    .url_put = sq_url_put,
    .url_set = sq_url_set,
    .slot_take = sq_slot_take,
    .slot_used = sq_slot_used,
    .slot_put = sq_slot_put,
    .idem_get = sq_idem_get,
    .idem_put = sq_idem_put,
    .idem_delete = sq_idem_delete,
    .idem_expire = sq_idem_expire,
    .event_put = sq_event_put,
    .import_set = sq_import_set,
    .clicks_insert = sq_clicks_insert,
    .rollups_add = sq_rollups_add,
    .rollups_recount = sq_rollups_recount,
    .key_insert = sq_key_insert,
    .key_put = sq_key_put,
    .key_revoke = sq_key_revoke,
    .retired_add = sq_retired_add,
    .domain_insert = sq_domain_insert,
    .domain_put = sq_domain_put,
    .domain_set = sq_domain_set,
    .domain_delete = sq_domain_delete,
    .seq_reserve = sq_seq_reserve,
    .id_tops = sq_id_tops,
};
