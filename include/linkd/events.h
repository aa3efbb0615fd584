/* SPDX-License-Identifier: MIT */
/* Click recording off the request path (DESIGN.md §3). Each worker pushes
 * clicks into its own single-producer byte ring (no lock, no allocation); one
 * writer thread drains every ring each flush interval and hands the batch to
 * the store (LNK_OP_CLICKS_APPEND, group-committed). When a ring is full the
 * click goes to a mutex-protected overflow list instead (slower), holding at
 * most backlog_max clicks; only past that, when the store has fallen far
 * behind, is a click dropped, and counted. lnk_events_free writes every
 * queued click before it returns. */
#ifndef LNK_EVENTS_H
#define LNK_EVENTS_H

#include <stdint.h>

#include "linkd/model.h"
#include "linkd/str.h"
#include "linkd/store.h"

#define LNK_CLICK_UA_MAX      255        /* bytes of User-Agent kept */
#define LNK_CLICK_REF_MAX     511        /* bytes of Referer kept */
#define LNK_EVENTS_RING_BYTES (8u << 20) /* per worker: ~60,000 typical clicks */

struct lnk_events;

struct lnk_events_stats {
    uint64_t queued;          /* pushed and not yet written */
    uint64_t written;         /* committed to the store */
    uint64_t overflow;        /* pushes that took the overflow list */
    uint64_t failed;          /* clicks whose write failed and were retried */
    uint64_t dropped;         /* clicks dropped because the backlog was full */
    uint64_t overflow_queued; /* clicks on the overflow list now (at most backlog_max) */
};

/* `store` is borrowed and must outlive the events module. n_producers is the
 * number of worker threads; producer i may only be used from one thread. */
int lnk_events_new(struct lnk_store *store, unsigned n_producers, unsigned flush_ms,
                   size_t backlog_max, struct lnk_events **out);
/* Writes every queued click, stops the writer thread and frees. NULL ok. */
void lnk_events_free(struct lnk_events *ev);

/* A click as a redirect sees it: strings are slices of request memory (need
 * not be NUL-terminated), copied by lnk_events_push. */
struct lnk_click_src {
    int64_t url_id;
    int64_t user_id;
    int64_t timestamp;
    struct lnk_str short_code;
    struct lnk_str user_agent; /* empty when absent */
    struct lnk_str referrer;   /* empty when absent */
};

/* Copies the click (strings truncated to the limits above at a UTF-8
 * boundary, invalid UTF-8 replaced) into producer's ring. Never blocks on I/O. */
void lnk_events_push(struct lnk_events *ev, unsigned producer, const struct lnk_click_src *c);

/* Asks the writer to flush now (tests, shutdown). Thread-safe. */
void lnk_events_kick(struct lnk_events *ev);

void lnk_events_get_stats(struct lnk_events *ev, struct lnk_events_stats *out);

#endif
