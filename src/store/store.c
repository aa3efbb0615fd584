/* SPDX-License-Identifier: MIT */
/* Store dispatch: picks the backend from DATABASE_URL, runs point reads
 * inline on worker connections (when the backend allows), other reads on a
 * pool of reader threads, and owns the single writer thread that drains the
 * write queue in batches (group commit: one transaction, one fsync, many
 * ops) through the rules (store_rules.c).
 * Every submitted op is completed exactly once, after its batch committed
 * (and, with a backend that syncs after commit, after the syncer thread made
 * it durable: the writer runs the next batch meanwhile).
 * The writer also tends write health (docs/durability.md): once a write
 * fails for a storage reason or the path stops naming the open file, writes
 * are refused with LNK_EUNAVAIL until a probe succeeds, without a restart.
 * Lock order: s->conns_mu -> conn->mu; s->mu, s->sync_mu, s->st_mu and
 * s->rd_mu are never held with another lock; no callback ever runs while
 * any of them is held. */
#include "linkd/store.h"

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linkd/err.h"
#include "linkd/log.h"
#include "linkd/metrics.h"
#include "linkd/str.h"
#include "store/store_int.h"

#define STORE_MAX_BATCH_DEFAULT  1024u
#define STORE_CHECK_MS_DEFAULT   1000u
#define STORE_PROBE_MS_DEFAULT   500u
#define STORE_READERS_DEFAULT    2u
#define STORE_READ_QUEUE_DEFAULT 4096u

struct lnk_store {
    const struct lnk_store_ops *ops;
    struct lnk_store_backend *be;
    struct lnk_store_rules *rules; /* writer thread only */
    unsigned max_batch;
    unsigned check_ms; /* file identity check period while healthy */
    unsigned probe_ms; /* write probe period while degraded */

    pthread_mutex_t mu;
    pthread_cond_t cv;         /* CLOCK_MONOTONIC; signalled on submit, stop, recheck */
    pthread_cond_t recheck_cv; /* signalled when a recheck is done */
    struct lnk_store_op *head; /* queue, linked through task.link_[0] */
    struct lnk_store_op *tail;
    bool stopping;           /* close requested: drain, then exit */
    bool stopped;            /* the writer has exited; submits fail */
    uint64_t recheck_wanted; /* lnk_store_recheck requests ... */
    uint64_t recheck_served; /* ... and how many the writer has served */
    pthread_t writer;

    /* Durability after commit (ops->sync with synchronous_full): committed
     * batches wait here, linked through task.link_[0], for the syncer. */
    bool use_syncer;
    pthread_t syncer;
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;      /* signalled on a hand-off and on stop */
    pthread_cond_t sync_idle_cv; /* signalled when the syncer has answered all */
    struct lnk_store_op *sync_head, *sync_tail;
    bool sync_busy; /* a taken list is being synced and answered */
    bool sync_stopping;
    atomic_int sync_errno; /* a sync failed (its errno): the writer raises the fault */

    /* Read connections, so that the writer can close them all before it
     * reopens the database. */
    pthread_mutex_t conns_mu;
    struct lnk_store_conn *conns;

    atomic_bool degraded; /* fault != LNK_STORE_OK, for lock-free readers */
    pthread_mutex_t st_mu;
    struct lnk_store_status st; /* published copy of the state below */

    /* Writer thread only. */
    enum lnk_store_fault fault;
    int64_t next_check_ms; /* monotonic */
    int64_t next_probe_ms; /* monotonic */

    /* The reader pool: reads that may take long (lists, totals) and every
     * read of a backend without inline reads, in arrival order; a streamed
     * list goes back to the tail after each chunk, so long lists share the
     * readers. */
    unsigned n_readers;
    pthread_t *readers;
    struct lnk_store_conn **reader_conns;
    unsigned read_queue_max;
    pthread_mutex_t rd_mu;
    pthread_cond_t rd_cv;
    struct lnk_store_op *rd_head, *rd_tail; /* linked through task.link_[0] */
    unsigned rd_queued;
    bool rd_stopping;
    atomic_bool rd_cancel; /* every read from now on completes LNK_ECANCELED */
    _Atomic uint64_t list_chunks, reads_cancelled, reads_refused;

    /* Metrics (lnk_store_get_writer_stats). n_queued changes under mu; the
     * histograms have one writer each (commit_ns, batch_ops: the writer;
     * sync_ns: the syncer); the counters have two. */
    _Atomic uint64_t n_queued;
    _Atomic uint64_t write_failures, errors;
    struct lnk_histo commit_ns, sync_ns, batch_ops;
};

struct lnk_store_conn {
    struct lnk_store *s;
    pthread_mutex_t mu;                 /* held while bc is used, opened or closed */
    struct lnk_store_bconn *bc;         /* NULL: closed for a reopen, opened on next use */
    struct lnk_store_conn *prev, *next; /* s->conns, under s->conns_mu */
};

/* Backends by DATABASE_URL scheme; a bare path means the first entry. */
static const struct {
    const char *scheme;
    const struct lnk_store_ops *ops;
} backends[] = {
    {"sqlite", &lnk_store_sqlite_ops},
    {"postgres", &lnk_store_pg_ops},
    {"postgresql", &lnk_store_pg_ops},
};

static void set_err(char *errbuf, size_t errcap, const char *msg)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "%s", msg);
}

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Storage failures: write ops failed by them, and failed calls (one each). */
static void count_failures(struct lnk_store *s, uint64_t failed_ops, uint64_t failed_calls)
{
    if (failed_ops)
        atomic_fetch_add_explicit(&s->write_failures, failed_ops, memory_order_relaxed);
    if (failed_calls)
        atomic_fetch_add_explicit(&s->errors, failed_calls, memory_order_relaxed);
}

const char *lnk_store_fault_name(enum lnk_store_fault f)
{
    switch (f) {
    case LNK_STORE_OK:
        return "ok";
    case LNK_STORE_FAULT_DISK_FULL:
        return "disk_full";
    case LNK_STORE_FAULT_READ_ONLY:
        return "read_only";
    case LNK_STORE_FAULT_IO_ERROR:
        return "io_error";
    case LNK_STORE_FAULT_LOCKED:
        return "locked";
    case LNK_STORE_FAULT_FILE_REMOVED:
        return "file_removed";
    case LNK_STORE_FAULT_FILE_REPLACED:
        return "file_replaced";
    case LNK_STORE_FAULT_UNAVAILABLE:
        return "unavailable";
    }
    return "unavailable";
}

/* Faults the backend works on at once (a rescue copy, a reopen, a
 * reconnect) rather than after a probe period. */
static bool recover_at_once(enum lnk_store_fault f)
{
    return f == LNK_STORE_FAULT_FILE_REMOVED || f == LNK_STORE_FAULT_FILE_REPLACED ||
           f == LNK_STORE_FAULT_UNAVAILABLE;
}

/* The backend of url by its scheme. A string without "://" is a path for
 * the default backend. The backend gets the whole url. */
static int select_backend(const char *url, const struct lnk_store_ops **ops)
{
    const char *sep = url ? strstr(url, "://") : NULL;
    if (!url || !*url)
        return LNK_EINVAL;
    if (!sep) {
        *ops = backends[0].ops;
        return LNK_OK;
    }
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (lnk_str_eq_nocase(lnk_str_make(url, (size_t)(sep - url)),
                              lnk_str_from_cstr(backends[i].scheme))) {
            *ops = backends[i].ops;
            return sep[3] ? LNK_OK : LNK_EINVAL;
        }
    }
    return LNK_EINVAL;
}

/* The family of a kind: which struct lnk_op_* it is. */
enum family {
    F_PING,
    F_USER,
    F_URL,
    F_EVENT,
    F_ROWS,
    F_CLICKS,
    F_COUNTS,
    F_STATS,
    F_URL_STATS,
    F_KEY,
    F_LIST,
    F_SLOT,
    F_IDEM,
    F_CALL,
    F_DOMAIN
};

static enum family family_of(enum lnk_op_kind kind)
{
    switch (kind) {
    case LNK_OP_PING:
        return F_PING;
    case LNK_OP_USER_GET:
    case LNK_OP_USER_CREATE:
    case LNK_OP_USER_UPDATE:
    case LNK_OP_USER_DELETE:
        return F_USER;
    case LNK_OP_URL_GET:
    case LNK_OP_URL_BY_CODE:
    case LNK_OP_URL_CREATE:
    case LNK_OP_URL_UPDATE:
    case LNK_OP_URL_DELETE:
        return F_URL;
    case LNK_OP_EVENT_GET:
    case LNK_OP_EVENT_CREATE:
        return F_EVENT;
    case LNK_OP_USER_IMPORT:
    case LNK_OP_URL_IMPORT:
    case LNK_OP_EVENT_IMPORT:
    case LNK_OP_URL_BULK:
    case LNK_OP_EVENT_BULK:
    case LNK_OP_KEY_IMPORT:
    case LNK_OP_RETIRED_IMPORT:
    case LNK_OP_DOMAIN_IMPORT:
    case LNK_OP_SLOT_IMPORT:
        return F_ROWS;
    case LNK_OP_CLICKS_APPEND:
        return F_CLICKS;
    case LNK_OP_COUNT_ROWS:
        return F_COUNTS;
    case LNK_OP_STATS:
        return F_STATS;
    case LNK_OP_URL_STATS:
        return F_URL_STATS;
    case LNK_OP_KEY_CREATE:
    case LNK_OP_KEY_LIST:
    case LNK_OP_KEY_REVOKE:
    case LNK_OP_KEY_AUTH:
        return F_KEY;
    case LNK_OP_USER_LIST:
    case LNK_OP_URL_LIST:
    case LNK_OP_EVENT_LIST:
    case LNK_OP_RETIRED_LIST:
        return F_LIST;
    case LNK_OP_CLICK_SLOT:
    case LNK_OP_SLOT_LIST:
        return F_SLOT;
    case LNK_OP_IDEM_BEGIN:
    case LNK_OP_IDEM_FINISH:
        return F_IDEM;
    case LNK_OP_CALL:
        return F_CALL;
    case LNK_OP_DOMAIN_LIST:
    case LNK_OP_DOMAIN_CREATE:
    case LNK_OP_DOMAIN_UPDATE:
    case LNK_OP_DOMAIN_DELETE:
        return F_DOMAIN;
    }
    return F_PING;
}

static size_t family_size(enum family f)
{
    static const size_t sizes[] = {
        [F_PING] = sizeof(struct lnk_op_ping),
        [F_USER] = sizeof(struct lnk_op_user),
        [F_URL] = sizeof(struct lnk_op_url),
        [F_EVENT] = sizeof(struct lnk_op_event),
        [F_ROWS] = sizeof(struct lnk_op_rows),
        [F_CLICKS] = sizeof(struct lnk_op_clicks),
        [F_COUNTS] = sizeof(struct lnk_op_counts),
        [F_STATS] = sizeof(struct lnk_op_stats),
        [F_URL_STATS] = sizeof(struct lnk_op_url_stats),
        [F_KEY] = sizeof(struct lnk_op_key),
        [F_LIST] = sizeof(struct lnk_op_list),
        [F_SLOT] = sizeof(struct lnk_op_slot),
        [F_IDEM] = sizeof(struct lnk_op_idem),
        [F_CALL] = sizeof(struct lnk_op_call),
        [F_DOMAIN] = sizeof(struct lnk_op_domain),
    };
    return sizes[f];
}

bool lnk_store_op_is_read(enum lnk_op_kind kind)
{
    switch (kind) {
    case LNK_OP_PING:
    case LNK_OP_USER_LIST:
    case LNK_OP_USER_GET:
    case LNK_OP_URL_LIST:
    case LNK_OP_URL_GET:
    case LNK_OP_URL_BY_CODE:
    case LNK_OP_EVENT_LIST:
    case LNK_OP_COUNT_ROWS:
    case LNK_OP_URL_STATS:
    case LNK_OP_EVENT_GET:
    case LNK_OP_STATS:
    case LNK_OP_KEY_LIST:
    case LNK_OP_KEY_AUTH:
    case LNK_OP_RETIRED_LIST:
    case LNK_OP_CALL:
    case LNK_OP_DOMAIN_LIST:
    case LNK_OP_SLOT_LIST:
        return true;
    default:
        return false;
    }
}

bool lnk_store_op_is_point_read(enum lnk_op_kind kind)
{
    switch (kind) {
    case LNK_OP_PING:
    case LNK_OP_USER_GET:
    case LNK_OP_URL_GET:
    case LNK_OP_URL_BY_CODE:
    case LNK_OP_EVENT_GET:
    case LNK_OP_URL_STATS:
    case LNK_OP_KEY_AUTH:
        return true;
    default:
        return false;
    }
}

void lnk_store_op_reset_outputs(struct lnk_store_op *op)
{
    op->rc = LNK_OK;
    op->err_field = NULL;
    switch (family_of(op->kind)) {
    case F_PING:
        LNK_OP_AS(op, ping)->latency_us = 0;
        break;
    case F_CALL: /* its outputs are fn's */
        break;
    case F_DOMAIN: {
        struct lnk_op_domain *d = LNK_OP_AS(op, domain);
        memset(&d->out, 0, sizeof(d->out));
        d->n_domains = 0;
        d->domains = NULL;
        break;
    }
    case F_SLOT: {
        struct lnk_op_slot *s = LNK_OP_AS(op, slot);
        s->taken = false;
        s->n_slots = 0;
        s->slots = NULL;
        break;
    }
    case F_IDEM:
        if (op->kind == LNK_OP_IDEM_BEGIN) {
            LNK_OP_AS(op, idem)->status = 0;
            LNK_OP_AS(op, idem)->body = NULL;
        }
        LNK_OP_AS(op, idem)->state = LNK_IDEM_NEW;
        break;
    case F_USER: {
        struct lnk_op_user *u = LNK_OP_AS(op, user);
        memset(&u->out, 0, sizeof(u->out));
        u->n_urls = 0;
        u->urls = NULL;
        break;
    }
    case F_URL:
        memset(&LNK_OP_AS(op, url)->out, 0, sizeof(LNK_OP_AS(op, url)->out));
        LNK_OP_AS(op, url)->reused = false;
        break;
    case F_EVENT:
        memset(&LNK_OP_AS(op, event)->out, 0, sizeof(LNK_OP_AS(op, event)->out));
        break;
    case F_ROWS: /* store.h: callers may preset the counters */
        LNK_OP_AS(op, rows)->results = NULL;
        break;
    case F_CLICKS:
        LNK_OP_AS(op, clicks)->written = 0;
        break;
    case F_COUNTS: {
        struct lnk_op_counts *c = LNK_OP_AS(op, counts);
        c->users = c->urls = c->events = c->keys = c->retired_codes = c->clicks = c->domains = 0;
        c->slots = c->slots_used = 0;
        break;
    }
    case F_STATS: {
        struct lnk_op_stats *t = LNK_OP_AS(op, stats);
        t->users = t->urls = t->active_urls = t->events = 0;
        t->n_types = 0;
        t->types = NULL;
        break;
    }
    case F_URL_STATS: {
        struct lnk_op_url_stats *u = LNK_OP_AS(op, url_stats);
        memset(&u->url, 0, sizeof(u->url));
        u->clicks = u->last_click_at = 0;
        u->n_days = 0;
        u->days = NULL;
        break;
    }
    case F_KEY: {
        struct lnk_op_key *k = LNK_OP_AS(op, key);
        memset(&k->out, 0, sizeof(k->out));
        k->found = false;
        k->n_active = 0;
        k->n_keys = 0;
        k->keys = NULL;
        k->key_hashes = NULL;
        break;
    }
    case F_LIST: {
        struct lnk_op_list *l = LNK_OP_AS(op, list);
        l->more = false;
        l->n_rows = 0;
        l->users = NULL;
        l->urls = NULL;
        l->events = NULL;
        l->codes = NULL;
        break;
    }
    }
}

static struct lnk_store_op *op_from_task(struct lnk_task *t)
{
    return (struct lnk_store_op *)(void *)((char *)t - offsetof(struct lnk_store_op, task));
}

/* Runs on the origin executor's thread. */
static void run_done_task(struct lnk_task *t)
{
    struct lnk_store_op *op = op_from_task(t);
    op->done(op);
}

/* Hands a finished op back: posted to its origin, or called right here.
 * Nothing may touch op afterwards (done may free it). */
static void complete_op(struct lnk_store_op *op)
{
    if (!op->done)
        return;
    if (op->origin) {
        op->task.link_[0] = op->task.link_[1] = NULL;
        op->task.run = run_done_task;
        lnk_exec_post(op->origin, &op->task);
    } else {
        op->done(op);
    }
}

static struct lnk_store_op *next_of(struct lnk_store_op *op)
{
    return op->task.link_[0];
}

/* ---- write health (writer thread) --------------------------------------- */

/* Publishes the writer's state for lnk_store_get_status. */
static void publish(struct lnk_store *s, enum lnk_store_fault f, int sys_errno, bool failed_probe)
{
    pthread_mutex_lock(&s->st_mu);
    if (f == LNK_STORE_OK) {
        if (s->st.fault != LNK_STORE_OK)
            s->st.recoveries++;
        s->st.since_ms = 0;
        s->st.failed_probes = 0;
        s->st.sys_errno = 0;
    } else {
        if (s->st.fault == LNK_STORE_OK)
            s->st.since_ms = clock_ms(CLOCK_REALTIME);
        if (sys_errno || s->st.fault != f)
            s->st.sys_errno = sys_errno;
        s->st.failed_probes += failed_probe;
    }
    s->st.fault = f;
    s->st.health = f == LNK_STORE_OK ? LNK_STORE_HEALTH_OK : LNK_STORE_HEALTH_DEGRADED;
    s->st.reason[0] = s->st.detail_key[0] = s->st.detail[0] = '\0';
    s->ops->describe(s->be, f, &s->st);
    pthread_mutex_unlock(&s->st_mu);
    atomic_store(&s->degraded, f != LNK_STORE_OK);
}

/* Enters (or changes) the degraded state. A file fault is worked on at
 * once (rescue copy, reopen); others wait one probe period, since the
 * failure that reported them just happened. */
static void set_fault(struct lnk_store *s, enum lnk_store_fault f, int sys_errno)
{
    int64_t now = clock_ms(CLOCK_MONOTONIC);
    if (f == s->fault) {
        publish(s, f, sys_errno, false);
        return;
    }
    if (s->fault == LNK_STORE_OK) {
        s->next_probe_ms = now + (recover_at_once(f) ? 0 : s->probe_ms);
        LNK_LOG(WARN, NULL, "store", "degraded", LNK_F_STR("fault", lnk_store_fault_name(f)),
                LNK_F_INT("errno", sys_errno));
    } else {
        LNK_LOG(WARN, NULL, "store", "fault_changed",
                LNK_F_STR("from", lnk_store_fault_name(s->fault)),
                LNK_F_STR("fault", lnk_store_fault_name(f)), LNK_F_INT("errno", sys_errno));
    }
    s->fault = f;
    publish(s, f, sys_errno, false);
}

static void clear_fault(struct lnk_store *s)
{
    struct lnk_store_status st;
    lnk_store_get_status(s, &st);
    LNK_LOG(INFO, NULL, "store", "recovered", LNK_F_STR("fault", lnk_store_fault_name(s->fault)),
            LNK_F_INT("degraded_ms", clock_ms(CLOCK_REALTIME) - st.since_ms),
            LNK_F_INT("failed_probes", (int64_t)st.failed_probes));
    s->fault = LNK_STORE_OK;
    s->next_check_ms = clock_ms(CLOCK_MONOTONIC) + s->check_ms;
    publish(s, LNK_STORE_OK, 0, false);
}

/* For the backend's recovery: closes every read connection (each under
 * its own lock, so none is in use); they reopen on their next use. Called
 * with conns_mu held by recover_backend. */
static void close_readers_locked(void *ctx)
{
    struct lnk_store *s = ctx;
    for (struct lnk_store_conn *c = s->conns; c; c = c->next) {
        pthread_mutex_lock(&c->mu);
        s->ops->conn_close(c->bc);
        c->bc = NULL;
        pthread_mutex_unlock(&c->mu);
    }
}

static void wait_synced(struct lnk_store *s);

/* One recovery attempt while degraded: the backend's own step (a rescue
 * copy and a reopen for a removed file, a reconnect), then a write probe.
 * conns_mu is held across the step so that no read connection opens on a
 * database being replaced. */
static void try_recover(struct lnk_store *s)
{
    const struct lnk_store_ops *ops = s->ops;
    wait_synced(s);
    pthread_mutex_lock(&s->conns_mu);
    enum lnk_store_fault f = ops->recover(s->be, s->fault, close_readers_locked, s);
    pthread_mutex_unlock(&s->conns_mu);
    if (f != LNK_STORE_OK) {
        if (f != s->fault)
            set_fault(s, f, 0);
        publish(s, s->fault, 0, true);
        return;
    }
    if (ops->probe(s->be) == LNK_OK) {
        clear_fault(s);
        return;
    }
    count_failures(s, 0, 1);
    int sys_errno = 0;
    enum lnk_store_fault pf = ops->last_fault(s->be, &sys_errno);
    if (pf != LNK_STORE_OK && pf != s->fault)
        set_fault(s, pf, sys_errno);
    publish(s, s->fault, 0, true);
}

/* A failed sync (syncer thread) becomes a fault here, on the writer. */
static void take_sync_failure(struct lnk_store *s)
{
    int e = atomic_exchange(&s->sync_errno, 0);
    if (e && s->fault == LNK_STORE_OK)
        set_fault(s,
                  e == ENOSPC || e == EDQUOT ? LNK_STORE_FAULT_DISK_FULL : LNK_STORE_FAULT_IO_ERROR,
                  e);
}

/* Timed work between batches: the identity check while healthy, probes
 * while degraded. force: a recheck request, do it now. */
static void tend(struct lnk_store *s, bool force)
{
    take_sync_failure(s);
    int64_t now = clock_ms(CLOCK_MONOTONIC);
    if (s->fault == LNK_STORE_OK) {
        if (!force && now < s->next_check_ms)
            return;
        s->next_check_ms = now + s->check_ms;
        enum lnk_store_fault f = s->ops->check(s->be);
        if (f == LNK_STORE_OK)
            return;
        set_fault(s, f, 0);
        if (!force && now < s->next_probe_ms)
            return;
    } else if (!force && now < s->next_probe_ms) {
        return;
    }
    s->next_probe_ms = now + s->probe_ms;
    try_recover(s);
}

static int64_t next_due_ms(const struct lnk_store *s)
{
    return s->fault == LNK_STORE_OK ? s->next_check_ms : s->next_probe_ms;
}

/* ---- batches (writer thread) -------------------------------------------- */

/* Completes every op of a list linked through task.link_[0]. */
static void complete_list(struct lnk_store_op *op)
{
    while (op) {
        struct lnk_store_op *next = next_of(op);
        complete_op(op);
        op = next;
    }
}

/* ---- the syncer ------------------------------------------------------------ */

static void hand_to_syncer(struct lnk_store *s, struct lnk_store_op *list)
{
    struct lnk_store_op *last = list;
    while (next_of(last))
        last = next_of(last);
    pthread_mutex_lock(&s->sync_mu);
    if (s->sync_tail)
        s->sync_tail->task.link_[0] = list;
    else
        s->sync_head = list;
    s->sync_tail = last;
    pthread_cond_signal(&s->sync_cv);
    pthread_mutex_unlock(&s->sync_mu);
}

/* A failed sync leaves the batch committed but maybe not on disk: its
 * writes are answered LNK_EUNAVAIL, and the writer raises the fault. Click
 * batches are the exception: they are answered as written, since they are
 * committed and visible, and a retry by the events writer would count them
 * twice (clicks are durable within a flush interval, not at an answer). */
static void fail_unsynced(struct lnk_store *s, struct lnk_store_op *list, int sys_errno)
{
    uint64_t failed = 0;
    for (struct lnk_store_op *op = list; op; op = next_of(op)) {
        if (!lnk_store_op_is_read(op->kind) && op->kind != LNK_OP_CLICKS_APPEND &&
            op->rc == LNK_OK) {
            lnk_store_op_reset_outputs(op);
            op->rc = LNK_EUNAVAIL;
            failed++;
        }
    }
    count_failures(s, failed, 1);
    atomic_store(&s->sync_errno, sys_errno ? sys_errno : EIO);
    pthread_mutex_lock(&s->mu);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Writer thread, before it rescues or reopens the database: waits until
 * every committed batch was synced and answered, so that no sync runs
 * against a connection being replaced. */
static void wait_synced(struct lnk_store *s)
{
    if (!s->use_syncer)
        return;
    pthread_mutex_lock(&s->sync_mu);
    while (s->sync_head || s->sync_busy)
        pthread_cond_wait(&s->sync_idle_cv, &s->sync_mu);
    pthread_mutex_unlock(&s->sync_mu);
}

/* Takes every committed batch waiting, makes them durable with one sync,
 * then completes their ops; exits once the writer has stopped and nothing
 * waits. */
static void *syncer_main(void *arg)
{
    struct lnk_store *s = arg;
    pthread_setname_np(pthread_self(), "linkd-store-sy");
    pthread_mutex_lock(&s->sync_mu);
    for (;;) {
        while (!s->sync_head && !s->sync_stopping)
            pthread_cond_wait(&s->sync_cv, &s->sync_mu);
        struct lnk_store_op *list = s->sync_head;
        if (!list)
            break;
        s->sync_head = s->sync_tail = NULL;
        s->sync_busy = true;
        pthread_mutex_unlock(&s->sync_mu);
        int sys_errno = 0;
        uint64_t t0 = monotonic_ns();
        if (s->ops->sync(s->be, &sys_errno) != LNK_OK)
            fail_unsynced(s, list, sys_errno);
        else
            lnk_histo_observe(&s->sync_ns, monotonic_ns() - t0);
        complete_list(list);
        pthread_mutex_lock(&s->sync_mu);
        s->sync_busy = false;
        if (!s->sync_head)
            pthread_cond_broadcast(&s->sync_idle_cv);
    }
    pthread_mutex_unlock(&s->sync_mu);
    return NULL;
}

/* Runs one batch (a list of n_ops ops, at most max_batch) in one
 * transaction and completes every op. While degraded, writes fail at once
 * and only the reads run, so a failing disk is not written to by every
 * request. Metrics cost two clock reads per batch, nothing per op. */
static void run_batch(struct lnk_store *s, struct lnk_store_op *first, unsigned n_ops)
{
    const struct lnk_store_ops *ops = s->ops;
    struct lnk_store_op *run = first;
    struct lnk_store_op *refused = NULL;
    bool any_unavail = false;
    bool any_write = false;
    uint64_t n_failed = 0;  /* write ops failed for a storage reason */
    uint64_t n_unavail = 0; /* write ops that failed LNK_EUNAVAIL alone */

    lnk_histo_observe(&s->batch_ops, n_ops);

    take_sync_failure(s);
    if (s->fault != LNK_STORE_OK) {
        struct lnk_store_op *last_read = NULL;
        run = NULL;
        for (struct lnk_store_op *op = first, *next; op; op = next) {
            next = next_of(op);
            op->task.link_[0] = NULL;
            if (lnk_store_op_is_read(op->kind)) {
                if (last_read)
                    last_read->task.link_[0] = op;
                else
                    run = op;
                last_read = op;
            } else {
                lnk_store_op_reset_outputs(op);
                op->rc = LNK_EUNAVAIL;
                op->task.link_[0] = refused;
                refused = op;
                n_failed++;
            }
        }
    }
    uint64_t t0 = run ? monotonic_ns() : 0;
    int rc = run ? (ops->writer(s->be) ? ops->begin(s->be) : LNK_EUNAVAIL) : LNK_OK;
    if (run && rc == LNK_OK) {
        for (struct lnk_store_op *op = run; op && rc == LNK_OK; op = next_of(op)) {
            rc = lnk_store_rules_apply(s->rules, op);
            any_unavail |= op->rc == LNK_EUNAVAIL;
            any_write |= !lnk_store_op_is_read(op->kind);
            n_unavail += op->rc == LNK_EUNAVAIL && !lnk_store_op_is_read(op->kind);
        }
        if (rc == LNK_OK)
            rc = lnk_store_rules_flush(s->rules);
        if (rc == LNK_OK)
            rc = ops->commit(s->be);
        else
            ops->rollback(s->be);
        if (rc == LNK_OK)
            lnk_store_rules_committed(s->rules);
        else
            lnk_store_rules_abort(s->rules);
        if (rc == LNK_OK && any_write)
            lnk_histo_observe(&s->commit_ns, monotonic_ns() - t0);
    }
    if (rc != LNK_OK) {
        /* Nothing of this batch is durable: no op may report success. */
        for (struct lnk_store_op *op = run; op; op = next_of(op)) {
            lnk_store_op_reset_outputs(op);
            op->rc = rc;
            n_failed += !lnk_store_op_is_read(op->kind);
        }
        any_unavail |= rc == LNK_EUNAVAIL;
    }
    bool storage_failed = rc != LNK_OK;
    if (any_unavail && s->fault == LNK_STORE_OK) {
        int sys_errno = 0;
        enum lnk_store_fault f = ops->last_fault(s->be, &sys_errno);
        if (f != LNK_STORE_OK) {
            set_fault(s, f, sys_errno);
            n_failed += rc == LNK_OK ? n_unavail : 0;
            storage_failed = true;
        }
    }
    count_failures(s, n_failed, storage_failed);
    if (rc == LNK_OK && any_write && s->use_syncer)
        hand_to_syncer(s, run);
    else
        complete_list(run);
    complete_list(refused);
}

static struct timespec monotonic_deadline(int64_t ms)
{
    return (struct timespec){.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
}

static void *writer_main(void *arg)
{
    struct lnk_store *s = arg;
    pthread_setname_np(pthread_self(), "linkd-store-wr");
    pthread_mutex_lock(&s->mu);
    for (;;) {
        bool recheck = s->recheck_wanted != s->recheck_served;
        bool sync_failed = atomic_load(&s->sync_errno) != 0;
        int64_t now = clock_ms(CLOCK_MONOTONIC);
        int64_t due = next_due_ms(s);
        if (!s->head && s->stopping)
            break;
        if (recheck || sync_failed || now >= due) {
            uint64_t wanted = s->recheck_wanted;
            pthread_mutex_unlock(&s->mu);
            tend(s, recheck);
            pthread_mutex_lock(&s->mu);
            if (recheck) {
                s->recheck_served = wanted;
                pthread_cond_broadcast(&s->recheck_cv);
            }
            continue;
        }
        if (!s->head) {
            struct timespec ts = monotonic_deadline(due);
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue;
        }
        /* Detach up to max_batch ops from the front of the queue. */
        struct lnk_store_op *first = s->head;
        struct lnk_store_op *last = first;
        unsigned n = 1;
        for (; n < s->max_batch && next_of(last); n++)
            last = next_of(last);
        s->head = next_of(last);
        if (!s->head)
            s->tail = NULL;
        last->task.link_[0] = NULL;
        atomic_store_explicit(&s->n_queued,
                              atomic_load_explicit(&s->n_queued, memory_order_relaxed) - n,
                              memory_order_relaxed);
        pthread_mutex_unlock(&s->mu);
        run_batch(s, first, n);
        pthread_mutex_lock(&s->mu);
    }
    s->stopped = true;
    s->recheck_served = s->recheck_wanted;
    pthread_cond_broadcast(&s->recheck_cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- the reader pool --------------------------------------------------------- */

/* Whether the client behind a read has hung up: a peek that never takes a
 * byte. A pipelined request (data waiting) is a client still there. */
static bool client_gone(int fd)
{
    char b;
    if (fd < 0)
        return false;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    int err = errno;
    return n == 0 || (n < 0 && (err == ECONNRESET || err == ENOTCONN || err == EPIPE));
}

/* The requester's loss first: the handler tells it from a stop by the flag. */
static bool unwanted(struct lnk_store *s, struct lnk_store_op *op)
{
    if (!atomic_load(&op->cancelled) && client_gone(op->client_fd))
        atomic_store(&op->cancelled, true);
    return atomic_load(&op->cancelled) || atomic_load(&s->rd_cancel);
}

/* A read on connection c (opened again first when a recovery closed it).
 * A connection found broken by the read (the server went away since its
 * last one, and may be back) is replaced, and the read, which is safe to
 * repeat, runs once more on the new one. done runs after the lock is
 * released, since it may submit the next read on the same connection. */
static void read_on(struct lnk_store_conn *c, struct lnk_store_op *op)
{
    struct lnk_store *s = c->s;
    pthread_mutex_lock(&c->mu);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!c->bc)
            (void)s->ops->conn_open(s->be, &c->bc);
        if (!c->bc) {
            lnk_store_op_reset_outputs(op);
            op->rc = LNK_EUNAVAIL;
            break;
        }
        lnk_store_rules_read(s->ops, c->bc, op);
        if (!s->ops->conn_broken || !s->ops->conn_broken(c->bc))
            break;
        s->ops->conn_close(c->bc);
        c->bc = NULL;
    }
    pthread_mutex_unlock(&c->mu);
}

static void *reader_main(void *arg)
{
    struct lnk_store_conn *c = arg;
    struct lnk_store *s = c->s;
    pthread_setname_np(pthread_self(), "linkd-store-rd");
    pthread_mutex_lock(&s->rd_mu);
    for (;;) {
        while (!s->rd_head && !s->rd_stopping)
            pthread_cond_wait(&s->rd_cv, &s->rd_mu);
        struct lnk_store_op *op = s->rd_head;
        if (!op)
            break;
        s->rd_head = next_of(op);
        if (!s->rd_head)
            s->rd_tail = NULL;
        s->rd_queued--;
        bool stopping = s->rd_stopping;
        pthread_mutex_unlock(&s->rd_mu);
        if (stopping || unwanted(s, op)) {
            lnk_store_op_reset_outputs(op);
            op->rc = LNK_ECANCELED;
            atomic_fetch_add_explicit(&s->reads_cancelled, 1, memory_order_relaxed);
        } else {
            read_on(c, op);
            if (family_of(op->kind) == F_LIST)
                atomic_fetch_add_explicit(&s->list_chunks, 1, memory_order_relaxed);
        }
        complete_op(op);
        pthread_mutex_lock(&s->rd_mu);
    }
    pthread_mutex_unlock(&s->rd_mu);
    return NULL;
}

/* Queues a read for the pool; a full queue refuses it (LNK_EBUSY). */
static void enqueue_read(struct lnk_store *s, struct lnk_store_op *op)
{
    op->task.link_[0] = NULL;
    pthread_mutex_lock(&s->rd_mu);
    bool accepted = !s->rd_stopping && s->rd_queued < s->read_queue_max;
    if (accepted) {
        if (s->rd_tail)
            s->rd_tail->task.link_[0] = op;
        else
            s->rd_head = op;
        s->rd_tail = op;
        s->rd_queued++;
        pthread_cond_signal(&s->rd_cv);
    }
    bool stopping = s->rd_stopping;
    pthread_mutex_unlock(&s->rd_mu);
    if (!accepted) {
        lnk_store_op_reset_outputs(op);
        op->rc = stopping ? LNK_ECANCELED : LNK_EBUSY;
        atomic_fetch_add_explicit(stopping ? &s->reads_cancelled : &s->reads_refused, 1,
                                  memory_order_relaxed);
        complete_op(op);
    }
}

static int start_readers(struct lnk_store *s, char *errbuf, size_t errcap)
{
    s->readers = lnk_xcalloc(s->n_readers, sizeof(*s->readers));
    s->reader_conns = lnk_xcalloc(s->n_readers, sizeof(*s->reader_conns));
    for (unsigned i = 0; i < s->n_readers; i++) {
        int rc = lnk_store_conn_open(s, &s->reader_conns[i]);
        int err = rc == LNK_OK
                      ? pthread_create(&s->readers[i], NULL, reader_main, s->reader_conns[i])
                      : 0;
        if (rc != LNK_OK || err != 0) {
            lnk_store_conn_close(s->reader_conns[i]);
            s->reader_conns[i] = NULL;
            s->n_readers = i;
            set_err(errbuf, errcap, "store: cannot start the reader threads");
            return rc != LNK_OK ? rc : lnk_err_from_errno(err);
        }
    }
    return LNK_OK;
}

/* Completes every queued read with LNK_ECANCELED, joins the readers. */
static void stop_readers(struct lnk_store *s)
{
    pthread_mutex_lock(&s->rd_mu);
    s->rd_stopping = true;
    pthread_cond_broadcast(&s->rd_cv);
    pthread_mutex_unlock(&s->rd_mu);
    for (unsigned i = 0; i < s->n_readers; i++) {
        pthread_join(s->readers[i], NULL);
        lnk_store_conn_close(s->reader_conns[i]);
    }
    free(s->readers);
    free(s->reader_conns);
    s->readers = NULL;
    s->reader_conns = NULL;
    s->n_readers = 0;
}

/* ---- open and close -------------------------------------------------------- */

static bool init_sync(struct lnk_store *s)
{
    pthread_condattr_t ca;
    bool ok = pthread_condattr_init(&ca) == 0;
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
    ok = ok && pthread_cond_init(&s->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    /* glibc never fails these for default attributes */
    ok = ok && pthread_cond_init(&s->recheck_cv, NULL) == 0;
    ok = ok && pthread_mutex_init(&s->mu, NULL) == 0;
    ok = ok && pthread_mutex_init(&s->conns_mu, NULL) == 0;
    ok = ok && pthread_mutex_init(&s->st_mu, NULL) == 0;
    ok = ok && pthread_mutex_init(&s->sync_mu, NULL) == 0;
    ok = ok && pthread_cond_init(&s->sync_cv, NULL) == 0;
    ok = ok && pthread_cond_init(&s->sync_idle_cv, NULL) == 0;
    ok = ok && pthread_mutex_init(&s->rd_mu, NULL) == 0;
    ok = ok && pthread_cond_init(&s->rd_cv, NULL) == 0;
    return ok;
}

static void destroy_sync(struct lnk_store *s)
{
    pthread_cond_destroy(&s->rd_cv);
    pthread_mutex_destroy(&s->rd_mu);
    pthread_cond_destroy(&s->sync_idle_cv);
    pthread_cond_destroy(&s->sync_cv);
    pthread_mutex_destroy(&s->sync_mu);
    pthread_mutex_destroy(&s->st_mu);
    pthread_mutex_destroy(&s->conns_mu);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->recheck_cv);
    pthread_cond_destroy(&s->cv);
}

/* After the writer stopped: the syncer answers what is left, then exits. */
static void stop_syncer(struct lnk_store *s)
{
    if (!s->use_syncer)
        return;
    pthread_mutex_lock(&s->sync_mu);
    s->sync_stopping = true;
    pthread_cond_signal(&s->sync_cv);
    pthread_mutex_unlock(&s->sync_mu);
    pthread_join(s->syncer, NULL);
}

static void stop_writer(struct lnk_store *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    stop_syncer(s);
}

int lnk_store_open(const struct lnk_store_config *cfg, struct lnk_store **out, char *errbuf,
                   size_t errcap)
{
    const struct lnk_store_ops *ops = NULL;
    struct lnk_store *s = NULL;
    bool have_sync = false, have_writer = false;
    int rc;

    *out = NULL;
    rc = select_backend(cfg ? cfg->url : NULL, &ops);
    if (rc != LNK_OK) {
        set_err(errbuf, errcap,
                "unsupported DATABASE_URL scheme (expected sqlite://<path>, a file path or "
                "postgres://...)");
        goto out;
    }
    s = lnk_xcalloc(1, sizeof(*s));
    s->ops = ops;
    s->max_batch = cfg->max_batch ? cfg->max_batch : STORE_MAX_BATCH_DEFAULT;
    s->check_ms = cfg->check_ms ? cfg->check_ms : STORE_CHECK_MS_DEFAULT;
    s->probe_ms = cfg->probe_ms ? cfg->probe_ms : STORE_PROBE_MS_DEFAULT;
    s->n_readers = cfg->readers ? cfg->readers : STORE_READERS_DEFAULT;
    s->read_queue_max = cfg->read_queue ? cfg->read_queue : STORE_READ_QUEUE_DEFAULT;
    atomic_init(&s->degraded, false);
    atomic_init(&s->sync_errno, 0);
    atomic_init(&s->rd_cancel, false);
    atomic_init(&s->list_chunks, 0);
    atomic_init(&s->reads_cancelled, 0);
    atomic_init(&s->reads_refused, 0);
    atomic_init(&s->n_queued, 0);
    atomic_init(&s->write_failures, 0);
    atomic_init(&s->errors, 0);
    lnk_histo_init(&s->commit_ns, lnk_metrics_latency_bounds_ns, LNK_METRICS_N_BUCKETS, 1e-9);
    lnk_histo_init(&s->sync_ns, lnk_metrics_latency_bounds_ns, LNK_METRICS_N_BUCKETS, 1e-9);
    lnk_histo_init(&s->batch_ops, lnk_metrics_count_bounds, LNK_METRICS_N_COUNT_BOUNDS, 1);
    s->use_syncer = ops->sync && cfg->synchronous_full;
    rc = ops->open(cfg->url, cfg, &s->be, errbuf, errcap);
    if (rc != LNK_OK)
        goto out;
    if (!init_sync(s)) {
        set_err(errbuf, errcap, "store: cannot create the writer's locks");
        rc = LNK_EBACKEND;
        goto out;
    }
    have_sync = true;
    s->rules = lnk_store_rules_new(ops, s->be);
    /* A file that opened read-only serves reads and is probed from the start. */
    enum lnk_store_fault f = ops->check(s->be);
    if (f != LNK_STORE_OK)
        set_fault(s, f, 0);
    s->next_check_ms = clock_ms(CLOCK_MONOTONIC) + s->check_ms;
    int err = s->use_syncer ? pthread_create(&s->syncer, NULL, syncer_main, s) : 0;
    if (err != 0) {
        set_err(errbuf, errcap, "store: cannot start the syncer thread");
        rc = lnk_err_from_errno(err);
        goto out;
    }
    err = pthread_create(&s->writer, NULL, writer_main, s);
    if (err != 0) {
        stop_syncer(s);
        set_err(errbuf, errcap, "store: cannot start the writer thread");
        rc = lnk_err_from_errno(err);
        goto out;
    }
    have_writer = true;
    rc = start_readers(s, errbuf, errcap);
    if (rc != LNK_OK)
        goto out;
    *out = s;
    s = NULL;
out:
    if (s) {
        if (s->readers)
            stop_readers(s);
        if (have_writer)
            stop_writer(s);
        lnk_store_rules_free(s->rules);
        if (have_sync)
            destroy_sync(s);
        if (ops)
            ops->close(s->be);
        free(s);
    }
    return rc;
}

void lnk_store_close(struct lnk_store *s)
{
    if (!s)
        return;
    stop_readers(s);
    stop_writer(s);
    lnk_store_rules_free(s->rules);
    s->ops->close(s->be);
    destroy_sync(s);
    free(s);
}

const char *lnk_store_backend_name(const struct lnk_store *s)
{
    return s->ops->name;
}

int lnk_store_conn_open(struct lnk_store *s, struct lnk_store_conn **out)
{
    struct lnk_store_bconn *bc = NULL;
    *out = NULL;
    /* Under conns_mu, so a recovery cannot miss a connection opened on the
     * old database. */
    pthread_mutex_lock(&s->conns_mu);
    int rc = s->ops->conn_open(s->be, &bc);
    if (rc == LNK_OK) {
        struct lnk_store_conn *c = lnk_xcalloc(1, sizeof(*c));
        c->s = s;
        c->bc = bc;
        pthread_mutex_init(&c->mu, NULL);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        *out = c;
    }
    pthread_mutex_unlock(&s->conns_mu);
    return rc;
}

void lnk_store_conn_close(struct lnk_store_conn *c)
{
    if (!c)
        return;
    struct lnk_store *s = c->s;
    pthread_mutex_lock(&s->conns_mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->conns_mu);
    s->ops->conn_close(c->bc);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

struct lnk_store_op *lnk_store_op_new(enum lnk_op_kind kind)
{
    struct lnk_store_op *op = lnk_xcalloc(1, family_size(family_of(kind)));
    op->kind = kind;
    op->client_fd = -1;
    atomic_init(&op->cancelled, false);
    if (family_of(kind) == F_LIST)
        LNK_OP_AS(op, list)->q.is_active = -1; /* list filters default to "any" */
    lnk_arena_init(&op->arena);
    return op;
}

void lnk_store_op_free(struct lnk_store_op *op)
{
    if (!op)
        return;
    lnk_arena_cleanup(&op->arena);
    free(op);
}

static void enqueue_write(struct lnk_store *s, struct lnk_store_op *op)
{
    op->task.link_[0] = NULL;
    pthread_mutex_lock(&s->mu);
    bool accepted = !s->stopped && !s->stopping;
    if (accepted) {
        if (s->tail)
            s->tail->task.link_[0] = op;
        else
            s->head = op;
        s->tail = op;
        atomic_store_explicit(&s->n_queued,
                              atomic_load_explicit(&s->n_queued, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (!accepted) {
        /* Submitted during or after close: still completed exactly once. */
        lnk_store_op_reset_outputs(op);
        op->rc = LNK_EUNAVAIL;
        complete_op(op);
    }
}

void lnk_store_submit(struct lnk_store *s, struct lnk_store_conn *conn, struct lnk_store_op *op)
{
    if (!lnk_store_op_is_read(op->kind)) {
        enqueue_write(s, op);
        return;
    }
    bool streamed = family_of(op->kind) == F_LIST && LNK_OP_AS(op, list)->emit;
    if (conn && !streamed && (s->ops->caps & LNK_STORE_CAP_INLINE_READS) &&
        lnk_store_op_is_point_read(op->kind)) {
        read_on(conn, op);
        if (op->done)
            op->done(op);
        return;
    }
    enqueue_read(s, op);
}

void lnk_store_list_next(struct lnk_store *s, struct lnk_op_list *op)
{
    enqueue_read(s, &op->op);
}

void lnk_store_cancel_reads(struct lnk_store *s)
{
    atomic_store(&s->rd_cancel, true);
}

struct run_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

static void signal_run_done(struct lnk_store_op *op)
{
    struct run_wait *w = op->udata;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int lnk_store_run(struct lnk_store *s, struct lnk_store_op *op)
{
    struct run_wait w = {.done = false};
    void *udata = op->udata;
    struct lnk_exec *origin = op->origin;

    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    op->done = signal_run_done;
    op->udata = &w;
    op->origin = NULL;
    if (family_of(op->kind) == F_LIST)
        LNK_OP_AS(op, list)->emit = NULL; /* collected whole */
    lnk_store_submit(s, NULL, op);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    op->done = NULL;
    op->udata = udata;
    op->origin = origin;
    return op->rc;
}

bool lnk_store_is_degraded(const struct lnk_store *s)
{
    return atomic_load(&s->degraded);
}

void lnk_store_get_status(struct lnk_store *s, struct lnk_store_status *out)
{
    pthread_mutex_lock(&s->st_mu);
    *out = s->st;
    pthread_mutex_unlock(&s->st_mu);
}

void lnk_store_get_writer_stats(struct lnk_store *s, struct lnk_store_writer_stats *out)
{
    out->queue_depth = atomic_load_explicit(&s->n_queued, memory_order_relaxed);
    out->write_failures = atomic_load_explicit(&s->write_failures, memory_order_relaxed);
    out->errors = atomic_load_explicit(&s->errors, memory_order_relaxed);
    out->commit_ns = &s->commit_ns;
    out->sync_ns = &s->sync_ns;
    out->batch_ops = &s->batch_ops;
    pthread_mutex_lock(&s->rd_mu);
    out->read_queue_depth = s->rd_queued;
    pthread_mutex_unlock(&s->rd_mu);
    out->list_chunks = atomic_load_explicit(&s->list_chunks, memory_order_relaxed);
    out->reads_cancelled = atomic_load_explicit(&s->reads_cancelled, memory_order_relaxed);
    out->reads_refused = atomic_load_explicit(&s->reads_refused, memory_order_relaxed);
}

/* The key is written once, at open, and never changes. */
bool lnk_store_same_database(const struct lnk_store *a, const struct lnk_store *b)
{
    uint8_t ka[LNK_CODEGEN_KEY_BYTES], kb[LNK_CODEGEN_KEY_BYTES];
    if (a->ops != b->ops)
        return false;
    a->ops->code_key(a->be, ka);
    b->ops->code_key(b->be, kb);
    return memcmp(ka, kb, sizeof(ka)) == 0;
}

void lnk_store_recheck(struct lnk_store *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t ticket = ++s->recheck_wanted;
    pthread_cond_signal(&s->cv);
    while (!s->stopped && s->recheck_served < ticket)
        pthread_cond_wait(&s->recheck_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}
