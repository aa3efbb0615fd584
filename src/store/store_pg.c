/* SPDX-License-Identifier: MIT */
/* The PostgreSQL store backend: storage only (store_int.h), over libpq. One
 * write connection driven by store.c's writer thread (group commit: one
 * transaction per batch, COMMIT before any op is answered, with
 * synchronous_commit on under LINKD_SYNCHRONOUS=full), and one connection per reader thread; every
 * statement is prepared once per connection and parameterised. A lost connection is a fault
 * (UNAVAILABLE): writes are refused at once, readers reconnect on their next read, and the writer
 * reconnects in its recover step. With store_pg_notify.c (the invalidation
 * channel), the only file that includes libpq-fe.h. */
#include <libpq-fe.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "linkd/buf.h"
#include "linkd/err.h"
#include "linkd/log.h"
#include "store/store_int.h"
#include "store/store_pg_schema.h"

/* Settings every connection gets; DATABASE_URL's own options come after
 * and win (sslmode, connect_timeout, options=-c statement_timeout=...). */
#define PG_CONNECT_TIMEOUT_S "3"
#define PG_OPTIONS           "-c statement_timeout=10s"
/* LINKD_SYNCHRONOUS decides when COMMIT returns, whatever the server's
 * default: full waits for the WAL flush (a 201 is durable), off does not. */
#define PG_SYNC_FULL "SET synchronous_commit = on"
#define PG_SYNC_OFF  "SET synchronous_commit = off"
/* pg_advisory_lock key of the migrations: "linkd" in ASCII */
#define PG_MIGRATE_LOCK "465107969124"

/* Statements the writer sends before it waits for their results: a batch
 * of creates (one statement each, url_send) in a few round trips. */
#define PIPE_MAX 256

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SP_OP,
    ST_RELEASE_OP,
    ST_ROLLBACK_OP,
    ST_SP_ROW,
    ST_RELEASE_ROW,
    ST_ROLLBACK_ROW,
    ST_PING,
    ST_USER_GET,
    ST_USER_BY_NAME,
    ST_USER_BY_EMAIL,
    ST_USER_INSERT,
    ST_USER_UPSERT,
    ST_USER_SEQ,
    ST_USER_UPDATE,
    ST_USER_DELETE,
    ST_URL_GET,
    ST_URL_BY_CODE,
    ST_URL_OWNER,
    ST_URL_BY_DEST,
    ST_URLS_OF_USER,
    ST_URL_INSERT,
    ST_URL_SEND,
    ST_URL_UPSERT,
    ST_URL_SEQ,
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
    ST_CLICK_OF,
    ST_EVENT_INSERT,
    ST_EVENT_UPSERT,
    ST_EVENT_SEQ,
    ST_COUNTS,
    ST_STATS_TOTALS,
    ST_STATS_TOTALS_OWNER,
    ST_STATS_TYPES,
    ST_STATS_TYPES_OWNER,
    ST_CLICKS_TOTAL,
    ST_CLICKS_DAILY,
    ST_ROLLUP_ADD_DAYS,
    ST_ROLLUP_ADD,
    ST_ROLLUP_CLEAR,
    ST_ROLLUP_CLEAR_DAYS,
    ST_ROLLUP_RECOUNT,
    ST_ROLLUP_RECOUNT_DAYS,
    ST_KEY_INSERT,
    ST_KEY_GET,
    ST_KEY_BY_HASH,
    ST_KEY_LIST,
    ST_KEY_LIST_HASHES,
    ST_KEY_PUT,
    ST_KEY_SEQ,
    ST_KEY_REVOKE,
    ST_KEYS_ACTIVE,
    ST_RETIRED_LIST,
    ST_RETIRED_ADD,
    ST_SEQ_RESERVE,
    ST_ID_TOPS,
    ST_LOCK_KEY,
    ST_HEARTBEAT,
    ST_IMPORT_CLEAR,
    ST_IMPORT_USERS_REFUSED,
    ST_IMPORT_USERS_PRIOR,
    ST_IMPORT_USERS_PUT,
    ST_IMPORT_URLS_REFUSED,
    ST_IMPORT_URLS_PRIOR,
    ST_IMPORT_URLS_PUT,
    ST_IMPORT_EVENTS_REFUSED,
    ST_IMPORT_EVENTS_PRIOR,
    ST_IMPORT_EVENTS_PUT,
    ST_DOMAIN_LIST,
    ST_DOMAIN_GET,
    ST_DOMAIN_INSERT,
    ST_DOMAIN_PUT,
    ST_DOMAIN_SEQ,
    ST_DOMAIN_SET,
    ST_DOMAIN_DELETE,
    ST_DOMAIN_IN_USE,
    ST__COUNT
};

#define USER_COLS "id, username, email, created_at"
#define URL_COLS                                                                                   \
    "id, user_id, short_code, original_url, title, is_active, created_at, updated_at, opts,"       \
    " domain_id"
#define DOMAIN_COLS "id, host, root_url, not_found_url, fallback_url, created_at"
/* the key a retired code is kept under: "<domain id>:<code>", or the code
 * alone on the default domain (migration 3) */
#define RETIRED_KEY(dom, code)                                                                     \
    "CASE WHEN " dom " IS NULL THEN " code " ELSE " dom "::text || ':' || " code " END"
#define EVENT_COLS "id, url_id, user_id, event_type, timestamp, details"
#define KEY_COLS   "id, name, prefix, admin, user_id, created_at, revoked_at, scopes, expires_at"
/* A new url. An unknown owner, or a code in use or retired, inserts nothing
 * (no row back). */
#define URL_INSERT                                                                                 \
    "INSERT INTO urls (user_id, short_code, original_url, title, is_active, created_at,"           \
    " updated_at, opts, domain_id) SELECT $1::bigint, $2, $3, $4, $5::boolean, $6::bigint,"        \
    " $7::bigint, $8, $9::bigint WHERE EXISTS (SELECT 1 FROM users WHERE id = $1::bigint)"         \
    " AND ($9::bigint IS NULL OR EXISTS (SELECT 1 FROM domains WHERE id = $9::bigint))"            \
    " AND NOT EXISTS (SELECT 1 FROM retired_codes WHERE code = " RETIRED_KEY(                      \
        "$9::bigint", "$2") ") ON CONFLICT DO NOTHING RETURNING " URL_COLS

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SP_OP] = "SAVEPOINT op",
    [ST_RELEASE_OP] = "RELEASE op",
    [ST_ROLLBACK_OP] = "ROLLBACK TO op",
    [ST_SP_ROW] = "SAVEPOINT bulk_row",
    [ST_RELEASE_ROW] = "RELEASE bulk_row",
    [ST_ROLLBACK_ROW] = "ROLLBACK TO bulk_row",
    [ST_PING] = "SELECT 1",
    [ST_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = $1::bigint",
    [ST_USER_BY_NAME] = "SELECT id FROM users WHERE username = $1",
    [ST_USER_BY_EMAIL] = "SELECT id FROM users WHERE email = $1",
    /* a taken username or email inserts nothing and fails nothing */
    [ST_USER_INSERT] = "INSERT INTO users (username, email, created_at) VALUES ($1, $2, $3::bigint)"
                       " ON CONFLICT DO NOTHING RETURNING id",
    /* created_at 0 keeps an existing row's */
    [ST_USER_UPSERT] = "INSERT INTO users (id, username, email, created_at)"
                       " VALUES ($1::bigint, $2, $3, $4::bigint)"
                       " ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
                       " email = excluded.email, created_at = CASE WHEN excluded.created_at > 0"
                       " THEN excluded.created_at ELSE users.created_at END",
    /* an explicit id moves the sequence past it, as AUTOINCREMENT does */
    [ST_USER_SEQ] = "SELECT setval('users_id_seq', greatest($1::bigint,"
                    " (SELECT last_value FROM users_id_seq)))",
    [ST_USER_UPDATE] = "UPDATE users SET username = coalesce($2, username),"
                       " email = coalesce($3, email) WHERE id = $1::bigint",
    [ST_USER_DELETE] = "DELETE FROM users WHERE id = $1::bigint",
    [ST_URL_GET] = "SELECT " URL_COLS " FROM urls WHERE id = $1::bigint",
    /* through urls_domain_code (migration 3) */
    [ST_URL_BY_CODE] = "SELECT " URL_COLS " FROM urls WHERE coalesce(domain_id, 0) ="
                       " $2::bigint AND short_code = $1",
    [ST_URL_OWNER] = "SELECT user_id FROM urls WHERE id = $1::bigint",
    [ST_URL_BY_DEST] = "SELECT " URL_COLS " FROM urls WHERE user_id = $1::bigint"
                       " AND md5(original_url) = md5($2) AND original_url = $2"
                       " ORDER BY is_active DESC, id DESC LIMIT 1",
    [ST_URLS_OF_USER] = "SELECT " URL_COLS " FROM urls WHERE user_id = $1::bigint ORDER BY id",
    [ST_URL_INSERT] = URL_INSERT,
    /* the url and its 'created' event ($9: details) in one statement */
    [ST_URL_SEND] = "WITH u AS (" URL_INSERT "), e AS (INSERT INTO events (url_id, user_id,"
                    " event_type, timestamp, details) SELECT id, user_id, 'created', created_at,"
                    " $10 FROM u) SELECT " URL_COLS " FROM u",
    /* no options (NULL) or no domain (NULL) keep an existing url's */
    [ST_URL_UPSERT] = "INSERT INTO urls (" URL_COLS ") VALUES ($1::bigint, $2::bigint, $3, $4, $5,"
                      " $6::boolean, $7::bigint, $8::bigint, $9, $10::bigint)"
                      " ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,"
                      " short_code = excluded.short_code, original_url = excluded.original_url,"
                      " title = excluded.title, is_active = excluded.is_active,"
                      " created_at = excluded.created_at, updated_at = excluded.updated_at,"
                      " opts = coalesce(excluded.opts, urls.opts),"
                      " domain_id = coalesce(excluded.domain_id, urls.domain_id)",
    [ST_URL_SEQ] = "SELECT setval('urls_id_seq', greatest($1::bigint,"
                   " (SELECT last_value FROM urls_id_seq)))",
    /* a row back: a slot taken (the first insert, or a count under $2) */
    [ST_SLOT_TAKE] = "INSERT INTO link_slots (url_id, used) SELECT $1::bigint, 1"
                     " WHERE EXISTS (SELECT 1 FROM urls WHERE id = $1::bigint)"
                     " ON CONFLICT (url_id) DO UPDATE SET used = link_slots.used + 1"
                     " WHERE link_slots.used < $2::bigint RETURNING used",
    [ST_SLOT_LIST] = "SELECT url_id, used FROM link_slots ORDER BY url_id",
    /* a row back: the count set (none: the url is not there) */
    [ST_SLOT_PUT] = "INSERT INTO link_slots (url_id, used) SELECT $1::bigint, $2::bigint"
                    " WHERE EXISTS (SELECT 1 FROM urls WHERE id = $1::bigint)"
                    " ON CONFLICT (url_id) DO UPDATE SET used = excluded.used RETURNING used",
    [ST_SLOT_USED] = "SELECT coalesce((SELECT used FROM link_slots WHERE url_id = $1::bigint), 0)",
    [ST_IDEM_GET] = "SELECT fingerprint, status, body, created_at FROM idempotency"
                    " WHERE caller = $1 AND idem_key = $2",
    [ST_IDEM_PUT] = "INSERT INTO idempotency (caller, idem_key, fingerprint, status, body,"
                    " created_at) VALUES ($1, $2, $3, $4::integer, $5, $6::bigint)"
                    " ON CONFLICT (caller, idem_key) DO UPDATE SET fingerprint ="
                    " excluded.fingerprint, status = excluded.status, body = excluded.body,"
                    " created_at = excluded.created_at",
    [ST_IDEM_DELETE] = "DELETE FROM idempotency WHERE caller = $1 AND idem_key = $2",
    [ST_IDEM_EXPIRE] = "DELETE FROM idempotency WHERE created_at < $1::bigint",
    [ST_URL_SET] = "UPDATE urls SET title = $2, is_active = $3::boolean, original_url = $4,"
                   " updated_at = $5::bigint, opts = $6 WHERE id = $1::bigint",
    [ST_EVENT_GET] = "SELECT " EVENT_COLS " FROM events WHERE id = $1::bigint",
    [ST_CLICK_OF] = "SELECT url_id, timestamp FROM events WHERE id = $1::bigint"
                    " AND event_type = 'click'",
    [ST_EVENT_INSERT] = "INSERT INTO events (url_id, user_id, event_type, timestamp, details)"
                        " VALUES ($1::bigint, $2::bigint, $3, $4::bigint, $5) RETURNING id",
    [ST_EVENT_UPSERT] = "INSERT INTO events (" EVENT_COLS ") VALUES ($1::bigint, $2::bigint,"
                        " $3::bigint, $4, $5::bigint, $6) ON CONFLICT (id) DO UPDATE SET"
                        " url_id = excluded.url_id, user_id = excluded.user_id,"
                        " event_type = excluded.event_type, timestamp = excluded.timestamp,"
                        " details = excluded.details",
    [ST_EVENT_SEQ] = "SELECT setval('events_id_seq', greatest($1::bigint,"
                     " (SELECT last_value FROM events_id_seq)))",
    [ST_COUNTS] = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM urls),"
                  " (SELECT count(*) FROM events), (SELECT count(*) FROM api_keys),"
                  " (SELECT count(*) FROM retired_codes),"
                  " (SELECT coalesce(sum(clicks), 0) FROM link_clicks),"
                  " (SELECT count(*) FROM domains), (SELECT count(*) FROM link_slots),"
                  " (SELECT coalesce(sum(used), 0) FROM link_slots)",
    /* clicks from the rollups, the other types through their partial index */
    [ST_STATS_TOTALS] = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM urls),"
                        " (SELECT count(*) FROM urls WHERE is_active)",
    [ST_STATS_TOTALS_OWNER] = "SELECT (SELECT count(*) FROM users WHERE id = $1::bigint),"
                              " (SELECT count(*) FROM urls WHERE user_id = $1::bigint),"
                              " (SELECT count(*) FROM urls WHERE user_id = $1::bigint"
                              " AND is_active)",
    [ST_STATS_TYPES] = "SELECT event_type, count(*) FROM events WHERE event_type <> 'click'"
                       " GROUP BY event_type UNION ALL"
                       " SELECT 'click', coalesce(sum(clicks), 0) FROM link_clicks ORDER BY 1",
    [ST_STATS_TYPES_OWNER] =
        "SELECT event_type, count(*) FROM events WHERE event_type <> 'click' AND url_id IN"
        " (SELECT id FROM urls WHERE user_id = $1::bigint) GROUP BY event_type UNION ALL"
        " SELECT 'click', coalesce(sum(clicks), 0) FROM link_clicks WHERE url_id IN"
        " (SELECT id FROM urls WHERE user_id = $1::bigint) ORDER BY 1",
    [ST_CLICKS_TOTAL] = "SELECT clicks, last_click_at FROM link_clicks WHERE url_id = $1::bigint",
    [ST_CLICKS_DAILY] = "SELECT day, clicks FROM link_clicks_daily WHERE url_id = $1::bigint"
                        " ORDER BY day",
    /* one statement per batch for each rollup; rows are in url order, so
     * writers of several nodes lock them in the same order */
    [ST_ROLLUP_ADD_DAYS] = "INSERT INTO link_clicks_daily (url_id, day, clicks)"
                           " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])"
                           " ON CONFLICT (url_id, day) DO UPDATE SET"
                           " clicks = link_clicks_daily.clicks + excluded.clicks",
    [ST_ROLLUP_ADD] = "INSERT INTO link_clicks (url_id, clicks, last_click_at)"
                      " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])"
                      " ON CONFLICT (url_id) DO UPDATE SET"
                      " clicks = link_clicks.clicks + excluded.clicks,"
                      " last_click_at = greatest(link_clicks.last_click_at,"
                      " excluded.last_click_at)",
    [ST_ROLLUP_CLEAR] = "DELETE FROM link_clicks WHERE url_id = $1::bigint",
    [ST_ROLLUP_CLEAR_DAYS] = "DELETE FROM link_clicks_daily WHERE url_id = $1::bigint",
    [ST_ROLLUP_RECOUNT] = "INSERT INTO link_clicks (url_id, clicks, last_click_at)"
                          " SELECT url_id, count(*), max(timestamp) FROM events"
                          " WHERE url_id = $1::bigint AND event_type = 'click' GROUP BY url_id",
    [ST_ROLLUP_RECOUNT_DAYS] = "INSERT INTO link_clicks_daily (url_id, day, clicks)"
                               " SELECT url_id, timestamp / 86400, count(*) FROM events"
                               " WHERE url_id = $1::bigint AND event_type = 'click'"
                               " GROUP BY url_id, timestamp / 86400",
    [ST_KEY_INSERT] = "INSERT INTO api_keys (name, key_hash, prefix, admin, user_id, created_at,"
                      " scopes, expires_at) VALUES ($1, $2, $3, $4::boolean, $5::bigint,"
                      " $6::bigint, $7, $8::bigint) RETURNING id",
    [ST_KEY_GET] = "SELECT " KEY_COLS " FROM api_keys WHERE id = $1::bigint",
    [ST_KEY_BY_HASH] = "SELECT " KEY_COLS " FROM api_keys WHERE key_hash = $1"
                       " AND revoked_at IS NULL",
    [ST_KEY_LIST] = "SELECT " KEY_COLS " FROM api_keys ORDER BY id",
    [ST_KEY_LIST_HASHES] = "SELECT " KEY_COLS ", key_hash FROM api_keys ORDER BY id",
    /* a hash that another key holds writes nothing (no row back) */
    [ST_KEY_PUT] = "INSERT INTO api_keys (id, name, key_hash, prefix, admin, user_id, created_at,"
                   " revoked_at, scopes, expires_at) SELECT $1::bigint, $2, $3, $4, $5::boolean,"
                   " $6::bigint, $7::bigint, $8::bigint, $9, $10::bigint WHERE NOT EXISTS"
                   " (SELECT 1 FROM api_keys WHERE key_hash = $3 AND id <> $1::bigint)"
                   " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                   " key_hash = excluded.key_hash, prefix = excluded.prefix,"
                   " admin = excluded.admin, user_id = excluded.user_id,"
                   " created_at = excluded.created_at, revoked_at = excluded.revoked_at,"
                   " scopes = excluded.scopes, expires_at = excluded.expires_at"
                   " RETURNING id",
    [ST_KEY_SEQ] = "SELECT setval('api_keys_id_seq', greatest($1::bigint,"
                   " (SELECT last_value FROM api_keys_id_seq)))",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = $2::bigint"
                      " WHERE id = $1::bigint AND revoked_at IS NULL",
    [ST_KEYS_ACTIVE] = "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL",
    [ST_RETIRED_LIST] = "SELECT code FROM retired_codes WHERE code > $1 ORDER BY code"
                        " LIMIT $2::bigint",
    [ST_RETIRED_ADD] = "INSERT INTO retired_codes (code) VALUES ($1) ON CONFLICT DO NOTHING",
    /* nextval: atomic across nodes, never rolled back */
    [ST_SEQ_RESERVE] = "SELECT nextval('code_seq')",
    [ST_ID_TOPS] = "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END"
                   " FROM users_id_seq), (SELECT CASE WHEN is_called THEN last_value"
                   " ELSE last_value - 1 END FROM urls_id_seq), (SELECT CASE WHEN is_called"
                   " THEN last_value ELSE last_value - 1 END FROM events_id_seq),"
                   " (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END"
                   " FROM api_keys_id_seq)",
    [ST_LOCK_KEY] = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
    [ST_HEARTBEAT] = "INSERT INTO meta (key, value) VALUES ('heartbeat', convert_to($1, 'UTF8'))"
                     " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [ST_DOMAIN_LIST] = "SELECT " DOMAIN_COLS " FROM domains ORDER BY id",
    [ST_DOMAIN_GET] = "SELECT " DOMAIN_COLS " FROM domains WHERE id = $1::bigint",
    /* a listed host inserts nothing (no row back) */
    [ST_DOMAIN_INSERT] = "INSERT INTO domains (host, root_url, not_found_url, fallback_url,"
                         " created_at) VALUES ($1, $2, $3, $4, $5::bigint) ON CONFLICT DO NOTHING"
                         " RETURNING " DOMAIN_COLS,
    /* a host that another domain holds writes nothing (no row back) */
    [ST_DOMAIN_PUT] = "INSERT INTO domains (" DOMAIN_COLS ") SELECT $1::bigint, $2, $3, $4, $5,"
                      " $6::bigint WHERE NOT EXISTS (SELECT 1 FROM domains WHERE host = $2"
                      " AND id <> $1::bigint) ON CONFLICT (id) DO UPDATE SET host = excluded.host,"
                      " root_url = excluded.root_url, not_found_url = excluded.not_found_url,"
                      " fallback_url = excluded.fallback_url, created_at = excluded.created_at"
                      " RETURNING id",
    [ST_DOMAIN_SEQ] = "SELECT setval('domains_id_seq', greatest($1::bigint,"
                      " (SELECT last_value FROM domains_id_seq)))",
    [ST_DOMAIN_SET] = "UPDATE domains SET root_url = $2, not_found_url = $3, fallback_url = $4"
                      " WHERE id = $1::bigint",
    [ST_DOMAIN_DELETE] = "DELETE FROM domains WHERE id = $1::bigint",
    [ST_DOMAIN_IN_USE] = "SELECT count(*) FROM (SELECT 1 FROM urls WHERE domain_id = $1::bigint"
                         " LIMIT 1) t",
    /* an import set, staged by COPY in the writer's temporary tables
     * (IMPORT_STAGING): a row that would be refused (none: no row back),
     * what the rows replace (by their index i), and the upsert of them all */
    [ST_IMPORT_CLEAR] = "TRUNCATE import_users, import_urls, import_events",
    [ST_IMPORT_USERS_REFUSED] =
        "SELECT 1 FROM import_users s WHERE EXISTS (SELECT 1 FROM users u"
        " WHERE u.username = s.username AND u.id <> s.id) OR EXISTS (SELECT 1 FROM users u"
        " WHERE u.email = s.email AND u.id <> s.id) LIMIT 1",
    [ST_IMPORT_USERS_PRIOR] = "SELECT s.i FROM import_users s JOIN users u ON u.id = s.id",
    [ST_IMPORT_USERS_PUT] = "INSERT INTO users (" USER_COLS ") SELECT " USER_COLS
                            " FROM import_users ON CONFLICT (id) DO UPDATE SET"
                            " username = excluded.username, email = excluded.email,"
                            " created_at = excluded.created_at",
    /* a code is held on the url's domain: no domain keeps an existing url's */
    [ST_IMPORT_URLS_REFUSED] =
        "SELECT 1 FROM import_urls s WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = s.user_id)"
        " OR (s.domain_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM domains"
        " WHERE id = s.domain_id)) OR EXISTS (SELECT 1 FROM urls u"
        " WHERE coalesce(u.domain_id, 0) = coalesce(s.domain_id, (SELECT o.domain_id FROM urls o"
        " WHERE o.id = s.id), 0) AND u.short_code = s.short_code AND u.id <> s.id) LIMIT 1",
    [ST_IMPORT_URLS_PRIOR] = "SELECT s.i FROM import_urls s JOIN urls u ON u.id = s.id",
    [ST_IMPORT_URLS_PUT] = "INSERT INTO urls (" URL_COLS ") SELECT " URL_COLS " FROM import_urls"
                           " ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,"
                           " short_code = excluded.short_code,"
                           " original_url = excluded.original_url, title = excluded.title,"
                           " is_active = excluded.is_active, created_at = excluded.created_at,"
                           " updated_at = excluded.updated_at,"
                           " opts = coalesce(excluded.opts, urls.opts),"
                           " domain_id = coalesce(excluded.domain_id, urls.domain_id)",
    [ST_IMPORT_EVENTS_REFUSED] =
        "SELECT 1 FROM import_events s WHERE NOT EXISTS (SELECT 1 FROM urls"
        " WHERE id = s.url_id) OR (s.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users"
        " WHERE id = s.user_id)) LIMIT 1",
    [ST_IMPORT_EVENTS_PRIOR] = "SELECT s.i, e.url_id, e.timestamp FROM import_events s"
                               " JOIN events e ON e.id = s.id AND e.event_type = 'click'",
    [ST_IMPORT_EVENTS_PUT] = "INSERT INTO events (" EVENT_COLS ") SELECT " EVENT_COLS
                             " FROM import_events ON CONFLICT (id) DO UPDATE SET"
                             " url_id = excluded.url_id, user_id = excluded.user_id,"
                             " event_type = excluded.event_type, timestamp = excluded.timestamp,"
                             " details = excluded.details",
};

/* The writer's staging tables for import sets, made once per connection
 * (temporary: its own, gone with it). */
#define IMPORT_STAGING                                                                             \
    "CREATE TEMPORARY TABLE import_users (i integer, id bigint, username text, email text,"        \
    " created_at bigint);"                                                                         \
    "CREATE TEMPORARY TABLE import_urls (i integer, id bigint, user_id bigint, short_code text,"   \
    " original_url text, title text, is_active boolean, created_at bigint, updated_at bigint,"     \
    " opts text, domain_id bigint);"                                                               \
    "CREATE TEMPORARY TABLE import_events (i integer, id bigint, url_id bigint, user_id bigint,"   \
    " event_type text, timestamp bigint, details text);"

/* List filter bits; a list statement is prepared per (table, bit set). */
#define LF_USER     1u
#define LF_URL      2u
#define LF_ACTIVE   4u
#define LF_TYPE     8u
#define LF_OWNER    16u
#define LF_TAG      32u
#define LF_DESC     64u /* descending ids: $1 bounds from above */
#define LF_VARIANTS 128u

struct lnk_store_bconn {
    PGconn *pg;
    struct lnk_store_backend *b;
    bool prepared[ST__COUNT];
    bool list_prepared[2][3][LF_VARIANTS][2]; /* [count?][kind][mask][rare type?] */
    int sp_depth;                             /* savepoints open (writer) */
    /* The writer's connection runs in libpq's pipeline mode (pipelined):
     * statements sent whose results are still to read. */
    bool pipelined;
    unsigned n_pending;
    struct pending {
        bool *prepared;            /* a PREPARE: the flag to clear if it failed */
        bool before_mark;          /* sent before the last changes(): its rows are not counted */
        struct lnk_url_sent *sent; /* url_send's: where its row goes */
    } pending[PIPE_MAX];
};

struct lnk_store_backend {
    char *conninfo; /* DATABASE_URL: never logged, it may hold a password */
    bool sync_full; /* LINKD_SYNCHRONOUS=full */
    struct lnk_store_bconn *wr;
    uint8_t code_key[LNK_CODEGEN_KEY_BYTES];
    uint64_t changes; /* rows the writer changed (refusals change none) */
    /* the writer's latest failure */
    enum lnk_store_fault fail;
    char fail_text[256];
};

/* ---- connections ------------------------------------------------------------ */

static void set_err(char *errbuf, size_t errcap, const char *what, const char *why)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "postgres: %s: %s", what, why);
}

/* libpq's message without its trailing newline, for logs and /health. */
static void pg_message(PGconn *pg, char *out, size_t cap)
{
    snprintf(out, cap, "%s", pg ? PQerrorMessage(pg) : "no connection");
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
}

/* Server notices ("relation ... already exists, skipping") are for a
 * person at psql: libpq would print them on stderr, linkd logs them at
 * debug. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    size_t n = strlen(message);
    while (n && message[n - 1] == '\n')
        n--;
    LNK_LOG(DEBUG, NULL, "store", "postgres_notice", LNK_F_SLICE("message", message, n));
}

static PGconn *connect_pg(const char *conninfo, bool sync_full, char *errbuf, size_t errcap)
{
    const char *keys[] = {
        "connect_timeout", "keepalives", "keepalives_idle", "application_name", "options",
        "dbname",          NULL};
    const char *vals[] = {PG_CONNECT_TIMEOUT_S, "1", "30", "linkd", PG_OPTIONS, conninfo, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    PGresult *res = NULL;
    const char *step = "connect";
    if (pg && PQstatus(pg) == CONNECTION_OK) {
        PQsetNoticeProcessor(pg, on_notice, NULL);
        step = "synchronous_commit";
        res = PQexec(pg, sync_full ? PG_SYNC_FULL : PG_SYNC_OFF);
    }
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        char msg[256];
        pg_message(pg, msg, sizeof(msg));
        set_err(errbuf, errcap, step, msg);
        PQclear(res);
        PQfinish(pg);
        return NULL;
    }
    PQclear(res);
    return pg;
}

static void close_conn(struct lnk_store_bconn *c)
{
    if (!c)
        return;
    PQfinish(c->pg);
    free(c);
}

static int open_conn(struct lnk_store_backend *b, struct lnk_store_bconn **out, char *errbuf,
                     size_t errcap)
{
    PGconn *pg = connect_pg(b->conninfo, b->sync_full, errbuf, errcap);
    *out = NULL;
    if (!pg)
        return LNK_EUNAVAIL;
    struct lnk_store_bconn *c = lnk_xcalloc(1, sizeof(*c));
    c->pg = pg;
    c->b = b;
    *out = c;
    return LNK_OK;
}

static int exec_sql(PGconn *pg, const char *sql, char *errbuf, size_t errcap, const char *what);

/* The writer's connection: its staging tables (IMPORT_STAGING), then
 * statements sent in a pipeline (see defer). */
static bool enter_pipeline(struct lnk_store_bconn *c, char *errbuf, size_t errcap)
{
    if (exec_sql(c->pg, IMPORT_STAGING, errbuf, errcap, "staging tables") != LNK_OK)
        return false;
    if (PQenterPipelineMode(c->pg) != 1) {
        char msg[256];
        pg_message(c->pg, msg, sizeof(msg));
        set_err(errbuf, errcap, "pipeline mode", msg);
        return false;
    }
    c->pipelined = true;
    return true;
}

static bool pg_conn_broken(struct lnk_store_bconn *c)
{
    return PQstatus(c->pg) == CONNECTION_BAD;
}

/* ---- statements ------------------------------------------------------------- */

/* Positional text parameters ($1, $2, ...): NULL is SQL NULL. */
struct params {
    int n;
    const char *v[10];
    char buf[10][24];
};

static void p_i64(struct params *p, int64_t v)
{
    snprintf(p->buf[p->n], sizeof(p->buf[p->n]), "%lld", (long long)v);
    p->v[p->n] = p->buf[p->n];
    p->n++;
}

/* An id: NULL for 0 (none). */
static void p_id(struct params *p, int64_t v)
{
    if (v > 0)
        p_i64(p, v);
    else
        p->v[p->n++] = NULL;
}

static void p_text(struct params *p, const char *s)
{
    p->v[p->n++] = s;
}

static void p_bool(struct params *p, bool b)
{
    p->v[p->n++] = b ? "true" : "false";
}

/* SQLSTATE -> lnk_err; a failure of the connection or the server is
 * LNK_EUNAVAIL (class 08, 53, 57, 58, and a broken connection). */
static int map_result(PGconn *pg, PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN)
        return LNK_OK;
    if (PQstatus(pg) == CONNECTION_BAD)
        return LNK_EUNAVAIL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return LNK_EBACKEND;
    if (strcmp(state, "23505") == 0)
        return LNK_EEXISTS; /* unique_violation */
    if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0)
        return LNK_EINVAL; /* integrity, data */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
        strncmp(state, "57", 2) == 0 || strncmp(state, "58", 2) == 0 ||
        strcmp(state, "25006") == 0 || strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return LNK_EUNAVAIL;
    return LNK_EBACKEND;
}

/* Remembers a failure of the writer's connection for last_fault. */
static void note(struct lnk_store_bconn *c, PGresult *res, int rc)
{
    struct lnk_store_backend *b = c->b;
    if (rc == LNK_OK || rc == LNK_ENOTFOUND || rc == LNK_EEXISTS || !b || c != b->wr)
        return;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (rc != LNK_EUNAVAIL)
        b->fail = LNK_STORE_OK; /* not the storage's */
    else if (state && strcmp(state, "53100") == 0)
        b->fail = LNK_STORE_FAULT_DISK_FULL;
    else if (state && strcmp(state, "25006") == 0)
        b->fail = LNK_STORE_FAULT_READ_ONLY;
    else if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
        b->fail = LNK_STORE_FAULT_LOCKED;
    else
        b->fail = LNK_STORE_FAULT_UNAVAILABLE;
    pg_message(c->pg, b->fail_text, sizeof(b->fail_text));
}

static char *stmt_name(char *buf, size_t cap, enum stmt_id sid)
{
    snprintf(buf, cap, "s%d", (int)sid);
    return buf;
}

/* Adds the rows a write on the writer's connection changed to the count
 * the rules compare (pg_changes); a SELECT's row count is not a change. */
static void count_changes(struct lnk_store_bconn *c, PGresult *res)
{
    if (c->b && c == c->b->wr && strncmp(PQcmdStatus(res), "SELECT", 6) != 0)
        c->b->changes += strtoull(PQcmdTuples(res), NULL, 10);
}

/* ---- the writer's pipeline ---------------------------------------------------
 * A statement whose result the rules do not wait for (BEGIN, a savepoint, an
 * event whose id nobody reads) is sent without waiting (defer); its result
 * is read with the next statement that waits (run), in the same round trip.
 * A deferred statement that fails aborts the transaction: the next waiting
 * statement reports its error, and nothing commits before every result is
 * read. COPY cannot run in a pipeline: the writer leaves it around one. */

/* Sends PREPARE (first use on this connection) and EXECUTE of one statement
 * without reading anything. */
static int send_stmt(struct lnk_store_bconn *c, const char *name, const char *sql, bool *prepared,
                     const struct params *p)
{
    if (!*prepared) {
        if (!PQsendPrepare(c->pg, name, sql, p ? p->n : 0, NULL))
            return LNK_EUNAVAIL;
        *prepared = true; /* cleared again if its result is an error */
        c->pending[c->n_pending++] = (struct pending){prepared, false, NULL};
    }
    if (!PQsendQueryPrepared(c->pg, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0))
        return LNK_EUNAVAIL;
    c->pending[c->n_pending++] = (struct pending){NULL, false, NULL};
    return LNK_OK;
}

static void read_url(PGresult *res, int i, struct lnk_arena *a, struct lnk_url *u);

/* A url_send's result (NULL: it failed) into its lnk_url_sent. Its rows
 * count as changes: the url and its event, which the outer SELECT hides. */
static void take_sent(struct lnk_store_bconn *c, struct lnk_url_sent *s, PGresult *res,
                      bool before_mark)
{
    if (!res) {
        s->state = LNK_URL_SENT_FAILED;
        return;
    }
    bool row = PQntuples(res) == 1;
    if (row)
        read_url(res, 0, s->a, s->out);
    s->state = row ? LNK_URL_SENT_ROW : LNK_URL_SENT_NONE;
    if (row && !before_mark)
        c->b->changes += 2;
}

/* Ends the pipeline's batch with a Sync and reads every pending result: the
 * first failure's code (and note), and the last result in *last when asked
 * for and it succeeded. */
static int collect(struct lnk_store_bconn *c, PGresult **last)
{
    int rc = PQpipelineSync(c->pg) == 1 ? LNK_OK : LNK_EUNAVAIL;
    unsigned n = c->n_pending;
    c->n_pending = 0;
    for (unsigned i = 0; i < n; i++) {
        PGresult *res = PQgetResult(c->pg), *end;
        while ((end = PQgetResult(c->pg)) != NULL)
            PQclear(end);
        bool aborted = res && PQresultStatus(res) == PGRES_PIPELINE_ABORTED;
        int r = aborted ? LNK_EBACKEND : map_result(c->pg, res);
        if (r != LNK_OK && c->pending[i].prepared)
            *c->pending[i].prepared = false;
        if (c->pending[i].sent)
            take_sent(c, c->pending[i].sent, r == LNK_OK ? res : NULL, c->pending[i].before_mark);
        if (r == LNK_OK && !c->pending[i].prepared && !c->pending[i].before_mark)
            count_changes(c, res);
        if (r != LNK_OK && rc == LNK_OK) {
            rc = r; /* the first failure; the aborted ones after it follow from it */
            note(c, res, r);
        }
        if (last && i + 1 == n && r == LNK_OK)
            *last = res;
        else
            PQclear(res);
    }
    PGresult *sync = PQgetResult(c->pg);
    if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
        if (rc == LNK_OK)
            rc = LNK_EUNAVAIL;
        if (last && *last) {
            PQclear(*last);
            *last = NULL;
        }
    }
    PQclear(sync);
    return rc;
}

/* Runs a named statement (prepared on first use) and waits for its result,
 * *out (PQclear it), or NULL on failure. On the writer's pipeline, the
 * results of the statements deferred before it are read in the same trip. */
static int run_named(struct lnk_store_bconn *c, const char *name, const char *sql, bool *prepared,
                     const struct params *p, PGresult **out)
{
    PGresult *res = NULL;
    int rc;
    *out = NULL;
    if (c->pipelined) {
        rc = send_stmt(c, name, sql, prepared, p);
        int crc = collect(c, rc == LNK_OK ? out : NULL);
        return rc != LNK_OK ? rc : crc;
    }
    if (!*prepared) {
        res = PQprepare(c->pg, name, sql, p ? p->n : 0, NULL);
        rc = map_result(c->pg, res);
        *prepared = rc == LNK_OK;
        if (rc != LNK_OK)
            goto out;
        PQclear(res);
    }
    res = PQexecPrepared(c->pg, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0);
    rc = map_result(c->pg, res);
out:
    note(c, res, rc);
    if (rc == LNK_OK) {
        count_changes(c, res);
        *out = res;
    } else {
        PQclear(res);
    }
    return rc;
}

/* Runs prepared statement sid and waits for its result (run_named). */
static int run(struct lnk_store_bconn *c, enum stmt_id sid, const struct params *p, PGresult **out)
{
    char name[16];
    return run_named(c, stmt_name(name, sizeof(name), sid), stmt_sql[sid], &c->prepared[sid], p,
                     out);
}

/* A statement whose rows do not matter, waited for. */
static int exec(struct lnk_store_bconn *c, enum stmt_id sid, const struct params *p)
{
    PGresult *res = NULL;
    int rc = run(c, sid, p, &res);
    PQclear(res);
    return rc;
}

/* Sends sid on the writer's pipeline; its result goes to sent (if any)
 * when the pipeline is read. */
static int send_later(struct lnk_store_bconn *c, enum stmt_id sid, const struct params *p,
                      struct lnk_url_sent *sent)
{
    char name[16];
    int rc = send_stmt(c, stmt_name(name, sizeof(name), sid), stmt_sql[sid], &c->prepared[sid], p);
    if (rc == LNK_OK)
        c->pending[c->n_pending - 1].sent = sent;
    if (rc == LNK_OK && c->n_pending + 2 >= PIPE_MAX)
        rc = collect(c, NULL);
    return rc;
}

/* A statement whose result nobody waits for: on the writer's pipeline it is
 * only sent (its failure comes back with the next statement that waits). */
static int defer(struct lnk_store_bconn *c, enum stmt_id sid, const struct params *p)
{
    return c->pipelined ? send_later(c, sid, p, NULL) : exec(c, sid, p);
}

/* Reads what the pipeline still owes: before COMMIT's answer is trusted,
 * before the transaction's state is asked, before COPY. */
static int settle(struct lnk_store_bconn *c)
{
    return c->pipelined && c->n_pending ? collect(c, NULL) : LNK_OK;
}

static int64_t col_i64(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static bool col_bool(PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col)[0] == 't';
}

/* Column col of row, copied into a (a NULL: borrowed from res). */
static const char *col_str(PGresult *res, int row, int col, struct lnk_arena *a)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    const char *v = PQgetvalue(res, row, col);
    return a ? lnk_arena_strndup(a, v, (size_t)PQgetlength(res, row, col)) : v;
}

static const char *col_str_nonnull(PGresult *res, int row, int col, struct lnk_arena *a)
{
    const char *s = col_str(res, row, col, a);
    return s ? s : "";
}

/* The first two columns of the first row (second NULL: the first only);
 * LNK_ENOTFOUND when there is no row. */
static int query_i64s(struct lnk_store_bconn *c, enum stmt_id sid, const struct params *p,
                      int64_t *first, int64_t *second)
{
    PGresult *res = NULL;
    int rc = run(c, sid, p, &res);
    if (rc == LNK_OK && PQntuples(res) == 0) {
        rc = LNK_ENOTFOUND;
    } else if (rc == LNK_OK) {
        *first = col_i64(res, 0, 0);
        if (second)
            *second = col_i64(res, 0, 1);
    }
    PQclear(res);
    return rc;
}

static int query_i64(struct lnk_store_bconn *c, enum stmt_id sid, const struct params *p,
                     int64_t *out)
{
    return query_i64s(c, sid, p, out, NULL);
}

/* ---- rows ------------------------------------------------------------------ */

static void read_user(PGresult *res, int i, struct lnk_arena *a, struct lnk_user *u)
{
    u->id = col_i64(res, i, 0);
    u->username = col_str_nonnull(res, i, 1, a);
    u->email = col_str_nonnull(res, i, 2, a);
    u->created_at = col_i64(res, i, 3);
}

static void read_url(PGresult *res, int i, struct lnk_arena *a, struct lnk_url *u)
{
    u->id = col_i64(res, i, 0);
    u->user_id = col_i64(res, i, 1);
    u->short_code = col_str_nonnull(res, i, 2, a);
    u->original_url = col_str_nonnull(res, i, 3, a);
    u->title = col_str(res, i, 4, a);
    u->is_active = col_bool(res, i, 5);
    u->created_at = col_i64(res, i, 6);
    u->updated_at = col_i64(res, i, 7);
    u->opts = col_str(res, i, 8, a);
    u->domain_id = col_i64(res, i, 9); /* NULL reads as 0 */
}

static void read_domain(PGresult *res, int i, struct lnk_arena *a, struct lnk_domain *d)
{
    d->id = col_i64(res, i, 0);
    d->host = col_str_nonnull(res, i, 1, a);
    d->root_url = col_str(res, i, 2, a);
    d->not_found_url = col_str(res, i, 3, a);
    d->fallback_url = col_str(res, i, 4, a);
    d->created_at = col_i64(res, i, 5);
}

static void read_event(PGresult *res, int i, struct lnk_arena *a, struct lnk_event *e)
{
    e->id = col_i64(res, i, 0);
    e->url_id = col_i64(res, i, 1);
    e->user_id = col_i64(res, i, 2);
    e->event_type = col_str_nonnull(res, i, 3, a);
    e->timestamp = col_i64(res, i, 4);
    e->details = col_str(res, i, 5, a);
    if (!e->details)
        e->details = "{}";
}

static void read_key(PGresult *res, int i, struct lnk_arena *a, struct lnk_api_key *k)
{
    k->id = col_i64(res, i, 0);
    k->name = col_str_nonnull(res, i, 1, a);
    k->prefix = col_str_nonnull(res, i, 2, a);
    k->admin = col_bool(res, i, 3);
    k->user_id = col_i64(res, i, 4);
    k->created_at = col_i64(res, i, 5);
    k->revoked_at = col_i64(res, i, 6);
    k->scopes = col_str(res, i, 7, a);
    k->expires_at = col_i64(res, i, 8);
}

/* The one row a point read selects; LNK_ENOTFOUND when none. */
#define LOAD_ONE(c, sid, p, reader, a, out)                                                        \
    do {                                                                                           \
        PGresult *res_ = NULL;                                                                     \
        rc = run((c), (sid), (p), &res_);                                                          \
        if (rc == LNK_OK && PQntuples(res_) == 0)                                                  \
            rc = LNK_ENOTFOUND;                                                                    \
        else if (rc == LNK_OK)                                                                     \
            reader(res_, 0, (a), (out));                                                           \
        PQclear(res_);                                                                             \
    } while (0)

/* ---- point reads ------------------------------------------------------------- */

static int pg_ping(struct lnk_store_bconn *c)
{
    int64_t one = 0;
    return query_i64(c, ST_PING, NULL, &one);
}

static int pg_user_get(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                       struct lnk_user *out)
{
    struct params p = {0};
    int rc;
    p_i64(&p, id);
    LOAD_ONE(c, ST_USER_GET, &p, read_user, a, out);
    return rc;
}

static int pg_user_by_name(struct lnk_store_bconn *c, const char *username, int64_t *id)
{
    struct params p = {0};
    p_text(&p, username);
    return query_i64(c, ST_USER_BY_NAME, &p, id);
}

static int pg_user_by_email(struct lnk_store_bconn *c, const char *email, int64_t *id)
{
    struct params p = {0};
    p_text(&p, email);
    return query_i64(c, ST_USER_BY_EMAIL, &p, id);
}

static int pg_url_get(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                      struct lnk_url *out)
{
    struct params p = {0};
    int rc;
    p_i64(&p, id);
    LOAD_ONE(c, ST_URL_GET, &p, read_url, a, out);
    return rc;
}

static int pg_url_by_code(struct lnk_store_bconn *c, int64_t domain_id, const char *code,
                          struct lnk_arena *a, struct lnk_url *out)
{
    struct params p = {0};
    int rc;
    p_text(&p, code);
    p_i64(&p, domain_id);
    LOAD_ONE(c, ST_URL_BY_CODE, &p, read_url, a, out);
    return rc;
}

static int pg_url_owner(struct lnk_store_bconn *c, int64_t id, int64_t *owner)
{
    struct params p = {0};
    p_i64(&p, id);
    return query_i64(c, ST_URL_OWNER, &p, owner);
}

static int pg_url_by_dest(struct lnk_store_bconn *c, int64_t user_id, const char *dest,
                          struct lnk_arena *a, struct lnk_url *out)
{
    struct params p = {0};
    int rc;
    p_i64(&p, user_id);
    p_text(&p, dest);
    LOAD_ONE(c, ST_URL_BY_DEST, &p, read_url, a, out);
    return rc;
}

static int pg_urls_of_user(struct lnk_store_bconn *c, int64_t user_id, struct lnk_arena *a,
                           struct lnk_url **out, size_t *n)
{
    struct params p = {0};
    PGresult *res = NULL;
    p_i64(&p, user_id);
    int rc = run(c, ST_URLS_OF_USER, &p, &res);
    if (rc == LNK_OK) {
        int rows = PQntuples(res);
        *out = lnk_arena_alloc(a, sizeof(**out) * (size_t)(rows ? rows : 1));
        for (int i = 0; i < rows; i++)
            read_url(res, i, a, &(*out)[i]);
        *n = (size_t)rows;
    }
    PQclear(res);
    return rc;
}

static int pg_event_get(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                        struct lnk_event *out)
{
    struct params p = {0};
    int rc;
    p_i64(&p, id);
    LOAD_ONE(c, ST_EVENT_GET, &p, read_event, a, out);
    return rc;
}

static int pg_click_of(struct lnk_store_bconn *c, int64_t id, int64_t *url_id, int64_t *timestamp)
{
    struct params p = {0};
    p_i64(&p, id);
    return query_i64s(c, ST_CLICK_OF, &p, url_id, timestamp);
}

static int pg_counts(struct lnk_store_bconn *c, struct lnk_op_counts *out)
{
    PGresult *res = NULL;
    int rc = run(c, ST_COUNTS, NULL, &res);
    if (rc == LNK_OK && PQntuples(res) == 1) {
        out->users = col_i64(res, 0, 0);
        out->urls = col_i64(res, 0, 1);
        out->events = col_i64(res, 0, 2);
        out->keys = col_i64(res, 0, 3);
        out->retired_codes = col_i64(res, 0, 4);
        out->clicks = col_i64(res, 0, 5);
        out->domains = col_i64(res, 0, 6);
        out->slots = col_i64(res, 0, 7);
        out->slots_used = col_i64(res, 0, 8);
    } else if (rc == LNK_OK) {
        rc = LNK_EBACKEND;
    }
    PQclear(res);
    return rc;
}

static int pg_stats(struct lnk_store_bconn *c, int64_t owner, struct lnk_arena *a,
                    struct lnk_op_stats *t)
{
    struct params p = {0};
    PGresult *res = NULL;
    p_i64(&p, owner);
    int rc = run(c, owner ? ST_STATS_TOTALS_OWNER : ST_STATS_TOTALS, owner ? &p : NULL, &res);
    if (rc == LNK_OK && PQntuples(res) == 1) {
        t->users = col_i64(res, 0, 0);
        t->urls = col_i64(res, 0, 1);
        t->active_urls = col_i64(res, 0, 2);
    } else if (rc == LNK_OK) {
        rc = LNK_EBACKEND;
    }
    PQclear(res);
    res = NULL;
    if (rc == LNK_OK)
        rc = run(c, owner ? ST_STATS_TYPES_OWNER : ST_STATS_TYPES, owner ? &p : NULL, &res);
    if (rc == LNK_OK) {
        int rows = PQntuples(res);
        t->types = lnk_arena_alloc(a, sizeof(*t->types) * (size_t)(rows ? rows : 1));
        for (int i = 0; i < rows; i++) {
            t->types[i].event_type = col_str_nonnull(res, i, 0, a);
            t->types[i].n = col_i64(res, i, 1);
            t->events += t->types[i].n;
        }
        t->n_types = (size_t)rows;
    }
    PQclear(res);
    return rc;
}

static int pg_url_clicks(struct lnk_store_bconn *c, int64_t url_id, int64_t *clicks,
                         int64_t *last_click_at)
{
    struct params p = {0};
    p_i64(&p, url_id);
    return query_i64s(c, ST_CLICKS_TOTAL, &p, clicks, last_click_at);
}

static int pg_url_days(struct lnk_store_bconn *c, int64_t url_id, struct lnk_arena *a,
                       struct lnk_click_day **days, size_t *n)
{
    struct params p = {0};
    PGresult *res = NULL;
    p_i64(&p, url_id);
    int rc = run(c, ST_CLICKS_DAILY, &p, &res);
    if (rc == LNK_OK) {
        int rows = PQntuples(res);
        *days = lnk_arena_alloc(a, sizeof(**days) * (size_t)(rows ? rows : 1));
        for (int i = 0; i < rows; i++)
            (*days)[i] = (struct lnk_click_day){col_i64(res, i, 0), col_i64(res, i, 1)};
        *n = (size_t)rows;
    }
    PQclear(res);
    return rc;
}

static int pg_key_get(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                      struct lnk_api_key *out)
{
    struct params p = {0};
    int rc;
    p_i64(&p, id);
    LOAD_ONE(c, ST_KEY_GET, &p, read_key, a, out);
    return rc;
}

static int pg_key_by_hash(struct lnk_store_bconn *c, const char *hash, struct lnk_arena *a,
                          struct lnk_api_key *out)
{
    struct params p = {0};
    int rc;
    p_text(&p, hash);
    LOAD_ONE(c, ST_KEY_BY_HASH, &p, read_key, a, out);
    return rc;
}

static int pg_key_list(struct lnk_store_bconn *c, struct lnk_arena *a, struct lnk_api_key **out,
                       const char ***hashes, size_t *n)
{
    PGresult *res = NULL;
    int rc = run(c, hashes ? ST_KEY_LIST_HASHES : ST_KEY_LIST, NULL, &res);
    if (rc == LNK_OK) {
        int rows = PQntuples(res);
        *out = lnk_arena_alloc(a, sizeof(**out) * (size_t)(rows ? rows : 1));
        if (hashes)
            *hashes = lnk_arena_alloc(a, sizeof(**hashes) * (size_t)(rows ? rows : 1));
        for (int i = 0; i < rows; i++) {
            read_key(res, i, a, &(*out)[i]);
            if (hashes)
                (*hashes)[i] = col_str_nonnull(res, i, 9, a);
        }
        *n = (size_t)rows;
    }
    PQclear(res);
    return rc;
}

static int pg_keys_active(struct lnk_store_bconn *c, int64_t *n)
{
    return query_i64(c, ST_KEYS_ACTIVE, NULL, n);
}

static int pg_domain_list(struct lnk_store_bconn *c, struct lnk_arena *a, struct lnk_domain **out,
                          size_t *n)
{
    PGresult *res = NULL;
    int rc = run(c, ST_DOMAIN_LIST, NULL, &res);
    if (rc == LNK_OK) {
        int rows = PQntuples(res);
        *out = lnk_arena_alloc(a, sizeof(**out) * (size_t)(rows ? rows : 1));
        for (int i = 0; i < rows; i++)
            read_domain(res, i, a, &(*out)[i]);
        *n = (size_t)rows;
    }
    PQclear(res);
    return rc;
}

static int pg_slot_list(struct lnk_store_bconn *c, struct lnk_arena *a, struct lnk_slot **out,
                        size_t *n)
{
    PGresult *res = NULL;
    int rc = run(c, ST_SLOT_LIST, NULL, &res);
    if (rc == LNK_OK) {
        int rows = PQntuples(res);
        *out = lnk_arena_alloc(a, sizeof(**out) * (size_t)(rows ? rows : 1));
        for (int i = 0; i < rows; i++) {
            (*out)[i].url_id = col_i64(res, i, 0);
            (*out)[i].used = col_i64(res, i, 1);
        }
        *n = (size_t)rows;
    }
    PQclear(res);
    return rc;
}

static int pg_domain_get(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                         struct lnk_domain *out)
{
    struct params p = {0};
    int rc;
    p_i64(&p, id);
    LOAD_ONE(c, ST_DOMAIN_GET, &p, read_domain, a, out);
    return rc;
}

/* Through the primary key of retired_codes, from `after` on. */
static int pg_retired_list(struct lnk_store_bconn *c, const char *after, int64_t limit,
                           lnk_list_row_fn fn, void *ctx)
{
    struct params p = {0};
    PGresult *res = NULL;
    p_text(&p, after);
    if (limit > 0)
        p_i64(&p, limit);
    else
        p.v[p.n++] = NULL; /* LIMIT NULL: every row */
    int rc = run(c, ST_RETIRED_LIST, &p, &res);
    int rows = rc == LNK_OK ? PQntuples(res) : 0;
    for (int i = 0; i < rows; i++) {
        union lnk_list_row row = {.code = col_str_nonnull(res, i, 0, NULL)};
        if (!fn(ctx, row))
            break;
    }
    PQclear(res);
    return rc;
}

/* ---- lists ------------------------------------------------------------------
 * One statement per table and set of filters: WHERE id > $1 and the
 * filters in a fixed order, ORDER BY id, LIMIT and OFFSET (a count: of at
 * most a cap). The indexes lead with the owner or url, then id, so a list
 * by either reads in id order without a sort. */

static unsigned filter_mask(enum lnk_row_kind k, const struct lnk_list_query *q)
{
    static const unsigned allowed[] = {
        [LNK_ROW_USER] = 0,
        [LNK_ROW_URL] = LF_USER | LF_ACTIVE | LF_OWNER | LF_TAG | LF_DESC,
        [LNK_ROW_EVENT] = LF_USER | LF_URL | LF_TYPE | LF_OWNER,
    };
    unsigned mask = 0;
    mask |= q->has_user_id ? LF_USER : 0;
    mask |= q->has_url_id ? LF_URL : 0;
    mask |= q->is_active >= 0 ? LF_ACTIVE : 0;
    mask |= q->event_type ? LF_TYPE : 0;
    mask |= q->has_owner_id ? LF_OWNER : 0;
    mask |= q->tag ? LF_TAG : 0;
    mask |= q->newest_first ? LF_DESC : 0;
    return mask & allowed[k];
}

/* The SQL of a list (count: of its count up to a cap) with its parameters
 * from $1, and their values. */
static void build_list(enum lnk_row_kind k, unsigned mask, const struct lnk_list_query *q,
                       bool count, int64_t after, struct params *p, char *sql, size_t cap)
{
    static const char *const select_sql[] = {
        [LNK_ROW_USER] = "SELECT " USER_COLS " FROM users",
        [LNK_ROW_URL] = "SELECT " URL_COLS " FROM urls",
        [LNK_ROW_EVENT] = "SELECT " EVENT_COLS " FROM events",
    };
    static const char *const table[] = {" FROM users", " FROM urls", " FROM events"};
    bool desc = mask & LF_DESC;
    size_t len = (size_t)snprintf(sql, cap, "%s%s WHERE id %c $1::bigint",
                                  count ? "SELECT count(*) FROM (SELECT 1" : select_sql[k],
                                  count ? table[k] : "", desc ? '<' : '>');
    p_i64(p, desc && after == 0 ? INT64_MAX : after);
    if (mask & LF_USER) {
        len += (size_t)snprintf(sql + len, cap - len, " AND user_id = $%d::bigint", p->n + 1);
        p_i64(p, q->user_id);
    }
    if (mask & LF_URL) {
        len += (size_t)snprintf(sql + len, cap - len, " AND url_id = $%d::bigint", p->n + 1);
        p_i64(p, q->url_id);
    }
    if (mask & LF_ACTIVE) {
        len += (size_t)snprintf(sql + len, cap - len, " AND is_active = $%d::boolean", p->n + 1);
        p_bool(p, q->is_active > 0);
    }
    if (mask & LF_TYPE) {
        /* a rare type spells out the partial index's condition */
        len += (size_t)snprintf(sql + len, cap - len, " AND event_type = $%d%s", p->n + 1,
                                strcmp(q->event_type, "click") ? " AND event_type <> 'click'" : "");
        p_text(p, q->event_type);
    }
    if (mask & LF_OWNER) {
        len += (size_t)snprintf(sql + len, cap - len,
                                k == LNK_ROW_URL
                                    ? " AND user_id = $%d::bigint"
                                    : " AND url_id IN (SELECT id FROM urls WHERE user_id = "
                                      "$%d::bigint)",
                                p->n + 1);
        p_i64(p, q->owner_id);
    }
    if (mask & LF_TAG) {
        len +=
            (size_t)snprintf(sql + len, cap - len,
                             " AND opts IS NOT NULL AND (opts::jsonb -> 'tags') ? $%d", p->n + 1);
        p_text(p, q->tag);
    }
    if (count)
        snprintf(sql + len, cap - len, " LIMIT $%d::bigint) t", p->n + 1);
    else
        snprintf(sql + len, cap - len, " ORDER BY id%s LIMIT $%d::bigint OFFSET $%d::bigint",
                 desc ? " DESC" : "", p->n + 1, p->n + 2);
}

/* Runs a list (or count) statement, preparing it per (kind, mask). The
 * rare-type variant of LF_TYPE has its own name. */
static int run_list(struct lnk_store_bconn *c, enum lnk_row_kind k, const struct lnk_list_query *q,
                    bool count, int64_t after, int64_t limit, int64_t offset, PGresult **out)
{
    unsigned mask = filter_mask(k, q);
    bool rare = (mask & LF_TYPE) && strcmp(q->event_type, "click") != 0;
    struct params p = {0};
    char sql[768], name[32];
    build_list(k, mask, q, count, after, &p, sql, sizeof(sql));
    if (limit > 0)
        p_i64(&p, limit);
    else
        p.v[p.n++] = NULL; /* LIMIT NULL: every row */
    if (!count)
        p_i64(&p, offset);
    snprintf(name, sizeof(name), "%c%d_%u%s", count ? 'c' : 'l', (int)k, mask, rare ? "r" : "");
    return run_named(c, name, sql, &c->list_prepared[count][k][mask][rare], &p, out);
}

static int pg_list(struct lnk_store_bconn *c, enum lnk_row_kind k, const struct lnk_list_query *q,
                   int64_t after_id, int64_t offset, int64_t limit, lnk_list_row_fn fn, void *ctx)
{
    PGresult *res = NULL;
    int rc = run_list(c, k, q, false, after_id, limit, offset, &res);
    int rows = rc == LNK_OK ? PQntuples(res) : 0;
    for (int i = 0; i < rows; i++) {
        struct lnk_user u;
        struct lnk_url l;
        struct lnk_event e;
        union lnk_list_row row;
        if (k == LNK_ROW_USER) {
            read_user(res, i, NULL, &u);
            row.user = &u;
        } else if (k == LNK_ROW_URL) {
            read_url(res, i, NULL, &l);
            row.url = &l;
        } else {
            read_event(res, i, NULL, &e);
            row.event = &e;
        }
        if (!fn(ctx, row))
            break;
    }
    PQclear(res);
    return rc;
}

static int pg_list_count(struct lnk_store_bconn *c, enum lnk_row_kind k,
                         const struct lnk_list_query *q, int64_t cap, int64_t *n)
{
    PGresult *res = NULL;
    int rc = run_list(c, k, q, true, 0, cap, 0, &res);
    *n = rc == LNK_OK && PQntuples(res) == 1 ? col_i64(res, 0, 0) : 0;
    PQclear(res);
    return rc;
}

/* ---- writes --------------------------------------------------------------------- */

/* An explicit id moves its table's sequence past it, as AUTOINCREMENT does. */
static int move_seq(struct lnk_store_bconn *c, enum stmt_id seq, int64_t id)
{
    struct params p = {0};
    p_i64(&p, id);
    return exec(c, seq, &p);
}

static int pg_user_put(struct lnk_store_bconn *c, const struct lnk_user *u, bool by_id, int64_t *id)
{
    struct params p = {0};
    if (!by_id) {
        p_text(&p, u->username);
        p_text(&p, u->email);
        p_i64(&p, u->created_at);
        int rc = query_i64(c, ST_USER_INSERT, &p, id);
        return rc == LNK_ENOTFOUND ? LNK_EEXISTS : rc; /* no row back: taken */
    }
    p_i64(&p, u->id);
    p_text(&p, u->username);
    p_text(&p, u->email);
    p_i64(&p, u->created_at);
    int rc = exec(c, ST_USER_UPSERT, &p);
    if (rc == LNK_OK)
        rc = move_seq(c, ST_USER_SEQ, u->id);
    *id = u->id;
    return rc;
}

static int pg_user_update(struct lnk_store_bconn *c, int64_t id, const char *username,
                          const char *email)
{
    struct params p = {0};
    p_i64(&p, id);
    p_text(&p, username);
    p_text(&p, email);
    return exec(c, ST_USER_UPDATE, &p);
}

/* Foreign keys take the user's urls, their events and rollups, its events
 * and keys; a trigger retires the urls' codes. */
static int pg_user_delete(struct lnk_store_bconn *c, int64_t id)
{
    struct params p = {0};
    p_i64(&p, id);
    return exec(c, ST_USER_DELETE, &p);
}

static int pg_url_put(struct lnk_store_bconn *c, const struct lnk_url *u, struct lnk_arena *a,
                      struct lnk_url *out)
{
    struct params p = {0};
    int rc;
    if (u->id <= 0) {
        p_i64(&p, u->user_id);
        p_text(&p, u->short_code);
        p_text(&p, u->original_url);
        p_text(&p, u->title);
        p_bool(&p, u->is_active);
        p_i64(&p, u->created_at);
        p_i64(&p, u->updated_at);
        p_text(&p, u->opts);
        p_id(&p, u->domain_id);
        LOAD_ONE(c, ST_URL_INSERT, &p, read_url, a, out);
        if (rc == LNK_ENOTFOUND) { /* no row back: which refusal? */
            struct lnk_user owner;
            rc = pg_user_get(c, u->user_id, a, &owner);
            rc = rc == LNK_OK ? LNK_EEXISTS : rc;
        }
        return rc;
    }
    p_i64(&p, u->id);
    p_i64(&p, u->user_id);
    p_text(&p, u->short_code);
    p_text(&p, u->original_url);
    p_text(&p, u->title);
    p_bool(&p, u->is_active);
    p_i64(&p, u->created_at);
    p_i64(&p, u->updated_at);
    p_text(&p, u->opts);
    p_id(&p, u->domain_id);
    rc = exec(c, ST_URL_UPSERT, &p);
    if (rc == LNK_OK)
        rc = move_seq(c, ST_URL_SEQ, u->id);
    if (rc == LNK_OK)
        rc = pg_url_get(c, u->id, a, out);
    return rc;
}

static int pg_url_send(struct lnk_store_bconn *c, const struct lnk_url *u, const char *details,
                       struct lnk_url_sent *s)
{
    struct params p = {0};
    p_i64(&p, u->user_id);
    p_text(&p, u->short_code);
    p_text(&p, u->original_url);
    p_text(&p, u->title);
    p_bool(&p, u->is_active);
    p_i64(&p, u->created_at);
    p_i64(&p, u->updated_at);
    p_text(&p, u->opts);
    p_id(&p, u->domain_id);
    p_text(&p, details);
    s->state = LNK_URL_SENT_WAITING;
    if (c->pipelined)
        return send_later(c, ST_URL_SEND, &p, s);
    PGresult *res = NULL;
    int rc = run(c, ST_URL_SEND, &p, &res);
    take_sent(c, s, rc == LNK_OK ? res : NULL, false);
    PQclear(res);
    return rc;
}

static int pg_url_set(struct lnk_store_bconn *c, const struct lnk_url *u)
{
    struct params p = {0};
    p_i64(&p, u->id);
    p_text(&p, u->title);
    p_bool(&p, u->is_active);
    p_text(&p, u->original_url);
    p_i64(&p, u->updated_at);
    p_text(&p, u->opts);
    return exec(c, ST_URL_SET, &p);
}

static int pg_slot_take(struct lnk_store_bconn *c, int64_t url_id, int64_t max, bool *taken)
{
    struct params p = {0};
    int64_t used = 0;
    p_i64(&p, url_id);
    p_i64(&p, max);
    int rc = query_i64(c, ST_SLOT_TAKE, &p, &used);
    *taken = rc == LNK_OK;
    return rc == LNK_ENOTFOUND ? LNK_OK : rc;
}

static int pg_slot_put(struct lnk_store_bconn *c, const struct lnk_slot *s)
{
    struct params p = {0};
    int64_t used = 0;
    p_i64(&p, s->url_id);
    p_i64(&p, s->used);
    return query_i64(c, ST_SLOT_PUT, &p, &used);
}

static int pg_slot_used(struct lnk_store_bconn *c, int64_t url_id, int64_t *used)
{
    struct params p = {0};
    p_i64(&p, url_id);
    return query_i64(c, ST_SLOT_USED, &p, used);
}

static void read_idem(PGresult *res, int i, struct lnk_arena *a, struct lnk_idem_row *r)
{
    r->fingerprint = col_str_nonnull(res, i, 0, a);
    r->status = (int)col_i64(res, i, 1);
    r->body = col_str_nonnull(res, i, 2, a);
    r->created_at = col_i64(res, i, 3);
}

static int pg_idem_get(struct lnk_store_bconn *c, const char *caller, const char *key,
                       struct lnk_arena *a, struct lnk_idem_row *out)
{
    struct params p = {0};
    int rc;
    p_text(&p, caller);
    p_text(&p, key);
    LOAD_ONE(c, ST_IDEM_GET, &p, read_idem, a, out);
    return rc;
}

static int pg_idem_put(struct lnk_store_bconn *c, const char *caller, const char *key,
                       const struct lnk_idem_row *row)
{
    struct params p = {0};
    p_text(&p, caller);
    p_text(&p, key);
    p_text(&p, row->fingerprint);
    p_i64(&p, row->status);
    p_text(&p, row->body);
    p_i64(&p, row->created_at);
    return exec(c, ST_IDEM_PUT, &p);
}

static int pg_idem_delete(struct lnk_store_bconn *c, const char *caller, const char *key)
{
    struct params p = {0};
    p_text(&p, caller);
    p_text(&p, key);
    return exec(c, ST_IDEM_DELETE, &p);
}

static int pg_idem_expire(struct lnk_store_bconn *c, int64_t before)
{
    struct params p = {0};
    p_i64(&p, before);
    return exec(c, ST_IDEM_EXPIRE, &p);
}

static int pg_event_put(struct lnk_store_bconn *c, const struct lnk_event *e, int64_t *id)
{
    struct params p = {0};
    if (e->id <= 0) {
        p_i64(&p, e->url_id);
        p_id(&p, e->user_id);
        p_text(&p, e->event_type);
        p_i64(&p, e->timestamp);
        p_text(&p, e->details);
        return id ? query_i64(c, ST_EVENT_INSERT, &p, id) : defer(c, ST_EVENT_INSERT, &p);
    }
    p_i64(&p, e->id);
    p_i64(&p, e->url_id);
    p_id(&p, e->user_id);
    p_text(&p, e->event_type);
    p_i64(&p, e->timestamp);
    p_text(&p, e->details);
    int rc = exec(c, ST_EVENT_UPSERT, &p);
    if (rc == LNK_OK)
        rc = move_seq(c, ST_EVENT_SEQ, e->id);
    if (id)
        *id = e->id;
    return rc;
}

/* A field of COPY's text format: backslash, tab, newline and CR escaped
 * (details are JSON text, which holds no raw control character, but may
 * hold backslashes). */
static int copy_text(struct lnk_buf *buf, const char *s)
{
    int rc = LNK_OK;
    for (const char *p = s; *p && rc == LNK_OK; p++) {
        char esc[2] = {'\\', *p};
        if (*p == '\\' || *p == '\t' || *p == '\n' || *p == '\r') {
            esc[1] = *p == '\t' ? 't' : *p == '\n' ? 'n' : *p == '\r' ? 'r' : '\\';
            rc = lnk_buf_append(buf, esc, 2);
        } else {
            rc = lnk_buf_append(buf, p, 1);
        }
    }
    return rc;
}

/* Sends rows (COPY's text format) with `sql`, a COPY ... FROM STDIN, out
 * of the writer's pipeline (COPY cannot run in one) and back into it. */
static int copy_in(struct lnk_store_bconn *c, const char *sql, const struct lnk_buf *rows)
{
    const struct lnk_buf buf = *rows;
    bool pipelined = c->pipelined;
    int rc = settle(c);
    if (rc == LNK_OK && pipelined) {
        if (PQexitPipelineMode(c->pg) != 1)
            rc = LNK_EUNAVAIL;
        else
            c->pipelined = false;
    }
    PGresult *res = NULL;
    if (rc == LNK_OK) {
        res = PQexec(c->pg, sql);
        rc = map_result(c->pg, res);
        if (rc == LNK_OK && PQresultStatus(res) != PGRES_COPY_IN)
            rc = LNK_EBACKEND;
        note(c, res, rc);
        PQclear(res);
    }
    if (rc == LNK_OK &&
        (PQputCopyData(c->pg, buf.ptr, (int)buf.len) != 1 || PQputCopyEnd(c->pg, NULL) != 1))
        rc = LNK_EUNAVAIL;
    if (rc == LNK_OK) {
        res = PQgetResult(c->pg);
        rc = map_result(c->pg, res);
        note(c, res, rc);
        if (rc == LNK_OK)
            count_changes(c, res);
        PQclear(res);
        while ((res = PQgetResult(c->pg)) != NULL)
            PQclear(res);
    }
    if (pipelined && !c->pipelined && PQenterPipelineMode(c->pg) == 1)
        c->pipelined = true;
    else if (pipelined && !c->pipelined && rc == LNK_OK)
        rc = LNK_EUNAVAIL;
    return rc;
}

/* Click rows go in with one COPY per batch, the cheapest way into
 * PostgreSQL. */
static int pg_clicks_insert(struct lnk_store_bconn *c, const struct lnk_click_row *rows, size_t n)
{
    struct lnk_buf buf;
    lnk_buf_init(&buf, SIZE_MAX / 2);
    int rc = LNK_OK;
    for (size_t i = 0; i < n && rc == LNK_OK; i++) {
        rc = lnk_buf_printf(&buf, "%lld\t%lld\tclick\t%lld\t", (long long)rows[i].url_id,
                            (long long)rows[i].user_id, (long long)rows[i].timestamp);
        if (rc == LNK_OK)
            rc = copy_text(&buf, rows[i].details);
        if (rc == LNK_OK)
            rc = lnk_buf_append(&buf, "\n", 1);
    }
    if (rc == LNK_OK)
        rc = copy_in(c, "COPY events (url_id, user_id, event_type, timestamp, details) FROM STDIN",
                     &buf);
    lnk_buf_cleanup(&buf);
    return rc;
}

/* ---- import sets ---------------------------------------------------------------
 * A set goes in with a COPY into the writer's staging table of its kind and
 * a few set-based statements over it, whatever its size (ADR 0020). */

struct import_stmts {
    const char *copy; /* COPY into the staging table */
    enum stmt_id refused, prior, put, seq;
};

static const struct import_stmts import_stmts[] = {
    [LNK_ROW_USER] = {"COPY import_users (i, " USER_COLS ") FROM STDIN", ST_IMPORT_USERS_REFUSED,
                      ST_IMPORT_USERS_PRIOR, ST_IMPORT_USERS_PUT, ST_USER_SEQ},
    [LNK_ROW_URL] = {"COPY import_urls (i, " URL_COLS ") FROM STDIN", ST_IMPORT_URLS_REFUSED,
                     ST_IMPORT_URLS_PRIOR, ST_IMPORT_URLS_PUT, ST_URL_SEQ},
    [LNK_ROW_EVENT] = {"COPY import_events (i, " EVENT_COLS ") FROM STDIN",
                       ST_IMPORT_EVENTS_REFUSED, ST_IMPORT_EVENTS_PRIOR, ST_IMPORT_EVENTS_PUT,
                       ST_EVENT_SEQ},
};

/* A text field of a COPY row and its tab; NULL is \N. */
static int copy_field(struct lnk_buf *buf, const char *s)
{
    int rc = s ? copy_text(buf, s) : lnk_buf_append(buf, "\\N", 2);
    return rc == LNK_OK ? lnk_buf_append(buf, "\t", 1) : rc;
}

/* Row i of set as a line of COPY's text format, its index first; the
 * largest id so far in *top. */
static int stage_row(struct lnk_buf *buf, const struct lnk_import_set *set, size_t i, int64_t *top)
{
    int64_t id;
    int rc;
    if (set->kind == LNK_ROW_USER) {
        const struct lnk_user *u = &set->users[i];
        id = u->id;
        rc = lnk_buf_printf(buf, "%zu\t%lld\t", i, (long long)u->id);
        if (rc == LNK_OK)
            rc = copy_field(buf, u->username);
        if (rc == LNK_OK)
            rc = copy_field(buf, u->email);
        if (rc == LNK_OK)
            rc = lnk_buf_printf(buf, "%lld\n", (long long)u->created_at);
    } else if (set->kind == LNK_ROW_URL) {
        const struct lnk_url *u = &set->urls[i];
        id = u->id;
        rc = lnk_buf_printf(buf, "%zu\t%lld\t%lld\t", i, (long long)u->id, (long long)u->user_id);
        if (rc == LNK_OK)
            rc = copy_field(buf, u->short_code);
        if (rc == LNK_OK)
            rc = copy_field(buf, u->original_url);
        if (rc == LNK_OK)
            rc = copy_field(buf, u->title);
        if (rc == LNK_OK)
            rc = lnk_buf_printf(buf, "%c\t%lld\t%lld\t", u->is_active ? 't' : 'f',
                                (long long)u->created_at, (long long)u->updated_at);
        if (rc == LNK_OK)
            rc = copy_field(buf, u->opts);
        if (rc == LNK_OK && u->domain_id > 0)
            rc = lnk_buf_printf(buf, "%lld\n", (long long)u->domain_id);
        else if (rc == LNK_OK)
            rc = lnk_buf_append(buf, "\\N\n", 3);
    } else {
        const struct lnk_event *e = &set->events[i];
        id = e->id;
        rc = lnk_buf_printf(buf, "%zu\t%lld\t%lld\t", i, (long long)e->id, (long long)e->url_id);
        if (rc == LNK_OK && e->user_id > 0)
            rc = lnk_buf_printf(buf, "%lld\t", (long long)e->user_id);
        else if (rc == LNK_OK)
            rc = copy_field(buf, NULL);
        if (rc == LNK_OK)
            rc = copy_field(buf, e->event_type);
        if (rc == LNK_OK)
            rc = lnk_buf_printf(buf, "%lld\t", (long long)e->timestamp);
        if (rc == LNK_OK)
            rc = copy_text(buf, e->details);
        if (rc == LNK_OK)
            rc = lnk_buf_append(buf, "\n", 1);
    }
    *top = id > *top ? id : *top;
    return rc;
}

/* What the staged rows replace, into prior (by their index). */
static int read_prior(struct lnk_store_bconn *c, const struct import_stmts *st, size_t n,
                      struct lnk_import_prior *prior)
{
    PGresult *res = NULL;
    int rc = run(c, st->prior, NULL, &res);
    for (size_t i = 0; rc == LNK_OK && i < n; i++)
        prior[i] = (struct lnk_import_prior){0};
    for (int r = 0; rc == LNK_OK && r < PQntuples(res); r++) {
        int64_t i = col_i64(res, r, 0);
        if (i < 0 || (size_t)i >= n) {
            rc = LNK_EBACKEND;
            break;
        }
        prior[i].existed = true;
        if (PQnfields(res) == 3) {
            prior[i].was_click = true;
            prior[i].url_id = col_i64(res, r, 1);
            prior[i].timestamp = col_i64(res, r, 2);
        }
    }
    PQclear(res);
    return rc;
}

static int pg_import_set(struct lnk_store_bconn *c, const struct lnk_import_set *set,
                         struct lnk_import_prior *prior)
{
    const struct import_stmts *st = &import_stmts[set->kind];
    struct lnk_buf buf;
    int64_t top = 0, refused = 0;
    int rc = LNK_OK;
    lnk_buf_init(&buf, SIZE_MAX / 2);
    for (size_t i = 0; i < set->n && rc == LNK_OK; i++)
        rc = stage_row(&buf, set, i, &top);
    if (rc == LNK_OK)
        rc = defer(c, ST_IMPORT_CLEAR, NULL);
    if (rc == LNK_OK)
        rc = copy_in(c, st->copy, &buf);
    lnk_buf_cleanup(&buf);
    if (rc == LNK_OK)
        rc = query_i64(c, st->refused, NULL, &refused);
    if (rc == LNK_OK)
        return LNK_EEXISTS; /* a row would be refused */
    if (rc == LNK_ENOTFOUND)
        rc = read_prior(c, st, set->n, prior);
    if (rc == LNK_OK)
        rc = exec(c, st->put, NULL);
    struct params p = {0};
    p_i64(&p, top);
    if (rc == LNK_OK)
        rc = exec(c, st->seq, &p);
    return rc;
}

/* "{a,b,c}": a bigint[] parameter. */
static char *i64_array(struct lnk_buf *b, const int64_t *v, size_t n, size_t stride)
{
    b->len = 0;
    (void)lnk_buf_append(b, "{", 1);
    for (size_t i = 0; i < n; i++)
        (void)lnk_buf_printf(
            b, "%s%lld", i ? "," : "",
            (long long)*(const int64_t *)(const void *)((const char *)v + i * stride));
    (void)lnk_buf_append(b, "}", 1);
    return lnk_buf_steal(b, NULL);
}

static int rollup_stmt(struct lnk_store_bconn *c, enum stmt_id sid, const int64_t *a,
                       const int64_t *b2, const int64_t *c3, size_t n, size_t stride)
{
    struct lnk_buf buf;
    lnk_buf_init(&buf, SIZE_MAX / 2);
    char *x = i64_array(&buf, a, n, stride), *y = i64_array(&buf, b2, n, stride),
         *z = i64_array(&buf, c3, n, stride);
    struct params p = {0};
    p_text(&p, x);
    p_text(&p, y);
    p_text(&p, z);
    int rc = exec(c, sid, &p);
    free(x);
    free(y);
    free(z);
    lnk_buf_cleanup(&buf);
    return rc;
}

/* The per-url-day deltas, then one per url with their sum. */
static int pg_rollups_add(struct lnk_store_bconn *c, const struct lnk_rollup_delta *d, size_t n)
{
    if (n == 0)
        return LNK_OK;
    int rc =
        rollup_stmt(c, ST_ROLLUP_ADD_DAYS, &d[0].url_id, &d[0].day, &d[0].clicks, n, sizeof(*d));
    struct lnk_rollup_delta *per_url = lnk_xcalloc(n, sizeof(*per_url));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m == 0 || per_url[m - 1].url_id != d[i].url_id)
            per_url[m++] = (struct lnk_rollup_delta){d[i].url_id, 0, 0, 0};
        per_url[m - 1].clicks += d[i].clicks;
        if (d[i].last_click_at > per_url[m - 1].last_click_at)
            per_url[m - 1].last_click_at = d[i].last_click_at;
    }
    if (rc == LNK_OK)
        rc = rollup_stmt(c, ST_ROLLUP_ADD, &per_url[0].url_id, &per_url[0].clicks,
                         &per_url[0].last_click_at, m, sizeof(*per_url));
    free(per_url);
    return rc;
}

static int pg_rollups_recount(struct lnk_store_bconn *c, int64_t url_id)
{
    struct params p = {0};
    p_i64(&p, url_id);
    int rc = exec(c, ST_ROLLUP_CLEAR, &p);
    if (rc == LNK_OK)
        rc = exec(c, ST_ROLLUP_CLEAR_DAYS, &p);
    if (rc == LNK_OK)
        rc = exec(c, ST_ROLLUP_RECOUNT, &p);
    if (rc == LNK_OK)
        rc = exec(c, ST_ROLLUP_RECOUNT_DAYS, &p);
    return rc;
}

static int pg_key_insert(struct lnk_store_bconn *c, const struct lnk_api_key *k, const char *hash,
                         int64_t *id)
{
    struct params p = {0};
    p_text(&p, k->name);
    p_text(&p, hash);
    p_text(&p, k->prefix);
    p_bool(&p, k->admin);
    p_id(&p, k->user_id);
    p_i64(&p, k->created_at);
    p_text(&p, k->scopes);
    p_id(&p, k->expires_at);
    return query_i64(c, ST_KEY_INSERT, &p, id);
}

static int pg_key_put(struct lnk_store_bconn *c, const struct lnk_api_key *k, const char *hash)
{
    struct params p = {0};
    int64_t id = 0;
    p_i64(&p, k->id);
    p_text(&p, k->name);
    p_text(&p, hash);
    p_text(&p, k->prefix);
    p_bool(&p, k->admin);
    p_id(&p, k->user_id);
    p_i64(&p, k->created_at);
    p_id(&p, k->revoked_at);
    p_text(&p, k->scopes);
    p_id(&p, k->expires_at);
    int rc = query_i64(c, ST_KEY_PUT, &p, &id);
    if (rc == LNK_ENOTFOUND)
        return LNK_EEXISTS; /* no row back: the hash is another key's */
    if (rc == LNK_OK)
        rc = move_seq(c, ST_KEY_SEQ, k->id);
    return rc;
}

static int pg_domain_insert(struct lnk_store_bconn *c, const struct lnk_domain *d,
                            struct lnk_arena *a, struct lnk_domain *out)
{
    struct params p = {0};
    int rc;
    p_text(&p, d->host);
    p_text(&p, d->root_url);
    p_text(&p, d->not_found_url);
    p_text(&p, d->fallback_url);
    p_i64(&p, d->created_at);
    LOAD_ONE(c, ST_DOMAIN_INSERT, &p, read_domain, a, out);
    return rc == LNK_ENOTFOUND ? LNK_EEXISTS : rc; /* no row back: the host is listed */
}

static int pg_domain_put(struct lnk_store_bconn *c, const struct lnk_domain *d)
{
    struct params p = {0};
    int64_t id = 0;
    p_i64(&p, d->id);
    p_text(&p, d->host);
    p_text(&p, d->root_url);
    p_text(&p, d->not_found_url);
    p_text(&p, d->fallback_url);
    p_i64(&p, d->created_at);
    int rc = query_i64(c, ST_DOMAIN_PUT, &p, &id);
    if (rc == LNK_ENOTFOUND)
        return LNK_EEXISTS; /* no row back: the host is another domain's */
    if (rc == LNK_OK)
        rc = move_seq(c, ST_DOMAIN_SEQ, d->id);
    return rc;
}

static int pg_domain_set(struct lnk_store_bconn *c, const struct lnk_domain *d)
{
    struct params p = {0};
    p_i64(&p, d->id);
    p_text(&p, d->root_url);
    p_text(&p, d->not_found_url);
    p_text(&p, d->fallback_url);
    return exec(c, ST_DOMAIN_SET, &p);
}

static int pg_domain_delete(struct lnk_store_bconn *c, int64_t id, bool *in_use)
{
    struct params p = {0};
    int64_t n = 0;
    p_i64(&p, id);
    int rc = query_i64(c, ST_DOMAIN_IN_USE, &p, &n);
    *in_use = rc == LNK_OK && n > 0;
    if (rc == LNK_OK && !*in_use)
        rc = exec(c, ST_DOMAIN_DELETE, &p);
    return rc;
}

/* Nobody waits for its result: on the writer's pipeline it is only sent. */
static int pg_retired_add(struct lnk_store_bconn *c, const char *code)
{
    struct params p = {0};
    p_text(&p, code);
    return defer(c, ST_RETIRED_ADD, &p);
}

static int pg_key_revoke(struct lnk_store_bconn *c, int64_t id, int64_t now)
{
    struct params p = {0};
    p_i64(&p, id);
    p_i64(&p, now);
    return exec(c, ST_KEY_REVOKE, &p);
}

/* The sequence's increment is the block: one nextval reserves it. */
static int pg_seq_reserve(struct lnk_store_bconn *c, int64_t n, int64_t *first)
{
    if (n != LNK_CODE_BLOCK)
        return LNK_EINVAL;
    return query_i64(c, ST_SEQ_RESERVE, NULL, first);
}

static int pg_id_tops(struct lnk_store_bconn *c, int64_t tops[LNK_ID__N])
{
    PGresult *res = NULL;
    int rc = run(c, ST_ID_TOPS, NULL, &res);
    for (int t = 0; rc == LNK_OK && t < LNK_ID__N; t++)
        tops[t] = col_i64(res, 0, t);
    PQclear(res);
    return rc;
}

static int pg_lock_key(struct lnk_store_bconn *c, const char *key)
{
    struct params p = {0};
    p_text(&p, key);
    return exec(c, ST_LOCK_KEY, &p);
}

/* ---- transactions (writer thread) ------------------------------------------- */

static struct lnk_store_bconn *pg_writer(struct lnk_store_backend *b)
{
    return b->wr;
}

static int pg_begin(struct lnk_store_backend *b)
{
    if (!b->wr)
        return LNK_EUNAVAIL;
    b->wr->sp_depth = 0;
    return defer(b->wr, ST_BEGIN, NULL);
}

static void pg_rollback(struct lnk_store_backend *b)
{
    if (!b->wr)
        return;
    (void)settle(b->wr);
    if (PQtransactionStatus(b->wr->pg) != PQTRANS_IDLE)
        (void)exec(b->wr, ST_ROLLBACK, NULL);
}

/* With LINKD_SYNCHRONOUS=full (synchronous_commit on), COMMIT returns once
 * the WAL is flushed. */
static int pg_commit(struct lnk_store_backend *b)
{
    int rc = exec(b->wr, ST_COMMIT, NULL);
    if (rc != LNK_OK)
        pg_rollback(b);
    return rc;
}

static int pg_flush(struct lnk_store_backend *b)
{
    return b->wr ? settle(b->wr) : LNK_EUNAVAIL;
}

static int pg_savepoint(struct lnk_store_backend *b, enum lnk_savepoint sp, enum lnk_sp_cmd cmd)
{
    static const enum stmt_id ids[2][3] = {
        [LNK_SP_OP] = {ST_SP_OP, ST_RELEASE_OP, ST_ROLLBACK_OP},
        [LNK_SP_ROW] = {ST_SP_ROW, ST_RELEASE_ROW, ST_ROLLBACK_ROW},
    };
    /* taking one back waits: the rules look at the transaction after it */
    int rc =
        cmd == LNK_SP_ROLLBACK ? exec(b->wr, ids[sp][cmd], NULL) : defer(b->wr, ids[sp][cmd], NULL);
    if (rc == LNK_OK && cmd == LNK_SP_BEGIN)
        b->wr->sp_depth++;
    else if (rc == LNK_OK && cmd == LNK_SP_RELEASE)
        b->wr->sp_depth--;
    return rc;
}

/* A failed statement aborts a PostgreSQL transaction, which only a
 * savepoint can take back. */
static bool pg_tx_lost(struct lnk_store_backend *b)
{
    if (!b->wr || settle(b->wr) == LNK_EUNAVAIL || PQstatus(b->wr->pg) == CONNECTION_BAD)
        return true;
    PGTransactionStatusType st = PQtransactionStatus(b->wr->pg);
    return st == PQTRANS_IDLE || st == PQTRANS_UNKNOWN ||
           (st == PQTRANS_INERROR && b->wr->sp_depth == 0);
}

/* The rows changed so far, for the rules to compare before and after an op.
 * Statements of earlier ops may still be in the pipeline: their rows, read
 * during the op, must not look like the op's own, so they are marked here
 * and not counted when read. */
static uint64_t pg_changes(struct lnk_store_backend *b)
{
    if (b->wr)
        for (unsigned i = 0; i < b->wr->n_pending; i++)
            b->wr->pending[i].before_mark = true;
    return b->changes;
}

/* ---- health (writer thread) ------------------------------------------------ */

static enum lnk_store_fault pg_check(struct lnk_store_backend *b)
{
    return !b->wr || PQstatus(b->wr->pg) == CONNECTION_BAD ? LNK_STORE_FAULT_UNAVAILABLE
                                                           : LNK_STORE_OK;
}

static enum lnk_store_fault pg_last_fault(struct lnk_store_backend *b, int *sys_errno)
{
    *sys_errno = 0;
    if (b->wr && PQstatus(b->wr->pg) == CONNECTION_BAD)
        return LNK_STORE_FAULT_UNAVAILABLE;
    return b->fail;
}

/* A lost writer connection is replaced; readers replace theirs on their
 * next read (conn_broken). */
static enum lnk_store_fault pg_recover(struct lnk_store_backend *b, enum lnk_store_fault fault,
                                       void (*close_readers)(void *ctx), void *ctx)
{
    (void)close_readers;
    (void)ctx;
    if (b->wr && PQstatus(b->wr->pg) != CONNECTION_BAD)
        return LNK_STORE_OK;
    char err[256] = "";
    struct lnk_store_bconn *c = NULL;
    if (open_conn(b, &c, err, sizeof(err)) != LNK_OK) {
        snprintf(b->fail_text, sizeof(b->fail_text), "%s", err);
        return fault != LNK_STORE_OK ? fault : LNK_STORE_FAULT_UNAVAILABLE;
    }
    if (!enter_pipeline(c, err, sizeof(err))) {
        snprintf(b->fail_text, sizeof(b->fail_text), "%s", err);
        close_conn(c);
        return fault != LNK_STORE_OK ? fault : LNK_STORE_FAULT_UNAVAILABLE;
    }
    close_conn(b->wr);
    b->wr = c;
    LNK_LOG(INFO, NULL, "store", "reconnected", LNK_F_STR("backend", "postgres"));
    return LNK_STORE_OK;
}

static int pg_probe(struct lnk_store_backend *b)
{
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    struct params p = {0};
    p_text(&p, now);
    int rc = pg_begin(b);
    if (rc == LNK_OK)
        rc = exec(b->wr, ST_HEARTBEAT, &p);
    if (rc == LNK_OK)
        rc = pg_commit(b);
    else
        pg_rollback(b);
    return rc;
}

static void pg_describe(struct lnk_store_backend *b, enum lnk_store_fault f,
                        struct lnk_store_status *st)
{
    const char *what = "";
    switch (f) {
    case LNK_STORE_OK:
        return;
    case LNK_STORE_FAULT_DISK_FULL:
        what = "the PostgreSQL server is out of disk space; writes are refused";
        break;
    case LNK_STORE_FAULT_READ_ONLY:
        what = "the PostgreSQL server is read-only (a standby?); writes are refused";
        break;
    case LNK_STORE_FAULT_LOCKED:
        what = "PostgreSQL aborted writes on a conflict; writes are retried";
        break;
    default:
        what = "the PostgreSQL server cannot be reached; writes are refused until it answers";
        break;
    }
    snprintf(st->reason, sizeof(st->reason), "%s", what);
    if (b->fail_text[0]) {
        snprintf(st->detail_key, sizeof(st->detail_key), "last_error");
        snprintf(st->detail, sizeof(st->detail), "%s", b->fail_text);
    }
}

/* ---- open, migrate, close ------------------------------------------------- */

static int exec_sql(PGconn *pg, const char *sql, char *errbuf, size_t errcap, const char *what)
{
    PGresult *res = PQexec(pg, sql);
    int rc = map_result(pg, res);
    if (rc != LNK_OK) {
        char msg[256];
        pg_message(pg, msg, sizeof(msg));
        set_err(errbuf, errcap, what, msg);
    }
    PQclear(res);
    return rc;
}

static int schema_version(PGconn *pg, int64_t *version, char *errbuf, size_t errcap)
{
    int rc = exec_sql(pg, "CREATE TABLE IF NOT EXISTS linkd_schema (version integer NOT NULL)",
                      errbuf, errcap, "schema");
    PGresult *res = rc == LNK_OK ? PQexec(pg, "SELECT max(version) FROM linkd_schema") : NULL;
    if (rc == LNK_OK)
        rc = map_result(pg, res);
    if (rc == LNK_OK)
        *version = PQntuples(res) == 1 ? col_i64(res, 0, 0) : 0;
    else
        set_err(errbuf, errcap, "schema", "cannot read linkd_schema");
    PQclear(res);
    return rc;
}

/* Moves the schema to the newest version, one migration per transaction,
 * under an advisory lock: nodes that start together migrate once. */
static int migrate(PGconn *pg, char *errbuf, size_t errcap)
{
    int64_t version = 0;
    char sql[96];
    int rc = exec_sql(pg, "SELECT pg_advisory_lock(" PG_MIGRATE_LOCK ")", errbuf, errcap,
                      "migration lock");
    if (rc != LNK_OK)
        return rc;
    rc = schema_version(pg, &version, errbuf, errcap);
    if (rc == LNK_OK && (version < 0 || (uint64_t)version > LNK_PG_N_MIGRATIONS)) {
        set_err(errbuf, errcap, "migrate", "the database schema is newer than this linkd");
        rc = LNK_EINVAL;
    }
    for (int64_t v = version; rc == LNK_OK && (uint64_t)v < LNK_PG_N_MIGRATIONS; v++) {
        rc = exec_sql(pg, "BEGIN", errbuf, errcap, "migrate");
        if (rc == LNK_OK)
            rc = exec_sql(pg, lnk_pg_migrations[v], errbuf, errcap, "migration");
        snprintf(sql, sizeof(sql), "INSERT INTO linkd_schema (version) VALUES (%lld)",
                 (long long)(v + 1));
        if (rc == LNK_OK)
            rc = exec_sql(pg, sql, errbuf, errcap, "migration");
        if (rc == LNK_OK)
            rc = exec_sql(pg, "COMMIT", errbuf, errcap, "migrate");
        else
            PQclear(PQexec(pg, "ROLLBACK"));
    }
    PQclear(PQexec(pg, "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK ")"));
    return rc;
}

static int hex_value(int ch)
{
    return isdigit(ch) ? ch - '0' : tolower(ch) - 'a' + 10;
}

/* meta.code_key: 16 bytes from the kernel's CSPRNG, written once by whichever
 * node gets there first. */
static int load_code_key(PGconn *pg, uint8_t key[LNK_CODEGEN_KEY_BYTES], char *errbuf,
                         size_t errcap)
{
    uint8_t fresh[LNK_CODEGEN_KEY_BYTES];
    char hex[2 * LNK_CODEGEN_KEY_BYTES + 3] = "\\x";
    if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh)) {
        set_err(errbuf, errcap, "code key", "no randomness");
        return LNK_EBACKEND;
    }
    for (size_t i = 0; i < sizeof(fresh); i++)
        snprintf(hex + 2 + 2 * i, 3, "%02x", fresh[i]);
    const char *vals[] = {hex};
    PGresult *res = PQexecParams(pg,
                                 "INSERT INTO meta (key, value) VALUES ('code_key', $1::bytea)"
                                 " ON CONFLICT (key) DO NOTHING",
                                 1, NULL, vals, NULL, NULL, 0);
    int rc = map_result(pg, res);
    PQclear(res);
    res = rc == LNK_OK ? PQexec(pg, "SELECT encode(value, 'hex') FROM meta WHERE key = 'code_key'")
                       : NULL;
    if (rc == LNK_OK)
        rc = map_result(pg, res);
    const char *v = rc == LNK_OK && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : NULL;
    if (!v || strlen(v) != 2 * LNK_CODEGEN_KEY_BYTES) {
        set_err(errbuf, errcap, "code key", "cannot read or create meta.code_key");
        rc = rc == LNK_OK ? LNK_EBACKEND : rc;
    } else {
        for (size_t i = 0; i < LNK_CODEGEN_KEY_BYTES; i++)
            key[i] = (uint8_t)(hex_value(v[2 * i]) << 4 | hex_value(v[2 * i + 1]));
    }
    PQclear(res);
    return rc;
}

static void pg_close(struct lnk_store_backend *b)
{
    if (!b)
        return;
    close_conn(b->wr);
    free(b->conninfo);
    free(b);
}

static int pg_open(const char *target, const struct lnk_store_config *cfg,
                   struct lnk_store_backend **out, char *errbuf, size_t errcap)
{
    struct lnk_store_backend *b = lnk_xcalloc(1, sizeof(*b));
    b->sync_full = cfg->synchronous_full != 0;
    b->conninfo = lnk_xstrndup(target, strlen(target));
    int rc = open_conn(b, &b->wr, errbuf, errcap);
    if (rc == LNK_OK)
        rc = migrate(b->wr->pg, errbuf, errcap);
    if (rc == LNK_OK)
        rc = load_code_key(b->wr->pg, b->code_key, errbuf, errcap);
    if (rc == LNK_OK && !enter_pipeline(b->wr, errbuf, errcap))
        rc = LNK_EUNAVAIL;
    if (rc == LNK_OK) {
        *out = b;
    } else {
        pg_close(b);
        *out = NULL;
    }
    return rc;
}

static void pg_code_key(struct lnk_store_backend *b, uint8_t key[LNK_CODEGEN_KEY_BYTES])
{
    memcpy(key, b->code_key, LNK_CODEGEN_KEY_BYTES);
}

static int pg_conn_open(struct lnk_store_backend *b, struct lnk_store_bconn **out)
{
    return open_conn(b, out, NULL, 0);
}

const struct lnk_store_ops lnk_store_pg_ops = {
    .name = "postgres",
    .caps = 0,
    .open = pg_open,
    .close = pg_close,
    .code_key = pg_code_key,
    .conn_open = pg_conn_open,
    .conn_close = close_conn,
    .conn_broken = pg_conn_broken,
    .writer = pg_writer,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .tx_lost = pg_tx_lost,
    .changes = pg_changes,
    .sync = NULL,
    .check = pg_check,
    .last_fault = pg_last_fault,
    .recover = pg_recover,
    .probe = pg_probe,
    .describe = pg_describe,
    .ping = pg_ping,
    .user_get = pg_user_get,
    .user_by_name = pg_user_by_name,
    .user_by_email = pg_user_by_email,
    .url_get = pg_url_get,
    .url_by_code = pg_url_by_code,
    .url_owner = pg_url_owner,
    .url_by_dest = pg_url_by_dest,
    .urls_of_user = pg_urls_of_user,
    .event_get = pg_event_get,
    .click_of = pg_click_of,
    .list = pg_list,
    .list_count = pg_list_count,
    .counts = pg_counts,
    .stats = pg_stats,
    .url_clicks = pg_url_clicks,
    .url_days = pg_url_days,
    .key_get = pg_key_get,
    .key_by_hash = pg_key_by_hash,
    .key_list = pg_key_list,
    .keys_active = pg_keys_active,
    .retired_list = pg_retired_list,
    .domain_list = pg_domain_list,
    .domain_get = pg_domain_get,
    .slot_list = pg_slot_list,
    .user_put = pg_user_put,
    .user_update = pg_user_update,
    .user_delete = pg_user_delete,
    .url_put = pg_url_put,
    .url_send = pg_url_send,
    .flush = pg_flush,
    .url_set = pg_url_set,
    .slot_take = pg_slot_take,
    .slot_used = pg_slot_used,
    .slot_put = pg_slot_put,
    .idem_get = pg_idem_get,
    .idem_put = pg_idem_put,
    .idem_delete = pg_idem_delete,
    .idem_expire = pg_idem_expire,
    .event_put = pg_event_put,
    .import_set = pg_import_set,
    .clicks_insert = pg_clicks_insert,
    .rollups_add = pg_rollups_add,
    .rollups_recount = pg_rollups_recount,
    .key_insert = pg_key_insert,
    .key_put = pg_key_put,
    .key_revoke = pg_key_revoke,
    .retired_add = pg_retired_add,
    .domain_insert = pg_domain_insert,
    .domain_put = pg_domain_put,
    .domain_set = pg_domain_set,
    .domain_delete = pg_domain_delete,
    .seq_reserve = pg_seq_reserve,
    .id_tops = pg_id_tops,
    .lock_key = pg_lock_key,
};
