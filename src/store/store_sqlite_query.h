/* SPDX-License-Identifier: MIT */
/* How the SQLite backend's queries reach rows through the indexes that
 * migrations.h makes. Included by store_sqlite.c and migrations.h. */
#ifndef LNK_STORE_SQLITE_QUERY_H
#define LNK_STORE_SQLITE_QUERY_H

/* The columns every read of a row lists, in the order the row readers
 * (lnk_sq_read_*) take them. */
#define LNK_SQ_USER_COLS "id, username, email, created_at"
#define LNK_SQ_URL_COLS                                                                            \
    "id, user_id, short_code, original_url, title, is_active, created_at, updated_at, opts,"       \
    " domain_id"
#define LNK_SQ_EVENT_COLS "id, url_id, user_id, event_type, timestamp, details"

/* How queries reach events through migration 7's indexes: the expression
 * must match theirs for SQLite to use them, "+b" makes it seek bucket by
 * bucket, and ordering by bucket then id is id order straight from the
 * index. Used by store_sqlite.c; their plans are pinned by
 * tests/unit/store/test_store_migrate.c. */
#define LNK_SQLITE_EVENTS_BY_URL                                                                   \
    " FROM events INDEXED BY events_url_id WHERE id >> 16 IN (SELECT +b FROM event_buckets)"
#define LNK_SQLITE_EVENTS_BY_USER                                                                  \
    " FROM events INDEXED BY events_user_id WHERE id >> 16 IN (SELECT +b FROM event_buckets)"
#define LNK_SQLITE_EVENT_ORDER "id >> 16, id"

/* The same for urls through migration 6's index. */
#define LNK_SQLITE_URLS_BY_USER                                                                    \
    " FROM urls INDEXED BY urls_user_id WHERE id >> 12 IN (SELECT +b FROM url_buckets)"
#define LNK_SQLITE_URL_ORDER "id >> 12, id"

#endif
