/* SPDX-License-Identifier: MIT */
/* The SQLite backend's lists: one statement per table and set of filters,
 * built once per connection and cached, reading through the bucketed
 * indexes of migrations 5 to 7 (store_sqlite_query.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkd/err.h"
#include "store/store_sqlite_int.h"
#include "store/store_sqlite_query.h"

#define USER_COLS  LNK_SQ_USER_COLS
#define URL_COLS   LNK_SQ_URL_COLS
#define EVENT_COLS LNK_SQ_EVENT_COLS

/* List filter bits; a list statement is cached per (table, bit set). */
#define LF_USER     1u
#define LF_URL      2u
#define LF_ACTIVE   4u
#define LF_TYPE     8u
#define LF_OWNER    16u
#define LF_RARE     32u /* an event type other than click: its index is partial */
#define LF_TAG      64u
#define LF_DESC     128u /* descending ids: :after bounds from above */
#define LF_VARIANTS 256u

struct lnk_sq_lists {
    sqlite3_stmt *list[3][LF_VARIANTS];
    sqlite3_stmt *count[3][LF_VARIANTS];
};

struct lnk_sq_lists *lnk_sq_lists_new(void)
{
    return lnk_xcalloc(1, sizeof(struct lnk_sq_lists));
}

void lnk_sq_lists_free(struct lnk_sq_lists *l)
{
    if (!l)
        return;
    for (size_t k = 0; k < 3; k++) {
        for (size_t m = 0; m < LF_VARIANTS; m++) {
            sqlite3_finalize(l->list[k][m]);
            sqlite3_finalize(l->count[k][m]);
        }
    }
    free(l);
}

static int prepare_sql(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    int src = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    return src == SQLITE_OK ? LNK_OK : lnk_sq_map_rc(src);
}

/* Resets a cached statement so that it holds no read snapshot or lock. */
static void release_stmt(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* ---- lists -----------------------------------------------------------------
 * The events of one url or user sit in one run per id bucket of their index
 * (migrations 5, 7): a list by url, user or owner probes the buckets in
 * order, and orders by bucket then id, which is id order that the index
 * delivers without a sort. Other lists read their table in id order. Every
 * list reads from a row id on (id > :after) so that a long list can be read
 * in chunks, each a short snapshot of its own. */

/* The bucketed FROM ... WHERE a list of kind k with these filters reads
 * through, with its ORDER BY; NULL for a plain one. */
static const char *bucketed_source(enum lnk_row_kind k, unsigned mask, const char **order)
{
    if (k == LNK_ROW_EVENT) {
        *order = LNK_SQLITE_EVENT_ORDER;
        if (mask & LF_URL)
            return LNK_SQLITE_EVENTS_BY_URL;
        if (mask & LF_USER)
            return LNK_SQLITE_EVENTS_BY_USER;
        if (mask & LF_OWNER)
            return LNK_SQLITE_EVENTS_BY_URL;
    }
    if (k == LNK_ROW_URL && (mask & (LF_USER | LF_OWNER))) {
        *order = LNK_SQLITE_URL_ORDER;
        return LNK_SQLITE_URLS_BY_USER;
    }
    *order = "id";
    return NULL;
}

/* The SELECT of a list (cols: its columns), or its count up to :cap. */
static int build_list_stmt(struct lnk_store_bconn *c, enum lnk_row_kind k, unsigned mask,
                           bool count, sqlite3_stmt **out)
{
    static const char *const table[] = {
        [LNK_ROW_USER] = " FROM users",
        [LNK_ROW_URL] = " FROM urls",
        [LNK_ROW_EVENT] = " FROM events",
    };
    static const char *const cols[] = {
        [LNK_ROW_USER] = "SELECT " USER_COLS,
        [LNK_ROW_URL] = "SELECT " URL_COLS,
        [LNK_ROW_EVENT] = "SELECT " EVENT_COLS,
    };
    /* the owner filter reads differently per table */
    static const char *const owner_sql[] = {
        [LNK_ROW_USER] = NULL,
        [LNK_ROW_URL] = "user_id = :owner_id",
        [LNK_ROW_EVENT] =
            "url_id IN (SELECT id" LNK_SQLITE_URLS_BY_USER " AND user_id = :owner_id)",
    };
    static const struct {
        unsigned bit;
        const char *sql;
    } filters[] = {
        {LF_USER, "user_id = :user_id"},
        {LF_URL, "url_id = :url_id"},
        {LF_ACTIVE, "is_active = :is_active"},
        {LF_TYPE, "event_type = :event_type"},
        {LF_RARE, "event_type <> 'click'"}, /* the WHERE of events_event_type */
        {LF_TAG, "opts IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(opts, '$.tags')"
                 " WHERE value = :tag)"},
    };
    char sql[768];
    const char *order = NULL;
    const char *bucketed = bucketed_source(k, mask, &order);
    bool desc = mask & LF_DESC;
    size_t len = (size_t)snprintf(sql, sizeof(sql), "%s%s%s%s", count ? "SELECT 1" : cols[k],
                                  bucketed ? bucketed : table[k], bucketed ? " AND" : " WHERE",
                                  desc ? " id < :after" : " id > :after");
    if (desc)
        order = bucketed ? "id >> 12 DESC, id DESC" : "id DESC";
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
        if (mask & filters[i].bit)
            len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND %s", filters[i].sql);
    if ((mask & LF_OWNER) && owner_sql[k])
        len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND %s", owner_sql[k]);
    if (count) {
        char counted[sizeof(sql) + 64];
        snprintf(counted, sizeof(counted), "SELECT count(*) FROM (%s LIMIT :cap)", sql);
        return prepare_sql(c->db, counted, out);
    } else {
        snprintf(sql + len, sizeof(sql) - len, " ORDER BY %s LIMIT :limit OFFSET :offset", order);
    }
    return prepare_sql(c->db, sql, out);
}

static void bind_named_i64(sqlite3_stmt *st, const char *name, int64_t v, int *src)
{
    int idx = sqlite3_bind_parameter_index(st, name);
    if (*src == SQLITE_OK && idx > 0)
        *src = sqlite3_bind_int64(st, idx, v);
}

/* The filters of q that apply to the table, as list filter bits. */
static unsigned filter_mask(enum lnk_row_kind k, const struct lnk_list_query *q)
{
    static const unsigned allowed[] = {
        [LNK_ROW_USER] = 0,
        [LNK_ROW_URL] = LF_USER | LF_ACTIVE | LF_OWNER | LF_TAG | LF_DESC,
        [LNK_ROW_EVENT] = LF_USER | LF_URL | LF_TYPE | LF_OWNER | LF_RARE,
    };
    unsigned mask = 0;
    mask |= q->has_user_id ? LF_USER : 0;
    mask |= q->has_url_id ? LF_URL : 0;
    mask |= q->is_active >= 0 ? LF_ACTIVE : 0;
    mask |= q->event_type ? LF_TYPE : 0;
    mask |= q->event_type && strcmp(q->event_type, "click") != 0 ? LF_RARE : 0;
    mask |= q->has_owner_id ? LF_OWNER : 0;
    mask |= q->tag ? LF_TAG : 0;
    mask |= q->newest_first ? LF_DESC : 0;
    return mask & allowed[k];
}

/* The cached list (or count) statement for q, with q's values bound. */
static int list_stmt(struct lnk_store_bconn *c, enum lnk_row_kind k, const struct lnk_list_query *q,
                     bool count, int64_t after, sqlite3_stmt **out)
{
    unsigned mask = filter_mask(k, q);
    sqlite3_stmt **slot = count ? &c->lists->count[k][mask] : &c->lists->list[k][mask];
    int src = SQLITE_OK;
    *out = NULL;
    if (!*slot) {
        int rc = build_list_stmt(c, k, mask, count, slot);
        if (rc != LNK_OK)
            return rc;
    }
    sqlite3_stmt *st = *slot;
    bind_named_i64(st, ":after", (mask & LF_DESC) && after == 0 ? INT64_MAX : after, &src);
    bind_named_i64(st, ":user_id", q->user_id, &src);
    bind_named_i64(st, ":url_id", q->url_id, &src);
    bind_named_i64(st, ":owner_id", q->owner_id, &src);
    bind_named_i64(st, ":is_active", q->is_active > 0 ? 1 : 0, &src);
    int idx = sqlite3_bind_parameter_index(st, ":event_type");
    if (src == SQLITE_OK && idx > 0)
        src = sqlite3_bind_text(st, idx, q->event_type, -1, SQLITE_STATIC);
    idx = sqlite3_bind_parameter_index(st, ":tag");
    if (src == SQLITE_OK && idx > 0)
        src = sqlite3_bind_text(st, idx, q->tag, -1, SQLITE_STATIC);
    if (src != SQLITE_OK) {
        release_stmt(st);
        return lnk_sq_map_rc(src);
    }
    *out = st;
    return LNK_OK;
}

int lnk_sq_list(struct lnk_store_bconn *c, enum lnk_row_kind k, const struct lnk_list_query *q,
                int64_t after_id, int64_t offset, int64_t limit, lnk_list_row_fn fn, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = list_stmt(c, k, q, false, after_id, &st);
    int src = SQLITE_OK;
    if (rc != LNK_OK)
        return rc;
    bind_named_i64(st, ":limit", limit > 0 ? limit : -1, &src);
    bind_named_i64(st, ":offset", offset, &src);
    rc = lnk_sq_map_rc(src);
    while (rc == LNK_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        struct lnk_user u;
        struct lnk_url l;
        struct lnk_event e;
        union lnk_list_row row;
        if (k == LNK_ROW_USER) {
            lnk_sq_read_user(st, NULL, &u);
            row.user = &u;
        } else if (k == LNK_ROW_URL) {
            lnk_sq_read_url(st, NULL, &l);
            row.url = &l;
        } else {
            lnk_sq_read_event(st, NULL, &e);
            row.event = &e;
        }
        if (!fn(ctx, row))
            break;
    }
    if (rc == LNK_OK && src != SQLITE_ROW)
        rc = lnk_sq_map_rc(src);
    release_stmt(st);
    return rc;
}

int lnk_sq_list_count(struct lnk_store_bconn *c, enum lnk_row_kind k,
                      const struct lnk_list_query *q, int64_t cap, int64_t *n)
{
    sqlite3_stmt *st = NULL;
    int rc = list_stmt(c, k, q, true, 0, &st);
    int src = SQLITE_OK;
    if (rc != LNK_OK)
        return rc;
    bind_named_i64(st, ":cap", cap, &src);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    rc = src == SQLITE_ROW ? LNK_OK : lnk_sq_map_rc(src);
    release_stmt(st);
    return rc;
}
