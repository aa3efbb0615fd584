/* SPDX-License-Identifier: MIT */
/* What a store backend implements (the Redis ConnectionType / curl Curl_ssl
 * shape). store.c owns threading: the queue, the writer thread, batching and
 * completion; a backend only runs operations on its connections. Each backend
 * exports one symbol, its ops table. Not part of the public API. */
#ifndef LNK_STORE_INT_H
#define LNK_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "linkd/store.h"

struct lnk_store_backend; /* one open database; its write connection is the writer's */
struct lnk_store_bconn;   /* a read connection, used by one thread at a time */

/* Reads may run on per-worker connections while the writer writes (WAL). */
#define LNK_STORE_CAP_INLINE_READS (1u << 0)
/* Many operations share one transaction and one fsync. */
#define LNK_STORE_CAP_GROUP_COMMIT (1u << 1)

struct lnk_store_ops {
    const char *name; /* "sqlite" */
    unsigned caps;    /* LNK_STORE_CAP_* */

    /* Opens `target` (the DATABASE_URL with the scheme removed), creating and
     * migrating the schema. On failure writes a reason to errbuf (may be NULL)
     * and returns LNK_EINVAL, LNK_EUNAVAIL or LNK_EBACKEND. Called before the
     * writer thread starts. */
    int (*open)(const char *target, const struct lnk_store_config *cfg,
                struct lnk_store_backend **out, char *errbuf, size_t errcap);
    /* Called after the writer thread has been joined and every read
     * connection closed. NULL ok. */
    void (*close)(struct lnk_store_backend *b);

    /* A read connection; thread-safe. LNK_EUNAVAIL/LNK_EBACKEND on failure,
     * LNK_EUNAVAIL also when the file at the path is not the one the write
     * connection has open (it was removed or replaced and not reopened yet),
     * so that no reader ever pairs a new file with the old file's WAL. */
    int (*conn_open)(struct lnk_store_backend *b, struct lnk_store_bconn **out);
    void (*conn_close)(struct lnk_store_bconn *c); /* NULL ok */
    /* Runs a read kind on c, setting op->rc and the outputs. */
    void (*read)(struct lnk_store_bconn *c, struct lnk_store_op *op);

    /* The group-commit cycle, called only from the writer thread:
     * batch_begin once, batch_apply for each operation (read kinds included),
     * then batch_commit, or batch_abort when a call failed. batch_apply sets
     * op->rc; a failing operation is undone alone (savepoint) and the call
     * still returns LNK_OK. A non-OK return means the transaction itself was
     * lost and every operation in the batch fails with that code. */
    int (*batch_begin)(struct lnk_store_backend *b);
    int (*batch_apply)(struct lnk_store_backend *b, struct lnk_store_op *op);
    int (*batch_commit)(struct lnk_store_backend *b);
    void (*batch_abort)(struct lnk_store_backend *b);
    /* With a durable configuration (synchronous_full) and this set,
     * batch_commit does not wait for the disk: sync makes every batch
     * committed before the call durable. The store calls it from its syncer
     * thread, concurrently with the writer's next batch, and answers a
     * batch's ops only after it returned LNK_OK. A failure (with its errno
     * in *sys_errno) is sticky until a reopen. NULL: batch_commit is
     * durable by itself. */
    int (*sync)(struct lnk_store_backend *b, int *sys_errno);

    /* Write health, writer thread only. None of them blocks for long except
     * rescue, which copies the whole database. */
    /* What a look at the file says without writing: FILE_REMOVED or
     * FILE_REPLACED when the path no longer names the open file, READ_ONLY
     * when the write connection could only open it read-only, UNAVAILABLE
     * when there is no write connection (a reopen failed), else LNK_STORE_OK.
     * A few stat calls. */
    enum lnk_store_fault (*check)(struct lnk_store_backend *b);
    /* A small write transaction of its own (a heartbeat row), synced like a
     * batch: LNK_OK, or the error with its fault left for last_fault. */
    int (*probe)(struct lnk_store_backend *b);
    /* The fault behind the latest storage failure of batch_begin, batch_apply
     * (an op's rc included), batch_commit or probe, and its errno (0 if
     * unknown); LNK_STORE_OK when that failure was not the storage's (a
     * constraint, the code space exhausted). */
    enum lnk_store_fault (*last_fault)(struct lnk_store_backend *b, int *sys_errno);
    /* Copies what the write connection sees (a consistent snapshot, WAL
     * included) to a new file next to the path and syncs it; its name goes
     * to path_out. For a file that was removed or replaced while open. */
    int (*rescue)(struct lnk_store_backend *b, char *path_out, size_t cap);
    /* Whether reopen would now find a usable file: one that is a complete
     * database and has not changed since the previous call (a copy still in
     * progress is not), or, for a connection that was opened read-only, a
     * file that is writable again. */
    bool (*reopen_ready)(struct lnk_store_backend *b);
    /* Closes the write connection, removes the old file's WAL and
     * shared-memory files if the path still names them, and opens (and
     * migrates) the file now at the path. Every read connection must be
     * closed first. On failure there is no write connection: batch calls and
     * probe fail with LNK_EUNAVAIL and check says UNAVAILABLE. */
    int (*reopen)(struct lnk_store_backend *b, char *errbuf, size_t errcap);
};

extern const struct lnk_store_ops lnk_store_sqlite_ops;

/* Clears an operation's outputs (rc, err_field, rows, counters); the arena
 * keeps its memory. imported/skipped of the *_IMPORT kinds are kept: callers
 * may preset them and backends add to them only when the op succeeds.
 * Backends call it before running an operation. */
void lnk_store_op_reset_outputs(struct lnk_store_op *op);

/* True for the kinds that only read and may run inline on a worker connection. */
bool lnk_store_op_is_read(enum lnk_op_kind kind);

#endif
