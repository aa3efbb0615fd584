/* SPDX-License-Identifier: MIT */
/* The store: every read and write of users, urls and events. Handlers build
 * an operation (struct lnk_store_op), submit it, and get it back through its
 * `done` callback on the thread that owns `origin`:
 *   - reads run at once on the caller's connection (done is called before
 *     lnk_store_submit returns) when a worker connection is given;
 *   - writes go to the single writer thread, which runs many operations in one
 *     transaction and one fsync (group commit), then posts each operation's
 *     task to its origin executor. No `done` runs before its write is durable.
 * Backends (store_sqlite.c, later store_pg.c) implement struct lnk_store_ops
 * (store_int.h); only they include their database headers. */
#ifndef LNK_STORE_H
#define LNK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/arena.h"
#include "linkd/exec.h"
#include "linkd/model.h"

struct lnk_store;      /* opaque; thread-safe */
struct lnk_histo;      /* metrics.h */
struct lnk_store_conn; /* opaque; one per worker thread, used by that thread only */

enum lnk_op_kind {
    LNK_OP_PING,          /* read: a trivial query; out.latency_us */
    LNK_OP_USER_LIST,     /* read: in.list -> out.users */
    LNK_OP_USER_GET,      /* read: in.id -> out.users[0] */
    LNK_OP_USER_CREATE,   /* write: in.user -> out.users[0] */
    LNK_OP_USER_UPDATE,   /* write: in.id + in.user (NULL fields unchanged) -> out.users[0] */
    LNK_OP_USER_DELETE,   /* write: in.id -> urls[] removed; cascades to urls and events */
    LNK_OP_USER_IMPORT,   /* write: in.rows (users) upsert; out.imported/out.skipped */
    LNK_OP_URL_LIST,      /* read: in.list -> out.urls */
    LNK_OP_URL_GET,       /* read: in.id -> out.urls[0] */
    LNK_OP_URL_BY_CODE,   /* read: in.code -> out.urls[0] */
    LNK_OP_URL_CREATE,    /* write: url (short_code NULL = generate) -> urls[0]; 'created' event */
    LNK_OP_URL_UPDATE,    /* write: in.id + url_patch -> urls[0]; 'updated' events */
    LNK_OP_URL_DELETE,    /* write: in.id -> urls[0]; soft delete + 'deleted' event (once) */
    LNK_OP_URL_IMPORT,    /* write: in.rows (urls) upsert by id */
    LNK_OP_EVENT_LIST,    /* read: in.list -> out.events */
    LNK_OP_EVENT_CREATE,  /* write: in.event -> out.events[0] */
    LNK_OP_EVENT_IMPORT,  /* write: in.rows (events) upsert by id */
    LNK_OP_CLICKS_APPEND, /* write: in.clicks -> click events (batched by the events writer) */
    LNK_OP_COUNT_ROWS,    /* read: out.counts[3] = users, urls, events */
    LNK_OP_KEY_CREATE,    /* write: key + key_hash -> keys[0]; user keys need their user */
    LNK_OP_KEY_LIST,      /* read: -> keys (revoked ones included) */
    LNK_OP_KEY_REVOKE,    /* write: in.id -> keys[0]; revoking twice is LNK_OK */
    LNK_OP_KEY_AUTH,      /* read: key_hash (NULL: none) -> keys[0] if active;
                             counts[0] = number of active keys */
    LNK_OP_URL_STATS,     /* read: in.id -> urls[0], click_total, last_click_at, days[] */
    LNK_OP_EVENT_GET,     /* read: in.id -> events[0] */
    LNK_OP_STATS,         /* read: totals -> stats; owner_guard != 0: that user's rows only */
    LNK_OP_URL_BULK,      /* write: rows.urls, each applied alone -> rows.results; a row with
                             has_id is upserted as URL_IMPORT does, one without is created as
                             URL_CREATE does (rows.reuse per row) */
    LNK_OP_EVENT_BULK,    /* write: rows.events, each alone -> rows.results; has_id: upsert as
                             EVENT_IMPORT, else created as EVENT_CREATE (timestamp 0 = now) */
};

/* Filters and paging for the list operations. Absent filters match all. */
struct lnk_list_query {
    bool has_user_id;
    int64_t user_id;
    bool has_url_id;
    int64_t url_id;
    int is_active;          /* -1 any, 0 false, 1 true */
    const char *event_type; /* NULL: any */
    bool has_owner_id;      /* urls and events of urls owned by owner_id */
    int64_t owner_id;
    bool parent_must_exist; /* URL_LIST by user_id, EVENT_LIST by url_id: LNK_ENOTFOUND
                               ("user", "url") when that user or url does not exist (or,
                               with has_owner_id, is not the owner's) */
    int64_t page;           /* 1-based; 0 = no paging (every row) */
    int64_t per_page;       /* rows per page when page > 0 */
};

/* Clicks of one url on one UTC day (URL_STATS). */
struct lnk_click_day {
    int64_t day; /* days since 1970-01-01 */
    int64_t clicks;
};

/* Which fields of a url an update sets. */
struct lnk_url_patch {
    bool set_title;
    const char *title; /* NULL = null */
    bool set_is_active;
    bool is_active;
    const char *original_url; /* NULL = unchanged */
};

/* What became of one row of a bulk operation (USER_IMPORT, URL_BULK,
 * EVENT_BULK). rc LNK_OK: written; otherwise the row was undone alone and
 * err_field names the input that caused it, as for the single operation. */
struct lnk_row_result {
    int rc;
    const char *err_field;
    int64_t id;                  /* the row's id once written */
    const char *short_code;      /* URL_BULK: the url's code once written */
    const char *prev_short_code; /* URL_BULK upsert of an existing url: its code before */
    bool existed;                /* an existing row was updated (upsert by id) or reused */
};

/* Rows for the *_IMPORT and *_BULK operations (CSV seeds, the bulk routes).
 * For users, has_id=false means "insert, skip on a username/email conflict". */
struct lnk_import_rows {
    size_t n;
    struct lnk_user *users;
    struct lnk_url *urls;
    struct lnk_event *events;
    bool *has_id;                   /* n flags; NULL: id > 0 says it */
    bool *reuse;                    /* URL_BULK: n flags (NULL: none) */
    struct lnk_row_result *results; /* out: n results (USER_IMPORT, *_BULK), op arena */
    size_t *lines;                  /* the CSV line of each row, when parsed from CSV; or NULL */
    /* Rows a lenient CSV parse left out (seed.h), with where and why. */
    size_t n_skips;
    struct lnk_import_skip {
        size_t line;
        const char *column; /* NULL: the whole row */
        const char *reason;
    } * skips;
};

/* Row counts (STATS). */
struct lnk_type_count {
    const char *event_type;
    int64_t n;
};
struct lnk_store_stats {
    int64_t users, urls, active_urls, events;
    size_t n_types;
    struct lnk_type_count *types; /* by event type, ordered by type */
};

struct lnk_store_op {
    enum lnk_op_kind kind;

    union {
        int64_t id;
        struct lnk_list_query list;
        const char *code; /* URL_BY_CODE */
    } in;
    /* Inputs for writes; strings are borrowed until done runs. */
    struct lnk_user user;           /* USER_CREATE / USER_UPDATE (NULL = unchanged) */
    struct lnk_url url;             /* URL_CREATE: user_id, original_url, title, is_active,
                                       short_code (NULL = generate) */
    bool url_reuse;                 /* URL_CREATE: return the owner's newest url to the same
                                       destination instead (reactivated if inactive) */
    struct lnk_url_patch url_patch; /* URL_UPDATE */
    struct lnk_event event;         /* EVENT_CREATE: user_id 0 = the url's owner */
    struct lnk_import_rows rows;    /* *_IMPORT, *_BULK */
    struct lnk_api_key key;         /* KEY_CREATE: name, prefix, admin, user_id */
    const char *key_hash;           /* KEY_CREATE, KEY_AUTH: hex SHA-256 of the key */
    int64_t owner_guard;            /* URL_UPDATE/DELETE, EVENT_CREATE, EVENT_GET, *_BULK, STATS:
                                       when non-zero, a url (or event) of another user is
                                       LNK_ENOTFOUND (user API keys) */
    const struct lnk_click *clicks; /* CLICKS_APPEND */
    size_t n_clicks;

    /* Outputs, valid in done; memory in `arena`, freed by lnk_store_op_free. */
    int rc;                /* LNK_OK, LNK_ENOTFOUND, LNK_EEXISTS, LNK_EINVAL, LNK_EUNAVAIL... */
    const char *err_field; /* which input caused rc: "user", "url", "username", "email",
                              "short_code"; NULL if none */
    size_t n_rows;         /* rows in users/urls/events below */
    struct lnk_user *users;
    struct lnk_url *urls;
    struct lnk_event *events;
    struct lnk_api_key *keys;
    int64_t imported, skipped;    /* *_IMPORT: added to on success, so a caller may
                                     preset them; meaningless when rc != LNK_OK */
    bool reused;                  /* URL_CREATE with url_reuse: urls[0] existed */
    struct lnk_store_stats stats; /* STATS */
    int64_t counts[3];
    int64_t click_total, last_click_at; /* URL_STATS; last_click_at 0 = never */
    struct lnk_click_day *days;         /* URL_STATS: oldest first */
    size_t n_days;
    int64_t latency_us;
    struct lnk_arena arena;

    /* Completion: `done(op)` is called on origin's thread (inline for reads
     * run on a worker connection). origin NULL: called on the store thread. */
    void (*done)(struct lnk_store_op *op);
    void *udata;
    uint64_t tag; /* the caller's; the store never touches it */
    struct lnk_exec *origin;
    struct lnk_task task; /* used by the store to post completion */
};

/* Store configuration; strings are copied. */
struct lnk_store_config {
    const char *url;      /* "sqlite:///path/file.db", "sqlite://./rel.db" or a plain path */
    int synchronous_full; /* 1: fsync on every commit (default); 0: relaxed */
    unsigned max_batch;   /* operations per group commit, default 1024 */
    unsigned check_ms;    /* how often the writer checks that the path still names the
                             open file, default 1000 */
    unsigned probe_ms;    /* how often a degraded store tries a write, default 500 */
};

/* Why the store refuses writes (docs/durability.md). LNK_STORE_OK: it takes them. */
enum lnk_store_fault {
    LNK_STORE_OK = 0,
    LNK_STORE_FAULT_DISK_FULL,     /* no space (or quota) left for the file or its WAL */
    LNK_STORE_FAULT_READ_ONLY,     /* the file or its filesystem is read-only */
    LNK_STORE_FAULT_IO_ERROR,      /* the disk failed a read, write or fsync */
    LNK_STORE_FAULT_LOCKED,        /* another process held the write lock too long */
    LNK_STORE_FAULT_FILE_REMOVED,  /* the path names no file: the open one was unlinked */
    LNK_STORE_FAULT_FILE_REPLACED, /* the path names a different file than the open one */
    LNK_STORE_FAULT_UNAVAILABLE,   /* the database cannot be opened at its path */
};

/* A snapshot of the store's write health (GET /health). */
struct lnk_store_status {
    enum lnk_store_fault fault;
    int sys_errno;          /* errno behind the fault (ENOSPC, EROFS, EIO...), 0 if unknown */
    int64_t since_ms;       /* wall-clock ms since the epoch when the fault began; 0 if none */
    uint64_t failed_probes; /* write probes that failed since then */
    uint64_t recoveries;    /* faults cleared without a restart since open */
    char rescue_path[512];  /* a copy of the lost file made when it was unlinked or
                               replaced; "" if none */
};

/* Stable lower-case name of a fault ("ok", "disk_full", "read_only", "io_error",
 * "locked", "file_removed", "file_replaced", "unavailable"). Never NULL. */
const char *lnk_store_fault_name(enum lnk_store_fault f);

/* Opens (creating and migrating if needed) the database. LNK_EINVAL for an
 * unknown scheme, LNK_EBACKEND/LNK_EUNAVAIL when it cannot be opened; *err
 * (static or *errbuf) says why. Starts the writer thread. */
int lnk_store_open(const struct lnk_store_config *cfg, struct lnk_store **out, char *errbuf,
                   size_t errcap);
/* Stops the writer after it has completed every submitted operation. NULL ok. */
void lnk_store_close(struct lnk_store *s);
const char *lnk_store_backend_name(const struct lnk_store *s);

/* A read connection for one worker thread. */
int lnk_store_conn_open(struct lnk_store *s, struct lnk_store_conn **out);
void lnk_store_conn_close(struct lnk_store_conn *c);

/* Allocates a zeroed op of that kind with an empty arena and list filters
 * that match everything (in.list.is_active = -1). Never NULL. */
struct lnk_store_op *lnk_store_op_new(enum lnk_op_kind kind);
void lnk_store_op_free(struct lnk_store_op *op); /* NULL ok */

/* Submits op. Reads with conn != NULL run inline; everything else is queued.
 * op->done is always called exactly once. Thread-safe. */
void lnk_store_submit(struct lnk_store *s, struct lnk_store_conn *conn, struct lnk_store_op *op);

/* Submits op and waits for it (CLI, events writer, tests); op->done must be
 * NULL. Returns op->rc. Must not be called from a worker's loop thread nor
 * from a done callback running on the writer (it would wait for itself). */
int lnk_store_run(struct lnk_store *s, struct lnk_store_op *op);

/* True while the store refuses writes: a write transaction failed in a way
 * that makes the store unwritable (full disk, read-only or failing file,
 * lock held elsewhere), or the path no longer names the open file. Write
 * operations then complete at once with LNK_EUNAVAIL, reads still run, and
 * the writer tries a small write transaction every probe_ms; the first that
 * succeeds clears the state. A removed or replaced file is reopened once a
 * complete database file is back at the path. Thread-safe, lock-free. */
bool lnk_store_is_degraded(const struct lnk_store *s);

/* Fills *out with the current write health. Thread-safe. */
void lnk_store_get_status(struct lnk_store *s, struct lnk_store_status *out);

/* What the writer measured, for GET /metrics (docs/monitoring.md). The
 * histograms are the store's own: they live until lnk_store_close and are
 * read with relaxed loads, like every metric. */
struct lnk_store_writer_stats {
    uint64_t queue_depth;              /* operations submitted and not yet taken by the writer */
    uint64_t write_failures;           /* write operations failed for a storage reason: refused
                                          while degraded, or in a batch that could not commit or
                                          sync (each answered LNK_EUNAVAIL or LNK_EBACKEND) */
    uint64_t errors;                   /* calls into the database that failed for a storage reason:
                                          transactions, syncs and recovery probes */
    const struct lnk_histo *commit_ns; /* per batch with writes that committed: begin to
                                          commit, in ns */
    const struct lnk_histo *sync_ns;   /* per sync of the write-ahead log, in ns; no sample
                                          without a syncer (LINKD_SYNCHRONOUS=off) */
    const struct lnk_histo *batch_ops; /* operations per batch the writer took */
};

/* Thread-safe, lock-free. */
void lnk_store_get_writer_stats(struct lnk_store *s, struct lnk_store_writer_stats *out);

/* Asks the writer to check the file and, when degraded, to probe (and
 * reopen) now rather than at its next tick, and waits until it has. For
 * tests and tools; not from a worker loop or a done callback. */
void lnk_store_recheck(struct lnk_store *s);

#endif
