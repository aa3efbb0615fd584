/* SPDX-License-Identifier: MIT */
/* The link cache: misses, hits, negative entries, the epoch rule, eviction
 * bounds, and no stale value after an invalidation under concurrent load. */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linkd/cache.h"
#include "linkd/err.h"

static void *alloc_heap(void *ud, size_t len)
{
    (void)ud;
    return malloc(len);
}

static struct lnk_cache_value link_value(const char *url, int64_t id)
{
    return (struct lnk_cache_value){id, 7, true, url, strlen(url)};
}

static int setup(void **state)
{
    (void)state;
    lnk_cache_thread_register();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lnk_cache_thread_unregister();
    return 0;
}

/* lnk_cache_free wants an unregistered caller. */
static void free_cache(struct lnk_cache *c)
{
    lnk_cache_thread_unregister();
    lnk_cache_free(c);
    lnk_cache_thread_register();
}

static void test_too_long_or_empty_keys_are_never_cached(void **state)
{
    (void)state;
    struct lnk_cache *c;
    struct lnk_cache_value v = link_value("https://a.example/", 1), out;
    char long_key[LNK_CACHE_KEY_MAX + 2];
    memset(long_key, 'a', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    CHECK(lnk_cache_new(&(struct lnk_cache_config){1 << 20, 1000, 0, NULL}, &c) == LNK_OK,
          "cache created");
    lnk_cache_put(c, lnk_str_from_cstr(long_key), &v, lnk_cache_epoch(c));
    CHECK(lnk_cache_get(c, lnk_str_from_cstr(long_key), alloc_heap, NULL, &out) == LNK_CACHE_MISS,
          "a key over 64 bytes is not stored");
    CHECK(lnk_cache_get(c, LNK_STR(""), alloc_heap, NULL, &out) == LNK_CACHE_MISS,
          "the empty key misses");
    free_cache(c);
}

/* An entry holds at most 65,535 bytes of value; a larger one is served
 * from the store every time, and a smaller one under the same key stays. */
static void test_a_value_over_64_kib_is_never_cached(void **state)
{
    (void)state;
    struct lnk_cache *c;
    struct lnk_cache_value out;
    size_t big = 65536;
    char *data = malloc(big + 1);
    memset(data, 'x', big);
    data[big] = '\0';
    CHECK(lnk_cache_new(&(struct lnk_cache_config){64 << 20, 1000, 0, NULL}, &c) == LNK_OK,
          "cache created");
    struct lnk_cache_value v = {1, 7, true, data, big};
    lnk_cache_put(c, LNK_STR("big"), &v, lnk_cache_epoch(c));
    CHECK(lnk_cache_get(c, LNK_STR("big"), alloc_heap, NULL, &out) == LNK_CACHE_MISS,
          "a value of 65,536 bytes is not stored");
    v.len = big - 1;
    lnk_cache_put(c, LNK_STR("big"), &v, lnk_cache_epoch(c));
    CHECK(lnk_cache_get(c, LNK_STR("big"), alloc_heap, NULL, &out) == LNK_CACHE_HIT,
          "a value of 65,535 bytes is");
    CHECK(out.len == big - 1 && memcmp(out.data, data, big - 1) == 0 && out.data[big - 1] == '\0',
          "all of it comes back, NUL-terminated");
    free((void *)out.data);
    free(data);
    free_cache(c);
}

static void test_put_with_a_stale_epoch_is_dropped(void **state)
{
    (void)state;
    struct lnk_cache *c;
    struct lnk_cache_value v = link_value("https://a.example/", 1), out;
    lnk_cache_new(&(struct lnk_cache_config){1 << 20, 1000, 0, NULL}, &c);
    uint64_t before = lnk_cache_epoch(c);
    lnk_cache_invalidate(c, LNK_STR("abc123"));
    CHECK(lnk_cache_epoch(c) != before, "invalidation moves the epoch");
    lnk_cache_put(c, LNK_STR("abc123"), &v, before);
    CHECK(lnk_cache_get(c, LNK_STR("abc123"), alloc_heap, NULL, &out) == LNK_CACHE_MISS,
          "a value read before the invalidation is not cached");
    free_cache(c);
}

static void test_hit_returns_a_copy_of_the_value(void **state)
{
    (void)state;
    struct lnk_cache *c;
    struct lnk_cache_value v = link_value("https://a.example/x?y=1", 42), out;
    lnk_cache_new(&(struct lnk_cache_config){1 << 20, 1000, 0, NULL}, &c);
    CHECK(lnk_cache_get(c, LNK_STR("abc123"), alloc_heap, NULL, &out) == LNK_CACHE_MISS,
          "empty cache misses");
    lnk_cache_put(c, LNK_STR("abc123"), &v, lnk_cache_epoch(c));
    CHECK(lnk_cache_get(c, LNK_STR("abc123"), alloc_heap, NULL, &out) == LNK_CACHE_HIT, "hit");
    CHECK(out.id == 42 && out.owner == 7 && out.active, "id, owner and flag kept");
    CHECK(out.len == v.len && strcmp(out.data, v.data) == 0, "data copied and NUL-terminated");
    free((void *)out.data);
    CHECK(lnk_cache_get(c, LNK_STR("ABC123"), alloc_heap, NULL, &out) == LNK_CACHE_MISS,
          "keys are case-sensitive");
    lnk_cache_invalidate(c, LNK_STR("abc123"));
    CHECK(lnk_cache_get(c, LNK_STR("abc123"), alloc_heap, NULL, &out) == LNK_CACHE_MISS,
          "invalidated key misses");
    free_cache(c);
}

static void test_negative_entries_expire(void **state)
{
    (void)state;
    struct lnk_cache *c, *c0;
    struct lnk_cache_value out;
    lnk_cache_new(&(struct lnk_cache_config){1 << 20, 60000, 0, NULL}, &c);
    lnk_cache_new(&(struct lnk_cache_config){1 << 20, 0, 0, NULL}, &c0);
    lnk_cache_put(c, LNK_STR("nope42"), NULL, lnk_cache_epoch(c));
    CHECK(lnk_cache_get(c, LNK_STR("nope42"), alloc_heap, NULL, &out) == LNK_CACHE_NEGATIVE,
          "a negative entry answers 'known absent' within its TTL");
    lnk_cache_put(c0, LNK_STR("nope42"), NULL, lnk_cache_epoch(c0));
    CHECK(lnk_cache_get(c0, LNK_STR("nope42"), alloc_heap, NULL, &out) == LNK_CACHE_MISS,
          "an expired negative entry is a miss");
    free_cache(c);
    free_cache(c0);
}

static void test_entries_expire_after_the_ttl_only_when_one_is_set(void **state)
{
    (void)state;
    struct lnk_clock clk;
    struct lnk_cache *c, *forever;
    struct lnk_cache_value v = link_value("https://ttl.example/", 3), out;
    lnk_clock_fake_init(&clk, 5000000000ull);
    lnk_cache_new(&(struct lnk_cache_config){1 << 20, 1000, 1000, &clk}, &c);
    lnk_cache_new(&(struct lnk_cache_config){1 << 20, 1000, 0, &clk}, &forever);
    lnk_cache_put(c, LNK_STR("ttl123"), &v, lnk_cache_epoch(c));
    lnk_cache_put(forever, LNK_STR("ttl123"), &v, lnk_cache_epoch(forever));
    lnk_clock_fake_advance(&clk, 999000000ull);
    CHECK(lnk_cache_get(c, LNK_STR("ttl123"), alloc_heap, NULL, &out) == LNK_CACHE_HIT,
          "an entry answers within its TTL");
    free((void *)out.data);
    lnk_clock_fake_advance(&clk, 1000000ull);
    CHECK(lnk_cache_get(c, LNK_STR("ttl123"), alloc_heap, NULL, &out) == LNK_CACHE_MISS,
          "an entry past its TTL is a miss");
    CHECK(lnk_cache_get(forever, LNK_STR("ttl123"), alloc_heap, NULL, &out) == LNK_CACHE_HIT,
          "without a TTL an entry stays until invalidated");
    free((void *)out.data);
    lnk_cache_put(c, LNK_STR("ttl123"), &v, lnk_cache_epoch(c));
    CHECK(lnk_cache_get(c, LNK_STR("ttl123"), alloc_heap, NULL, &out) == LNK_CACHE_HIT,
          "a new fill restarts the TTL");
    free((void *)out.data);
    free_cache(c);
    free_cache(forever);
}

static void test_an_expired_entry_answers_when_stale_is_allowed(void **state)
{
    (void)state;
    struct lnk_clock clk;
    struct lnk_cache *c;
    struct lnk_cache_value v = link_value("https://stale.example/", 7), out;
    lnk_clock_fake_init(&clk, 5000000000ull);
    lnk_cache_new(&(struct lnk_cache_config){1 << 20, 1000, 1000, &clk}, &c);
    CHECK(lnk_cache_get_stale(c, LNK_STR("stale1"), alloc_heap, NULL, &out) == LNK_CACHE_MISS,
          "nothing cached, nothing stale");
    lnk_cache_put(c, LNK_STR("stale1"), &v, lnk_cache_epoch(c));
    lnk_clock_fake_advance(&clk, 5000000000ull);
    CHECK(lnk_cache_get(c, LNK_STR("stale1"), alloc_heap, NULL, &out) == LNK_CACHE_MISS,
          "past its TTL the entry is a miss");
    CHECK(lnk_cache_get_stale(c, LNK_STR("stale1"), alloc_heap, NULL, &out) == LNK_CACHE_HIT,
          "past its TTL it still answers when stale is allowed");
    CHECK(out.id == 7 && strcmp(out.data, "https://stale.example/") == 0, "the value it had");
    free((void *)out.data);
    lnk_cache_put(c, LNK_STR("gone42"), NULL, lnk_cache_epoch(c));
    lnk_clock_fake_advance(&clk, 5000000000ull);
    CHECK(lnk_cache_get_stale(c, LNK_STR("gone42"), alloc_heap, NULL, &out) == LNK_CACHE_NEGATIVE,
          "a known-unknown code answers stale as unknown");
    lnk_cache_invalidate(c, LNK_STR("stale1"));
    CHECK(lnk_cache_get_stale(c, LNK_STR("stale1"), alloc_heap, NULL, &out) == LNK_CACHE_MISS,
          "an invalidated entry never answers, stale or not");
    free_cache(c);
}

static void test_memory_stays_within_the_bound(void **state)
{
    (void)state;
    struct lnk_cache *c;
    struct lnk_cache_stats st;
    const size_t max = 256 * 1024;
    lnk_cache_new(&(struct lnk_cache_config){max, 1000, 0, NULL}, &c);
    char key[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        struct lnk_cache_value v = link_value("https://example.com/some/long/destination/path", i);
        lnk_cache_put(c, lnk_str_from_cstr(key), &v, lnk_cache_epoch(c));
    }
    lnk_cache_get_stats(c, &st);
    CHECK(st.bytes <= max, "bytes never exceed max_bytes");
    CHECK(st.entries > 1000 && st.entries < 20000, "some entries stay, others were evicted");
    CHECK(st.evictions == 20000 - st.entries, "every missing entry was evicted");
    free_cache(c);
}

static void test_referenced_entry_survives_a_sweep(void **state)
{
    (void)state;
    struct lnk_cache *c;
    struct lnk_cache_value out;
    lnk_cache_new(&(struct lnk_cache_config){64 * 1024, 1000, 0, NULL}, &c);
    struct lnk_cache_value hot = link_value("https://hot.example/", 1);
    lnk_cache_put(c, LNK_STR("hot"), &hot, lnk_cache_epoch(c));
    char key[16];
    for (int i = 0; i < 5000; i++) {
        CHECK(lnk_cache_get(c, LNK_STR("hot"), alloc_heap, NULL, &out) == LNK_CACHE_HIT,
              "a key read between inserts stays cached");
        free((void *)out.data);
        snprintf(key, sizeof(key), "cold%d", i);
        struct lnk_cache_value v = link_value("https://cold.example/", i);
        lnk_cache_put(c, lnk_str_from_cstr(key), &v, lnk_cache_epoch(c));
    }
    free_cache(c);
}

/* The race the epoch exists for: a reader fills from the "store" while a
 * writer changes it and invalidates. After the writer acknowledged version v,
 * no reader may see a version below v. */
struct race {
    struct lnk_cache *c;
    _Atomic int64_t store_version; /* what the store holds */
    _Atomic int64_t acked;         /* the writer's last acknowledged version */
    _Atomic bool stop;
    _Atomic long stale, hits;
};

static void *reader(void *arg)
{
    struct race *r = arg;
    struct lnk_cache_value out;
    lnk_cache_thread_register();
    while (!atomic_load(&r->stop)) {
        int64_t acked = atomic_load(&r->acked);
        enum lnk_cache_result res = lnk_cache_get(r->c, LNK_STR("code"), alloc_heap, NULL, &out);
        if (res == LNK_CACHE_HIT) {
            if (out.id < acked)
                atomic_fetch_add(&r->stale, 1);
            atomic_fetch_add(&r->hits, 1);
            free((void *)out.data);
        } else {
            uint64_t epoch = lnk_cache_epoch(r->c);
            int64_t v = atomic_load(&r->store_version);
            struct lnk_cache_value val = link_value("https://v.example/", v);
            lnk_cache_put(r->c, LNK_STR("code"), &val, epoch);
        }
    }
    lnk_cache_thread_unregister();
    return NULL;
}

static void test_no_stale_value_after_invalidation_under_load(void **state)
{
    (void)state;
    struct race r = {0};
    pthread_t th[3];
    lnk_cache_new(&(struct lnk_cache_config){1 << 20, 1000, 0, NULL}, &r.c);
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, reader, &r);
    for (int64_t v = 1; v <= 20000; v++) {
        atomic_store(&r.store_version, v); /* the write commits */
        lnk_cache_invalidate(r.c, LNK_STR("code"));
        atomic_store(&r.acked, v); /* the client gets its 2xx */
        if (v % 100 == 0) {
            /* let readers fill and hit between writes, even on a busy machine */
            struct timespec pause = {0, 200 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    atomic_store(&r.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    CHECK(atomic_load(&r.stale) == 0, "no reader saw a version older than the acknowledged one");
    CHECK(atomic_load(&r.hits) > 0, "readers did hit the cache");
    free_cache(r.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_too_long_or_empty_keys_are_never_cached),
        cmocka_unit_test(test_a_value_over_64_kib_is_never_cached),
        cmocka_unit_test(test_put_with_a_stale_epoch_is_dropped),
        cmocka_unit_test(test_hit_returns_a_copy_of_the_value),
        cmocka_unit_test(test_negative_entries_expire),
        cmocka_unit_test(test_entries_expire_after_the_ttl_only_when_one_is_set),
        cmocka_unit_test(test_an_expired_entry_answers_when_stale_is_allowed),
        cmocka_unit_test(test_memory_stays_within_the_bound),
        cmocka_unit_test(test_referenced_entry_survives_a_sweep),
        cmocka_unit_test(test_no_stale_value_after_invalidation_under_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
