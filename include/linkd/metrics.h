/* SPDX-License-Identifier: MIT */
/* Metrics (STYLE.md §8, CONTRACT.md §4.2, docs/monitoring.md). Counters live
 * per worker and are written only by that worker's thread (relaxed atomics,
 * no lock, no shared cache line); a scrape sums them. Values owned by other
 * modules (queue depths, writer totals, cache sizes, their histograms) are
 * read at scrape time through a collect callback. The lists below are the
 * only place a metric is declared; docs/monitoring.md describes each. */
#ifndef LNK_METRICS_H
#define LNK_METRICS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/route.h"

/* Worker counters: name, help. Exposed as linkd_<name>. */
#define LNK_METRICS_COUNTERS(X)                                                                    \
    X(redirects_total, "Redirects answered with 302")                                              \
    X(redirect_not_found_total, "Redirect requests for unknown or inactive codes")                 \
    X(cache_hits_total, "Link lookups answered from the in-process cache")                         \
    X(cache_misses_total, "Link lookups the in-process cache could not answer")                    \
    X(cache_redis_hits_total, "Link lookups the in-process cache missed and Redis answered")       \
    X(cache_store_reads_total, "Link lookups that read the store")                                 \
    X(cache_stale_hits_total,                                                                      \
      "Redirects answered from an expired cache entry because the store could not be read")        \
    X(clicks_enqueued_total, "Click events handed to the events writer")                           \
    X(store_errors_total, "Store operations that failed with a 5xx")                               \
    X(body_too_large_total, "Requests rejected with 413")                                          \
    X(header_too_large_total, "Requests rejected with 431")                                        \
    X(connections_accepted_total, "Connections accepted and served")                               \
    X(connections_closed_total, "Served connections that have closed")                             \
    X(http_bad_requests_total,                                                                     \
      "Requests the HTTP layer answered 400: a malformed or ambiguous head, or a body it cannot "  \
      "frame")                                                                                     \
    X(connections_rejected_total, "Connections closed at once because of max connections")         \
    X(http_write_timeouts_total,                                                                   \
      "Connections closed because the client left a response unread for the write timeout")        \
    X(rate_limited_total, "Requests refused with 429")                                             \
    X(rate_limit_local_decisions_total,                                                            \
      "Rate decisions taken by this node alone because Redis was down or slow")                    \
    X(auth_refused_total, "Management requests refused with 401 or 403")

/* Label sets of the values below, each from a small fixed set:
 *   NONE        no label
 *   BACKEND     backend="sqlite" (the store's backend; postgres later)
 *   DISK        no label; present only for a backend that keeps files
 *   CACHE       cache="links" | "url_json"; present for the caches in use
 *   DEPENDENCY  dependency="sqlite" | "postgres" | "redis"; present for the
 *               dependencies this node is configured with
 *   REDIS       no label; present only with REDIS_URL
 *   PG_NOTIFY   no label; present only on PostgreSQL without REDIS_URL */
#define LNK_METRICS_CACHES(X)       X(links) X(url_json)
#define LNK_METRICS_DEPENDENCIES(X) X(sqlite) X(postgres) X(redis)

/* Values from other modules, filled by the collect callback at scrape time:
 * kind (counter|gauge), name, help, label set. Exposed as linkd_<name>. */
#define LNK_METRICS_EXTERNAL(X)                                                                    \
    X(gauge, events_queue_depth, "Click events queued and not yet written", NONE)                  \
    X(gauge, events_overflow_depth, "Click events waiting on the overflow list", NONE)             \
    X(gauge, events_backlog_limit, "Clicks the overflow list holds before clicks are dropped",     \
      NONE)                                                                                        \
    X(counter, clicks_written_total, "Click events written to the store", NONE)                    \
    X(counter, clicks_overflow_total,                                                              \
      "Clicks that found their worker ring full and took the overflow list", NONE)                 \
    X(counter, clicks_dropped_total, "Clicks dropped because the backlog was full", NONE)          \
    X(counter, click_write_failures_total, "Clicks whose write failed (retried)", NONE)            \
    X(gauge, store_degraded, "1 when the last write transaction failed", NONE)                     \
    X(gauge, store_up, "1 when the store takes writes, 0 while it is degraded", BACKEND)           \
    X(gauge, store_writer_queue_depth, "Store operations waiting for the writer thread", NONE)     \
    X(gauge, store_read_queue_depth, "Reads waiting for a reader thread", NONE)                    \
    X(counter, store_list_chunks_total, "Chunks of lists the reader threads read", NONE)           \
    X(counter, store_reads_cancelled_total,                                                        \
      "Reads dropped because their client went away or the drain ended", NONE)                     \
    X(counter, store_reads_refused_total, "Reads refused because the read queue was full", NONE)   \
    X(counter, store_write_failures_total,                                                         \
      "Write operations the store failed for a storage reason (answered 503)", BACKEND)            \
    X(counter, store_recoveries_total, "Store faults cleared without a restart", BACKEND)          \
    X(gauge, store_disk_free_bytes, "Bytes available to linkd on the filesystem of the database",  \
      DISK)                                                                                        \
    X(gauge, store_disk_total_bytes, "Size of the filesystem of the database", DISK)               \
    X(gauge, store_database_bytes, "Size of the database file", DISK)                              \
    X(gauge, store_wal_bytes, "Size of the database's write-ahead log", DISK)                      \
    X(gauge, cache_entries, "Entries held by the cache, negative ones included", CACHE)            \
    X(gauge, cache_bytes, "Bytes held by the cache's entries", CACHE)                              \
    X(gauge, cache_capacity_bytes, "The cache's memory bound", CACHE)                              \
    X(counter, cache_evictions_total, "Entries evicted to stay within the bound", CACHE)           \
    X(counter, cache_invalidations_total, "Entries dropped because their link changed", CACHE)     \
    X(gauge, dependency_up, "1 when the dependency answers as it should", DEPENDENCY)              \
    X(counter, dependency_errors_total, "Calls that failed because of the dependency", DEPENDENCY) \
    X(gauge, redis_subscribed, "1 while the invalidation subscription is live", REDIS)             \
    X(gauge, redis_queue_depth, "Redis operations queued or waiting for their reply", REDIS)       \
    X(counter, redis_timeouts_total, "Redis calls answered by their deadline without a reply",     \
      REDIS)                                                                                       \
    X(counter, redis_reconnects_total, "Connections to Redis made again after a loss", REDIS)      \
    X(counter, redis_invalidations_published_total,                                                \
      "Changed links whose invalidation Redis took and published", REDIS)                          \
    X(counter, redis_invalidations_received_total,                                                 \
      "Links dropped from the local caches on an invalidation message", REDIS)                     \
    X(counter, redis_invalidations_dropped_total,                                                  \
      "Invalidations given up because Redis stayed unreachable too long", REDIS)                   \
    X(gauge, pg_notify_subscribed, "1 while the LISTEN on the invalidation channel is live",       \
      PG_NOTIFY)                                                                                   \
    X(gauge, pg_notify_queue_depth, "Invalidations queued for NOTIFY", PG_NOTIFY)                  \
    X(counter, pg_notify_reconnects_total, "LISTEN subscriptions made again after a loss",         \
      PG_NOTIFY)                                                                                   \
    X(counter, pg_notify_invalidations_published_total,                                            \
      "Changed links whose invalidation PostgreSQL took and notified", PG_NOTIFY)                  \
    X(counter, pg_notify_invalidations_received_total,                                             \
      "Links dropped from the local caches on another node's notification", PG_NOTIFY)             \
    X(counter, pg_notify_invalidations_dropped_total,                                              \
      "Invalidations given up because the NOTIFY queue was full", PG_NOTIFY)                       \
    X(gauge, connections_limit, "Open connections past which new ones are closed at once", NONE)   \
    X(counter, log_dropped_total, "Log lines dropped because stdout would block", NONE)            \
    X(gauge, workers, "HTTP worker threads", NONE)

/* Histograms from other modules: name, help, label set (NONE or BACKEND).
 * Exposed as linkd_<name>, from a struct lnk_histo the module owns. */
#define LNK_METRICS_EXTERNAL_HISTOS(X)                                                             \
    X(store_commit_duration_seconds,                                                               \
      "Time the writer spent on one group-commit batch, from begin to commit", BACKEND)            \
    X(store_sync_duration_seconds, "Time one sync of the write-ahead log took", BACKEND)           \
    X(store_batch_ops, "Operations per group-commit batch", BACKEND)                               \
    X(redis_command_duration_seconds, "Round trip of one Redis command", NONE)

enum lnk_metric_counter {
#define LNK_MC_ENUM(name, help) LNK_MC_##name,
    LNK_METRICS_COUNTERS(LNK_MC_ENUM)
#undef LNK_MC_ENUM
        LNK_MC_COUNT
};

enum lnk_metrics_cache {
#define LNK_MCACHE_ENUM(name) LNK_METRICS_CACHE_##name,
    LNK_METRICS_CACHES(LNK_MCACHE_ENUM)
#undef LNK_MCACHE_ENUM
        LNK_METRICS_N_CACHES
};

enum lnk_metrics_dependency {
#define LNK_MDEP_ENUM(name) LNK_METRICS_DEP_##name,
    LNK_METRICS_DEPENDENCIES(LNK_MDEP_ENUM)
#undef LNK_MDEP_ENUM
        LNK_METRICS_N_DEPS
};

/* A histogram with fixed upper bounds (inclusive, ascending), observed by
 * one thread at a time and read by scrapes with relaxed loads, like the
 * worker counters. Values and bounds are in the observed unit (ns,
 * operations); `scale` converts them for the exposition (1e-9: seconds). */
#define LNK_HISTO_MAX_BOUNDS 20
struct lnk_histo {
    const uint64_t *bounds;
    unsigned n_bounds;
    double scale;
    _Atomic uint64_t counts[LNK_HISTO_MAX_BOUNDS + 1]; /* per bucket; the last is +Inf */
    _Atomic uint64_t sum;
};

/* Latency bounds in ns, 10 us to 10 s: redirects answer in microseconds,
 * API writes wait for a sync, bulk imports take seconds. */
#define LNK_METRICS_N_BUCKETS 19
extern const uint64_t lnk_metrics_latency_bounds_ns[LNK_METRICS_N_BUCKETS];
/* Count bounds, 1 to 1024 in powers of two (operations per batch). */
#define LNK_METRICS_N_COUNT_BOUNDS 11
extern const uint64_t lnk_metrics_count_bounds[LNK_METRICS_N_COUNT_BOUNDS];

void lnk_histo_init(struct lnk_histo *h, const uint64_t *bounds, unsigned n_bounds, double scale);
/* Single writer; two relaxed load/store pairs and a short scan. */
void lnk_histo_observe(struct lnk_histo *h, uint64_t v);

#define LNK_ME_FIELD_NONE(name)       double name;
#define LNK_ME_FIELD_BACKEND(name)    double name;
#define LNK_ME_FIELD_DISK(name)       double name;
#define LNK_ME_FIELD_CACHE(name)      double name[LNK_METRICS_N_CACHES];
#define LNK_ME_FIELD_DEPENDENCY(name) double name[LNK_METRICS_N_DEPS];
#define LNK_ME_FIELD_REDIS(name)      double name;
#define LNK_ME_FIELD_PG_NOTIFY(name)  double name;

/* What the collect callback fills; it starts zeroed. */
struct lnk_metrics_external {
#define LNK_ME_FIELD(kind, name, help, labels) LNK_ME_FIELD_##labels(name)
    LNK_METRICS_EXTERNAL(LNK_ME_FIELD)
#undef LNK_ME_FIELD
#define LNK_ME_HISTO_FIELD(name, help, labels) const struct lnk_histo *name; /* NULL: absent */
    LNK_METRICS_EXTERNAL_HISTOS(LNK_ME_HISTO_FIELD)
#undef LNK_ME_HISTO_FIELD
    const char *backend;                     /* the BACKEND label; NULL: BACKEND values absent */
    bool has_disk;                           /* DISK values present */
    bool has_redis;                          /* REDIS values present */
    bool has_pg_notify;                      /* PG_NOTIFY values present */
    bool has_cache[LNK_METRICS_N_CACHES];    /* CACHE values present, per cache */
    bool has_dependency[LNK_METRICS_N_DEPS]; /* DEPENDENCY values present, per dependency */
};

/* Response statuses tracked individually; any other counts under its class
 * ("2xx", "5xx"...), so that status=~"5.." matches every server error. */
#define LNK_METRICS_STATUSES(X)                                                                    \
    X(200)                                                                                         \
    X(201)                                                                                         \
    X(204)                                                                                         \
    X(302)                                                                                         \
    X(400)                                                                                         \
    X(401)                                                                                         \
    X(403)                                                                                         \
    X(404)                                                                                         \
    X(405) X(409) X(410) X(413) X(422) X(429) X(431) X(500) X(503)
#define LNK_METRICS_N_LISTED 17                         /* the list above */
#define LNK_METRICS_N_STATUS (LNK_METRICS_N_LISTED + 5) /* + the classes 1xx to 5xx */

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
