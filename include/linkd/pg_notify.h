/* SPDX-License-Identifier: MIT */
/* Cross-node invalidation over PostgreSQL LISTEN/NOTIFY, for nodes that
 * share one PostgreSQL database and no Redis (DESIGN.md §4b,
 * docs/adr/0011-postgresql-backend.md). A node that changed a link
 * publishes "id code" on the channel linkd_links; every other node drops
 * that link from its local caches. The local cache TTL stays the backstop
 * for a notification that never arrived (a lost subscription).
 *
 * Threads: one thread of its own holds one libpq connection to the
 * DATABASE_URL, LISTENs on the channel, waits on its socket and sends the
 * queued notifications; it reconnects with backoff and LISTENs again. Any
 * thread may publish without blocking. */
#ifndef LNK_PG_NOTIFY_H
#define LNK_PG_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "linkd/str.h"

struct lnk_pg_notify; /* opaque; thread-safe */

/* The channel every node LISTENs on. */
#define LNK_PG_NOTIFY_CHANNEL "linkd_links"

/* Called on the notification thread for every link another node changed:
 * id 0 or an empty code when unknown. */
typedef void (*lnk_pg_notify_forget_fn)(void *udata, int64_t id, struct lnk_str code);

struct lnk_pg_notify_config {
    const char *conninfo; /* the DATABASE_URL; copied, never logged */
    lnk_pg_notify_forget_fn on_forget;
    void *udata;
    /* Run on the thread when it starts and before it ends; NULL ok. */
    void (*thread_init)(void *udata);
    void (*thread_fini)(void *udata);
};

/* Starts the thread, which connects in the background (it keeps trying
 * while the database cannot be reached). */
int lnk_pg_notify_new(const struct lnk_pg_notify_config *cfg, struct lnk_pg_notify **out);
/* Sends what is queued if connected, stops the thread and frees
 * everything. NULL ok. */
void lnk_pg_notify_free(struct lnk_pg_notify *p);

/* Queues the invalidation of one changed link (code NULL: unknown); never
 * blocks. Queued notifications wait through a lost connection; past
 * LNK_PG_NOTIFY_QUEUE_MAX they are dropped (counted). */
#define LNK_PG_NOTIFY_QUEUE_MAX 8192
void lnk_pg_notify_publish(struct lnk_pg_notify *p, int64_t id, const char *code);

struct lnk_pg_notify_status {
    bool subscribed;     /* LISTEN is live on a connection */
    uint64_t published;  /* notifications PostgreSQL took */
    uint64_t received;   /* notifications of other nodes acted on */
    uint64_t dropped;    /* given up: the queue was full */
    uint64_t reconnects; /* subscriptions made again after a loss */
    uint64_t errors;     /* failed connects and lost connections */
    uint64_t queue_depth;
};
void lnk_pg_notify_get_status(struct lnk_pg_notify *p, struct lnk_pg_notify_status *out);

#endif
