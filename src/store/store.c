/* SPDX-License-Identifier: MIT */
/* Store dispatch: picks the backend from DATABASE_URL, runs reads inline on
 * worker connections, and owns the single writer thread that drains the
 * queue in batches (group commit: one transaction, one fsync, many ops).
 * Every submitted op is completed exactly once, after its batch committed.
 * Lock order: s->mu only; no callback ever runs while it is held. */
#include "linkd/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkd/err.h"
#include "linkd/str.h"
#include "store/store_int.h"

#define STORE_MAX_BATCH_DEFAULT 1024u

struct lnk_store {
    const struct lnk_store_ops *ops;
    struct lnk_store_backend *be;
    unsigned max_batch;

    pthread_mutex_t mu;
    pthread_cond_t cv;         /* signalled on submit and on stop */
    struct lnk_store_op *head; /* queue, linked through task.link_[0] */
    struct lnk_store_op *tail;
    bool stopping; /* close requested: drain, then exit */
    bool stopped;  /* the writer has exited; submits fail */
    pthread_t writer;

    atomic_bool degraded;
};

struct lnk_store_conn {
    struct lnk_store *s;
    struct lnk_store_bconn *bc;
};

/* Backends by DATABASE_URL scheme; a bare path means the first entry. */
static const struct {
    const char *scheme;
    const struct lnk_store_ops *ops;
} backends[] = {
    {"sqlite", &lnk_store_sqlite_ops},
};

static void set_err(char *errbuf, size_t errcap, const char *msg)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "%s", msg);
}

/* Splits url into a backend and the backend's target (the rest after
 * "scheme://"). A string without "://" is a path for the default backend. */
static int select_backend(const char *url, const struct lnk_store_ops **ops, const char **target)
{
    const char *sep = url ? strstr(url, "://") : NULL;
    if (!url || !*url)
        return LNK_EINVAL;
    if (!sep) {
        *ops = backends[0].ops;
        *target = url;
        return LNK_OK;
    }
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (lnk_str_eq_nocase(lnk_str_make(url, (size_t)(sep - url)),
                              lnk_str_from_cstr(backends[i].scheme))) {
            *ops = backends[i].ops;
            *target = sep + 3;
            return *target[0] ? LNK_OK : LNK_EINVAL;
        }
    }
    return LNK_EINVAL;
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
    case LNK_OP_KEY_LIST:
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
    op->n_rows = 0;
    op->users = NULL;
    op->urls = NULL;
    op->events = NULL;
    /* store.h: the imports add to imported/skipped, which callers may preset */
    if (op->kind != LNK_OP_USER_IMPORT && op->kind != LNK_OP_URL_IMPORT &&
        op->kind != LNK_OP_EVENT_IMPORT) {
        op->imported = 0;
        op->skipped = 0;
    }
    memset(op->counts, 0, sizeof(op->counts));
    op->latency_us = 0;
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

/* Runs one batch (a list of at most max_batch ops) in one transaction and
 * completes every op. Writer thread only. */
static void run_batch(struct lnk_store *s, struct lnk_store_op *first)
{
    const struct lnk_store_ops *ops = s->ops;
    bool any_unavail = false;
    bool any_write = false;
    int rc = ops->batch_begin(s->be);
    if (rc == LNK_OK) {
        for (struct lnk_store_op *op = first; op && rc == LNK_OK; op = next_of(op)) {
            any_write |= !lnk_store_op_is_read(op->kind);
            rc = ops->batch_apply(s->be, op);
            any_unavail |= op->rc == LNK_EUNAVAIL;
        }
        if (rc == LNK_OK)
            rc = ops->batch_commit(s->be);
        else
            ops->batch_abort(s->be);
    }
    if (rc != LNK_OK) {
        /* Nothing of this batch is durable: no op may report success. */
        for (struct lnk_store_op *op = first; op; op = next_of(op)) {
            lnk_store_op_reset_outputs(op);
            op->rc = rc;
        }
        any_unavail |= rc == LNK_EUNAVAIL;
    }
    if (any_unavail)
        atomic_store(&s->degraded, true);
    else if (any_write)
        atomic_store(&s->degraded, false);

    struct lnk_store_op *op = first;
    while (op) {
        struct lnk_store_op *next = next_of(op);
        complete_op(op);
        op = next;
    }
}

static void *writer_main(void *arg)
{
    struct lnk_store *s = arg;
    pthread_setname_np(pthread_self(), "linkd-store-wr");
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->head)
            break;
        /* Detach up to max_batch ops from the front of the queue. */
        struct lnk_store_op *first = s->head;
        struct lnk_store_op *last = first;
        for (unsigned n = 1; n < s->max_batch && next_of(last); n++)
            last = next_of(last);
        s->head = next_of(last);
        if (!s->head)
            s->tail = NULL;
        last->task.link_[0] = NULL;
        pthread_mutex_unlock(&s->mu);
        run_batch(s, first);
        pthread_mutex_lock(&s->mu);
    }
    s->stopped = true;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int lnk_store_open(const struct lnk_store_config *cfg, struct lnk_store **out, char *errbuf,
                   size_t errcap)
{
    const struct lnk_store_ops *ops = NULL;
    const char *target = NULL;
    struct lnk_store *s = NULL;
    bool have_sync = false;
    int rc;

    *out = NULL;
    rc = select_backend(cfg ? cfg->url : NULL, &ops, &target);
    if (rc != LNK_OK) {
        set_err(errbuf, errcap,
                "unsupported DATABASE_URL scheme (expected sqlite://<path> or a file path)");
        goto out;
    }
    s = lnk_xcalloc(1, sizeof(*s));
    s->ops = ops;
    s->max_batch = cfg->max_batch ? cfg->max_batch : STORE_MAX_BATCH_DEFAULT;
    atomic_init(&s->degraded, false);
    rc = ops->open(target, cfg, &s->be, errbuf, errcap);
    if (rc != LNK_OK)
        goto out;
    if (pthread_mutex_init(&s->mu, NULL) != 0 || pthread_cond_init(&s->cv, NULL) != 0) {
        /* glibc never fails these for default attributes */
        set_err(errbuf, errcap, "store: cannot create the writer's lock");
        rc = LNK_EBACKEND;
        goto out;
    }
    have_sync = true;
    int err = pthread_create(&s->writer, NULL, writer_main, s);
    if (err != 0) {
        set_err(errbuf, errcap, "store: cannot start the writer thread");
        rc = lnk_err_from_errno(err);
        goto out;
    }
    *out = s;
    s = NULL;
out:
    if (s) {
        if (have_sync) {
            pthread_cond_destroy(&s->cv);
            pthread_mutex_destroy(&s->mu);
        }
        ops->close(s->be);
        free(s);
    }
    return rc;
}

void lnk_store_close(struct lnk_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    s->ops->close(s->be);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
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
    int rc = s->ops->conn_open(s->be, &bc);
    if (rc == LNK_OK) {
        struct lnk_store_conn *c = lnk_xmalloc(sizeof(*c));
        c->s = s;
        c->bc = bc;
        *out = c;
    }
    return rc;
}

void lnk_store_conn_close(struct lnk_store_conn *c)
{
    if (!c)
        return;
    c->s->ops->conn_close(c->bc);
    free(c);
}

struct lnk_store_op *lnk_store_op_new(enum lnk_op_kind kind)
{
    struct lnk_store_op *op = lnk_xcalloc(1, sizeof(*op));
    op->kind = kind;
    op->in.list.is_active = -1; /* list filters default to "any" */
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

void lnk_store_submit(struct lnk_store *s, struct lnk_store_conn *conn, struct lnk_store_op *op)
{
    if (conn && lnk_store_op_is_read(op->kind) && (s->ops->caps & LNK_STORE_CAP_INLINE_READS)) {
        s->ops->read(conn->bc, op);
        if (op->done)
            op->done(op);
        return;
    }
    op->task.link_[0] = NULL;
    pthread_mutex_lock(&s->mu);
    bool accepted = !s->stopped && !s->stopping;
    if (accepted) {
        if (s->tail)
            s->tail->task.link_[0] = op;
        else
            s->head = op;
        s->tail = op;
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
