/* SPDX-License-Identifier: MIT */
/* The SQLite backend's connections and schema: opening the file (WAL, the
 * synchronous mode, cache and checkpoint sizes), read connections that must
 * name the writer's file, the migrations of migrations.h keyed by PRAGMA
 * user_version, and the secret key of the code permutation, made once per
 * database from the kernel's CSPRNG. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "linkd/err.h"
#include "store/migrations.h"
#include "store/store_sqlite_int.h"
#include "store/store_sqlite_pcache.h"

static int prepare_sql(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    return lnk_sq_map_rc(sqlite3_prepare_v2(db, sql, -1, out, NULL));
}

/* Runs fixed SQL (pragmas, migrations; never client data). */
static int exec_sql(sqlite3 *db, const char *sql, char *errbuf, size_t errcap, const char *what)
{
    int src = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (src != SQLITE_OK)
        lnk_sq_set_err(errbuf, errcap, what, sqlite3_errmsg(db));
    return lnk_sq_map_rc(src);
}

static int open_conn(struct lnk_store_backend *b, bool writer, struct lnk_store_bconn **out,
                     char *errbuf, size_t errcap)
{
    struct lnk_store_bconn *c = lnk_xcalloc(1, sizeof(*c));
    c->st = lnk_sq_stmts_new();
    c->lists = lnk_sq_lists_new();
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    int rc;
    c->b = b;
    int src = sqlite3_open_v2(b->path, &c->db, flags, NULL);
    if (src != SQLITE_OK) {
        lnk_sq_set_err(errbuf, errcap, b->path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
        rc = lnk_sq_map_rc(src);
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, LNK_SQ_BUSY_TIMEOUT_MS);
    rc = exec_sql(c->db, "PRAGMA foreign_keys = ON", errbuf, errcap, "foreign_keys");
    if (rc == LNK_OK && !writer)
        rc = exec_sql(c->db, "PRAGMA query_only = ON", errbuf, errcap, "query_only");
out:
    if (rc == LNK_OK) {
        *out = c;
    } else {
        lnk_sq_close_conn(c);
        *out = NULL;
    }
    return rc;
}

static int set_wal(sqlite3 *db, char *errbuf, size_t errcap)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_sql(db, "PRAGMA journal_mode = WAL", &st);
    if (rc != LNK_OK) {
        lnk_sq_set_err(errbuf, errcap, "journal_mode", sqlite3_errmsg(db));
        goto out;
    }
    int src = sqlite3_step(st);
    const unsigned char *mode = src == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    if (!mode || strcmp((const char *)mode, "wal") != 0) {
        lnk_sq_set_err(errbuf, errcap, "journal_mode", "WAL is not available for this file");
        rc = src == SQLITE_ROW ? LNK_EBACKEND : lnk_sq_map_rc(src);
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
        rc = lnk_sq_map_rc(src);
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
        rc = lnk_sq_map_rc(sqlite3_bind_blob(st, 1, key, LNK_CODEGEN_KEY_BYTES, SQLITE_STATIC));
    if (rc == LNK_OK)
        rc = lnk_sq_map_rc(sqlite3_step(st));
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
        lnk_sq_set_err(errbuf, errcap, "migrate", "a row names a missing parent after the upgrade");
        return LNK_EBACKEND;
    }
    return src == SQLITE_DONE ? LNK_OK : lnk_sq_map_rc(src);
}

/* Moves the schema from the file's user_version to the newest. */
static int apply_migrations(sqlite3 *db, char *errbuf, size_t errcap)
{
    int64_t version = 0;
    char sql[64];
    int rc = read_user_version(db, &version);
    if (rc == LNK_OK && (version < 0 || (uint64_t)version > LNK_SQLITE_N_MIGRATIONS)) {
        lnk_sq_set_err(errbuf, errcap, "migrate", "the database schema is newer than this linkd");
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
        lnk_sq_set_err(errbuf, errcap, "code key", "cannot read or create meta.code_key");
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
        memcpy(b->code_key, key, sizeof(b->code_key));
    return rc;
}

void lnk_sq_close(struct lnk_store_backend *b)
{
    if (!b)
        return;
    lnk_sq_close_conn(b->wr);
    lnk_sq_close_wal_fd(b);
    free(b->path);
    free(b);
}

int lnk_sq_open_writer(struct lnk_store_backend *b, char *errbuf, size_t errcap)
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
    /* A group commit of thousands of clicks touches many pages: the cache
     * keeps them in memory until COMMIT instead of spilling to the WAL early,
     * and rarer checkpoints keep the copy-back off most commits. 16 MiB
     * holds what a batch touches (the newest bucket of the events indexes,
     * the rollup rows of its urls) and is part of every node's memory; 64
     * MiB bought no measurable creates/s or CPU per click (ADR 0029). */
    if (rc == LNK_OK)
        rc = exec_sql(c->db, "PRAGMA cache_size = -16384", errbuf, errcap, "cache_size");
    if (rc == LNK_OK)
        rc = exec_sql(c->db, "PRAGMA wal_autocheckpoint = 10000", errbuf, errcap, "checkpoint");
    if (rc != LNK_OK)
        goto out;
    b->wr = c;
    b->reserve_changes = 0; /* counted on this connection's total */
    rc = migrate(b, errbuf, errcap);
    if (rc == LNK_OK)
        lnk_sq_record_ids(b);
    /* the WAL exists now (the migration read the file): make its name
     * durable, which sq_sync's fdatasync does not */
    if (rc == LNK_OK && b->synchronous_full)
        lnk_sq_sync_parent_dir(b->path);
out:
    if (rc != LNK_OK) {
        b->wr = NULL;
        lnk_sq_close_conn(c);
    }
    return rc;
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

int lnk_sq_open(const char *target, const struct lnk_store_config *cfg,
                struct lnk_store_backend **out, char *errbuf, size_t errcap)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, configure_sqlite);
    struct lnk_store_backend *b = lnk_xcalloc(1, sizeof(*b));
    /* the url with its scheme (store.c), or a bare path */
    const char *path = strncasecmp(target, "sqlite://", 9) == 0 ? target + 9 : target;
    b->path = lnk_xstrndup(path, strlen(path));
    b->synchronous_full = cfg->synchronous_full != 0;
    b->wal_fd = -1;
    atomic_init(&b->sync_errno, 0);
    atomic_init(&b->db_dev, 0);
    atomic_init(&b->db_ino, 0);
    int rc = lnk_sq_open_writer(b, errbuf, errcap);
    if (rc == LNK_OK) {
        *out = b;
    } else {
        lnk_sq_close(b);
        *out = NULL;
    }
    return rc;
}

/* A reader must open the file the writer has: after a removal or a
 * replacement the path may name a file whose WAL is not the one at
 * "<path>-wal" yet (store_int.h). It reads once at open: SQLite fails the
 * first read of a connection whose file was unlinked before it ever read
 * (SQLITE_IOERR_FSTAT), while a connection that has read keeps reading. */
int lnk_sq_conn_open(struct lnk_store_backend *b, struct lnk_store_bconn **out)
{
    int rc = open_conn(b, false, out, NULL, 0);
    if (rc == LNK_OK &&
        !lnk_sq_same_id(lnk_sq_stat_id(b->path), atomic_load(&b->db_dev), atomic_load(&b->db_ino)))
        rc = LNK_EUNAVAIL;
    if (rc == LNK_OK)
        rc = exec_sql((*out)->db, "SELECT 1 FROM meta LIMIT 1", NULL, 0, "warm up");
    if (rc != LNK_OK) {
        lnk_sq_close_conn(*out);
        *out = NULL;
    }
    return rc;
}

void lnk_sq_code_key(struct lnk_store_backend *b, uint8_t key[LNK_CODEGEN_KEY_BYTES])
{
    memcpy(key, b->code_key, LNK_CODEGEN_KEY_BYTES);
}
