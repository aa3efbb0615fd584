/* SPDX-License-Identifier: MIT */
/* The Redis client (DESIGN.md §4b, docs/adr/0014-redis-tier.md): the shared
 * cache tier, cross-node invalidation and shared rate limits, for nodes that
 * share one Redis. Redis is an accelerator: every caller has a way on
 * without it, and no call ever waits longer than the configured timeout.
 *
 * Threads: one thread of its own runs a libevent loop with two hiredis
 * asynchronous connections, one for commands and one for the invalidation
 * subscription; it reconnects each by itself with backoff. Any thread may
 * submit an operation (struct lnk_redis_op) without blocking; its `done`
 * runs on the thread of its `origin` executor (a worker's loop) by its
 * deadline at the latest. Only src/redis/ includes hiredis or libevent. */
#ifndef LNK_REDIS_H
#define LNK_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/arena.h"
#include "linkd/exec.h"
#include "linkd/str.h"

struct lnk_redis; /* opaque; thread-safe */
struct lnk_histo; /* metrics.h */

/* ---- REDIS_URL ------------------------------------------------------------ */

#define LNK_REDIS_HOST_MAX     255
#define LNK_REDIS_USER_MAX     255
#define LNK_REDIS_PASSWORD_MAX 511

/* redis://[[user]:password@]host[:port][/db], as redis-cli -u takes it. */
struct lnk_redis_addr {
    char host[LNK_REDIS_HOST_MAX + 1]; /* a name, or an IPv4 or IPv6 literal (no brackets) */
    uint16_t port;                     /* 6379 when absent */
    unsigned db;                       /* 0 when absent */
    char user[LNK_REDIS_USER_MAX + 1]; /* "" = AUTH with the password only (default user) */
    char password[LNK_REDIS_PASSWORD_MAX + 1]; /* percent-decoded; "" = no AUTH */
};

/* Parses url into *out. LNK_EINVAL with a one-line reason in err that never
 * quotes the URL (it may hold a password): another scheme (rediss:// is
 * refused, hiredis 0.14 has no TLS: docs/deploy.md), a missing host, a port
 * outside 1-65535, a db that is not a number below 2^31, a query or
 * fragment, bad percent-encoding, or a part longer than its field. Pure. */
int lnk_redis_url_parse(const char *url, struct lnk_redis_addr *out, char *err, size_t errcap);

/* ---- the client ----------------------------------------------------------- */

/* Called on the Redis thread for every link another node (or this one)
 * changed: id 0 or code NULL when unknown. */
typedef void (*lnk_redis_forget_fn)(void *udata, int64_t id, struct lnk_str code);

struct lnk_redis_config {
    struct lnk_redis_addr addr;
    uint32_t timeout_ms;  /* the longest any call may take (LINKD_REDIS_TIMEOUT_MS) */
    uint32_t link_ttl_ms; /* how long Redis keeps a cached link (LINKD_REDIS_TTL_S) */
    lnk_redis_forget_fn on_forget;
    void *udata;
    /* Run on the Redis thread when it starts and before it ends (the link
     * cache wants its threads registered); NULL ok. */
    void (*thread_init)(void *udata);
    void (*thread_fini)(void *udata);
};

/* Starts the thread, which connects in the background; *out is set even
 * when Redis cannot be reached (the client keeps trying). */
int lnk_redis_new(const struct lnk_redis_config *cfg, struct lnk_redis **out);
/* Waits up to wait_ms for the first connection's outcome. LNK_OK once
 * connected; LNK_EINVAL when Redis refused the credentials or the db (a
 * configuration error; reason in err); LNK_EUNAVAIL when it could not be
 * reached or answered too late (the client goes on trying). */
int lnk_redis_wait_connected(struct lnk_redis *r, uint32_t wait_ms, char *err, size_t errcap);
/* Sends what is queued (invalidations above all) for up to the timeout,
 * then stops the thread and frees everything. Ops not answered by then are
 * answered LNK_EUNAVAIL. NULL ok. */
void lnk_redis_free(struct lnk_redis *r);

/* True while the command connection is up: worth submitting to. A relaxed
 * load; a submit can still fail fast if the connection just went away. */
bool lnk_redis_ready(const struct lnk_redis *r);

/* ---- operations ----------------------------------------------------------- */

enum lnk_redis_op_kind {
    LNK_REDIS_LINK_GET, /* code -> link (rc LNK_OK) or LNK_ENOTFOUND; gen either way */
    LNK_REDIS_LINK_PUT, /* code, link, gen: stored unless invalidated since the GET */
    LNK_REDIS_RATE,     /* key, interval_us, tau_us -> allowed, ahead_us */
    LNK_REDIS_FORGET,   /* internal: lnk_redis_forget builds it */
    LNK_REDIS_PING,     /* internal: the health check */
    LNK_REDIS_OP_KINDS,
};

/* A cached link in the shared tier (the fields of struct lnk_cache_value). */
struct lnk_redis_link {
    int64_t id, owner;
    bool active;
    const char *url; /* NUL-terminated */
    size_t url_len;
    const char *opts; /* the /api/v1 options (JSON text, NUL-terminated); NULL: none */
    size_t opts_len;
};

#define LNK_REDIS_GEN_MAX 24

struct lnk_redis_op {
    enum lnk_redis_op_kind kind;
    /* Inputs; strings are copied by lnk_redis_op_new's helpers into arena. */
    struct lnk_str code;             /* LINK_* */
    struct lnk_str key;              /* RATE: whose budget ("read:ip:10.0.0.1") */
    struct lnk_redis_link link;      /* PUT in, GET out (memory in arena) */
    char gen[LNK_REDIS_GEN_MAX + 1]; /* GET out, PUT in: the link's invalidation count */
    uint64_t interval_us, tau_us;    /* RATE in: GCRA emission interval and burst tolerance */
    bool allowed;                    /* RATE out */
    uint64_t ahead_us;               /* RATE out: the key's theoretical arrival time minus now */
    /* Outputs: LNK_OK, LNK_ENOTFOUND (GET: not in the tier), LNK_ETIMEDOUT
     * (no answer by the deadline), LNK_EUNAVAIL (no connection),
     * LNK_EBACKEND (Redis answered an error or something unreadable). */
    int rc;
    struct lnk_arena arena;

    /* Completion, exactly once: done(op) on origin's thread; origin NULL:
     * on the Redis thread. done NULL: the client frees the op itself. */
    void (*done)(struct lnk_redis_op *op);
    void *udata;
    struct lnk_exec *origin;
    struct lnk_task task;

    /* Private to the client. */
    struct lnk_redis_op *next_;
    uint64_t deadline_ns_;
    struct lnk_str *forget_codes_;  /* FORGET: n_forget_ codes (empty: none), in arena */
    size_t n_forget_;               /* FORGET: links in it */
    struct lnk_str forget_message_; /* FORGET: what the other nodes receive, in arena */
};

/* A zeroed op of `kind` with its arena ready. */
struct lnk_redis_op *lnk_redis_op_new(enum lnk_redis_op_kind kind);
void lnk_redis_op_free(struct lnk_redis_op *op); /* NULL ok */
/* Copies s into op's arena as the op's code or key. */
void lnk_redis_op_set_code(struct lnk_redis_op *op, struct lnk_str code);
void lnk_redis_op_set_key(struct lnk_redis_op *op, struct lnk_str key);

/* Queues op. LNK_OK: done will run (by the deadline, now + timeout).
 * LNK_EUNAVAIL (not connected) or LNK_EBUSY (too much queued): not
 * queued, the caller still owns op and goes on without Redis. Never
 * blocks beyond a short mutex. */
int lnk_redis_submit(struct lnk_redis *r, struct lnk_redis_op *op);

/* A link one node changed: drop it from the tier and from every node's
 * local caches (this node's included, through on_forget). */
struct lnk_redis_changed {
    int64_t id;       /* 0: unknown */
    const char *code; /* NULL: none */
};
/* Queues the invalidation of n links (copied); never blocks, never fails
 * the caller. While Redis cannot be reached the invalidations wait and are
 * sent on reconnection, up to a bound past which they are dropped and
 * counted: the local TTL (LINKD_CACHE_TTL_MS) and the tier's TTL then bound
 * how long another node may serve the old link. */
void lnk_redis_forget(struct lnk_redis *r, const struct lnk_redis_changed *links, size_t n);

/* ---- health and metrics --------------------------------------------------- */

struct lnk_redis_status {
    bool connected;       /* the command connection is up */
    bool subscribed;      /* the invalidation subscription is live */
    const char *reason;   /* static: NULL when both are up, else "unreachable",
                             "auth_failed", "select_failed", "timeout", "error",
                             "not_subscribed" */
    char error[160];      /* what Redis or the socket said last (never a password) */
    int64_t since_ms;     /* wall clock (ms since the epoch) of the last change of state */
    double latency_ms;    /* the last health PING's round trip; -1 before the first */
    uint64_t errors;      /* failed calls, timeouts and failed connection attempts */
    uint64_t timeouts;    /* calls answered by their deadline without a reply */
    uint64_t reconnects;  /* connections established after a loss */
    uint64_t published;   /* links whose invalidation Redis took */
    uint64_t received;    /* links this node dropped on an invalidation message */
    uint64_t dropped;     /* invalidations given up (Redis down past the retry bound) */
    uint64_t queue_depth; /* ops queued or in flight */
    const struct lnk_histo *latency; /* every command's round trip */
};

void lnk_redis_get_status(struct lnk_redis *r, struct lnk_redis_status *out);

#endif
