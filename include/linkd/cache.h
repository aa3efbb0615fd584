/* SPDX-License-Identifier: MIT */
/* The in-process cache (DESIGN.md §3): a concurrent hash table from a key (a
 * short code, or a url id) to a small value, with lock-free reads (userspace
 * RCU, liburcu's lock-free hash table), bounded memory with CLOCK eviction,
 * negative entries that expire after a short TTL, and (optionally) a TTL on
 * every entry: with several nodes, the backstop for an invalidation that
 * never arrived (docs/adr/0014-redis-tier.md).
 *
 * Staleness: a reader that misses takes lnk_cache_epoch() BEFORE it reads the
 * store and passes it to lnk_cache_put(); any invalidation in between bumps
 * the epoch and the put is dropped. So once lnk_cache_invalidate() returned,
 * no value read before the invalidating write committed can enter the cache.
 *
 * Threads: every thread that calls get/put/invalidate must have called
 * lnk_cache_thread_register() (and unregister before it exits). Writers
 * (put, invalidate, eviction) serialise on one mutex; readers never lock. */
#ifndef LNK_CACHE_H
#define LNK_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/clock.h"
#include "linkd/str.h"

#define LNK_CACHE_KEY_MAX 64

struct lnk_cache;

struct lnk_cache_value {
    int64_t id;       /* the url id */
    int64_t owner;    /* its user id */
    bool active;      /* is_active */
    const char *data; /* the destination URL, or JSON text */
    size_t len;
    /* data is the destination, a NUL, then the link's /api/v1 options
     * (JSON text); len counts all of it */
    bool has_opts;
};

enum lnk_cache_result {
    LNK_CACHE_MISS,     /* unknown to the cache: ask the store */
    LNK_CACHE_HIT,      /* *out filled */
    LNK_CACHE_NEGATIVE, /* recently known not to exist */
};

struct lnk_cache_stats {
    uint64_t entries, bytes, max_bytes, evictions, invalidations;
};

struct lnk_cache_config {
    size_t max_bytes;         /* bounds keys, values and per-entry overhead */
    uint32_t negative_ttl_ms; /* how long a negative entry lives */
    uint32_t ttl_ms;          /* how long any other entry lives; 0 = until invalidated */
    /* Time for the TTLs; NULL = CLOCK_MONOTONIC_COARSE. Borrowed: must
     * outlive the cache. */
    const struct lnk_clock *clock;
    /* Entries expected soon (the links the store holds at start): the table
     * starts with buckets for them, up to what max_bytes holds, and grows
     * past them by itself. 0: a small table. */
    size_t expected_entries;
};

int lnk_cache_new(const struct lnk_cache_config *cfg, struct lnk_cache **out);
/* Frees every entry. No other thread may use the cache any more; the calling
 * thread must not be registered. NULL ok. */
void lnk_cache_free(struct lnk_cache *c);

void lnk_cache_thread_register(void);
void lnk_cache_thread_unregister(void);

/* Looks key up. On a hit, out->data is a copy made with alloc(ud, len + 1)
 * (NUL-terminated), so it stays valid after the call. Never blocks. */
enum lnk_cache_result lnk_cache_get(struct lnk_cache *c, struct lnk_str key,
                                    void *(*alloc)(void *ud, size_t len), void *ud,
                                    struct lnk_cache_value *out);

/* As lnk_cache_get, but an entry past its TTL still answers (it stays until
 * a fill replaces it, or eviction): for when the store cannot be read.
 * Invalidated entries are gone and never answer. */
enum lnk_cache_result lnk_cache_get_stale(struct lnk_cache *c, struct lnk_str key,
                                          void *(*alloc)(void *ud, size_t len), void *ud,
                                          struct lnk_cache_value *out);

/* The invalidation epoch; read it before the store lookup that fills. */
uint64_t lnk_cache_epoch(const struct lnk_cache *c);

/* Inserts or replaces key (copies key and value); v NULL stores a negative
 * entry. Dropped when the epoch moved since `epoch` or the key is too long. */
void lnk_cache_put(struct lnk_cache *c, struct lnk_str key, const struct lnk_cache_value *v,
                   uint64_t epoch);

/* Removes key and bumps the epoch. Call before answering a mutation. */
void lnk_cache_invalidate(struct lnk_cache *c, struct lnk_str key);

void lnk_cache_get_stats(struct lnk_cache *c, struct lnk_cache_stats *out);

#endif
