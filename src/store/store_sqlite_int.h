/* SPDX-License-Identifier: MIT */
/* Private to the SQLite backend: its connection and database structs, shared
 * by store_sqlite.c (statements, primitives, transactions),
 * store_sqlite_list.c (lists), store_sqlite_schema.c (connections,
 * migrations) and store_sqlite_file.c
 * (the file's health: failures classified into faults,
 * durability after commit, a removed or replaced file noticed, copied out
 * and reopened). The only files that include sqlite3.h. */
#ifndef LNK_STORE_SQLITE_INT_H
#define LNK_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "store/store_int.h"

#define LNK_SQ_BUSY_TIMEOUT_MS 5000

struct lnk_sq_stmts; /* the prepared statements of a connection (store_sqlite.c) */
struct lnk_sq_lists; /* its list statements (store_sqlite_list.c) */

struct lnk_store_bconn {
    sqlite3 *db;
    struct lnk_store_backend *b;
    struct lnk_sq_stmts *st;
    struct lnk_sq_lists *lists;
};

/* A file's identity; 0/0 when unknown or absent. */
struct lnk_sq_file_id {
    uint64_t dev, ino;
};

struct lnk_store_backend {
    char *path;
    bool synchronous_full;
    struct lnk_store_bconn *wr; /* the writer's; writer thread only once open returns;
                                   NULL after a failed reopen */
    uint8_t code_key[LNK_CODEGEN_KEY_BYTES];

    /* Identity of the file wr has open, read by conn_open on any thread. */
    _Atomic uint64_t db_dev, db_ino;

    /* Writer thread only. */
    uint64_t reserve_changes;             /* rows of seq_reserve: not an op's own writes */
    struct lnk_sq_file_id wal_id, shm_id; /* the WAL and shm files wr created or found */
    int fail_src;                         /* extended SQLite code of the latest failure */
    int fail_errno;                       /* and its errno, 0 if none */
    struct stat candidate;                /* the file at the path seen by the last look */
    bool have_candidate;
    bool rescue_done; /* this fault's rescue copy was made (or not needed) */
    bool rescue_failed_logged;
    int64_t next_rescue_ms; /* monotonic; a failed copy is retried this late */
    char rescue_path[512];  /* the copy made when the file was removed or replaced */

    /* lnk_sq_sync's, on the store's syncer thread; the writer touches them
     * only in a reopen and at close, when the syncer is idle. */
    int wal_fd;            /* the WAL wr writes, opened by the first sync; -1 */
    atomic_int sync_errno; /* a failed sync: sticky until the file is reopened */
};

/* store_sqlite.c */
struct lnk_sq_stmts *lnk_sq_stmts_new(void);
/* A row of the statement's current step into *row: strings copied into a,
 * or (a NULL) borrowed until the statement steps on. */
void lnk_sq_read_user(sqlite3_stmt *st, struct lnk_arena *a, void *row);
void lnk_sq_read_url(sqlite3_stmt *st, struct lnk_arena *a, void *row);
void lnk_sq_read_event(sqlite3_stmt *st, struct lnk_arena *a, void *row);

/* store_sqlite_list.c: the ops of the same names */
struct lnk_sq_lists *lnk_sq_lists_new(void);
void lnk_sq_lists_free(struct lnk_sq_lists *l); /* NULL ok */
int lnk_sq_list(struct lnk_store_bconn *c, enum lnk_row_kind k, const struct lnk_list_query *q,
                int64_t after_id, int64_t offset, int64_t limit, lnk_list_row_fn fn, void *ctx);
int lnk_sq_list_count(struct lnk_store_bconn *c, enum lnk_row_kind k,
                      const struct lnk_list_query *q, int64_t cap, int64_t *n);
int lnk_sq_map_rc(int src);
void lnk_sq_set_err(char *errbuf, size_t errcap, const char *what, const char *why);
/* Remembers the error of the write connection's latest failed call, before a
 * ROLLBACK can overwrite it, for last_fault. */
void lnk_sq_note_failure(struct lnk_store_backend *b);
/* Opens b->wr on b->path: WAL, synchronous, schema, code key; records the
 * files' identities. On failure b->wr stays NULL. */
int lnk_sq_open_writer(struct lnk_store_backend *b, char *errbuf, size_t errcap);
void lnk_sq_close_conn(struct lnk_store_bconn *c);
int lnk_sq_begin(struct lnk_store_backend *b);
int lnk_sq_commit(struct lnk_store_backend *b);
void lnk_sq_rollback(struct lnk_store_backend *b);
/* The probe's one small row, in the open transaction. */
int lnk_sq_heartbeat(struct lnk_store_backend *b, int64_t now_ms);

/* store_sqlite_schema.c: the ops of the same names */
int lnk_sq_open(const char *target, const struct lnk_store_config *cfg,
                struct lnk_store_backend **out, char *errbuf, size_t errcap);
void lnk_sq_close(struct lnk_store_backend *b);
int lnk_sq_conn_open(struct lnk_store_backend *b, struct lnk_store_bconn **out);
void lnk_sq_code_key(struct lnk_store_backend *b, uint8_t key[LNK_CODEGEN_KEY_BYTES]);

/* store_sqlite_file.c */
struct lnk_sq_file_id lnk_sq_stat_id(const char *path);
bool lnk_sq_same_id(struct lnk_sq_file_id a, uint64_t dev, uint64_t ino);
/* Records the identity of the files wr has open. */
void lnk_sq_record_ids(struct lnk_store_backend *b);
/* Makes a new directory entry durable. */
void lnk_sq_sync_parent_dir(const char *path);
void lnk_sq_close_wal_fd(struct lnk_store_backend *b);
enum lnk_store_fault lnk_sq_check(struct lnk_store_backend *b);
enum lnk_store_fault lnk_sq_last_fault(struct lnk_store_backend *b, int *sys_errno);
int lnk_sq_sync(struct lnk_store_backend *b, int *sys_errno);
int lnk_sq_probe(struct lnk_store_backend *b);
enum lnk_store_fault lnk_sq_recover(struct lnk_store_backend *b, enum lnk_store_fault fault,
                                    void (*close_readers)(void *ctx), void *ctx);
void lnk_sq_describe(struct lnk_store_backend *b, enum lnk_store_fault f,
                     struct lnk_store_status *st);

#endif
