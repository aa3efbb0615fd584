/* SPDX-License-Identifier: MIT */
/* Cross-node invalidation over PostgreSQL LISTEN/NOTIFY (linkd/pg_notify.h).
 * One thread, one libpq connection: it LISTENs, sends the queued
 * notifications with pg_notify() and waits on the connection's socket and
 * on an eventfd that publishers and shutdown write to. A notification this
 * connection sent comes back to it too: it is recognised by the sending
 * backend's pid and skipped (this node already dropped the link). */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "linkd/arena.h"
#include "linkd/err.h"
#include "linkd/log.h"
#include "linkd/model.h"
#include "linkd/pg_notify.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CODE_MAX       LNK_CODE_MAX /* a longer one is sent as unknown (id only) */

struct message {
    int64_t id;
    char code[CODE_MAX + 1];
};

struct lnk_pg_notify {
    struct lnk_pg_notify_config cfg;
    char *conninfo;
    pthread_t thread;
    int wake_fd;
    PGconn *pg; /* notification thread only */

    pthread_mutex_t mu; /* guards the queue and stop */
    struct message *queue;
    size_t head, len; /* a ring of LNK_PG_NOTIFY_QUEUE_MAX */
    bool stop;

    _Atomic bool subscribed;
    _Atomic uint64_t published, received, dropped, reconnects, errors;
};

static void wake(struct lnk_pg_notify *p)
{
    uint64_t one = 1;
    ssize_t n = write(p->wake_fd, &one, sizeof(one));
    (void)n; /* a full counter already wakes the thread */
}

static void drain_wake(struct lnk_pg_notify *p)
{
    uint64_t v;
    ssize_t n = read(p->wake_fd, &v, sizeof(v));
    (void)n;
}

static bool stopping(struct lnk_pg_notify *p)
{
    pthread_mutex_lock(&p->mu);
    bool s = p->stop;
    pthread_mutex_unlock(&p->mu);
    return s;
}

void lnk_pg_notify_publish(struct lnk_pg_notify *p, int64_t id, const char *code)
{
    size_t n = code ? strlen(code) : 0;
    pthread_mutex_lock(&p->mu);
    bool full = p->len == LNK_PG_NOTIFY_QUEUE_MAX;
    if (!full) {
        struct message *m = &p->queue[(p->head + p->len++) % LNK_PG_NOTIFY_QUEUE_MAX];
        m->id = id;
        snprintf(m->code, sizeof(m->code), "%.*s", n <= CODE_MAX ? (int)n : 0, code ? code : "");
    }
    pthread_mutex_unlock(&p->mu);
    if (full)
        atomic_fetch_add_explicit(&p->dropped, 1, memory_order_relaxed);
    else
        wake(p);
}

/* The connection failed: close it; the loop connects again after a pause. */
static void disconnect(struct lnk_pg_notify *p, const char *event)
{
    if (!p->pg)
        return;
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", PQerrorMessage(p->pg));
    msg[strcspn(msg, "\n")] = '\0';
    LNK_LOG(WARN, NULL, "pg_notify", event, LNK_F_STR("error", msg));
    PQfinish(p->pg);
    p->pg = NULL;
    atomic_store(&p->subscribed, false);
    atomic_fetch_add_explicit(&p->errors, 1, memory_order_relaxed);
}

static bool exec_ok(PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult *res = n ? PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0) : PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    PQclear(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Connects and LISTENs; true when subscribed. */
static bool subscribe(struct lnk_pg_notify *p, bool again)
{
    const char *keys[] = {"connect_timeout",  "keepalives", "keepalives_idle",
                          "application_name", "dbname",     NULL};
    const char *vals[] = {"3", "1", "30", "linkd-notify", p->conninfo, NULL};
    p->pg = PQconnectdbParams(keys, vals, 1);
    if (!p->pg || PQstatus(p->pg) != CONNECTION_OK ||
        !exec_ok(p->pg, "LISTEN " LNK_PG_NOTIFY_CHANNEL, 0, NULL)) {
        if (p->pg)
            disconnect(p, "subscribe_failed");
        else
            atomic_fetch_add_explicit(&p->errors, 1, memory_order_relaxed);
        return false;
    }
    atomic_store(&p->subscribed, true);
    if (again)
        atomic_fetch_add_explicit(&p->reconnects, 1, memory_order_relaxed);
    LNK_LOG(INFO, NULL, "pg_notify", again ? "resubscribed" : "subscribed",
            LNK_F_STR("channel", LNK_PG_NOTIFY_CHANNEL));
    return true;
}

/* Sends what is queued; a failure keeps the message queued and drops the
 * connection. */
static void send_queued(struct lnk_pg_notify *p)
{
    char payload[24 + CODE_MAX + 2];
    const char *params[2] = {LNK_PG_NOTIFY_CHANNEL, payload};
    for (;;) {
        pthread_mutex_lock(&p->mu);
        struct message m = {0};
        bool any = p->len > 0;
        if (any)
            m = p->queue[p->head];
        pthread_mutex_unlock(&p->mu);
        if (!any || !p->pg)
            return;
        snprintf(payload, sizeof(payload), "%lld %s", (long long)m.id, m.code);
        if (!exec_ok(p->pg, "SELECT pg_notify($1, $2)", 2, params)) {
            disconnect(p, "connection_lost");
            return;
        }
        pthread_mutex_lock(&p->mu);
        p->head = (p->head + 1) % LNK_PG_NOTIFY_QUEUE_MAX;
        p->len--;
        pthread_mutex_unlock(&p->mu);
        atomic_fetch_add_explicit(&p->published, 1, memory_order_relaxed);
    }
}

/* Acts on every notification libpq holds: "id code" from another backend. */
static void handle_notifies(struct lnk_pg_notify *p)
{
    int self = PQbackendPID(p->pg);
    PGnotify *n;
    while ((n = PQnotifies(p->pg)) != NULL) {
        if (n->be_pid != self) {
            char *end = NULL;
            long long id = strtoll(n->extra, &end, 10);
            const char *code = end && *end == ' ' ? end + 1 : "";
            if (end == n->extra || id < 0)
                id = 0;
            p->cfg.on_forget(p->cfg.udata, id, lnk_str_from_cstr(code));
            atomic_fetch_add_explicit(&p->received, 1, memory_order_relaxed);
        }
        PQfreemem(n);
    }
}

/* Waits for the socket (when connected), a wake-up or timeout_ms. */
static void wait_events(struct lnk_pg_notify *p, int timeout_ms)
{
    struct pollfd fds[2] = {{p->wake_fd, POLLIN, 0}, {p->pg ? PQsocket(p->pg) : -1, POLLIN, 0}};
    int n = poll(fds, 2, timeout_ms);
    if (n <= 0)
        return;
    if (fds[0].revents & POLLIN)
        drain_wake(p);
    if (p->pg && fds[1].revents) {
        if (!PQconsumeInput(p->pg))
            disconnect(p, "connection_lost");
        else
            handle_notifies(p);
    }
}

static void *run(void *arg)
{
    struct lnk_pg_notify *p = arg;
    if (p->cfg.thread_init)
        p->cfg.thread_init(p->cfg.udata);
    int backoff = BACKOFF_MIN_MS;
    bool ever = false;
    while (!stopping(p)) {
        if (!p->pg) {
            if (!subscribe(p, ever)) {
                wait_events(p, backoff);
                backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
                continue;
            }
            ever = true;
            backoff = BACKOFF_MIN_MS;
        }
        send_queued(p);
        if (p->pg)
            handle_notifies(p); /* those that arrived during the sends */
        if (p->pg && PQstatus(p->pg) == CONNECTION_BAD)
            disconnect(p, "connection_lost");
        wait_events(p, 1000);
    }
    send_queued(p); /* the last invalidations, when connected */
    if (p->pg)
        PQfinish(p->pg);
    p->pg = NULL;
    atomic_store(&p->subscribed, false);
    if (p->cfg.thread_fini)
        p->cfg.thread_fini(p->cfg.udata);
    return NULL;
}

int lnk_pg_notify_new(const struct lnk_pg_notify_config *cfg, struct lnk_pg_notify **out)
{
    struct lnk_pg_notify *p = lnk_xcalloc(1, sizeof(*p));
    p->cfg = *cfg;
    p->conninfo = lnk_xstrndup(cfg->conninfo, strlen(cfg->conninfo));
    p->cfg.conninfo = NULL;
    p->queue = lnk_xcalloc(LNK_PG_NOTIFY_QUEUE_MAX, sizeof(*p->queue));
    pthread_mutex_init(&p->mu, NULL);
    p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->wake_fd < 0 || pthread_create(&p->thread, NULL, run, p) != 0) {
        LNK_LOG(ERROR, NULL, "pg_notify", "start_failed", LNK_F_INT("errno", errno));
        if (p->wake_fd >= 0)
            close(p->wake_fd);
        pthread_mutex_destroy(&p->mu);
        free(p->queue);
        free(p->conninfo);
        free(p);
        *out = NULL;
        return LNK_EBACKEND;
    }
    *out = p;
    return LNK_OK;
}

void lnk_pg_notify_free(struct lnk_pg_notify *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_mutex_unlock(&p->mu);
    wake(p);
    pthread_join(p->thread, NULL);
    close(p->wake_fd);
    pthread_mutex_destroy(&p->mu);
    free(p->queue);
    free(p->conninfo);
    free(p);
}

void lnk_pg_notify_get_status(struct lnk_pg_notify *p, struct lnk_pg_notify_status *out)
{
    pthread_mutex_lock(&p->mu);
    out->queue_depth = p->len;
    pthread_mutex_unlock(&p->mu);
    out->subscribed = atomic_load(&p->subscribed);
    out->published = atomic_load(&p->published);
    out->received = atomic_load(&p->received);
    out->dropped = atomic_load(&p->dropped);
    out->reconnects = atomic_load(&p->reconnects);
    out->errors = atomic_load(&p->errors);
}
