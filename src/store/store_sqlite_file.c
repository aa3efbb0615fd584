/* SPDX-License-Identifier: MIT */
/* The SQLite backend's own failure modes (docs/durability.md): the SQLite
 * error behind a failed write classified into a fault; durability after
 * commit (one fdatasync of the WAL per batch, on the store's syncer); the
 * file identified by (device, inode) so that a removed or replaced file is
 * noticed, copied out (rescue) and reopened once a complete database is back
 * at its path; and what /health tells an operator about each fault. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "linkd/err.h"
#include "linkd/log.h"
#include "store/store_sqlite_int.h"

/* A failed rescue copy (a full disk, most often) is retried this often: each
 * attempt may write a whole database before it fails. */
#define RESCUE_RETRY_MS 10000

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The errno of the latest failed system call on the WAL (or journal) or
 * the database file. sqlite3_system_errno misses errors met while
 * committing, which is where a WAL write fails. */
static int file_errno(sqlite3 *db)
{
    sqlite3_file *jf = NULL;
    int e = 0;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &jf) == SQLITE_OK && jf &&
        jf->pMethods && jf->pMethods->xFileControl(jf, SQLITE_FCNTL_LAST_ERRNO, &e) == SQLITE_OK &&
        e)
        return e;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_LAST_ERRNO, &e) != SQLITE_OK)
        e = 0;
    return e;
}

void lnk_sq_note_failure(struct lnk_store_backend *b)
{
    if (b->wr) {
        b->fail_src = sqlite3_extended_errcode(b->wr->db);
        b->fail_errno = sqlite3_system_errno(b->wr->db);
        if (!b->fail_errno)
            b->fail_errno = file_errno(b->wr->db);
    } else {
        b->fail_src = SQLITE_CANTOPEN;
        b->fail_errno = 0;
    }
}

/* The fault behind an SQLite failure. errno decides for I/O errors only:
 * SQLite leaves it from the last I/O error, which may be an old one. */
static enum lnk_store_fault classify(int src, int sys_errno)
{
    int primary = src & 0xff;
    if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL) {
        if (sys_errno == ENOSPC || sys_errno == EDQUOT)
            return LNK_STORE_FAULT_DISK_FULL;
        if (sys_errno == EROFS)
            return LNK_STORE_FAULT_READ_ONLY;
    }
    switch (primary) {
    case SQLITE_FULL:
        return LNK_STORE_FAULT_DISK_FULL;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return LNK_STORE_FAULT_READ_ONLY;
    case SQLITE_IOERR:
    case SQLITE_NOLFS:
        return LNK_STORE_FAULT_IO_ERROR;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return LNK_STORE_FAULT_LOCKED;
    case SQLITE_CANTOPEN:
        return LNK_STORE_FAULT_UNAVAILABLE;
    default:
        return LNK_STORE_OK; /* not the storage's: constraints, misuse, code space */
    }
}

/* Whether the filesystem holding path is mounted read-only. */
static bool fs_read_only(const char *path)
{
    struct statvfs sv;
    return statvfs(path, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

enum lnk_store_fault lnk_sq_last_fault(struct lnk_store_backend *b, int *sys_errno)
{
    enum lnk_store_fault f = classify(b->fail_src, b->fail_errno);
    if (f == LNK_STORE_FAULT_IO_ERROR && !b->fail_errno && fs_read_only(b->path)) {
        f = LNK_STORE_FAULT_READ_ONLY; /* the errno was lost; the mount says why */
        b->fail_errno = EROFS;
    }
    *sys_errno = f == LNK_STORE_OK ? 0 : b->fail_errno;
    if (f == LNK_STORE_FAULT_DISK_FULL && !*sys_errno)
        *sys_errno = ENOSPC;
    return f;
}

struct lnk_sq_file_id lnk_sq_stat_id(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return (struct lnk_sq_file_id){0, 0};
    return (struct lnk_sq_file_id){(uint64_t)st.st_dev, (uint64_t)st.st_ino};
}

/* "<path><suffix>" in buf. */
static const char *sibling(const struct lnk_store_backend *b, const char *suffix, char *buf,
                           size_t cap)
{
    snprintf(buf, cap, "%s%s", b->path, suffix);
    return buf;
}

/* Records the identity of the files wr has open: right after it opened
 * them, so that nothing else can have taken the names in between. */
void lnk_sq_record_ids(struct lnk_store_backend *b)
{
    char p[4096];
    struct lnk_sq_file_id db = lnk_sq_stat_id(b->path);
    atomic_store(&b->db_dev, db.dev);
    atomic_store(&b->db_ino, db.ino);
    b->wal_id = lnk_sq_stat_id(sibling(b, "-wal", p, sizeof(p)));
    b->shm_id = lnk_sq_stat_id(sibling(b, "-shm", p, sizeof(p)));
    b->have_candidate = false;
}

bool lnk_sq_same_id(struct lnk_sq_file_id a, uint64_t dev, uint64_t ino)
{
    return a.ino != 0 && a.dev == dev && a.ino == ino;
}

enum lnk_store_fault lnk_sq_check(struct lnk_store_backend *b)
{
    if (!b->wr)
        return LNK_STORE_FAULT_UNAVAILABLE;
    /* SQLite compares the path with the inode it has open; the stat also
     * catches a file replaced by one on another device. */
    int moved = 0;
    if (sqlite3_file_control(b->wr->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK)
        moved = 0;
    struct lnk_sq_file_id now = lnk_sq_stat_id(b->path);
    if (now.ino == 0)
        return LNK_STORE_FAULT_FILE_REMOVED;
    if (moved || !lnk_sq_same_id(now, atomic_load(&b->db_dev), atomic_load(&b->db_ino)))
        return LNK_STORE_FAULT_FILE_REPLACED;
    if (sqlite3_db_readonly(b->wr->db, "main") == 1)
        return LNK_STORE_FAULT_READ_ONLY;
    return LNK_STORE_OK;
}

/* A probe waits briefly for a lock held elsewhere: the writer must get back
 * to refusing queued writes rather than sit out the whole busy timeout. */
#define SQ_PROBE_BUSY_MS 100

/* The WAL that wr writes, for syncing: its name must still lead to the
 * file record_ids saw. Returns an errno, 0 when b->wal_fd is open. */
static int open_wal_fd(struct lnk_store_backend *b)
{
    char p[4096];
    struct stat st;
    int fd = open(sibling(b, "-wal", p, sizeof(p)), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno ? errno : EBADF;
    if (fstat(fd, &st) != 0 ||
        (b->wal_id.ino && !lnk_sq_same_id(b->wal_id, (uint64_t)st.st_dev, (uint64_t)st.st_ino))) {
        close(fd);
        return ESTALE;
    }
    b->wal_fd = fd;
    return 0;
}

/* Durability after commit: one fdatasync of the WAL covers every
 * transaction committed before the call. The store's syncer thread calls it
 * while the writer already runs the next batch; it touches no connection,
 * only the WAL file (whose directory entry was synced at open). A WAL that
 * lost its name would be gone after a crash, so that fails too. A failure
 * is sticky: the kernel reports a writeback error once, and pages it could
 * not write may be dropped, so no later sync may vouch for them. */
int lnk_sq_sync(struct lnk_store_backend *b, int *sys_errno)
{
    struct stat st;
    int e = atomic_load(&b->sync_errno);
    if (!e && b->wal_fd < 0)
        e = open_wal_fd(b);
    if (!e && fdatasync(b->wal_fd) != 0)
        e = errno ? errno : EIO;
    if (!e && (fstat(b->wal_fd, &st) != 0 || st.st_nlink == 0))
        e = ENOENT;
    if (e)
        atomic_store(&b->sync_errno, e);
    *sys_errno = e;
    return e ? LNK_EUNAVAIL : LNK_OK;
}

/* Before open_writer: the next sync starts from the new file's WAL. */
void lnk_sq_close_wal_fd(struct lnk_store_backend *b)
{
    if (b->wal_fd >= 0)
        close(b->wal_fd);
    b->wal_fd = -1;
    atomic_store(&b->sync_errno, 0);
}

int lnk_sq_probe(struct lnk_store_backend *b)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (!b->wr)
        return lnk_sq_begin(b);
    sqlite3_busy_timeout(b->wr->db, SQ_PROBE_BUSY_MS);
    int rc = lnk_sq_begin(b);
    if (rc == LNK_OK) {
        rc = lnk_sq_heartbeat(b, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        if (rc == LNK_OK)
            rc = lnk_sq_commit(b);
        else
            lnk_sq_rollback(b);
    }
    int sys_errno = 0;
    if (rc == LNK_OK && b->synchronous_full && lnk_sq_sync(b, &sys_errno) != LNK_OK) {
        b->fail_src = SQLITE_IOERR_FSYNC;
        b->fail_errno = sys_errno;
        rc = LNK_EUNAVAIL;
    }
    sqlite3_busy_timeout(b->wr->db, LNK_SQ_BUSY_TIMEOUT_MS);
    return rc;
}

void lnk_sq_sync_parent_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* The online backup API reads through wr, so the copy holds every
 * committed transaction, those still in the WAL included. */
static int rescue(struct lnk_store_backend *b, char *path_out, size_t cap)
{
    char tmp[4096];
    sqlite3 *dst = NULL;
    sqlite3_backup *bk = NULL;
    int rc = LNK_EUNAVAIL;
    if (!b->wr)
        goto out;
    int n = snprintf(path_out, cap, "%s.rescue-%lld", b->path, (long long)time(NULL));
    if (n < 0 || (size_t)n >= cap)
        goto out;
    for (int i = 2; access(path_out, F_OK) == 0 && i < 100; i++)
        snprintf(path_out, cap, "%s.rescue-%lld-%d", b->path, (long long)time(NULL), i);
    int src = sqlite3_open_v2(
        path_out, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_exec(dst, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    if (src == SQLITE_OK) {
        bk = sqlite3_backup_init(dst, "main", b->wr->db, "main");
        src = bk ? sqlite3_backup_step(bk, -1) : sqlite3_errcode(dst);
        int fsrc = bk ? sqlite3_backup_finish(bk) : SQLITE_OK;
        if (src == SQLITE_DONE)
            src = fsrc;
    }
    rc = lnk_sq_map_rc(src);
    if (rc == LNK_OK && src != SQLITE_OK)
        rc = LNK_EBACKEND;
out:
    sqlite3_close_v2(dst);
    if (dst && rc != LNK_OK) {
        snprintf(tmp, sizeof(tmp), "%s-journal", path_out);
        unlink(path_out);
        unlink(tmp);
    }
    if (rc == LNK_OK)
        lnk_sq_sync_parent_dir(path_out);
    else if (cap)
        path_out[0] = '\0';
    return rc;
}

/* Whether the file at path is a whole SQLite database: the header's page
 * count (valid when its version-valid-for number matches the change
 * counter) times the page size is the file's size. A copy still being
 * written is shorter. */
static bool looks_complete(const char *path, const struct stat *st)
{
    unsigned char h[100];
    bool ok = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
        goto out;
    if (memcmp(h, "SQLite format 3", 16) != 0)
        goto out;
    uint32_t page = (uint32_t)h[16] << 8 | h[17];
    if (page == 1)
        page = 65536;
    uint32_t counter = (uint32_t)h[24] << 24 | (uint32_t)h[25] << 16 | (uint32_t)h[26] << 8 | h[27];
    uint32_t pages = (uint32_t)h[28] << 24 | (uint32_t)h[29] << 16 | (uint32_t)h[30] << 8 | h[31];
    uint32_t valid_for =
        (uint32_t)h[92] << 24 | (uint32_t)h[93] << 16 | (uint32_t)h[94] << 8 | h[95];
    ok = page >= 512 && counter == valid_for && pages > 0 &&
         (uint64_t)page * pages == (uint64_t)st->st_size;
out:
    close(fd);
    return ok;
}

static bool reopen_ready(struct lnk_store_backend *b)
{
    struct stat st;
    if (b->wr && sqlite3_db_readonly(b->wr->db, "main") == 1 &&
        lnk_sq_same_id(lnk_sq_stat_id(b->path), atomic_load(&b->db_dev), atomic_load(&b->db_ino)))
        return access(b->path, R_OK | W_OK) == 0; /* same file, writable again */
    if (stat(b->path, &st) != 0 || !S_ISREG(st.st_mode)) {
        b->have_candidate = false;
        return false;
    }
    /* unchanged since the previous look, so not a copy in progress */
    bool stable = b->have_candidate && b->candidate.st_dev == st.st_dev &&
                  b->candidate.st_ino == st.st_ino && b->candidate.st_size == st.st_size &&
                  b->candidate.st_mtim.tv_sec == st.st_mtim.tv_sec &&
                  b->candidate.st_mtim.tv_nsec == st.st_mtim.tv_nsec;
    b->candidate = st;
    b->have_candidate = true;
    return stable && looks_complete(b->path, &st);
}

/* Removes path if it still names the file `id` (the old file's WAL or
 * shm): applied to another database, an old WAL corrupts it. */
static void remove_if_same(const char *path, struct lnk_sq_file_id id)
{
    if (id.ino && lnk_sq_same_id(lnk_sq_stat_id(path), id.dev, id.ino))
        unlink(path);
}

static int reopen(struct lnk_store_backend *b, char *errbuf, size_t errcap)
{
    char p[4096];
    struct lnk_store_bconn *old = b->wr;
    bool same_file =
        lnk_sq_same_id(lnk_sq_stat_id(b->path), atomic_load(&b->db_dev), atomic_load(&b->db_ino));
    b->wr = NULL;
    if (old && !same_file) {
        /* Closing the last connection checkpoints into the old inode and
         * would delete the WAL and shm by name, which may by now be the
         * new file's; keep them and remove only what is provably old. */
        int persist = 1;
        sqlite3_file_control(old->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    }
    lnk_sq_close_conn(old);
    if (!same_file) {
        remove_if_same(sibling(b, "-wal", p, sizeof(p)), b->wal_id);
        remove_if_same(sibling(b, "-shm", p, sizeof(p)), b->shm_id);
    }
    atomic_store(&b->db_dev, 0);
    atomic_store(&b->db_ino, 0);
    lnk_sq_close_wal_fd(b);
    return lnk_sq_open_writer(b, errbuf, errcap);
}

/* Saves what the old file holds before anything closes it: after an unlink,
 * the write connection is the only way left to acknowledged data. */
static void rescue_once(struct lnk_store_backend *b)
{
    char path[sizeof(b->rescue_path)] = "";
    int64_t now = monotonic_ms();
    if (b->rescue_done || now < b->next_rescue_ms)
        return;
    int rc = rescue(b, path, sizeof(path));
    if (rc == LNK_OK) {
        b->rescue_done = true;
        snprintf(b->rescue_path, sizeof(b->rescue_path), "%s", path);
        LNK_LOG(WARN, NULL, "store", "rescue_written", LNK_F_STR("path", path));
        return;
    }
    b->next_rescue_ms = now + RESCUE_RETRY_MS;
    if (!b->rescue_failed_logged) {
        b->rescue_failed_logged = true;
        LNK_LOG(ERROR, NULL, "store", "rescue_failed", LNK_F_STR("error", lnk_strerror(rc)));
    }
}

/* File identity first: a removed or replaced file is copied out once, and
 * reopened once a usable file is at the path; the store then probes. */
enum lnk_store_fault lnk_sq_recover(struct lnk_store_backend *b, enum lnk_store_fault fault,
                                    void (*close_readers)(void *ctx), void *ctx)
{
    char err[256] = "";
    enum lnk_store_fault f = lnk_sq_check(b);
    if (f == LNK_STORE_FAULT_FILE_REMOVED || f == LNK_STORE_FAULT_FILE_REPLACED)
        rescue_once(b);
    if (f == LNK_STORE_OK)
        return LNK_STORE_OK;
    bool file_fault = f == LNK_STORE_FAULT_FILE_REMOVED || f == LNK_STORE_FAULT_FILE_REPLACED;
    if (f == LNK_STORE_FAULT_FILE_REMOVED || !reopen_ready(b))
        return file_fault ? f : fault; /* no probe until the file is usable */
    close_readers(ctx);
    if (reopen(b, err, sizeof(err)) != LNK_OK) {
        LNK_LOG(ERROR, NULL, "store", "reopen_failed", LNK_F_STR("error", err));
        return LNK_STORE_FAULT_UNAVAILABLE;
    }
    LNK_LOG(INFO, NULL, "store", "reopened", LNK_F_STR("fault", lnk_store_fault_name(fault)));
    /* a later removal is another episode, with a rescue of its own */
    b->rescue_done = false;
    b->rescue_failed_logged = false;
    b->next_rescue_ms = 0;
    return LNK_STORE_OK;
}

/* What an operator reads first; the runbook is in docs/durability.md. */
static const char *fault_text(enum lnk_store_fault f)
{
    switch (f) {
    case LNK_STORE_FAULT_DISK_FULL:
        return "no space left for the database; writes are refused until space is freed";
    case LNK_STORE_FAULT_READ_ONLY:
        return "the database or its filesystem is read-only; writes are refused";
    case LNK_STORE_FAULT_IO_ERROR:
        return "the disk failed a write or sync; writes are refused until one succeeds";
    case LNK_STORE_FAULT_LOCKED:
        return "another process holds the database write lock";
    case LNK_STORE_FAULT_FILE_REMOVED:
        return "the database file was removed while open; writes are refused until a "
               "database file is back at its path";
    case LNK_STORE_FAULT_FILE_REPLACED:
        return "the database file was replaced while open; writes resume on the new file";
    case LNK_STORE_FAULT_UNAVAILABLE:
        return "the database cannot be opened at its path";
    case LNK_STORE_OK:
        break;
    }
    return "";
}

void lnk_sq_describe(struct lnk_store_backend *b, enum lnk_store_fault f,
                     struct lnk_store_status *st)
{
    snprintf(st->reason, sizeof(st->reason), "%s", fault_text(f));
    if (f != LNK_STORE_OK && b->rescue_done && b->rescue_path[0]) {
        snprintf(st->detail_key, sizeof(st->detail_key), "rescue_copy");
        snprintf(st->detail, sizeof(st->detail), "%s", b->rescue_path);
    }
}
