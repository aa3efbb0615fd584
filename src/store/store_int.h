/* SPDX-License-Identifier: MIT */
/* What a store backend implements (the Redis ConnectionType / curl Curl_ssl
 * shape): storage only. store.c owns threading (the writer, the syncer, the
 * reader pool, batching, completion, the health state machine);
 * store_rules.c owns every business rule (codes, audit events, update diffs,
 * owner checks, rollups, reuse, bulk rows) over the primitives below. A
 * backend knows its SQL and its own failure modes, and reports them as
 * faults. Each backend exports one symbol, its ops table. Not public. */
#ifndef LNK_STORE_INT_H
#define LNK_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/shortcode.h"
#include "linkd/store.h"

struct lnk_store_backend; /* one open database */
struct lnk_store_bconn;   /* a connection, used by one thread at a time */

/* Point reads may run inline on per-worker connections (cheap, local). */
#define LNK_STORE_CAP_INLINE_READS (1u << 0)

/* Savepoints: one around an operation, one around a bulk row inside it. */
enum lnk_savepoint { LNK_SP_OP, LNK_SP_ROW };
enum lnk_sp_cmd { LNK_SP_BEGIN, LNK_SP_RELEASE, LNK_SP_ROLLBACK };

/* Which rows a list reads. */
enum lnk_row_kind { LNK_ROW_USER, LNK_ROW_URL, LNK_ROW_EVENT };

/* The tables whose ids the store hands out. */
enum lnk_id_table { LNK_ID_USERS, LNK_ID_URLS, LNK_ID_EVENTS, LNK_ID_KEYS, LNK_ID__N };

/* A click row about to be inserted: its owner resolved, its details JSON
 * text written by the rules. */
struct lnk_click_row {
    int64_t url_id, user_id, timestamp;
    const char *details;
};

/* Clicks to add to the rollups: of one url, on one UTC day. */
struct lnk_rollup_delta {
    int64_t url_id, day, clicks, last_click_at;
};

/* A chunk of import rows written at once (import_set): rows of one kind,
 * each with an id > 0 and every field set (a user's created_at > 0, an
 * event's details), no id, username, email or short code twice. */
struct lnk_import_set {
    enum lnk_row_kind kind;
    size_t n;
    const struct lnk_user *users;
    const struct lnk_url *urls;
    const struct lnk_event *events;
};

/* What row i of an import set replaced: whether a user or url had its id;
 * whether an event was a click, of which url at which time. */
struct lnk_import_prior {
    bool existed;
    bool was_click;
    int64_t url_id, timestamp;
};

/* Every primitive returns LNK_OK or an lnk_err; "no such row" is
 * LNK_ENOTFOUND and an expected unique conflict is LNK_EEXISTS, neither of
 * which may end the transaction. Rows are copied into `a`. Write
 * primitives run on the writer's connection inside its transaction. */
/* Where a sent url create (url_send) leaves its result. */
enum lnk_url_sent_state {
    LNK_URL_SENT_WAITING, /* not read yet */
    LNK_URL_SENT_ROW,     /* inserted: *out is the stored row */
    LNK_URL_SENT_NONE,    /* refused, nothing written */
    LNK_URL_SENT_FAILED,  /* the statement failed: the transaction is lost */
};
struct lnk_url_sent {
    struct lnk_arena *a; /* out's strings */
    struct lnk_url *out;
    enum lnk_url_sent_state state;
    struct lnk_store_op *op;   /* the rules' own: the op it belongs to */
    struct lnk_url_sent *next; /* the rules' own: this batch's, in order */
};

struct lnk_store_ops {
    const char *name; /* "sqlite", "postgres" */
    unsigned caps;    /* LNK_STORE_CAP_* */

    /* ---- lifecycle ---------------------------------------------------- */
    /* Opens `target` (the DATABASE_URL, scheme included), migrating the
     * schema; on failure writes a reason to errbuf (never a password) and
     * returns LNK_EINVAL, LNK_EUNAVAIL or LNK_EBACKEND. */
    int (*open)(const char *target, const struct lnk_store_config *cfg,
                struct lnk_store_backend **out, char *errbuf, size_t errcap);
    /* After every thread stopped and every read connection closed. */
    void (*close)(struct lnk_store_backend *b);
    /* The secret key of the code permutation, made once per database. */
    void (*code_key)(struct lnk_store_backend *b, uint8_t key[LNK_CODEGEN_KEY_BYTES]);
    /* A read connection; thread-safe. LNK_EUNAVAIL while the database cannot
     * be reached (or, for SQLite, the path names another file). */
    int (*conn_open)(struct lnk_store_backend *b, struct lnk_store_bconn **out);
    void (*conn_close)(struct lnk_store_bconn *c); /* NULL ok */
    /* True when the connection is lost and must be replaced (it is closed
     * and opened again on its next use). NULL: connections do not break. */
    bool (*conn_broken)(struct lnk_store_bconn *c);
    /* The writer's connection; NULL while there is none (a failed reopen or
     * reconnect). Writer thread only. */
    struct lnk_store_bconn *(*writer)(struct lnk_store_backend *b);

    /* ---- transactions (writer thread) ----------------------------------- */
    int (*begin)(struct lnk_store_backend *b);
    int (*commit)(struct lnk_store_backend *b);
    void (*rollback)(struct lnk_store_backend *b); /* a no-op when none is open */
    int (*savepoint)(struct lnk_store_backend *b, enum lnk_savepoint sp, enum lnk_sp_cmd cmd);
    /* True when a failure already ended the open transaction by itself. */
    bool (*tx_lost)(struct lnk_store_backend *b);
    /* Rows the writer's connection has changed since it opened; reserving
     * sequence numbers (seq_reserve) changes none. */
    uint64_t (*changes)(struct lnk_store_backend *b);
    /* With synchronous_full and this set, commit does not wait for the disk:
     * sync makes every batch committed before the call durable. Called from
     * the syncer thread, concurrently with the writer's next batch. A
     * failure (errno in *sys_errno) is sticky until a recovery. NULL:
     * commit is durable by itself. */
    int (*sync)(struct lnk_store_backend *b, int *sys_errno);

    /* ---- health (writer thread) -------------------------------------------
     * store.c runs the state machine (docs/durability.md): it refuses
     * writes while the backend reports a fault and calls recover and probe
     * on a timer until a probe succeeds. */
    /* A look without writing, while healthy (every check_ms): a fault the
     * backend sees (a removed file), or LNK_STORE_OK. */
    enum lnk_store_fault (*check)(struct lnk_store_backend *b);
    /* The fault behind the latest failure of a transaction call or a
     * primitive on the writer's connection, and its errno (0 if unknown);
     * LNK_STORE_OK when that failure was not the storage's. */
    enum lnk_store_fault (*last_fault)(struct lnk_store_backend *b, int *sys_errno);
    /* One recovery step while degraded (rescue a removed file, reopen,
     * reconnect); close_readers closes every read connection first when
     * the backend must replace them (they reopen lazily). Returns the fault
     * that remains, LNK_STORE_OK when a probe may be tried. */
    enum lnk_store_fault (*recover)(struct lnk_store_backend *b, enum lnk_store_fault fault,
                                    void (*close_readers)(void *ctx), void *ctx);
    /* A small write transaction of its own, made durable like a batch. */
    int (*probe)(struct lnk_store_backend *b);
    /* What an operator reads about a fault, and backend detail (a rescue
     * copy's path), into the status. */
    void (*describe)(struct lnk_store_backend *b, enum lnk_store_fault f,
                     struct lnk_store_status *st);

    /* ---- reads ------------------------------------------------------------ */
    int (*ping)(struct lnk_store_bconn *c);
    int (*user_get)(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                    struct lnk_user *out);
    /* The id of the user holding that username (email); LNK_ENOTFOUND. */
    int (*user_by_name)(struct lnk_store_bconn *c, const char *username, int64_t *id);
    int (*user_by_email)(struct lnk_store_bconn *c, const char *email, int64_t *id);
    int (*url_get)(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a, struct lnk_url *out);
    /* The url with that code on that domain (0: the default one). */
    int (*url_by_code)(struct lnk_store_bconn *c, int64_t domain_id, const char *code,
                       struct lnk_arena *a, struct lnk_url *out);
    int (*url_owner)(struct lnk_store_bconn *c, int64_t id, int64_t *owner);
    /* The owner's url to that destination: an active one first, then the
     * newest. */
    int (*url_by_dest)(struct lnk_store_bconn *c, int64_t user_id, const char *dest,
                       struct lnk_arena *a, struct lnk_url *out);
    int (*urls_of_user)(struct lnk_store_bconn *c, int64_t user_id, struct lnk_arena *a,
                        struct lnk_url **out, size_t *n);
    int (*event_get)(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                     struct lnk_event *out);
    /* The url and timestamp of event id if it is a click; LNK_ENOTFOUND
     * otherwise. */
    int (*click_of)(struct lnk_store_bconn *c, int64_t id, int64_t *url_id, int64_t *timestamp);
    /* Rows of kind k matching q with id > after_id, in id order, skipping
     * `offset` of them, at most `limit` (0: all), each handed to fn. */
    int (*list)(struct lnk_store_bconn *c, enum lnk_row_kind k, const struct lnk_list_query *q,
                int64_t after_id, int64_t offset, int64_t limit, lnk_list_row_fn fn, void *ctx);
    /* How many rows q matches, counting no further than cap. */
    int (*list_count)(struct lnk_store_bconn *c, enum lnk_row_kind k,
                      const struct lnk_list_query *q, int64_t cap, int64_t *n);
    int (*counts)(struct lnk_store_bconn *c, struct lnk_op_counts *out);
    /* Totals and events by type (clicks from the rollups), of one owner's
     * rows when owner != 0. */
    int (*stats)(struct lnk_store_bconn *c, int64_t owner, struct lnk_arena *a,
                 struct lnk_op_stats *out);
    int (*url_clicks)(struct lnk_store_bconn *c, int64_t url_id, int64_t *clicks,
                      int64_t *last_click_at);
    int (*url_days)(struct lnk_store_bconn *c, int64_t url_id, struct lnk_arena *a,
                    struct lnk_click_day **days, size_t *n);
    int (*key_get)(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                   struct lnk_api_key *out);
    int (*key_by_hash)(struct lnk_store_bconn *c, const char *hash, struct lnk_arena *a,
                       struct lnk_api_key *out); /* active keys only */
    /* Every key in id order; hashes NULL: their hashes are not read, else
     * (*hashes)[i] is the hash of (*out)[i]. */
    int (*key_list)(struct lnk_store_bconn *c, struct lnk_arena *a, struct lnk_api_key **out,
                    const char ***hashes, size_t *n);
    int (*keys_active)(struct lnk_store_bconn *c, int64_t *n);
    /* Retired codes after `after` ("" for the first) in code order, at most
     * limit (0: all), each handed to fn (row.code). */
    int (*retired_list)(struct lnk_store_bconn *c, const char *after, int64_t limit,
                        lnk_list_row_fn fn, void *ctx);
    /* Domains: every one in id order; one by id (LNK_ENOTFOUND). */
    int (*domain_list)(struct lnk_store_bconn *c, struct lnk_arena *a, struct lnk_domain **out,
                       size_t *n);
    int (*domain_get)(struct lnk_store_bconn *c, int64_t id, struct lnk_arena *a,
                      struct lnk_domain *out);
    /* Every url's clicks counted against its maximum, in url id order. */
    int (*slot_list)(struct lnk_store_bconn *c, struct lnk_arena *a, struct lnk_slot **out,
                     size_t *n);

    /* ---- writes ---------------------------------------------------------- */
    /* Inserts a user (u->id 0: a new id) or, with by_id, upserts by u->id
     * (created_at 0 keeps an existing row's). LNK_EEXISTS when the username
     * or email belongs to another user; *id is the row's id. */
    int (*user_put)(struct lnk_store_bconn *c, const struct lnk_user *u, bool by_id, int64_t *id);
    /* username/email NULL: unchanged. LNK_EEXISTS on a conflict. */
    int (*user_update)(struct lnk_store_bconn *c, int64_t id, const char *username,
                       const char *email);
    /* Deletes the user, its urls, their events and its keys. */
    int (*user_delete)(struct lnk_store_bconn *c, int64_t id);
    /* Inserts u (u->id 0: a new id; else upsert by id, every field
     * written but a NULL opts or a domain_id 0, which keep an existing
     * url's); out is the stored row. A new url is refused, and nothing
     * written, with LNK_ENOTFOUND when its user does not exist, else
     * LNK_EEXISTS when another url holds the code or it was retired (a
     * deleted url's code is never reissued): one statement when it
     * succeeds. */
    int (*url_put)(struct lnk_store_bconn *c, const struct lnk_url *u, struct lnk_arena *a,
                   struct lnk_url *out);
    /* A new url and its 'created' event (details), like url_put then
     * event_put, but only sent: the result lands in s when the writer's
     * pipeline is read (flush, or any primitive that waits for its own),
     * before the transaction commits. Nothing is written when url_put would
     * refuse (s->state LNK_URL_SENT_NONE: url_put tells why). NULL: the
     * backend answers url_put at once, and the rules use that. */
    int (*url_send)(struct lnk_store_bconn *c, const struct lnk_url *u, const char *details,
                    struct lnk_url_sent *s);
    /* Reads every result the writer's pipeline still owes (url_send's);
     * the first failure among them. NULL with url_send. */
    int (*flush)(struct lnk_store_backend *b);
    /* Writes title, is_active, original_url, updated_at and opts of url u->id. */
    int (*url_set)(struct lnk_store_bconn *c, const struct lnk_url *u);
    /* Counts one more of url_id's clicks if fewer than max were counted
     * (*taken); a url that is gone takes none. */
    int (*slot_take)(struct lnk_store_bconn *c, int64_t url_id, int64_t max, bool *taken);
    /* How many of url_id's clicks were counted (0: none yet). */
    int (*slot_used)(struct lnk_store_bconn *c, int64_t url_id, int64_t *used);
    /* Sets the clicks counted against url s->url_id's maximum to s->used
     * (not added to); LNK_ENOTFOUND, and nothing written, when the url is
     * not there. */
    int (*slot_put)(struct lnk_store_bconn *c, const struct lnk_slot *s);
    /* Inserts e (e->id 0: a new id; else upsert by id); *id is its id. id
     * NULL: nobody reads it, and a failure may be reported by the next
     * primitive that returns a result instead (a backend that pipelines). */
    int (*event_put)(struct lnk_store_bconn *c, const struct lnk_event *e, int64_t *id);
    /* Upserts every row of set by id in one go, every field written (as
     * url_put writes a url), and moves the table's id sequence past the
     * largest id; prior[i] (set->n of them, the caller's) gets what row i
     * replaced. Writes nothing and returns LNK_EEXISTS when a row would be
     * refused on its own: a user, url or domain it names does not exist, or
     * its username, email or code (on the url's domain) belongs to a row
     * with another id. */
    int (*import_set)(struct lnk_store_bconn *c, const struct lnk_import_set *set,
                      struct lnk_import_prior *prior);
    /* Appends click rows, in the given order. */
    int (*clicks_insert)(struct lnk_store_bconn *c, const struct lnk_click_row *rows, size_t n);
    /* Adds to the per-url and per-url-day click rollups. */
    int (*rollups_add)(struct lnk_store_bconn *c, const struct lnk_rollup_delta *d, size_t n);
    /* Recounts one url's rollups from its click events. */
    int (*rollups_recount)(struct lnk_store_bconn *c, int64_t url_id);
    int (*key_insert)(struct lnk_store_bconn *c, const struct lnk_api_key *k, const char *hash,
                      int64_t *id);
    /* Upserts key k->id with every field and its hash (moving the id
     * sequence past k->id); LNK_EEXISTS, and nothing written, when another
     * key holds that hash. */
    int (*key_put)(struct lnk_store_bconn *c, const struct lnk_api_key *k, const char *hash);
    /* Sets revoked_at unless already set. */
    int (*key_revoke)(struct lnk_store_bconn *c, int64_t id, int64_t now);
    /* Retires code (no-op when it is already). A failure may be reported by
     * the next primitive that returns a result instead (a backend that
     * pipelines). */
    int (*retired_add)(struct lnk_store_bconn *c, const char *code);
    /* Inserts a domain (d->id is not read); LNK_EEXISTS, and nothing
     * written, when another holds the host. out is the stored row. */
    int (*domain_insert)(struct lnk_store_bconn *c, const struct lnk_domain *d, struct lnk_arena *a,
                         struct lnk_domain *out);
    /* Upserts domain d->id with every field, moving the id sequence past
     * it; LNK_EEXISTS, and nothing written, when another domain holds the
     * host. */
    int (*domain_put)(struct lnk_store_bconn *c, const struct lnk_domain *d);
    /* Writes root_url, not_found_url and fallback_url of domain d->id. */
    int (*domain_set)(struct lnk_store_bconn *c, const struct lnk_domain *d);
    /* Deletes domain id unless a url names it (*in_use, nothing written). */
    int (*domain_delete)(struct lnk_store_bconn *c, int64_t id, bool *in_use);
    /* Idempotency keys: the row of (caller, key) (LNK_ENOTFOUND: none);
     * write it whole (insert or replace); forget it; forget every row
     * created before `before`. */
    int (*idem_get)(struct lnk_store_bconn *c, const char *caller, const char *key,
                    struct lnk_arena *a, struct lnk_idem_row *out);
    int (*idem_put)(struct lnk_store_bconn *c, const char *caller, const char *key,
                    const struct lnk_idem_row *row);
    int (*idem_delete)(struct lnk_store_bconn *c, const char *caller, const char *key);
    int (*idem_expire)(struct lnk_store_bconn *c, int64_t before);
    /* The highest id each table has handed out or held (its next new id is
     * one more), 0 for none. */
    int (*id_tops)(struct lnk_store_bconn *c, int64_t tops[LNK_ID__N]);
    /* Serialises, until the transaction ends, every writer of any process
     * that takes the same key (reuse of one owner's destination). NULL: the
     * one writer of the database serialises them already. */
    int (*lock_key)(struct lnk_store_bconn *c, const char *key);
    /* Reserves n sequence numbers for generated codes, atomically across
     * every process on the database: *first .. *first + n - 1 are this
     * caller's. May outlive a rolled-back transaction (never the reverse). */
    int (*seq_reserve)(struct lnk_store_bconn *c, int64_t n, int64_t *first);
};

/* Sequence numbers a process reserves at a time for generated codes. */
#define LNK_CODE_BLOCK 1024

extern const struct lnk_store_ops lnk_store_sqlite_ops;
extern const struct lnk_store_ops lnk_store_pg_ops;

/* ---- store_rules.c: the rules, for store.c ------------------------------ */

struct lnk_store_rules; /* writer-thread state: the code generator and its block */

struct lnk_store_rules *lnk_store_rules_new(const struct lnk_store_ops *ops,
                                            struct lnk_store_backend *b);
void lnk_store_rules_free(struct lnk_store_rules *r);
/* A read kind on connection c (any thread); sets op->rc and the outputs. A
 * streamed list reads one chunk. */
void lnk_store_rules_read(const struct lnk_store_ops *ops, struct lnk_store_bconn *c,
                          struct lnk_store_op *op);
/* Applies one write op inside the batch's transaction (writer thread):
 * op->rc says how it went. A non-OK return means the transaction itself was
 * lost and the whole batch fails with that code. */
int lnk_store_rules_apply(struct lnk_store_rules *r, struct lnk_store_op *op);
/* The batch's transaction committed: what it reserved is this process's. */
/* Before the commit: the answers of every op sent without waiting, and the
 * refused ones run again; a failure loses the batch. */
int lnk_store_rules_flush(struct lnk_store_rules *r);
void lnk_store_rules_committed(struct lnk_store_rules *r);
/* The batch's transaction was rolled back: forget what it reserved. */
void lnk_store_rules_abort(struct lnk_store_rules *r);

/* ---- store.c, for the rules ---------------------------------------------- */

/* Clears an operation's outputs (rc, err_field and the family's outputs);
 * the arena keeps its memory. The counters of *_IMPORT and *_BULK are kept:
 * callers may preset them. */
void lnk_store_op_reset_outputs(struct lnk_store_op *op);
/* True for the kinds that only read. */
bool lnk_store_op_is_read(enum lnk_op_kind kind);
/* True for the reads that may run inline on a worker's connection: one row
 * by key, microseconds on a local database. */
bool lnk_store_op_is_point_read(enum lnk_op_kind kind);

#endif
