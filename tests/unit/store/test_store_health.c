/* SPDX-License-Identifier: MIT */
/* Write health of the store (store.h, docs/durability.md): a storage failure
 * makes the store refuse writes without touching the disk, reads go on, a
 * probe clears the state; a removed or replaced file is noticed, copied out
 * and reopened. Storage failures come from a fault-injecting SQLite VFS
 * (SQLite's own test approach), registered as the default so the store uses
 * it; removal and replacement are real unlink and rename calls. Timers are
 * set far out and driven by lnk_store_recheck, except in the two tests whose
 * subject is time: the writer probing on its own, and the events writer's
 * retries. */
#include <sqlite3.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "linkd/err.h"
#include "linkd/events.h"
#include "linkd/metrics.h"
#include "linkd/store.h"

/* ---- a VFS that fails writes on demand -------------------------------------- */

enum inject { INJECT_NONE, INJECT_FULL, INJECT_EROFS, INJECT_EIO };

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static _Atomic int inject_mode;   /* enum inject */
static _Atomic int last_errno;    /* what xGetLastError reports after an injection */
static _Atomic long write_calls;  /* xWrite/xSync/xTruncate on db, WAL and journals */
static _Atomic bool deny_rw_open; /* open main databases read-only, as SQLite does when the
                                     file cannot be opened for writing */

struct fault_file {
    sqlite3_file base;
    sqlite3_file *real; /* storage follows this struct */
    bool injectable;    /* main db, WAL or journal; never the shm */
    int last_errno;     /* of the last injected failure, for SQLITE_FCNTL_LAST_ERRNO */
};

static sqlite3_file *real_of(sqlite3_file *f)
{
    return ((struct fault_file *)f)->real;
}

/* The error an injected write or sync returns, or SQLITE_OK to go ahead. */
static int injected(sqlite3_file *f, int ioerr)
{
    if (!((struct fault_file *)f)->injectable)
        return SQLITE_OK;
    atomic_fetch_add(&write_calls, 1);
    int e = 0, rc = ioerr;
    switch (atomic_load(&inject_mode)) {
    case INJECT_FULL:
        e = ENOSPC;
        rc = SQLITE_FULL;
        break;
    case INJECT_EROFS:
        e = EROFS;
        break;
    case INJECT_EIO:
        e = EIO;
        break;
    default:
        return SQLITE_OK;
    }
    ((struct fault_file *)f)->last_errno = e;
    atomic_store(&last_errno, e);
    return rc;
}

static int f_close(sqlite3_file *f)
{
    int rc = real_of(f)->pMethods ? real_of(f)->pMethods->xClose(real_of(f)) : SQLITE_OK;
    f->pMethods = NULL;
    return rc;
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return real_of(f)->pMethods->xRead(real_of(f), buf, n, off);
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    int rc = injected(f, SQLITE_IOERR_WRITE);
    return rc ? rc : real_of(f)->pMethods->xWrite(real_of(f), buf, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = injected(f, SQLITE_IOERR_TRUNCATE);
    return rc ? rc : real_of(f)->pMethods->xTruncate(real_of(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
    int rc = injected(f, SQLITE_IOERR_FSYNC);
    return rc ? rc : real_of(f)->pMethods->xSync(real_of(f), flags);
}

static int f_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return real_of(f)->pMethods->xFileSize(real_of(f), size);
}

static int f_lock(sqlite3_file *f, int lock)
{
    return real_of(f)->pMethods->xLock(real_of(f), lock);
}

static int f_unlock(sqlite3_file *f, int lock)
{
    return real_of(f)->pMethods->xUnlock(real_of(f), lock);
}

static int f_check_reserved(sqlite3_file *f, int *out)
{
    return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

static int f_file_control(sqlite3_file *f, int op, void *arg)
{
    if (op == SQLITE_FCNTL_LAST_ERRNO && ((struct fault_file *)f)->last_errno) {
        *(int *)arg = ((struct fault_file *)f)->last_errno;
        return SQLITE_OK;
    }
    return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}

static int f_sector_size(sqlite3_file *f)
{
    return real_of(f)->pMethods->xSectorSize(real_of(f));
}

static int f_device_characteristics(sqlite3_file *f)
{
    return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

static int f_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
    return real_of(f)->pMethods->xShmMap(real_of(f), page, size, extend, out);
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    real_of(f)->pMethods->xShmBarrier(real_of(f));
}

static int f_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return real_of(f)->pMethods->xShmUnmap(real_of(f), delete_flag);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
    return real_of(f)->pMethods->xFetch(real_of(f), off, n, out);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

static const sqlite3_io_methods fault_methods = {
    .iVersion = 3,
    .xClose = f_close,
    .xRead = f_read,
    .xWrite = f_write,
    .xTruncate = f_truncate,
    .xSync = f_sync,
    .xFileSize = f_file_size,
    .xLock = f_lock,
    .xUnlock = f_unlock,
    .xCheckReservedLock = f_check_reserved,
    .xFileControl = f_file_control,
    .xSectorSize = f_sector_size,
    .xDeviceCharacteristics = f_device_characteristics,
    .xShmMap = f_shm_map,
    .xShmLock = f_shm_lock,
    .xShmBarrier = f_shm_barrier,
    .xShmUnmap = f_shm_unmap,
    .xFetch = f_fetch,
    .xUnfetch = f_unfetch,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    (void)vfs;
    struct fault_file *ff = (struct fault_file *)file;
    ff->real = (sqlite3_file *)(ff + 1);
    ff->injectable =
        (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL)) != 0;
    ff->last_errno = 0;
    file->pMethods = NULL;
    if ((flags & SQLITE_OPEN_MAIN_DB) && (flags & SQLITE_OPEN_READWRITE) &&
        atomic_load(&deny_rw_open))
        flags = (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY;
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
    if (rc == SQLITE_OK)
        file->pMethods = &fault_methods;
    return rc;
}

static int v_get_last_error(sqlite3_vfs *vfs, int n, char *buf)
{
    (void)vfs;
    int e = atomic_load(&last_errno);
    return e ? e : real_vfs->xGetLastError(real_vfs, n, buf);
}

static void set_inject(enum inject mode)
{
    atomic_store(&deny_rw_open, false);
    atomic_store(&inject_mode, mode);
    if (mode == INJECT_NONE)
        atomic_store(&last_errno, 0);
}

static void register_fault_vfs(void)
{
    real_vfs = sqlite3_vfs_find("unix");
    fault_vfs = *real_vfs;
    fault_vfs.zName = "lnk-fault";
    fault_vfs.szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile;
    fault_vfs.xOpen = v_open;
    fault_vfs.xGetLastError = v_get_last_error;
    sqlite3_vfs_register(&fault_vfs, 1);
}

/* ---- fixture ------------------------------------------------------------- */

struct fixture {
    char dir[64];
    char path[128];
    struct lnk_store *s;
    int64_t user_id;
};

#define FAR_MS 3600000u /* timers that never fire during a test */

static int open_store_ms(struct fixture *f, unsigned check_ms, unsigned probe_ms)
{
    char url[160], err[256] = "";
    snprintf(url, sizeof(url), "sqlite://%s", f->path);
    struct lnk_store_config cfg = {
        .url = url, .synchronous_full = 1, .check_ms = check_ms, .probe_ms = probe_ms};
    int rc = lnk_store_open(&cfg, &f->s, err, sizeof(err));
    if (rc != LNK_OK)
        print_error("lnk_store_open: %s\n", err);
    return rc;
}

static int64_t add_user(struct lnk_store *s, const char *name, int *rc_out)
{
    char email[96];
    snprintf(email, sizeof(email), "%s@example.com", name);
    struct lnk_op_user *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_USER_CREATE), user);
    op->in.username = name;
    op->in.email = email;
    int rc = lnk_store_run(s, &op->op);
    int64_t id = rc == LNK_OK ? op->out.id : -1;
    lnk_store_op_free(&op->op);
    if (rc_out)
        *rc_out = rc;
    return id;
}

static int create_user_rc(struct lnk_store *s, const char *name)
{
    int rc = LNK_OK;
    add_user(s, name, &rc);
    return rc;
}

static int64_t count_users(struct lnk_store *s)
{
    struct lnk_op_counts *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_COUNT_ROWS), counts);
    int rc = lnk_store_run(s, &op->op);
    int64_t n = rc == LNK_OK ? op->users : -1;
    lnk_store_op_free(&op->op);
    return n;
}

/* The users with ids 1 to 16, counted through a worker connection (point
 * reads, inline). */
static int64_t count_users_on(struct lnk_store *s, struct lnk_store_conn *c, int *rc_out)
{
    int64_t n = 0;
    *rc_out = LNK_OK;
    for (int64_t id = 1; id <= 16 && *rc_out == LNK_OK; id++) {
        struct lnk_op_user *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_USER_GET), user);
        op->id = id;
        lnk_store_submit(s, c, &op->op);
        n += op->op.rc == LNK_OK;
        *rc_out = op->op.rc == LNK_ENOTFOUND ? LNK_OK : op->op.rc;
        lnk_store_op_free(&op->op);
    }
    return *rc_out == LNK_OK ? n : -1;
}

/* A url of the fixture's user; its id. */
static int64_t add_url(struct fixture *f)
{
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_CREATE), url);
    op->in = (struct lnk_url){
        .user_id = f->user_id, .original_url = "https://a.example/", .is_active = true};
    CHECK(lnk_store_run(f->s, &op->op) == LNK_OK, "a url");
    int64_t url_id = op->out.id;
    lnk_store_op_free(&op->op);
    return url_id;
}

static struct lnk_store_status status_of(struct lnk_store *s)
{
    struct lnk_store_status st;
    lnk_store_get_status(s, &st);
    return st;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/linkd-health-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
    set_inject(INJECT_NONE);
    *state = f;
    if (open_store_ms(f, FAR_MS, FAR_MS) != LNK_OK)
        return -1;
    f->user_id = add_user(f->s, "ada", NULL);
    return f->user_id > 0 ? 0 : -1;
}

static void remove_dir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        print_error("could not remove %s\n", dir);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    set_inject(INJECT_NONE);
    lnk_store_close(f->s);
    remove_dir(f->dir);
    free(f);
    return 0;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- faults of the disk ------------------------------------------------- */

static void test_fault_names_are_stable(void **state)
{
    (void)state;
    CHECK(strcmp(lnk_store_fault_name(LNK_STORE_OK), "ok") == 0, "ok");
    CHECK(strcmp(lnk_store_fault_name(LNK_STORE_FAULT_DISK_FULL), "disk_full") == 0, "disk_full");
    CHECK(strcmp(lnk_store_fault_name(LNK_STORE_FAULT_READ_ONLY), "read_only") == 0, "read_only");
    CHECK(strcmp(lnk_store_fault_name(LNK_STORE_FAULT_IO_ERROR), "io_error") == 0, "io_error");
    CHECK(strcmp(lnk_store_fault_name(LNK_STORE_FAULT_LOCKED), "locked") == 0, "locked");
    CHECK(strcmp(lnk_store_fault_name(LNK_STORE_FAULT_FILE_REMOVED), "file_removed") == 0,
          "file_removed");
    CHECK(strcmp(lnk_store_fault_name(LNK_STORE_FAULT_FILE_REPLACED), "file_replaced") == 0,
          "file_replaced");
    CHECK(strcmp(lnk_store_fault_name(LNK_STORE_FAULT_UNAVAILABLE), "unavailable") == 0,
          "unavailable");
}

static void test_constraint_errors_do_not_degrade(void **state)
{
    struct fixture *f = *state;
    CHECK(create_user_rc(f->s, "ada") == LNK_EEXISTS, "a duplicate username is LNK_EEXISTS");
    CHECK(!lnk_store_is_degraded(f->s), "a client error leaves the store writable");
    CHECK(status_of(f->s).fault == LNK_STORE_OK, "status says ok");
}

static void test_full_disk_refuses_writes_without_io_and_recovers_on_probe(void **state)
{
    struct fixture *f = *state;
    set_inject(INJECT_FULL);
    CHECK(create_user_rc(f->s, "bob") == LNK_EUNAVAIL, "the write that hits a full disk fails");
    struct lnk_store_status st = status_of(f->s);
    CHECK(lnk_store_is_degraded(f->s) && st.fault == LNK_STORE_FAULT_DISK_FULL,
          "the store is degraded: disk_full");
    CHECK(st.sys_errno == ENOSPC && st.since_ms > 0, "with ENOSPC and the time it began");

    long before = atomic_load(&write_calls);
    CHECK(create_user_rc(f->s, "carol") == LNK_EUNAVAIL, "the next write is refused");
    CHECK(atomic_load(&write_calls) == before, "without writing to the disk");
    CHECK(count_users(f->s) == 1, "reads through the writer still run");

    lnk_store_recheck(f->s);
    st = status_of(f->s);
    CHECK(st.fault == LNK_STORE_FAULT_DISK_FULL && st.failed_probes == 1,
          "a failed probe keeps it degraded and is counted");

    set_inject(INJECT_NONE);
    lnk_store_recheck(f->s);
    st = status_of(f->s);
    CHECK(!lnk_store_is_degraded(f->s) && st.fault == LNK_STORE_OK, "a good probe clears it");
    CHECK(st.recoveries == 1 && st.since_ms == 0 && st.failed_probes == 0, "one recovery");
    CHECK(create_user_rc(f->s, "dave") == LNK_OK, "writes succeed again");
    CHECK(count_users(f->s) == 2, "and nothing refused was written");
}

/* A write is answered only after its WAL was synced: with the WAL gone
 * from the directory (the writer still writes to the open file), the sync
 * cannot happen, so the commit is never acknowledged. */
static uint64_t histo_count(const struct lnk_histo *h)
{
    uint64_t n = 0;
    for (unsigned k = 0; k <= h->n_bounds; k++)
        n += atomic_load(&h->counts[k]);
    return n;
}

/* The writer's metrics (lnk_store_get_writer_stats): every batch is timed
 * and sized, every write refused or failed by the storage is counted once,
 * and each failed transaction or probe is one error. */
static void test_writer_stats_count_batches_and_storage_failures(void **state)
{
    struct fixture *f = *state;
    struct lnk_store_writer_stats ws;
    lnk_store_get_writer_stats(f->s, &ws);
    uint64_t batches = histo_count(ws.batch_ops), commits = histo_count(ws.commit_ns);
    uint64_t syncs = histo_count(ws.sync_ns);
    CHECK(ws.queue_depth == 0 && ws.write_failures == 0 && ws.errors == 0, "a healthy start");
    CHECK(batches >= 1 && commits >= 1 && syncs >= 1, "the fixture's user was one timed batch");

    CHECK(create_user_rc(f->s, "bob") == LNK_OK, "a write");
    lnk_store_get_writer_stats(f->s, &ws);
    CHECK(histo_count(ws.batch_ops) == batches + 1, "one more batch");
    CHECK(histo_count(ws.commit_ns) == commits + 1, "its commit timed");
    CHECK(histo_count(ws.sync_ns) == syncs + 1, "its sync timed");
    CHECK(atomic_load(&ws.batch_ops->counts[0]) >= 1, "a batch of one op falls in le=1");

    set_inject(INJECT_FULL);
    CHECK(create_user_rc(f->s, "carol") == LNK_EUNAVAIL, "the write that hits a full disk fails");
    CHECK(create_user_rc(f->s, "dave") == LNK_EUNAVAIL, "the next is refused");
    CHECK(count_users(f->s) == 2, "reads are no failures");
    lnk_store_recheck(f->s); /* a probe, which fails */
    lnk_store_get_writer_stats(f->s, &ws);
    CHECK(ws.write_failures == 2, "both writes are counted, once each");
    CHECK(ws.errors == 2, "the failed transaction and the failed probe");
    CHECK(histo_count(ws.commit_ns) == commits + 1, "a failed batch is not timed as a commit");

    set_inject(INJECT_NONE);
    lnk_store_recheck(f->s);
    CHECK(create_user_rc(f->s, "erin") == LNK_OK, "writes succeed again");
    lnk_store_get_writer_stats(f->s, &ws);
    CHECK(ws.write_failures == 2 && ws.errors == 2, "and add no failure");
    CHECK(ws.queue_depth == 0, "nothing waits for the writer");
}

static void test_write_whose_wal_cannot_be_synced_is_not_acknowledged(void **state)
{
    struct fixture *f = *state;
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    CHECK(unlink(wal) == 0, "remove the WAL's name");
    CHECK(create_user_rc(f->s, "bob") == LNK_EUNAVAIL, "the write is not acknowledged");
    lnk_store_recheck(f->s);
    struct lnk_store_status st = status_of(f->s);
    CHECK(lnk_store_is_degraded(f->s) && st.fault == LNK_STORE_FAULT_IO_ERROR,
          "the store is degraded: io_error");
    CHECK(create_user_rc(f->s, "carol") == LNK_EUNAVAIL, "later writes are refused");
    CHECK(count_users(f->s) == 2, "reads still run: bob is committed, only not durable");
    struct lnk_store_writer_stats ws;
    lnk_store_get_writer_stats(f->s, &ws);
    CHECK(ws.write_failures == 2, "the unsynced write and the refused one are failures");
    CHECK(ws.errors >= 1, "the failed sync is an error");
}

/* A click batch whose sync failed is committed and visible: it is answered
 * as written, or the events writer would write it a second time. */
static void test_click_batch_whose_sync_failed_is_not_written_twice(void **state)
{
    struct fixture *f = *state;
    int64_t url_id = add_url(f);
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    CHECK(unlink(wal) == 0, "remove the WAL's name");
    struct lnk_click clicks[3];
    for (int i = 0; i < 3; i++)
        clicks[i] = (struct lnk_click){url_id, f->user_id, 1700000000 + i, "abc", "ua", ""};
    struct lnk_op_clicks *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_CLICKS_APPEND), clicks);
    op->clicks = clicks;
    op->n = 3;
    CHECK(lnk_store_run(f->s, &op->op) == LNK_OK && op->written == 3,
          "the click batch is answered as written");
    lnk_store_op_free(&op->op);
    lnk_store_recheck(f->s);
    CHECK(lnk_store_is_degraded(f->s), "and the store is degraded");

    struct lnk_op_list *l = LNK_OP_AS(lnk_store_op_new(LNK_OP_EVENT_LIST), list);
    l->q.event_type = "click";
    CHECK(lnk_store_run(f->s, &l->op) == LNK_OK && l->n_rows == 3, "the clicks are there once");
    lnk_store_op_free(&l->op);
}

static void test_erofs_is_read_only_and_eio_is_io_error(void **state)
{
    struct fixture *f = *state;
    set_inject(INJECT_EROFS);
    CHECK(create_user_rc(f->s, "bob") == LNK_EUNAVAIL, "a write on a read-only file fails");
    struct lnk_store_status st = status_of(f->s);
    CHECK(st.fault == LNK_STORE_FAULT_READ_ONLY && st.sys_errno == EROFS, "read_only, EROFS");

    set_inject(INJECT_EIO);
    lnk_store_recheck(f->s);
    st = status_of(f->s);
    CHECK(st.fault == LNK_STORE_FAULT_IO_ERROR && st.sys_errno == EIO,
          "a probe that meets another fault reports it: io_error, EIO");

    set_inject(INJECT_NONE);
    lnk_store_recheck(f->s);
    CHECK(!lnk_store_is_degraded(f->s), "recovered");
    CHECK(create_user_rc(f->s, "carol") == LNK_OK, "writes succeed again");
}

static void test_lock_held_elsewhere_is_locked_and_probes_do_not_wait_long(void **state)
{
    struct fixture *f = *state;
    sqlite3 *other = NULL;
    CHECK(sqlite3_open_v2(f->path, &other, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK,
          "another connection");
    CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK,
          "holds the write lock");
    CHECK(create_user_rc(f->s, "bob") == LNK_EUNAVAIL, "a write gives up after the busy timeout");
    CHECK(status_of(f->s).fault == LNK_STORE_FAULT_LOCKED, "locked");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lnk_store_recheck(f->s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK(lnk_store_is_degraded(f->s) && ms < 2000, "a probe fails quickly while it is held");
    CHECK(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL) == SQLITE_OK, "the lock is released");
    sqlite3_close(other);
    lnk_store_recheck(f->s);
    CHECK(!lnk_store_is_degraded(f->s), "the next probe recovers");
    CHECK(create_user_rc(f->s, "carol") == LNK_OK, "writes succeed again");
}

static void test_degraded_store_recovers_by_itself(void **state)
{
    struct fixture *f = *state;
    lnk_store_close(f->s);
    CHECK(open_store_ms(f, 20, 20) == LNK_OK, "reopen with 20 ms timers");
    set_inject(INJECT_FULL);
    CHECK(create_user_rc(f->s, "bob") == LNK_EUNAVAIL, "the write fails");
    CHECK(lnk_store_is_degraded(f->s), "degraded");
    sleep_ms(100);
    CHECK(lnk_store_is_degraded(f->s) && status_of(f->s).failed_probes >= 2,
          "the writer keeps probing on its own");
    set_inject(INJECT_NONE);
    for (int i = 0; i < 200 && lnk_store_is_degraded(f->s); i++)
        sleep_ms(10);
    CHECK(!lnk_store_is_degraded(f->s), "and recovers within a few probe periods");
    CHECK(create_user_rc(f->s, "carol") == LNK_OK, "writes succeed again");
}

static void test_clicks_queued_while_unwritable_are_written_after_recovery(void **state)
{
    struct fixture *f = *state;
    int64_t url_id = add_url(f);
    struct lnk_events *ev = NULL;
    CHECK(lnk_events_new(f->s, 1, 10, 1000, &ev) == LNK_OK, "events writer, 10 ms flushes");
    set_inject(INJECT_FULL);
    CHECK(create_user_rc(f->s, "bob") == LNK_EUNAVAIL && lnk_store_is_degraded(f->s),
          "the store is degraded");
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        struct lnk_click_src c = {url_id,         f->user_id,    1700000000 + i,
                                  LNK_STR("abc"), LNK_STR("ua"), LNK_STR("")};
        lnk_events_push(ev, 0, &c);
    }
    sleep_ms(100); /* several failed flushes */
    struct lnk_events_stats es;
    lnk_events_get_stats(ev, &es);
    CHECK(es.written == 0 && es.failed > 0 && es.queued == N, "clicks wait, none written");
    set_inject(INJECT_NONE);
    lnk_store_recheck(f->s);
    lnk_events_free(ev); /* flushes everything queued */

    struct lnk_op_list *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_EVENT_LIST), list);
    op->q.event_type = "click";
    CHECK(lnk_store_run(f->s, &op->op) == LNK_OK && op->n_rows == N, "every click is in the store");
    lnk_store_op_free(&op->op);
}

/* ---- the file itself ---------------------------------------------------- */

static void test_file_opened_read_only_is_reopened_once_writable(void **state)
{
    struct fixture *f = *state;
    lnk_store_close(f->s);
    atomic_store(&deny_rw_open, true);
    CHECK(open_store_ms(f, FAR_MS, FAR_MS) == LNK_OK, "a read-only file still opens");
    struct lnk_store_status st = status_of(f->s);
    CHECK(st.fault == LNK_STORE_FAULT_READ_ONLY, "degraded from the start: read_only");
    CHECK(count_users(f->s) == 1, "reads are served");
    CHECK(create_user_rc(f->s, "bob") == LNK_EUNAVAIL, "writes are refused");
    lnk_store_recheck(f->s);
    CHECK(lnk_store_is_degraded(f->s), "still read-only: the probe fails");
    atomic_store(&deny_rw_open, false);
    lnk_store_recheck(f->s);
    CHECK(!lnk_store_is_degraded(f->s), "writable again: the writer reopens it and recovers");
    CHECK(create_user_rc(f->s, "carol") == LNK_OK && count_users(f->s) == 2, "writes work");
}

static void test_removed_file_is_detected_rescued_and_reopened(void **state)
{
    struct fixture *f = *state;
    struct lnk_store_conn *conn = NULL;
    int rc;
    CHECK(lnk_store_conn_open(f->s, &conn) == LNK_OK, "a worker connection");
    CHECK(unlink(f->path) == 0, "the database file is removed");

    lnk_store_recheck(f->s);
    struct lnk_store_status st = status_of(f->s);
    CHECK(st.fault == LNK_STORE_FAULT_FILE_REMOVED, "the check notices: file_removed");
    CHECK(create_user_rc(f->s, "bob") == LNK_EUNAVAIL, "writes are refused");
    int64_t n = count_users_on(f->s, conn, &rc);
    CHECK(n == 1 && rc == LNK_OK, "a worker connection still reads the open file");
    CHECK(!strcmp(st.detail_key, "rescue_copy") && file_exists(st.detail),
          "a rescue copy was written");

    /* the rescue copy holds everything committed (the WAL included) */
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_open_v2(st.detail, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK,
          "the rescue copy opens");
    CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM users", -1, &q, NULL) == SQLITE_OK &&
              sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) == 1,
          "and holds the user");
    sqlite3_finalize(q);
    sqlite3_close(db);

    lnk_store_recheck(f->s);
    CHECK(lnk_store_is_degraded(f->s), "nothing at the path yet: still degraded");
    CHECK(rename(st.detail, f->path) == 0, "the operator moves the copy back");
    lnk_store_recheck(f->s); /* sees the file */
    lnk_store_recheck(f->s); /* sees it unchanged: reopens */
    st = status_of(f->s);
    CHECK(st.fault == LNK_STORE_OK && st.recoveries == 1, "reopened and recovered");
    CHECK(create_user_rc(f->s, "carol") == LNK_OK, "writes succeed");
    CHECK(count_users_on(f->s, conn, &rc) == 2 && rc == LNK_OK,
          "the worker connection reopened on the file and sees the write");
    lnk_store_conn_close(conn);
    lnk_store_close(f->s);
    CHECK(open_store_ms(f, FAR_MS, FAR_MS) == LNK_OK && count_users(f->s) == 2,
          "after a restart the data is all there");
}

/* A second store on another path builds the replacement. */
static void make_other_db(const char *path, const char *user)
{
    char url[160], err[256];
    struct lnk_store *o = NULL;
    snprintf(url, sizeof(url), "sqlite://%s", path);
    struct lnk_store_config cfg = {.url = url, .synchronous_full = 1};
    CHECK(lnk_store_open(&cfg, &o, err, sizeof(err)) == LNK_OK, "other database opens");
    CHECK(add_user(o, user, NULL) > 0, "other database has its user");
    lnk_store_close(o);
}

static void test_replaced_file_switches_to_the_new_database(void **state)
{
    struct fixture *f = *state;
    char other[160], wal[160];
    struct lnk_store_conn *conn = NULL;
    int rc;
    snprintf(other, sizeof(other), "%s/other.db", f->dir);
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    make_other_db(other, "zoe");
    CHECK(add_user(f->s, "bob", NULL) > 0, "the old file has two users, one in its WAL");
    CHECK(lnk_store_conn_open(f->s, &conn) == LNK_OK, "a worker connection");

    CHECK(rename(other, f->path) == 0, "a restore moves another database over the path");
    struct lnk_store_conn *late = NULL;
    CHECK(lnk_store_conn_open(f->s, &late) == LNK_EUNAVAIL,
          "no new reader opens the new file next to the old WAL");
    lnk_store_recheck(f->s);
    struct lnk_store_status st = status_of(f->s);
    CHECK(st.fault == LNK_STORE_FAULT_FILE_REPLACED, "the check notices the replacement");
    CHECK(!strcmp(st.detail_key, "rescue_copy") && file_exists(st.detail),
          "and copies the old file out");
    lnk_store_recheck(f->s);
    CHECK(!lnk_store_is_degraded(f->s), "and switches once the new file is seen unchanged");
    CHECK(count_users(f->s) == 1, "the writer reads the new database");
    CHECK(count_users_on(f->s, conn, &rc) == 1 && rc == LNK_OK, "so does the worker");
    CHECK(create_user_rc(f->s, "carol") == LNK_OK && count_users(f->s) == 2,
          "writes go to the new database");

    lnk_store_conn_close(conn);
    lnk_store_close(f->s);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK, "opens");
    CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK &&
              sqlite3_step(q) == SQLITE_ROW &&
              strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0,
          "the new database is intact: the old WAL was never applied to it");
    sqlite3_finalize(q);
    sqlite3_close(db);
    CHECK(open_store_ms(f, FAR_MS, FAR_MS) == LNK_OK && count_users(f->s) == 2,
          "and after a restart holds zoe and carol");
}

static void copy_prefix(const char *from, const char *to, long len)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    CHECK(in && out, "files open");
    char buf[4096];
    long done = 0;
    while (len < 0 || done < len) {
        size_t want =
            len < 0 || len - done > (long)sizeof(buf) ? sizeof(buf) : (size_t)(len - done);
        size_t n = fread(buf, 1, want, in);
        if (n == 0)
            break;
        CHECK(fwrite(buf, 1, n, out) == n, "copy");
        done += (long)n;
    }
    fclose(in);
    fclose(out);
}

static void test_incomplete_file_is_not_opened(void **state)
{
    struct fixture *f = *state;
    char other[160];
    snprintf(other, sizeof(other), "%s/other.db", f->dir);
    make_other_db(other, "zoe");
    CHECK(unlink(f->path) == 0, "the database file is removed");
    lnk_store_recheck(f->s);
    CHECK(status_of(f->s).fault == LNK_STORE_FAULT_FILE_REMOVED, "file_removed");

    copy_prefix(other, f->path, 4096); /* a copy cut short */
    lnk_store_recheck(f->s);
    lnk_store_recheck(f->s);
    CHECK(lnk_store_is_degraded(f->s), "a partial copy is not opened");
    copy_prefix(other, f->path, -1); /* the copy completes */
    lnk_store_recheck(f->s);
    CHECK(lnk_store_is_degraded(f->s), "a file that just changed is not opened yet");
    lnk_store_recheck(f->s);
    CHECK(!lnk_store_is_degraded(f->s), "the complete, settled file is");
    CHECK(count_users(f->s) == 1 && create_user_rc(f->s, "bob") == LNK_OK, "and works");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    register_fault_vfs();
    const struct CMUnitTest tests[] = {
        T(test_fault_names_are_stable),
        T(test_constraint_errors_do_not_degrade),
        T(test_full_disk_refuses_writes_without_io_and_recovers_on_probe),
        T(test_writer_stats_count_batches_and_storage_failures),
        T(test_write_whose_wal_cannot_be_synced_is_not_acknowledged),
        T(test_click_batch_whose_sync_failed_is_not_written_twice),
        T(test_erofs_is_read_only_and_eio_is_io_error),
        T(test_lock_held_elsewhere_is_locked_and_probes_do_not_wait_long),
        T(test_degraded_store_recovers_by_itself),
        T(test_clicks_queued_while_unwritable_are_written_after_recovery),
        T(test_file_opened_read_only_is_reopened_once_writable),
        T(test_removed_file_is_detected_rescued_and_reopened),
        T(test_replaced_file_switches_to_the_new_database),
        T(test_incomplete_file_is_not_opened),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
