/* SPDX-License-Identifier: MIT */
/* The store: every read and write of users, urls and events. A caller makes
 * a typed operation (lnk_store_op_new(kind) returns the head of the struct
 * lnk_op_* of that kind's family), fills its inputs, submits it, and gets it
 * back through its `done` callback on the thread that owns `origin`:
 *   - point reads (a row by id, code or key) run at once on the caller's
 *     connection when the backend reads inline (SQLite) and a connection is
 *     given; done is called before lnk_store_submit returns;
 *   - other reads (lists, totals, and every read of a networked backend) go
 *     to the pool of reader threads, each with its own connection, and never
 *     wait behind writes;
 *   - writes go to the single writer thread, which runs many operations in one
 *     transaction and one fsync (group commit), then posts each operation's
 *     task to its origin executor. No `done` runs before its write is durable.
 * The business rules (codes, audit events, update diffs, owner checks,
 * rollups) live once in store_rules.c over the narrow primitives every
 * backend implements (store_int.h); only a backend includes its database's
 * header. */
#ifndef LNK_STORE_H
#define LNK_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/arena.h"
#include "linkd/exec.h"
#include "linkd/model.h"

struct lnk_store;      /* opaque; thread-safe */
struct lnk_histo;      /* metrics.h */
struct lnk_store_conn; /* opaque; one per worker thread, used by that thread only */

/* Each kind names its typed context (struct lnk_op_<family>) and what it
 * reads (in) and writes (out). */
enum lnk_op_kind {
    LNK_OP_PING,           /* ping: read a trivial query -> latency_us */
    LNK_OP_USER_LIST,      /* list: q -> users */
    LNK_OP_USER_GET,       /* user: id -> out */
    LNK_OP_USER_CREATE,    /* user: in -> out */
    LNK_OP_USER_UPDATE,    /* user: id + in (NULL fields unchanged) -> out */
    LNK_OP_USER_DELETE,    /* user: id -> urls (removed with it; events too) */
    LNK_OP_USER_IMPORT,    /* rows: users upserted -> results, imported, skipped */
    LNK_OP_URL_LIST,       /* list: q -> urls */
    LNK_OP_URL_GET,        /* url: id -> out */
    LNK_OP_URL_BY_CODE,    /* url: code -> out */
    LNK_OP_URL_CREATE,     /* url: in (short_code NULL = generate), reuse -> out, reused;
                              a 'created' event */
    LNK_OP_URL_UPDATE,     /* url: id + patch, owner_guard -> out; 'updated' events */
    LNK_OP_URL_DELETE,     /* url: id, owner_guard -> out; soft delete + 'deleted' (once) */
    LNK_OP_URL_IMPORT,     /* rows: urls upserted by id -> imported; a url's domain_id 0
                              keeps an existing url's domain (a new one: the default) */
    LNK_OP_EVENT_LIST,     /* list: q -> events */
    LNK_OP_EVENT_GET,      /* event: id, owner_guard -> out */
    LNK_OP_EVENT_CREATE,   /* event: in (user_id 0 = the url's owner, timestamp 0 = now),
                              owner_guard -> out */
    LNK_OP_EVENT_IMPORT,   /* rows: events upserted by id -> imported */
    LNK_OP_URL_BULK,       /* rows: urls, each alone -> results; has_id: upsert as URL_IMPORT,
                              else created as URL_CREATE (reuse per row); owner_guard */
    LNK_OP_EVENT_BULK,     /* rows: events, each alone -> results; has_id: upsert as
                              EVENT_IMPORT, else created as EVENT_CREATE; owner_guard */
    LNK_OP_CLICKS_APPEND,  /* clicks: clicks -> written (clicks of vanished urls are not) */
    LNK_OP_COUNT_ROWS,     /* counts: -> users, urls, events, keys, retired_codes, clicks,
                              domains, slots, slots_used */
    LNK_OP_STATS,          /* stats: owner_guard (0: every row) -> totals and types */
    LNK_OP_URL_STATS,      /* url_stats: id -> url, clicks, last_click_at, days */
    LNK_OP_KEY_CREATE,     /* key: in + key_hash -> out; a user key needs its user */
    LNK_OP_KEY_LIST,       /* key: with_hashes -> keys (revoked ones included), key_hashes */
    LNK_OP_KEY_REVOKE,     /* key: id -> out; revoking twice is LNK_OK */
    LNK_OP_KEY_AUTH,       /* key: key_hash (NULL: none) -> out if active (found),
                              n_active = number of active keys */
    LNK_OP_KEY_IMPORT,     /* rows: keys with their key_hashes, upserted by id (every field
                              kept, revoked_at included) -> imported */
    LNK_OP_RETIRED_LIST,   /* list: the retired codes (of deleted or re-coded urls), in code
                              order; q is not read -> codes */
    LNK_OP_RETIRED_IMPORT, /* rows: codes retired (a code retired already is left as it is)
                              -> imported */
    LNK_OP_CLICK_SLOT,     /* slot: url_id, max -> taken: one of the url's max clicks, counted
                              durably (a link with a maximum of clicks); not taken when all
                              max are, or the url is gone */
    LNK_OP_SLOT_LIST,      /* slot: -> slots (each url's clicks counted against its maximum),
                              in url id order */
    LNK_OP_SLOT_IMPORT,    /* rows: slots, each url's count set to the row's (not added to)
                              -> imported; LNK_EINVAL ("url"), nothing written, when a url
                              is not there */
    LNK_OP_IDEM_BEGIN,     /* idem: caller, key, fingerprint -> state (and the stored answer
                              of a REPLAY); a NEW key is held (status 0) until IDEM_FINISH */
    LNK_OP_IDEM_FINISH,    /* idem: caller, key, status, body -> kept a day; status >= 500
                              or 0 lets the key go (a retry runs again) */
    LNK_OP_CALL,           /* call: fn(op) on a reader thread, for work too slow for an event
                              loop that is not a query (password hashes); rc = its result */
    LNK_OP_DOMAIN_LIST,    /* domain: -> domains, in id order */
    LNK_OP_DOMAIN_CREATE,  /* domain: in -> out; LNK_EEXISTS ("host") when the host is listed */
    LNK_OP_DOMAIN_UPDATE,  /* domain: id + patch -> out */
    LNK_OP_DOMAIN_DELETE,  /* domain: id -> out; LNK_EEXISTS ("links") while a url names it */
    LNK_OP_DOMAIN_IMPORT,  /* rows: domains upserted by id, every field kept -> imported;
                              LNK_EEXISTS ("host"), nothing written, when another domain
                              holds a host */
};

/* The head of every operation. */
struct lnk_store_op {
    enum lnk_op_kind kind;
    /* Outputs, valid in done; memory in `arena`, freed by lnk_store_op_free. */
    int rc;                /* LNK_OK, LNK_ENOTFOUND, LNK_EEXISTS, LNK_EINVAL, LNK_EUNAVAIL,
                              LNK_ECANCELED... */
    const char *err_field; /* which input caused rc: "user", "url", "event", "username",
                              "email", "short_code", "key"; NULL if none */
    struct lnk_arena arena;

    /* Completion: `done(op)` is called exactly once, on origin's thread
     * (inline for reads run on a worker connection). origin NULL: called on
     * the store thread. */
    void (*done)(struct lnk_store_op *op);
    void *udata;
    struct lnk_exec *origin;
    struct lnk_task task; /* used by the store to post completion */

    /* Set by the caller (any thread) when nobody waits for the answer any
     * more: a queued read is then dropped (rc LNK_ECANCELED) instead of run,
     * and a stream stops at its next chunk. Writes are never cancelled. */
    atomic_bool cancelled;
    /* -1, or the client's socket: a read whose client has hung up is dropped
     * as if cancelled, and cancelled is set (checked with a peek, never
     * read). LNK_ECANCELED with cancelled unset: the store is stopping. */
    int client_fd;
};

struct lnk_op_ping {
    struct lnk_store_op op;
    int64_t latency_us;
};

struct lnk_op_user {
    struct lnk_store_op op;
    int64_t id;
    struct lnk_user in;
    struct lnk_user out;
    size_t n_urls; /* USER_DELETE: the urls that went with the user */
    struct lnk_url *urls;
};

/* Which fields of a url an update sets. */
struct lnk_url_patch {
    bool set_title;
    const char *title; /* NULL = null */
    bool set_is_active;
    bool is_active;
    const char *original_url; /* NULL = unchanged */
    bool set_opts;
    const char *opts; /* the /api/v1 options as JSON text; NULL = none */
    /* non-NULL: the update is refused (LNK_EEXPIRED, err_field "etag")
     * unless the url's lnk_url_etag equals it, checked in the transaction
     * that writes */
    const char *if_match;
};

struct lnk_op_url {
    struct lnk_store_op op;
    int64_t id;
    const char *code;           /* URL_BY_CODE */
    int64_t domain_id;          /* URL_BY_CODE: the code's domain (0: the default one) */
    int64_t owner_guard;        /* UPDATE, DELETE: non-zero: another user's url is LNK_ENOTFOUND */
    struct lnk_url in;          /* CREATE */
    bool reuse;                 /* CREATE: return the owner's newest url to the same destination
                                   instead (an active one first; reactivated if inactive) */
    struct lnk_url_patch patch; /* UPDATE */
    struct lnk_url out;
    bool reused; /* CREATE with reuse: out existed */
};

struct lnk_op_event {
    struct lnk_store_op op;
    int64_t id;
    int64_t owner_guard; /* non-zero: an event of another user's url does not exist */
    struct lnk_event in;
    struct lnk_event out;
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
    int64_t domain_id;           /* URL_BULK: the url's domain (an upsert keeps it); 0: default */
    bool existed;                /* an existing row was updated (upsert by id) or reused */
};

/* A row a lenient CSV parse left out (seed.h), with where and why. */
struct lnk_import_skip {
    size_t line;
    const char *column; /* NULL: the whole row */
    const char *reason;
};

/* Rows for the *_IMPORT and *_BULK operations (CSV seeds, the bulk routes,
 * `linkd copy`). For users, has_id=false means "insert, skip on a
 * username/email conflict". */
struct lnk_import_rows {
    size_t n;
    struct lnk_user *users;
    struct lnk_url *urls;
    struct lnk_event *events;
    struct lnk_api_key *keys; /* KEY_IMPORT, with key_hashes[i] the hash of keys[i] */
    const char *const *key_hashes;
    const char *const *codes;   /* RETIRED_IMPORT */
    struct lnk_domain *domains; /* DOMAIN_IMPORT */
    struct lnk_slot *slots;     /* SLOT_IMPORT */
    bool *has_id;               /* n flags; NULL: id > 0 says it */
    bool *reuse;                /* URL_BULK: n flags (NULL: none) */
    size_t *lines;              /* the CSV line of each row, when parsed from CSV; or NULL */
    size_t n_skips;
    struct lnk_import_skip *skips;
};

struct lnk_op_rows {
    struct lnk_store_op op;
    int64_t owner_guard; /* *_BULK: as for the single ops */
    struct lnk_import_rows rows;
    struct lnk_row_result *results; /* USER_IMPORT, *_BULK: n results */
    int64_t imported, skipped;      /* rows written and refused; added to on success, so
                                       a caller may preset them */
};

struct lnk_op_clicks {
    struct lnk_store_op op;
    const struct lnk_click *clicks;
    size_t n;
    int64_t written;
};

struct lnk_op_slot {
    struct lnk_store_op op;
    int64_t url_id, max; /* CLICK_SLOT */
    bool peek;           /* CLICK_SLOT: only tell whether one is left (taken); take none */
    bool taken;          /* CLICK_SLOT */
    size_t n_slots;      /* LIST */
    struct lnk_slot *slots;
};

/* Idempotency keys (docs/api-v1.md#idempotency). */
#define LNK_IDEM_TTL_S       86400 /* an answer is replayed for a day */
#define LNK_IDEM_ABANDONED_S 60    /* a held key without an answer this old runs again */
enum lnk_idem_state {
    LNK_IDEM_NEW,         /* first use: run the request, then IDEM_FINISH */
    LNK_IDEM_REPLAY,      /* answered before with the same request: status, body */
    LNK_IDEM_MISMATCH,    /* used before with another request */
    LNK_IDEM_IN_PROGRESS, /* its first request has not been answered yet */
};
struct lnk_op_idem {
    struct lnk_store_op op;
    const char *caller;      /* whose key it is: "key:<id>" or "ip:<addr>" */
    const char *key;         /* the Idempotency-Key */
    const char *fingerprint; /* BEGIN: a digest of the request */
    int status;              /* FINISH in, BEGIN out (REPLAY) */
    const char *body;        /* FINISH in, BEGIN out (REPLAY): the answer's JSON text */
    enum lnk_idem_state state;
};

/* One row of the idempotency table, as the backends read it. */
struct lnk_idem_row {
    const char *fingerprint;
    int status; /* 0: held, not answered yet */
    const char *body;
    int64_t created_at;
};

/* Which URLs of a domain an update sets (NULL: unset). */
struct lnk_domain_patch {
    bool set_root_url, set_not_found_url, set_fallback_url;
    const char *root_url, *not_found_url, *fallback_url;
};

struct lnk_op_domain {
    struct lnk_store_op op;
    int64_t id;
    struct lnk_domain in;          /* CREATE */
    struct lnk_domain_patch patch; /* UPDATE */
    struct lnk_domain out;
    size_t n_domains; /* LIST */
    struct lnk_domain *domains;
};

struct lnk_op_call {
    struct lnk_store_op op;
    int (*fn)(struct lnk_op_call *op);
    void *arg; /* the caller's, for fn */
};

/* Rows of each table, read in one snapshot. */
struct lnk_op_counts {
    struct lnk_store_op op;
    int64_t users, urls, events;
    int64_t keys;          /* API keys, revoked ones included */
    int64_t retired_codes; /* codes never to be handed out again */
    int64_t clicks;        /* from the rollups, as STATS counts them */
    int64_t domains;
    int64_t slots;      /* urls with clicks counted against a maximum */
    int64_t slots_used; /* the clicks counted against maximums, all urls together */
};

/* Events of one type (STATS). */
struct lnk_type_count {
    const char *event_type;
    int64_t n;
};

struct lnk_op_stats {
    struct lnk_store_op op;
    int64_t owner_guard;
    int64_t users, urls, active_urls, events;
    size_t n_types;
    struct lnk_type_count *types; /* ordered by type */
};

/* Clicks of one url on one UTC day (URL_STATS). */
struct lnk_click_day {
    int64_t day; /* days since 1970-01-01 */
    int64_t clicks;
};

struct lnk_op_url_stats {
    struct lnk_store_op op;
    int64_t id;
    struct lnk_url url;
    int64_t clicks, last_click_at; /* last_click_at 0 = never */
    size_t n_days;
    struct lnk_click_day *days; /* oldest first */
};

struct lnk_op_key {
    struct lnk_store_op op;
    int64_t id;
    struct lnk_api_key in; /* CREATE: name, prefix, admin, user_id */
    const char *key_hash;  /* CREATE, AUTH: hex SHA-256 of the key */
    struct lnk_api_key out;
    bool found;       /* AUTH: out is the active key with that hash */
    int64_t n_active; /* AUTH */
    bool with_hashes; /* LIST: fill key_hashes too (`linkd copy`; never to be shown) */
    size_t n_keys;    /* LIST */
    struct lnk_api_key *keys;
    const char **key_hashes; /* LIST with_hashes: the hex SHA-256 of keys[i] */
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
    int64_t max_rows;       /* no paging: more matching rows than this is LNK_ETOOBIG
                               (counted before the first row); 0 = no limit */
    int64_t after_id;       /* a cursor: only rows past this id (smaller ones when
                               newest_first); 0 = from the first */
    const char *tag;        /* URL_LIST: only urls whose /api/v1 options hold this tag */
    bool newest_first;      /* URL_LIST: in descending id order */
};

/* One row of a list, on a reader thread; its strings live until the call
 * returns. Returns false to stop early. */
union lnk_list_row {
    const struct lnk_user *user;
    const struct lnk_url *url;
    const struct lnk_event *event;
    const char *code; /* RETIRED_LIST */
};
typedef bool (*lnk_list_row_fn)(void *ctx, union lnk_list_row row);

/* Lists: either collected whole into rows (emit NULL; for tools and tests)
 * or streamed: the store calls emit for each row of a chunk (at most
 * chunk_rows rows) on a reader thread, then completes a chunk on origin
 * with `done`; more says whether another chunk follows. The caller then
 * asks for the next one with lnk_store_list_next (or gives up: cancelled).
 * Each chunk reads its own snapshot, from the row after the last one sent,
 * so a long list is never held open while its client reads slowly. */
struct lnk_op_list {
    struct lnk_store_op op;
    struct lnk_list_query q;
    lnk_list_row_fn emit;
    void *emit_ctx;
    size_t chunk_rows; /* 0: a default */
    bool more;         /* streamed: another chunk follows */
    size_t n_rows;     /* collected rows, or rows of this chunk */
    struct lnk_user *users;
    struct lnk_url *urls;
    struct lnk_event *events;
    const char **codes; /* RETIRED_LIST */
    /* private to the store */
    int64_t after_id;       /* the last row sent; 0 before the first chunk */
    const char *after_code; /* RETIRED_LIST: the last code sent; NULL before */
    int64_t sent;           /* rows sent so far */
};

/* A url's entity tag: a digest of every field a client can see or change
 * (code, destination, title, active, options), as a quoted hex string
 * (RFC 9110 strong validator). */
#define LNK_ETAG_MAX 19
void lnk_url_etag(const struct lnk_url *u, char out[LNK_ETAG_MAX]);

/* Typed views; the kind must belong to the family. */
#define LNK_OP_AS(op, family) ((struct lnk_op_##family *)(void *)(op))

/* Store configuration; strings are copied. */
struct lnk_store_config {
    const char *url;      /* "sqlite:///path/file.db", "sqlite://./rel.db", a plain path,
                             or "postgres://..." */
    int synchronous_full; /* 1: fsync on every commit (default); 0: relaxed */
    unsigned max_batch;   /* operations per group commit, default 1024 */
    unsigned check_ms;    /* how often the writer looks at the backend's health while it
                             is well, default 1000 */
    unsigned probe_ms;    /* how often a degraded store tries a write, default 500 */
    unsigned readers;     /* reader threads, default 2 */
    unsigned read_queue;  /* reads waiting for a reader before more are refused
                             (LNK_ELIMIT), default 4096 */
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
    LNK_STORE_FAULT_UNAVAILABLE,   /* the database cannot be opened or reached */
};

/* The store's health as every backend reports it (GET /health). */
enum lnk_store_health {
    LNK_STORE_HEALTH_OK,       /* reads and writes */
    LNK_STORE_HEALTH_DEGRADED, /* writes are refused; reads may still work */
};

/* A snapshot of the store's write health. */
struct lnk_store_status {
    enum lnk_store_health health;
    enum lnk_store_fault fault;
    int sys_errno;          /* errno behind the fault (ENOSPC, EROFS, EIO...), 0 if unknown */
    int64_t since_ms;       /* wall-clock ms since the epoch when the fault began; 0 if none */
    uint64_t failed_probes; /* write probes that failed since then */
    uint64_t recoveries;    /* faults cleared without a restart since open */
    char reason[256];       /* what an operator reads first, from the backend; "" when ok */
    char detail_key[32];    /* the name of a backend detail ("rescue_copy"); "" if none */
    char detail[512];       /* its value (a rescue copy's path) */
};

/* Stable lower-case name of a fault ("ok", "disk_full", "read_only", "io_error",
 * "locked", "file_removed", "file_replaced", "unavailable"). Never NULL. */
const char *lnk_store_fault_name(enum lnk_store_fault f);

/* Opens (creating and migrating if needed) the database. LNK_EINVAL for an
 * unknown scheme, LNK_EBACKEND/LNK_EUNAVAIL when it cannot be opened; *err
 * (static or *errbuf) says why. Starts the writer and reader threads. */
int lnk_store_open(const struct lnk_store_config *cfg, struct lnk_store **out, char *errbuf,
                   size_t errcap);
/* Stops the readers (queued reads complete with LNK_ECANCELED), then the
 * writer after it has completed every submitted write. NULL ok. */
void lnk_store_close(struct lnk_store *s);
const char *lnk_store_backend_name(const struct lnk_store *s);

/* A read connection for one worker thread. */
int lnk_store_conn_open(struct lnk_store *s, struct lnk_store_conn **out);
void lnk_store_conn_close(struct lnk_store_conn *c);

/* Allocates a zeroed op of that kind's family with an empty arena, list
 * filters that match everything, and client_fd -1. Never NULL. */
struct lnk_store_op *lnk_store_op_new(enum lnk_op_kind kind);
void lnk_store_op_free(struct lnk_store_op *op); /* NULL ok */

/* Submits op. op->done is always called exactly once (per chunk for a
 * streamed list). Thread-safe. LNK_ELIMIT when the read queue is full. */
void lnk_store_submit(struct lnk_store *s, struct lnk_store_conn *conn, struct lnk_store_op *op);

/* A streamed list whose last chunk said `more`: reads the next chunk. */
void lnk_store_list_next(struct lnk_store *s, struct lnk_op_list *op);

/* Cancels every queued and future read: at the end of a drain, when nobody
 * will take their answers. Writes still run. Thread-safe. */
void lnk_store_cancel_reads(struct lnk_store *s);

/* Submits op and waits for it (CLI, events writer, tests); op->done must be
 * NULL. Returns op->rc. Must not be called from a worker's loop thread nor
 * from a done callback running on a store thread (it would wait for itself).
 * A list is collected whole. */
int lnk_store_run(struct lnk_store *s, struct lnk_store_op *op);

/* True while the store refuses writes: a write transaction failed in a way
 * that makes the store unwritable (full disk, read-only or failing file,
 * lock held elsewhere, a lost server), or the backend found the database
 * unusable. Write operations then complete at once with LNK_EUNAVAIL, reads
 * still run, and the writer tries a small write transaction every probe_ms;
 * the first that succeeds clears the state. Thread-safe, lock-free. */
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
    uint64_t read_queue_depth;         /* reads waiting for a reader */
    uint64_t list_chunks;              /* list chunks the readers read */
    uint64_t reads_cancelled;          /* reads dropped (cancelled, client gone, stopping) */
    uint64_t reads_refused;            /* reads refused: the read queue was full */
};

/* Thread-safe; takes the read queue's lock for a moment. */
void lnk_store_get_writer_stats(struct lnk_store *s, struct lnk_store_writer_stats *out);

/* True when a and b are open on the same database, however their URLs
 * spell it: the same backend and the same code key, which every database
 * makes once, at random, when it is created (a file copy of a SQLite
 * database shares it too). Thread-safe. */
bool lnk_store_same_database(const struct lnk_store *a, const struct lnk_store *b);

/* Asks the writer to check the backend and, when degraded, to probe (and
 * recover) now rather than at its next tick, and waits until it has. For
 * tests and tools; not from a worker loop or a done callback. */
void lnk_store_recheck(struct lnk_store *s);

#endif
