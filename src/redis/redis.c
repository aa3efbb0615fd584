/* SPDX-License-Identifier: MIT */
/* The Redis client thread: a libevent loop driving two hiredis asynchronous
 * connections (hiredis's own libevent adapter), an eventfd through which
 * other threads hand it operations, and timers.
 *
 * Commands: each op sent becomes a flight, kept in sending order. hiredis
 * answers flights in that order; the deadline timer answers any flight
 * still waiting at its deadline with LNK_ETIMEDOUT (the late reply is then
 * dropped), so no caller ever waits past LINKD_REDIS_TIMEOUT_MS. A reply
 * missing for STUCK_FACTOR timeouts means the connection is stuck: it is
 * dropped, and while it is down every op fails at once. A PING every second
 * measures latency and notices a silent Redis.
 *
 * The subscription has its own connection. When it is lost, or when the
 * command connection is, it is made again; meanwhile the local caches' TTL
 * bounds what a missed message can cost.
 *
 * Both reconnect by themselves with exponential backoff. Only this thread
 * touches the hiredis contexts; the queue has one mutex; counters and the
 * ready flag are atomics; the status text has its own mutex (never held
 * with the queue's). */
#include "linkd/redis.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "linkd/clock.h"
#include "linkd/err.h"
#include "linkd/log.h"
#include "linkd/metrics.h"
#include "redis/redis_int.h"

#define CONNECT_TIMEOUT_MS 1000 /* connect and handshake */
#define PING_INTERVAL_MS   1000
#define BACKOFF_MIN_MS     50
#define BACKOFF_MAX_MS     2000
#define STUCK_FACTOR       5     /* timeouts without the oldest reply: drop the connection */
#define QUEUE_MAX          65536 /* ops handed over and not yet taken by the thread */
#define RETRY_MAX_LINKS    65536 /* invalidations kept while Redis is down */
#define FORGET_BATCH       256   /* links per invalidation command */

enum conn_state { DOWN, CONNECTING, READY };

/* The steps of a new command connection, in the order they are sent. */
enum handshake { HS_AUTH, HS_SELECT, HS_SCRIPT, HS_DONE };

struct flight {
    struct lnk_redis *r;
    struct lnk_redis_op *op; /* NULL once answered (deadline) */
    struct flight *prev, *next;
    uint64_t sent_ns;
};

struct conn {
    redisAsyncContext *ac;
    enum conn_state state;
    uint32_t backoff_ms;
    struct event *retry_ev, *connect_ev;
};

struct lnk_redis {
    struct lnk_redis_config cfg;
    char channel[64];
    struct lnk_redis_env env;
    pthread_t thread;
    bool thread_started;
    struct event_base *base;
    struct event *wake_ev, *deadline_ev, *ping_ev, *stop_ev;
    int wake_fd;

    /* Handed over by other threads; guarded by lock. */
    pthread_mutex_t lock;
    struct lnk_redis_op *in_head, *in_tail;
    size_t in_len;
    bool stop_asked;

    /* Thread-only. */
    struct conn cmd, sub;
    struct flight *fl_head, *fl_tail;
    size_t n_flights;
    struct lnk_redis_op *retry_head, *retry_tail;
    size_t retry_links;
    bool stopping, ever_ready, down_logged, dropping_logged, noscript_seen;
    uint64_t ping_sent_ns;

    /* Read by any thread. */
    _Atomic bool ready, subscribed;
    _Atomic uint64_t errors, timeouts, reconnects, published, received, dropped, depth;
    _Atomic uint64_t ping_us; /* UINT64_MAX: none yet */
    struct lnk_histo latency;

    pthread_mutex_t status_lock; /* guards the fields below */
    pthread_cond_t first_cond;
    const char *reason;
    char error[160];
    int64_t since_ms;
    int first_rc; /* 1 until the first connection's outcome */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void arm_ms(struct event *ev, uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(ev, &tv);
}

/* ---- state and status ------------------------------------------------------ */

/* Records why Redis is not (fully) usable, or NULL once it is. */
static void set_status(struct lnk_redis *r, const char *reason, const char *error)
{
    pthread_mutex_lock(&r->status_lock);
    if (r->reason != reason)
        r->since_ms = wall_ms();
    r->reason = reason;
    snprintf(r->error, sizeof(r->error), "%s", error ? error : "");
    pthread_mutex_unlock(&r->status_lock);
}

/* The outcome of the first connection, for lnk_redis_wait_connected. */
static void first_outcome(struct lnk_redis *r, int rc)
{
    pthread_mutex_lock(&r->status_lock);
    if (r->first_rc == 1) {
        r->first_rc = rc;
        pthread_cond_broadcast(&r->first_cond);
    }
    pthread_mutex_unlock(&r->status_lock);
}

static const char *reply_error(const redisAsyncContext *ac, const redisReply *reply)
{
    if (reply && reply->type == REDIS_REPLY_ERROR)
        return reply->str;
    return ac && ac->errstr ? ac->errstr : "connection closed";
}

/* ---- answering ops --------------------------------------------------------- */

static void run_done(struct lnk_task *t)
{
    struct lnk_redis_op *op =
        (struct lnk_redis_op *)((char *)t - offsetof(struct lnk_redis_op, task));
    op->done(op);
}

static void keep_for_retry(struct lnk_redis *r, struct lnk_redis_op *op)
{
    if (r->stopping || r->retry_links + op->n_forget_ > RETRY_MAX_LINKS) {
        add(&r->dropped, op->n_forget_);
        if (!r->dropping_logged)
            LNK_LOG(WARN, NULL, "redis", "invalidations_dropped",
                    LNK_F_INT("links", (int64_t)op->n_forget_),
                    LNK_F_STR("detail", r->stopping ? "stopping with Redis unreachable"
                                                    : "too many invalidations wait for Redis"));
        r->dropping_logged = true;
        lnk_redis_op_free(op);
        return;
    }
    op->next_ = NULL;
    if (r->retry_tail)
        r->retry_tail->next_ = op;
    else
        r->retry_head = op;
    r->retry_tail = op;
    r->retry_links += op->n_forget_;
}

/* Every op ends here, exactly once. An invalidation that did not reach
 * Redis waits for the next connection instead. */
static void answer(struct lnk_redis *r, struct lnk_redis_op *op, int rc)
{
    add(&r->depth, (uint64_t)-1);
    if (op->kind == LNK_REDIS_FORGET && (rc == LNK_EUNAVAIL || rc == LNK_ETIMEDOUT)) {
        keep_for_retry(r, op);
        return;
    }
    if (op->kind == LNK_REDIS_FORGET && rc == LNK_OK)
        add(&r->published, op->n_forget_);
    op->rc = rc;
    if (!op->done) {
        lnk_redis_op_free(op);
    } else if (op->origin) {
        op->task.run = run_done;
        lnk_exec_post(op->origin, &op->task);
    } else {
        op->done(op);
    }
}

/* ---- flights --------------------------------------------------------------- */

static void flight_unlink(struct lnk_redis *r, struct flight *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        r->fl_head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        r->fl_tail = f->prev;
    f->prev = f->next = NULL;
    r->n_flights--;
}

static void rearm_deadline(struct lnk_redis *r);
static void drop_cmd(struct lnk_redis *r, const char *reason, const char *error);
static void load_scripts(struct lnk_redis *r);
static void maybe_finish(struct lnk_redis *r);

static void on_reply(redisAsyncContext *ac, void *reply_, void *priv)
{
    (void)ac;
    struct flight *f = priv;
    struct lnk_redis *r = f->r;
    const redisReply *reply = reply_;
    flight_unlink(r, f);
    if (reply)
        lnk_histo_observe(&r->latency, now_ns() - f->sent_ns);
    if (f->op) {
        bool noscript = false;
        int rc = reply ? lnk_redis_read_reply(f->op, reply, &noscript) : LNK_EUNAVAIL;
        if (rc == LNK_EBACKEND) {
            add(&r->errors, 1);
            LNK_LOG(DEBUG, NULL, "redis", "command_failed",
                    LNK_F_STR("error", reply_error(ac, reply)));
        }
        if (noscript && !r->noscript_seen && r->cmd.state == READY) {
            r->noscript_seen = true; /* SCRIPT FLUSH, or a Redis that lost them */
            load_scripts(r);
        }
        answer(r, f->op, rc);
    }
    free(f);
    rearm_deadline(r);
    maybe_finish(r);
}

static void send_op(struct lnk_redis *r, struct lnk_redis_op *op)
{
    struct lnk_redis_argv cmd;
    struct lnk_arena tmp;
    lnk_arena_init(&tmp);
    lnk_redis_build(op, &r->env, &tmp, &cmd);
    struct flight *f = lnk_xcalloc(1, sizeof(*f));
    f->r = r;
    f->op = op;
    f->sent_ns = now_ns();
    /* hiredis copies the arguments into its output buffer */
    int rc = redisAsyncCommandArgv(r->cmd.ac, on_reply, f, cmd.argc, cmd.argv, cmd.len);
    lnk_arena_cleanup(&tmp);
    if (rc != REDIS_OK) {
        free(f);
        answer(r, op, LNK_EUNAVAIL);
        return;
    }
    f->prev = r->fl_tail;
    if (r->fl_tail)
        r->fl_tail->next = f;
    else
        r->fl_head = f;
    r->fl_tail = f;
    r->n_flights++;
    if (r->n_flights == 1)
        rearm_deadline(r);
}

/* Sends op now if it can still make its deadline on a ready connection. */
static void dispatch(struct lnk_redis *r, struct lnk_redis_op *op, uint64_t now)
{
    if (now >= op->deadline_ns_) {
        add(&r->timeouts, 1);
        add(&r->errors, 1);
        answer(r, op, LNK_ETIMEDOUT);
    } else if (r->cmd.state != READY) {
        answer(r, op, LNK_EUNAVAIL);
    } else {
        send_op(r, op);
    }
}

/* Answers every flight past its deadline; drops a stuck connection; arms
 * the timer for the next deadline. Deadlines follow sending order. */
static void check_deadlines(struct lnk_redis *r)
{
    uint64_t now = now_ns(), timeout_ns = (uint64_t)r->cfg.timeout_ms * 1000000ull;
    for (struct flight *f = r->fl_head; f; f = f->next) {
        if (!f->op)
            continue;
        if (f->op->deadline_ns_ > now)
            break;
        struct lnk_redis_op *op = f->op;
        f->op = NULL;
        add(&r->timeouts, 1);
        add(&r->errors, 1);
        answer(r, op, LNK_ETIMEDOUT);
    }
    if (r->fl_head && now - r->fl_head->sent_ns >= STUCK_FACTOR * timeout_ns) {
        char why[96];
        snprintf(why, sizeof(why), "no reply for %u ms", STUCK_FACTOR * r->cfg.timeout_ms);
        drop_cmd(r, "timeout", why);
        return;
    }
    rearm_deadline(r);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    check_deadlines(arg);
}

static void rearm_deadline(struct lnk_redis *r)
{
    uint64_t timeout_ns = (uint64_t)r->cfg.timeout_ms * 1000000ull;
    struct flight *live = r->fl_head;
    while (live && !live->op)
        live = live->next;
    if (!r->fl_head) {
        event_del(r->deadline_ev);
        return;
    }
    uint64_t at = r->fl_head->sent_ns + STUCK_FACTOR * timeout_ns;
    if (live && live->op->deadline_ns_ < at)
        at = live->op->deadline_ns_;
    uint64_t now = now_ns();
    uint64_t us = at > now ? (at - now + 999) / 1000 : 0;
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    event_add(r->deadline_ev, &tv);
}

/* ---- the command connection ------------------------------------------------ */

static void schedule_retry(struct conn *c)
{
    uint32_t ms = c->backoff_ms ? c->backoff_ms : BACKOFF_MIN_MS;
    /* up to a quarter less, so that nodes do not reconnect in step */
    arm_ms(c->retry_ev, ms - (uint32_t)rand() % (ms / 4 + 1));
    c->backoff_ms = ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
}

static void drop_sub(struct lnk_redis *r, const char *why);

/* Closes the command connection (its pending ops are answered
 * LNK_EUNAVAIL by hiredis's callbacks) and the subscription with it. */
static void drop_cmd(struct lnk_redis *r, const char *reason, const char *error)
{
    redisAsyncContext *ac = r->cmd.ac;
    if (!ac)
        return;
    bool was_ready = r->cmd.state == READY;
    r->cmd.ac = NULL;
    r->cmd.state = DOWN;
    atomic_store_explicit(&r->ready, false, memory_order_relaxed);
    event_del(r->cmd.connect_ev);
    event_del(r->ping_ev);
    add(&r->errors, 1);
    set_status(r, reason, error);
    first_outcome(r, strcmp(reason, "auth_failed") == 0 || strcmp(reason, "select_failed") == 0
                         ? LNK_EINVAL
                         : LNK_EUNAVAIL);
    if (!r->down_logged) {
        if (strcmp(reason, "auth_failed") == 0 || strcmp(reason, "select_failed") == 0)
            LNK_LOG(ERROR, NULL, "redis", reason, LNK_F_STR("error", error));
        else
            LNK_LOG(WARN, NULL, "redis", was_ready ? "connection_lost" : "connect_failed",
                    LNK_F_STR("reason", reason), LNK_F_STR("error", error));
    }
    r->down_logged = true;
    redisAsyncFree(ac);
    drop_sub(r, "the command connection was lost");
    if (!r->stopping)
        schedule_retry(&r->cmd);
}

static void on_cmd_connect(const redisAsyncContext *ac, int status)
{
    struct lnk_redis *r = ac->data;
    if (status != REDIS_OK && ac == r->cmd.ac) {
        /* hiredis frees the context after this callback */
        r->cmd.ac = NULL;
        r->cmd.state = DOWN;
        event_del(r->cmd.connect_ev);
        add(&r->errors, 1);
        set_status(r, "unreachable", ac->errstr);
        first_outcome(r, LNK_EUNAVAIL);
        if (!r->down_logged)
            LNK_LOG(WARN, NULL, "redis", "connect_failed", LNK_F_STR("reason", "unreachable"),
                    LNK_F_STR("error", ac->errstr));
        r->down_logged = true;
        if (!r->stopping)
            schedule_retry(&r->cmd);
    }
}

static void on_cmd_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    struct lnk_redis *r = ac->data;
    if (ac != r->cmd.ac)
        return; /* dropped by us */
    r->cmd.ac = NULL;
    bool was_ready = r->cmd.state == READY;
    r->cmd.state = DOWN;
    atomic_store_explicit(&r->ready, false, memory_order_relaxed);
    event_del(r->cmd.connect_ev);
    event_del(r->ping_ev);
    add(&r->errors, 1);
    set_status(r, "unreachable", ac->errstr[0] ? ac->errstr : "connection closed");
    first_outcome(r, LNK_EUNAVAIL);
    if (!r->down_logged)
        LNK_LOG(WARN, NULL, "redis", was_ready ? "connection_lost" : "connect_failed",
                LNK_F_STR("reason", "unreachable"),
                LNK_F_STR("error", ac->errstr[0] ? ac->errstr : "connection closed"));
    r->down_logged = true;
    drop_sub(r, "the command connection was lost");
    if (!r->stopping)
        schedule_retry(&r->cmd);
}

static void sub_connect(struct lnk_redis *r);

static void become_ready(struct lnk_redis *r)
{
    r->cmd.state = READY;
    r->cmd.backoff_ms = 0;
    r->noscript_seen = false;
    r->dropping_logged = false;
    r->down_logged = false;
    event_del(r->cmd.connect_ev);
    if (r->ever_ready)
        add(&r->reconnects, 1);
    r->ever_ready = true;
    atomic_store_explicit(&r->ready, true, memory_order_relaxed);
    set_status(r, r->sub.state == READY ? NULL : "not_subscribed",
               r->sub.state == READY ? NULL : "subscribing");
    first_outcome(r, LNK_OK);
    LNK_LOG(INFO, NULL, "redis", "connected", LNK_F_STR("host", r->cfg.addr.host),
            LNK_F_INT("port", r->cfg.addr.port), LNK_F_INT("db", r->cfg.addr.db));
    arm_ms(r->ping_ev, PING_INTERVAL_MS);
    /* invalidations that waited for Redis go first */
    struct lnk_redis_op *op = r->retry_head;
    r->retry_head = r->retry_tail = NULL;
    r->retry_links = 0;
    uint64_t deadline = now_ns() + (uint64_t)r->cfg.timeout_ms * 1000000ull;
    while (op) {
        struct lnk_redis_op *next = op->next_;
        op->deadline_ns_ = deadline;
        add(&r->depth, 1);
        send_op(r, op);
        op = next;
    }
    if (r->sub.state == DOWN && !event_pending(r->sub.retry_ev, EV_TIMEOUT, NULL))
        sub_connect(r);
}

static void on_handshake(redisAsyncContext *ac, void *reply_, void *priv)
{
    struct lnk_redis *r = ac->data;
    const redisReply *reply = reply_;
    enum handshake step = (enum handshake)(intptr_t)priv;
    if (!reply || ac != r->cmd.ac)
        return; /* the connection is going away; its disconnect says why */
    if (reply->type == REDIS_REPLY_ERROR) {
        /* NOAUTH: Redis wants a password the URL does not give */
        bool auth = step == HS_AUTH || strncmp(reply->str, "NOAUTH", 6) == 0;
        drop_cmd(r,
                 auth                ? "auth_failed"
                 : step == HS_SELECT ? "select_failed"
                                     : "error",
                 reply->str);
        return;
    }
    if (step == HS_SCRIPT && r->cmd.state == READY)
        r->noscript_seen = false; /* reloaded after a NOSCRIPT: the next one reloads again */
    if (step == HS_DONE && r->cmd.state == CONNECTING)
        become_ready(r);
}

static void load_scripts(struct lnk_redis *r)
{
    for (int s = 0; s < LNK_SCRIPTS; s++)
        redisAsyncCommand(r->cmd.ac, on_handshake, (void *)(intptr_t)HS_SCRIPT, "SCRIPT LOAD %s",
                          lnk_redis_script_text((enum lnk_redis_script)s));
}

/* AUTH and SELECT as the URL says, our scripts, then a PING whose answer
 * makes the connection ready. Queued at once; hiredis sends them when the
 * socket connects. */
static void send_handshake(struct lnk_redis *r, redisAsyncContext *ac)
{
    const struct lnk_redis_addr *a = &r->cfg.addr;
    if (a->password[0] && a->user[0])
        redisAsyncCommand(ac, on_handshake, (void *)(intptr_t)HS_AUTH, "AUTH %s %s", a->user,
                          a->password);
    else if (a->password[0])
        redisAsyncCommand(ac, on_handshake, (void *)(intptr_t)HS_AUTH, "AUTH %s", a->password);
    if (a->db)
        redisAsyncCommand(ac, on_handshake, (void *)(intptr_t)HS_SELECT, "SELECT %u", a->db);
    load_scripts(r);
    redisAsyncCommand(ac, on_handshake, (void *)(intptr_t)HS_DONE, "PING");
}

/* A new asynchronous connection attached to the loop; NULL (status set)
 * when it failed at once. */
static redisAsyncContext *open_conn(struct lnk_redis *r, redisConnectCallback *on_connect,
                                    redisDisconnectCallback *on_disconnect)
{
    redisAsyncContext *ac = redisAsyncConnect(r->cfg.addr.host, r->cfg.addr.port);
    if (!ac || ac->err) {
        add(&r->errors, 1);
        set_status(r, "unreachable", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return NULL;
    }
    ac->data = r;
    redisEnableKeepAlive(&ac->c); /* TCP keepalive, 15 s: notices a silent peer */
    redisLibeventAttach(ac, r->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

static void cmd_connect(struct lnk_redis *r)
{
    redisAsyncContext *ac = open_conn(r, on_cmd_connect, on_cmd_disconnect);
    if (!ac) {
        first_outcome(r, LNK_EUNAVAIL);
        schedule_retry(&r->cmd);
        return;
    }
    r->cmd.ac = ac;
    r->cmd.state = CONNECTING;
    send_handshake(r, ac);
    arm_ms(r->cmd.connect_ev, CONNECT_TIMEOUT_MS);
}

static void on_cmd_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct lnk_redis *r = arg;
    if (!r->stopping && r->cmd.state == DOWN)
        cmd_connect(r);
}

static void on_cmd_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct lnk_redis *r = arg;
    if (r->cmd.state == CONNECTING)
        drop_cmd(r, "unreachable", "no connection within 1 s");
}

static void on_ping_done(struct lnk_redis_op *op)
{
    struct lnk_redis *r = op->udata;
    if (op->rc == LNK_OK)
        atomic_store_explicit(&r->ping_us, (now_ns() - r->ping_sent_ns) / 1000,
                              memory_order_relaxed);
    lnk_redis_op_free(op);
}

static void on_ping_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct lnk_redis *r = arg;
    if (r->cmd.state != READY)
        return;
    struct lnk_redis_op *op = lnk_redis_op_new(LNK_REDIS_PING);
    op->done = on_ping_done;
    op->udata = r;
    r->ping_sent_ns = now_ns();
    op->deadline_ns_ = r->ping_sent_ns + (uint64_t)r->cfg.timeout_ms * 1000000ull;
    add(&r->depth, 1);
    send_op(r, op);
    arm_ms(r->ping_ev, PING_INTERVAL_MS);
}

/* ---- the subscription ------------------------------------------------------ */

static void on_forget_line(void *udata, int64_t id, struct lnk_str code)
{
    struct lnk_redis *r = udata;
    add(&r->received, 1);
    r->cfg.on_forget(r->cfg.udata, id, code);
}

static void on_message(redisAsyncContext *ac, void *reply_, void *priv)
{
    struct lnk_redis *r = priv;
    const redisReply *reply = reply_;
    if (!reply || ac != r->sub.ac || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = reply->element[0]->str;
    if (strcmp(kind, "subscribe") == 0) {
        r->sub.state = READY;
        r->sub.backoff_ms = 0;
        event_del(r->sub.connect_ev);
        atomic_store_explicit(&r->subscribed, true, memory_order_relaxed);
        if (r->cmd.state == READY)
            set_status(r, NULL, NULL);
        LNK_LOG(INFO, NULL, "redis", "subscribed", LNK_F_STR("channel", r->channel));
    } else if (strcmp(kind, "message") == 0 && reply->element[2]->type == REDIS_REPLY_STRING &&
               r->cfg.on_forget) {
        lnk_redis_message_each(lnk_str_make(reply->element[2]->str, reply->element[2]->len),
                               on_forget_line, r);
    }
}

static void sub_lost(struct lnk_redis *r, const char *why)
{
    bool was = r->sub.state == READY;
    r->sub.state = DOWN;
    atomic_store_explicit(&r->subscribed, false, memory_order_relaxed);
    event_del(r->sub.connect_ev);
    if (r->cmd.state == READY)
        set_status(r, "not_subscribed", why);
    if (was)
        LNK_LOG(WARN, NULL, "redis", "subscription_lost", LNK_F_STR("error", why));
    /* resubscribe at once while commands work; otherwise the command
     * connection's recovery brings it back */
    if (!r->stopping && r->cmd.state == READY)
        schedule_retry(&r->sub);
}

static void drop_sub(struct lnk_redis *r, const char *why)
{
    redisAsyncContext *ac = r->sub.ac;
    if (!ac) {
        event_del(r->sub.retry_ev);
        return;
    }
    r->sub.ac = NULL;
    event_del(r->sub.retry_ev);
    sub_lost(r, why);
    redisAsyncFree(ac);
}

static void on_sub_connect(const redisAsyncContext *ac, int status)
{
    struct lnk_redis *r = ac->data;
    if (status != REDIS_OK && ac == r->sub.ac) {
        r->sub.ac = NULL;
        sub_lost(r, ac->errstr);
    }
}

static void on_sub_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    struct lnk_redis *r = ac->data;
    if (ac != r->sub.ac)
        return;
    r->sub.ac = NULL;
    sub_lost(r, ac->errstr[0] ? ac->errstr : "connection closed");
}

static void subscribe(struct lnk_redis *r, redisAsyncContext *ac)
{
    redisAsyncCommand(ac, on_message, r, "SUBSCRIBE %s", r->channel);
}

static void on_sub_auth(redisAsyncContext *ac, void *reply_, void *priv)
{
    (void)priv;
    struct lnk_redis *r = ac->data;
    const redisReply *reply = reply_;
    if (!reply || ac != r->sub.ac)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        drop_sub(r, reply->str);
        return;
    }
    subscribe(r, ac);
}

static void sub_connect(struct lnk_redis *r)
{
    redisAsyncContext *ac = open_conn(r, on_sub_connect, on_sub_disconnect);
    if (!ac) {
        sub_lost(r, "cannot connect");
        return;
    }
    r->sub.ac = ac;
    r->sub.state = CONNECTING;
    const struct lnk_redis_addr *a = &r->cfg.addr;
    if (a->password[0] && a->user[0])
        redisAsyncCommand(ac, on_sub_auth, NULL, "AUTH %s %s", a->user, a->password);
    else if (a->password[0])
        redisAsyncCommand(ac, on_sub_auth, NULL, "AUTH %s", a->password);
    else
        subscribe(r, ac);
    arm_ms(r->sub.connect_ev, CONNECT_TIMEOUT_MS);
}

static void on_sub_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct lnk_redis *r = arg;
    if (!r->stopping && r->sub.state == DOWN && r->cmd.state == READY)
        sub_connect(r);
}

static void on_sub_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct lnk_redis *r = arg;
    if (r->sub.state == CONNECTING)
        drop_sub(r, "no subscription within 1 s");
}

/* ---- the hand-over queue and the loop ---------------------------------------- */

/* Stops the loop once nothing is left in flight after a stop was asked. */
static void maybe_finish(struct lnk_redis *r)
{
    if (r->stopping && !r->fl_head)
        event_base_loopbreak(r->base);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct lnk_redis *r = arg;
    uint64_t n;
    ssize_t got = read(fd, &n, sizeof(n)); /* EAGAIN: an earlier wake took it */
    (void)got;
    pthread_mutex_lock(&r->lock);
    struct lnk_redis_op *op = r->in_head;
    r->in_head = r->in_tail = NULL;
    r->in_len = 0;
    bool stop = r->stop_asked;
    pthread_mutex_unlock(&r->lock);
    uint64_t now = now_ns();
    while (op) {
        struct lnk_redis_op *next = op->next_;
        op->next_ = NULL;
        dispatch(r, op, now);
        op = next;
    }
    if (stop && !r->stopping) {
        r->stopping = true;
        /* what could not be sent is given up now */
        struct lnk_redis_op *rop = r->retry_head;
        r->retry_head = r->retry_tail = NULL;
        r->retry_links = 0;
        while (rop) {
            struct lnk_redis_op *next = rop->next_;
            add(&r->depth, 1);
            answer(r, rop, LNK_EUNAVAIL);
            rop = next;
        }
        arm_ms(r->stop_ev, r->cfg.timeout_ms);
        maybe_finish(r);
    }
}

static void on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct lnk_redis *r = arg;
    event_base_loopbreak(r->base);
}

static void *redis_main(void *arg)
{
    struct lnk_redis *r = arg;
    if (r->cfg.thread_init)
        r->cfg.thread_init(r->cfg.udata);
    cmd_connect(r);
    event_base_dispatch(r->base);
    r->stopping = true;
    /* hiredis answers what is still in flight (NULL replies) as it frees */
    if (r->sub.ac) {
        redisAsyncContext *ac = r->sub.ac;
        r->sub.ac = NULL;
        redisAsyncFree(ac);
    }
    if (r->cmd.ac) {
        redisAsyncContext *ac = r->cmd.ac;
        r->cmd.ac = NULL;
        redisAsyncFree(ac);
    }
    atomic_store(&r->ready, false);
    if (r->cfg.thread_fini)
        r->cfg.thread_fini(r->cfg.udata);
    return NULL;
}

/* ---- the public side --------------------------------------------------------- */

struct lnk_redis_op *lnk_redis_op_new(enum lnk_redis_op_kind kind)
{
    struct lnk_redis_op *op = lnk_xcalloc(1, sizeof(*op));
    op->kind = kind;
    lnk_arena_init(&op->arena);
    return op;
}

void lnk_redis_op_free(struct lnk_redis_op *op)
{
    if (!op)
        return;
    lnk_arena_cleanup(&op->arena);
    free(op);
}

void lnk_redis_op_set_code(struct lnk_redis_op *op, struct lnk_str code)
{
    op->code = lnk_str_make(lnk_arena_strndup(&op->arena, code.ptr, code.len), code.len);
}

void lnk_redis_op_set_key(struct lnk_redis_op *op, struct lnk_str key)
{
    op->key = lnk_str_make(lnk_arena_strndup(&op->arena, key.ptr, key.len), key.len);
}

bool lnk_redis_ready(const struct lnk_redis *r)
{
    return r && atomic_load_explicit(&r->ready, memory_order_relaxed);
}

/* Hands op to the thread; false when the queue is full or stopping. */
static bool enqueue(struct lnk_redis *r, struct lnk_redis_op *op)
{
    pthread_mutex_lock(&r->lock);
    if (r->stop_asked || r->in_len >= QUEUE_MAX) {
        pthread_mutex_unlock(&r->lock);
        return false;
    }
    bool was_empty = r->in_head == NULL;
    op->next_ = NULL;
    if (r->in_tail)
        r->in_tail->next_ = op;
    else
        r->in_head = op;
    r->in_tail = op;
    r->in_len++;
    pthread_mutex_unlock(&r->lock);
    add(&r->depth, 1);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t put = write(r->wake_fd, &one, sizeof(one)); /* fails only when a wake is due */
        (void)put;
    }
    return true;
}

int lnk_redis_submit(struct lnk_redis *r, struct lnk_redis_op *op)
{
    if (!lnk_redis_ready(r))
        return LNK_EUNAVAIL;
    op->deadline_ns_ = now_ns() + (uint64_t)r->cfg.timeout_ms * 1000000ull;
    return enqueue(r, op) ? LNK_OK : LNK_EBUSY;
}

void lnk_redis_forget(struct lnk_redis *r, const struct lnk_redis_changed *links, size_t n)
{
    for (size_t at = 0; r && at < n; at += FORGET_BATCH) {
        size_t k = n - at < FORGET_BATCH ? n - at : FORGET_BATCH;
        struct lnk_redis_op *op = lnk_redis_op_new(LNK_REDIS_FORGET);
        op->forget_codes_ = lnk_arena_alloc(&op->arena, k * sizeof(*op->forget_codes_));
        for (size_t i = 0; i < k; i++) {
            const char *code = links[at + i].code;
            op->forget_codes_[i] =
                code ? lnk_str_make(lnk_arena_strdup(&op->arena, code), strlen(code))
                     : LNK_STR_NULL;
        }
        op->n_forget_ = k;
        op->forget_message_ = lnk_redis_message_build(links + at, k, &op->arena);
        op->deadline_ns_ = now_ns() + (uint64_t)r->cfg.timeout_ms * 1000000ull;
        if (!enqueue(r, op)) {
            add(&r->dropped, k);
            lnk_redis_op_free(op);
        }
    }
}

static struct event *new_timer(struct lnk_redis *r, event_callback_fn fn)
{
    return evtimer_new(r->base, fn, r);
}

int lnk_redis_new(const struct lnk_redis_config *cfg, struct lnk_redis **out)
{
    struct lnk_redis *r = lnk_xcalloc(1, sizeof(*r));
    r->cfg = *cfg;
    lnk_redis_channel_name(cfg->addr.db, r->channel, sizeof(r->channel));
    r->env = (struct lnk_redis_env){r->channel, cfg->link_ttl_ms};
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->status_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->first_cond, &ca);
    pthread_condattr_destroy(&ca);
    r->first_rc = 1;
    r->reason = "unreachable";
    snprintf(r->error, sizeof(r->error), "connecting");
    r->since_ms = wall_ms();
    atomic_init(&r->ping_us, UINT64_MAX);
    lnk_histo_init(&r->latency, lnk_metrics_latency_bounds_ns, LNK_METRICS_N_BUCKETS, 1e-9);
    (void)lnk_redis_script_sha(LNK_SCRIPT_RATE); /* computed once, before any thread needs them */
    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->base = event_base_new();
    if (r->wake_fd < 0 || !r->base) {
        lnk_redis_free(r);
        return LNK_ENOMEM;
    }
    r->wake_ev = event_new(r->base, r->wake_fd, EV_READ | EV_PERSIST, on_wake, r);
    r->deadline_ev = new_timer(r, on_deadline);
    r->ping_ev = new_timer(r, on_ping_timer);
    r->stop_ev = new_timer(r, on_stop_timer);
    r->cmd.retry_ev = new_timer(r, on_cmd_retry);
    r->cmd.connect_ev = new_timer(r, on_cmd_connect_timeout);
    r->sub.retry_ev = new_timer(r, on_sub_retry);
    r->sub.connect_ev = new_timer(r, on_sub_connect_timeout);
    event_add(r->wake_ev, NULL);
    if (pthread_create(&r->thread, NULL, redis_main, r) != 0) {
        lnk_redis_free(r);
        return LNK_ENOMEM;
    }
    r->thread_started = true;
    *out = r;
    return LNK_OK;
}

int lnk_redis_wait_connected(struct lnk_redis *r, uint32_t wait_ms, char *err, size_t errcap)
{
    struct timespec until = lnk_clock_deadline(CLOCK_MONOTONIC, wait_ms);
    pthread_mutex_lock(&r->status_lock);
    while (r->first_rc == 1)
        if (pthread_cond_timedwait(&r->first_cond, &r->status_lock, &until) != 0)
            break;
    int rc = r->first_rc == 1 ? LNK_EUNAVAIL : r->first_rc;
    snprintf(err, errcap, "%s", rc == LNK_OK ? "" : r->first_rc == 1 ? "no answer yet" : r->error);
    pthread_mutex_unlock(&r->status_lock);
    return rc;
}

static void free_events(struct lnk_redis *r)
{
    struct event *evs[] = {r->wake_ev,      r->deadline_ev,    r->ping_ev,      r->stop_ev,
                           r->cmd.retry_ev, r->cmd.connect_ev, r->sub.retry_ev, r->sub.connect_ev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
}

void lnk_redis_free(struct lnk_redis *r)
{
    if (!r)
        return;
    if (r->thread_started) {
        pthread_mutex_lock(&r->lock);
        r->stop_asked = true;
        pthread_mutex_unlock(&r->lock);
        uint64_t one = 1;
        ssize_t put = write(r->wake_fd, &one, sizeof(one));
        (void)put;
        pthread_join(r->thread, NULL);
    }
    /* the thread took everything queued before the stop; nothing is queued after */
    free_events(r);
    if (r->base)
        event_base_free(r->base);
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    pthread_cond_destroy(&r->first_cond);
    pthread_mutex_destroy(&r->status_lock);
    pthread_mutex_destroy(&r->lock);
    memset(&r->cfg.addr.password, 0, sizeof(r->cfg.addr.password));
    free(r);
}

void lnk_redis_get_status(struct lnk_redis *r, struct lnk_redis_status *out)
{
    memset(out, 0, sizeof(*out));
    out->connected = atomic_load_explicit(&r->ready, memory_order_relaxed);
    out->subscribed = atomic_load_explicit(&r->subscribed, memory_order_relaxed);
    pthread_mutex_lock(&r->status_lock);
    out->reason = r->reason;
    snprintf(out->error, sizeof(out->error), "%s", r->error);
    out->since_ms = r->since_ms;
    pthread_mutex_unlock(&r->status_lock);
    uint64_t ping = atomic_load_explicit(&r->ping_us, memory_order_relaxed);
    out->latency_ms = ping == UINT64_MAX ? -1.0 : (double)ping / 1000.0;
    out->errors = atomic_load_explicit(&r->errors, memory_order_relaxed);
    out->timeouts = atomic_load_explicit(&r->timeouts, memory_order_relaxed);
    out->reconnects = atomic_load_explicit(&r->reconnects, memory_order_relaxed);
    out->published = atomic_load_explicit(&r->published, memory_order_relaxed);
    out->received = atomic_load_explicit(&r->received, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&r->dropped, memory_order_relaxed);
    out->queue_depth = atomic_load_explicit(&r->depth, memory_order_relaxed);
    out->latency = &r->latency;
}
