/* SPDX-License-Identifier: MIT */
/* Link cache on liburcu's RCU lock-free hash table (membarrier flavour: the
 * read side is a thread-local counter, no atomic RMW, no lock). Writers take
 * `lock`, which also guards the CLOCK ring used for eviction: `slots` holds
 * every live entry, `hand` sweeps it, clearing reference bits set by readers
 * and evicting entries found unreferenced. Removed entries are freed after a
 * grace period, a batch at a time (struct retired), so a reader never
 * touches freed memory. */
#include "linkd/cache.h"

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu/urcu-memb.h>

#include <urcu/rculfhash.h>

#include "linkd/arena.h"
#include "linkd/err.h"

#define EVICT_TARGET_PCT 95  /* sweep down to this share of max_bytes */
#define RETIRE_BATCH     256 /* removed entries freed per grace period */

/* Every byte of an entry is paid once per cached link (a million links:
 * a megabyte per byte), so the header holds only what a lookup reads and
 * the ring needs, and its size is offsetof(bytes), not a padded sizeof: 51
 * bytes. The grace period of a removed entry is tracked per batch (struct
 * retired), not by an rcu_head in every entry. */
struct entry {
    struct cds_lfht_node node;
    int64_t id, owner;   /* positive entries */
    uint64_t expires_ms; /* UINT64_MAX: until invalidated or evicted */
    uint32_t slot;       /* index in the CLOCK ring */
    uint16_t data_len;
    _Atomic uint8_t ref; /* set by readers, cleared by the hand */
    uint8_t key_len;
    bool negative, active, has_opts;
    char bytes[]; /* key, then data and a NUL */
};

#define ENTRY_HEADER offsetof(struct entry, bytes)

/* Entries out of the table, freed together once no reader can hold one. */
struct retired {
    struct rcu_head rcu;
    uint32_t n;
    struct entry *e[RETIRE_BATCH];
};

struct lnk_cache {
    struct cds_lfht *ht;
    size_t max_bytes;
    uint32_t negative_ttl_ms, ttl_ms;
    const struct lnk_clock *clock; /* NULL: CLOCK_MONOTONIC_COARSE */
    _Atomic uint64_t epoch;

    pthread_mutex_t lock; /* writers; guards everything below */
    struct entry **slots;
    uint32_t n_slots, cap_slots, hand;
    uint32_t *free_slots;
    uint32_t n_free;
    size_t bytes;
    uint64_t entries, evictions, invalidations;
    struct retired *retiring; /* the batch being filled; NULL: none yet */
};

/* The coarse clock (a few ns, no syscall) is precise enough for TTLs of
 * milliseconds; tests inject their own. */
static uint64_t now_ms(const struct lnk_cache *c)
{
    if (c->clock)
        return lnk_clock_now_ns(c->clock) / 1000000;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned long hash_key(struct lnk_str k)
{
    return (unsigned long)lnk_str_hash(k);
}

static int match(struct cds_lfht_node *node, const void *key)
{
    const struct entry *e = caa_container_of(node, struct entry, node);
    const struct lnk_str *k = key;
    return e->key_len == k->len && memcmp(e->bytes, k->ptr, k->len) == 0;
}

static size_t entry_size(const struct entry *e)
{
    return ENTRY_HEADER + e->key_len + e->data_len + 1;
}

static void free_retired_rcu(struct rcu_head *head)
{
    struct retired *b = caa_container_of(head, struct retired, rcu);
    for (uint32_t i = 0; i < b->n; i++)
        free(b->e[i]);
    free(b);
}

/* Hands the batch being filled, if any, to call_rcu. Caller holds c->lock
 * (or is lnk_cache_free). */
static void retire_flush_locked(struct lnk_cache *c)
{
    if (c->retiring)
        urcu_memb_call_rcu(&c->retiring->rcu, free_retired_rcu);
    c->retiring = NULL;
}

/* e is out of the table: it is freed with its batch, after a grace period
 * that starts once the batch is full. One call_rcu per RETIRE_BATCH entries
 * instead of per entry: a cache smaller than its links evicts on nearly
 * every fill. Caller holds c->lock (or is lnk_cache_free). */
static void retire_locked(struct lnk_cache *c, struct entry *e)
{
    if (!c->retiring) {
        c->retiring = lnk_xmalloc(sizeof(*c->retiring));
        c->retiring->n = 0;
    }
    c->retiring->e[c->retiring->n++] = e;
    if (c->retiring->n == RETIRE_BATCH)
        retire_flush_locked(c);
}

void lnk_cache_thread_register(void)
{
    urcu_memb_register_thread();
}

void lnk_cache_thread_unregister(void)
{
    urcu_memb_unregister_thread();
}

/* A bucket for each entry expected (the power of two at or above), bounded
 * by as many as max_bytes holds at a typical ~160 bytes per entry. Starting
 * at the size the fill will reach matters: growing by auto-resize lags
 * behind a fast fill, and lookups then walk long chains (measured with 1M
 * entries: 1.7 us per lookup from 1024 buckets, 0.5 us from 2^20). Starting
 * larger than needed costs memory: every bucket is a 16-byte node written at
 * start, whether entries come or not (2^21 buckets, the size for 1M links at
 * half load, held 32 MB from start; ADR 0026), and walked when the table is
 * freed. */
static unsigned long initial_buckets(const struct lnk_cache_config *cfg)
{
    size_t want = cfg->max_bytes / 160;
    if (cfg->expected_entries < want)
        want = cfg->expected_entries;
    unsigned long n = 1024;
    while (n < want && n < (1ul << 22))
        n <<= 1;
    return n;
}

int lnk_cache_new(const struct lnk_cache_config *cfg, struct lnk_cache **out)
{
    struct lnk_cache *c = lnk_xcalloc(1, sizeof(*c));
    c->ht =
        cds_lfht_new_flavor(initial_buckets(cfg), 1024, 0,
                            CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, &urcu_memb_flavor, NULL);
    if (!c->ht) {
        free(c);
        return LNK_ENOMEM;
    }
    c->max_bytes = cfg->max_bytes;
    c->negative_ttl_ms = cfg->negative_ttl_ms;
    c->ttl_ms = cfg->ttl_ms;
    c->clock = cfg->clock;
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return LNK_OK;
}

/* e is out of the table: takes it out of the ring and the count and frees
 * it after a grace period. Caller holds c->lock. */
static void drop_locked(struct lnk_cache *c, struct entry *e)
{
    c->slots[e->slot] = NULL;
    c->free_slots[c->n_free++] = e->slot;
    c->bytes -= entry_size(e);
    c->entries--;
    retire_locked(c, e);
}

/* Unlinks e from the table, then drops it. Caller holds c->lock and is
 * inside a read-side critical section. */
static void remove_locked(struct lnk_cache *c, struct entry *e)
{
    if (cds_lfht_del(c->ht, &e->node) != 0)
        return; /* already removed by someone else: impossible under lock */
    drop_locked(c, e);
}

static void ring_add_locked(struct lnk_cache *c, struct entry *e)
{
    if (c->n_free > 0) {
        e->slot = c->free_slots[--c->n_free];
    } else {
        if (c->n_slots == c->cap_slots) {
            c->cap_slots = c->cap_slots ? c->cap_slots * 2 : 1024;
            c->slots = lnk_xrealloc(c->slots, sizeof(*c->slots) * c->cap_slots);
            c->free_slots = lnk_xrealloc(c->free_slots, sizeof(*c->free_slots) * c->cap_slots);
        }
        e->slot = c->n_slots++;
    }
    c->slots[e->slot] = e;
    c->bytes += entry_size(e);
    c->entries++;
}

/* CLOCK: sweep until the cache is back under its target size. Each entry is
 * looked at most twice per call (once to clear its bit, once to evict it). */
static void evict_locked(struct lnk_cache *c)
{
    size_t target = c->max_bytes / 100 * EVICT_TARGET_PCT;
    uint64_t now = now_ms(c);
    for (uint64_t steps = 0; c->bytes > target && steps < 2ull * c->n_slots + 1; steps++) {
        if (c->hand >= c->n_slots)
            c->hand = 0;
        struct entry *e = c->slots[c->hand++];
        if (!e)
            continue;
        bool expired = now >= e->expires_ms;
        if (!expired && atomic_exchange_explicit(&e->ref, 0, memory_order_relaxed))
            continue;
        remove_locked(c, e);
        c->evictions++;
    }
}

static struct entry *make_entry(struct lnk_cache *c, struct lnk_str key,
                                const struct lnk_cache_value *v)
{
    size_t dlen = v ? v->len : 0;
    struct entry *e = lnk_xmalloc(ENTRY_HEADER + key.len + dlen + 1);
    memset(e, 0, ENTRY_HEADER);
    cds_lfht_node_init(&e->node);
    e->key_len = (uint8_t)key.len;
    e->data_len = (uint16_t)dlen;
    memcpy(e->bytes, key.ptr, key.len);
    if (dlen)
        memcpy(e->bytes + key.len, v->data, dlen);
    e->bytes[key.len + dlen] = '\0';
    if (v) {
        e->active = v->active;
        e->has_opts = v->has_opts;
        e->id = v->id;
        e->owner = v->owner;
        e->expires_ms = c->ttl_ms ? now_ms(c) + c->ttl_ms : UINT64_MAX;
    } else {
        e->negative = true;
        e->expires_ms = now_ms(c) + c->negative_ttl_ms;
    }
    return e;
}

void lnk_cache_put(struct lnk_cache *c, struct lnk_str key, const struct lnk_cache_value *v,
                   uint64_t epoch)
{
    if (key.len == 0 || key.len > LNK_CACHE_KEY_MAX ||
        (v && (v->len > UINT16_MAX || v->len > c->max_bytes / 16)))
        return;
    pthread_mutex_lock(&c->lock);
    if (atomic_load_explicit(&c->epoch, memory_order_relaxed) == epoch) {
        struct entry *e = make_entry(c, key, v);
        urcu_memb_read_lock();
        struct cds_lfht_node *old =
            cds_lfht_add_replace(c->ht, hash_key(key), match, &key, &e->node);
        if (old)
            drop_locked(c, caa_container_of(old, struct entry, node));
        ring_add_locked(c, e);
        evict_locked(c);
        urcu_memb_read_unlock();
    }
    pthread_mutex_unlock(&c->lock);
}

void lnk_cache_invalidate(struct lnk_cache *c, struct lnk_str key)
{
    struct cds_lfht_iter it;
    pthread_mutex_lock(&c->lock);
    atomic_fetch_add_explicit(&c->epoch, 1, memory_order_release);
    c->invalidations++;
    urcu_memb_read_lock();
    cds_lfht_lookup(c->ht, hash_key(key), match, &key, &it);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
    if (node)
        remove_locked(c, caa_container_of(node, struct entry, node));
    urcu_memb_read_unlock();
    pthread_mutex_unlock(&c->lock);
}

uint64_t lnk_cache_epoch(const struct lnk_cache *c)
{
    return atomic_load_explicit(&c->epoch, memory_order_acquire);
}

/* An expired entry reads as a miss (unless stale is allowed) and stays
 * until the next fill replaces it or the CLOCK hand evicts it. */
static enum lnk_cache_result read_entry(const struct lnk_cache *c, struct entry *e, bool stale,
                                        void *(*alloc)(void *, size_t), void *ud,
                                        struct lnk_cache_value *out)
{
    if (!stale && e->expires_ms != UINT64_MAX && now_ms(c) >= e->expires_ms)
        return LNK_CACHE_MISS;
    if (e->negative)
        return LNK_CACHE_NEGATIVE;
    if (!atomic_load_explicit(&e->ref, memory_order_relaxed))
        atomic_store_explicit(&e->ref, 1, memory_order_relaxed);
    char *data = alloc(ud, e->data_len + 1);
    memcpy(data, e->bytes + e->key_len, e->data_len + 1);
    *out = (struct lnk_cache_value){e->id, e->owner, e->active, data, e->data_len, e->has_opts};
    return LNK_CACHE_HIT;
}

static enum lnk_cache_result lookup(struct lnk_cache *c, struct lnk_str key, bool stale,
                                    void *(*alloc)(void *ud, size_t len), void *ud,
                                    struct lnk_cache_value *out)
{
    struct cds_lfht_iter it;
    enum lnk_cache_result res = LNK_CACHE_MISS;
    if (key.len == 0 || key.len > LNK_CACHE_KEY_MAX)
        return res;
    urcu_memb_read_lock();
    cds_lfht_lookup(c->ht, hash_key(key), match, &key, &it);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
    if (node)
        res = read_entry(c, caa_container_of(node, struct entry, node), stale, alloc, ud, out);
    urcu_memb_read_unlock();
    return res;
}

enum lnk_cache_result lnk_cache_get(struct lnk_cache *c, struct lnk_str key,
                                    void *(*alloc)(void *ud, size_t len), void *ud,
                                    struct lnk_cache_value *out)
{
    return lookup(c, key, false, alloc, ud, out);
}

enum lnk_cache_result lnk_cache_get_stale(struct lnk_cache *c, struct lnk_str key,
                                          void *(*alloc)(void *ud, size_t len), void *ud,
                                          struct lnk_cache_value *out)
{
    return lookup(c, key, true, alloc, ud, out);
}

void lnk_cache_get_stats(struct lnk_cache *c, struct lnk_cache_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = (struct lnk_cache_stats){c->entries, c->bytes, c->max_bytes, c->evictions,
                                    c->invalidations};
    pthread_mutex_unlock(&c->lock);
}

void lnk_cache_free(struct lnk_cache *c)
{
    if (!c)
        return;
    struct cds_lfht_iter it;
    struct cds_lfht_node *node;
    urcu_memb_register_thread();
    urcu_memb_read_lock();
    cds_lfht_first(c->ht, &it);
    while ((node = cds_lfht_iter_get_node(&it)) != NULL) {
        cds_lfht_next(c->ht, &it);
        if (cds_lfht_del(c->ht, node) == 0)
            retire_locked(c, caa_container_of(node, struct entry, node));
    }
    retire_flush_locked(c);
    urcu_memb_read_unlock();
    urcu_memb_barrier(); /* run every pending free */
    cds_lfht_destroy(c->ht, NULL);
    urcu_memb_unregister_thread();
    pthread_mutex_destroy(&c->lock);
    free(c->slots);
    free(c->free_slots);
    free(c);
}
