/* SPDX-License-Identifier: MIT */
/* Metrics (STYLE.md §8, CONTRACT.md §4.2). Counters live per worker and are
 * written only by that worker's thread (relaxed atomics, no lock, no shared
 * cache line); a scrape sums them. Values owned by other modules (queue
 * depths, writer totals) are read at scrape time through a collect callback.
 * The lists below are the only place a metric is declared. */
#ifndef LNK_METRICS_H
#define LNK_METRICS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/route.h"

/* Worker counters: name, help. Exposed as linkd_<name>. */
#define LNK_METRICS_COUNTERS(X)                                                                    \
    X(redirects_total, "Redirects answered with 302")                                              \
    X(redirect_not_found_total, "Redirect requests for unknown or inactive codes")                 \
    X(cache_hits_total, "Link lookups answered from the in-process cache")                         \
    X(cache_misses_total, "Link lookups that went to the store")                                   \
    X(clicks_enqueued_total, "Click events handed to the events writer")                           \
    X(store_errors_total, "Store operations that failed with a 5xx")                               \
    X(body_too_large_total, "Requests rejected with 413")                                          \
    X(header_too_large_total, "Requests rejected with 431")                                        \
    X(http_bad_requests_total,                                                                     \
      "Requests the HTTP layer answered 400: a malformed or ambiguous head, or a body it cannot "  \
      "frame")                                                                                     \
    X(connections_rejected_total, "Connections closed at once because of max connections")         \
    X(http_write_timeouts_total,                                                                   \
      "Connections closed because the client left a response unread for the write timeout")        \
    X(rate_limited_total, "Requests refused with 429")                                             \
    X(auth_refused_total, "Management requests refused with 401 or 403")

/* Values from other modules, filled by the collect callback at scrape time:
 * kind (counter|gauge), name, help. Exposed as linkd_<name>. */
#define LNK_METRICS_EXTERNAL(X)                                                                    \
    X(gauge, events_queue_depth, "Click events queued and not yet written")                        \
    X(counter, clicks_written_total, "Click events written to the store")                          \
    X(counter, clicks_overflow_total,                                                              \
      "Clicks that found their worker ring full and took the overflow list")                       \
    X(counter, clicks_dropped_total, "Clicks dropped because the backlog was full")                \
    X(counter, click_write_failures_total, "Clicks whose write failed (retried)")                  \
    X(gauge, store_degraded, "1 when the last write transaction failed")                           \
    X(counter, log_dropped_total, "Log lines dropped because stdout would block")                  \
    X(gauge, workers, "HTTP worker threads")

enum lnk_metric_counter {
#define LNK_MC_ENUM(name, help) LNK_MC_##name,
    LNK_METRICS_COUNTERS(LNK_MC_ENUM)
#undef LNK_MC_ENUM
        LNK_MC_COUNT
};

struct lnk_metrics_external {
#define LNK_ME_FIELD(kind, name, help) double name;
    LNK_METRICS_EXTERNAL(LNK_ME_FIELD)
#undef LNK_ME_FIELD
};

/* Response statuses tracked individually; anything else counts as "other". */
#define LNK_METRICS_STATUSES(X)                                                                    \
    X(200)                                                                                         \
    X(201)                                                                                         \
    X(204) X(302) X(400) X(401) X(403) X(404) X(405) X(409) X(413) X(422) X(429) X(500) X(503)
#define LNK_METRICS_N_STATUS  16 /* the list above + other */
#define LNK_METRICS_N_BUCKETS 12

struct lnk_metrics_worker {
    _Alignas(64) _Atomic uint64_t counters[LNK_MC_COUNT];
    _Atomic uint64_t requests[LNK_ROUTE_COUNT][LNK_METHOD_COUNT][LNK_METRICS_N_STATUS];
    _Atomic uint64_t latency[LNK_ROUTE_COUNT][LNK_METRICS_N_BUCKETS + 1]; /* last = +Inf */
    _Atomic uint64_t latency_sum_ns[LNK_ROUTE_COUNT];
};

struct lnk_metrics;
typedef void (*lnk_metrics_collect_fn)(void *udata, struct lnk_metrics_external *out);

/* n_workers slots (plus one for non-worker threads, index n_workers). */
struct lnk_metrics *lnk_metrics_new(unsigned n_workers, lnk_metrics_collect_fn collect,
                                    void *udata);
void lnk_metrics_free(struct lnk_metrics *m); /* NULL ok */

/* The slot of worker i; only that thread may write to it. */
struct lnk_metrics_worker *lnk_metrics_worker(struct lnk_metrics *m, unsigned i);

static inline void lnk_metrics_add(struct lnk_metrics_worker *w, enum lnk_metric_counter c,
                                   uint64_t n)
{
    /* Single writer: a relaxed load + store is enough and avoids a locked add. */
    atomic_store_explicit(&w->counters[c],
                          atomic_load_explicit(&w->counters[c], memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Counts one finished request and its latency. */
void lnk_metrics_observe(struct lnk_metrics_worker *w, enum lnk_route route, enum lnk_method method,
                         int status, uint64_t duration_ns);

/* Prometheus text exposition (version 0.0.4). Returns a malloc'ed buffer. */
char *lnk_metrics_render_text(struct lnk_metrics *m, size_t *len);
/* The same numbers as a JSON object (new reference), with cpu_percent and
 * memory figures. */
json_t *lnk_metrics_render_json(struct lnk_metrics *m);

#endif
