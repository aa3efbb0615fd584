/* SPDX-License-Identifier: MIT */
/* SQLite's default page cache behind a thin layer that knows which page
 * numbers the cache can hold.
 *
 * At the end of every write transaction SQLite asks its cache to drop the
 * pages past the end of the database (xTruncate). The default cache skips
 * that when no page number it ever held is that high, and otherwise scans
 * its whole hash table. When a B-tree page splits, SQLite renumbers the new
 * pages through a spare number far past the end (the page of the lock byte,
 * 262,145 with 4 KiB pages) and back; the default cache remembers that
 * number as its highest, so the next commit scans every bucket and every
 * cached page while nothing is there to drop. With random inserts into an
 * index (a short code), nearly every group commit splits a page: the scan
 * of a 64 MiB writer cache took about an eighth of the writer's time.
 *
 * This layer keeps its own bound: the highest number fetched into the
 * cache, plus the few numbers above it that pages were renumbered to and
 * not yet away from. A truncation with nothing at or past its limit is a
 * no-op and is answered here; any other goes to SQLite's cache. The bound
 * only errs high (pages the default cache evicts on its own stay counted),
 * so a truncation that has something to drop always reaches it. */
#include "store/store_sqlite_pcache.h"

#include <sqlite3.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

enum { MAX_MOVED = 4 };

struct wrapped_cache {
    sqlite3_pcache *inner;
    unsigned hi;               /* no page was fetched with a higher number */
    unsigned moved[MAX_MOVED]; /* numbers above hi that pages were moved to */
    unsigned n_moved;
};

static sqlite3_pcache_methods2 inner_methods;
static atomic_uint_fast64_t n_truncates;
static atomic_uint_fast64_t n_forwarded;
static atomic_uint_fast64_t n_moved_high;

static struct wrapped_cache *wrapped(sqlite3_pcache *p)
{
    return (struct wrapped_cache *)p;
}

static bool moved_has(const struct wrapped_cache *c, unsigned key)
{
    for (unsigned i = 0; i < c->n_moved; i++)
        if (c->moved[i] == key)
            return true;
    return false;
}

static void moved_remove(struct wrapped_cache *c, unsigned key)
{
    for (unsigned i = 0; i < c->n_moved; i++) {
        if (c->moved[i] == key) {
            c->moved[i] = c->moved[--c->n_moved];
            return;
        }
    }
}

/* Past MAX_MOVED numbers the bound absorbs them all: high, never wrong. */
static void moved_add(struct wrapped_cache *c, unsigned key)
{
    if (c->n_moved < MAX_MOVED) {
        c->moved[c->n_moved++] = key;
        return;
    }
    for (unsigned i = 0; i < c->n_moved; i++)
        if (c->moved[i] > c->hi)
            c->hi = c->moved[i];
    if (key > c->hi)
        c->hi = key;
    c->n_moved = 0;
}

/* Keeps the moved numbers below limit and lowers the bound under it. */
static void forget_from(struct wrapped_cache *c, unsigned limit)
{
    if (c->hi >= limit)
        c->hi = limit ? limit - 1 : 0;
    for (unsigned i = 0; i < c->n_moved;) {
        if (c->moved[i] >= limit)
            c->moved[i] = c->moved[--c->n_moved];
        else
            i++;
    }
}

static bool may_hold_from(const struct wrapped_cache *c, unsigned limit)
{
    if (c->hi >= limit)
        return true;
    for (unsigned i = 0; i < c->n_moved; i++)
        if (c->moved[i] >= limit)
            return true;
    return false;
}

static int pc_init(void *arg)
{
    (void)arg;
    return inner_methods.xInit ? inner_methods.xInit(inner_methods.pArg) : SQLITE_OK;
}

static void pc_shutdown(void *arg)
{
    (void)arg;
    if (inner_methods.xShutdown)
        inner_methods.xShutdown(inner_methods.pArg);
}

static sqlite3_pcache *pc_create(int sz_page, int sz_extra, int purgeable)
{
    struct wrapped_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->inner = inner_methods.xCreate(sz_page, sz_extra, purgeable);
    if (!c->inner) {
        free(c);
        return NULL;
    }
    return (sqlite3_pcache *)c;
}

static void pc_cachesize(sqlite3_pcache *p, int n)
{
    inner_methods.xCachesize(wrapped(p)->inner, n);
}

static int pc_pagecount(sqlite3_pcache *p)
{
    return inner_methods.xPagecount(wrapped(p)->inner);
}

static sqlite3_pcache_page *pc_fetch(sqlite3_pcache *p, unsigned key, int create)
{
    struct wrapped_cache *c = wrapped(p);
    sqlite3_pcache_page *page = inner_methods.xFetch(c->inner, key, create);
    if (page && key > c->hi && !moved_has(c, key))
        c->hi = key;
    return page;
}

static void pc_unpin(sqlite3_pcache *p, sqlite3_pcache_page *page, int discard)
{
    inner_methods.xUnpin(wrapped(p)->inner, page, discard);
}

static void pc_rekey(sqlite3_pcache *p, sqlite3_pcache_page *page, unsigned old_key,
                     unsigned new_key)
{
    struct wrapped_cache *c = wrapped(p);
    inner_methods.xRekey(c->inner, page, old_key, new_key);
    moved_remove(c, old_key);
    if (new_key > c->hi) {
        atomic_fetch_add_explicit(&n_moved_high, 1, memory_order_relaxed);
        moved_add(c, new_key);
    }
}

static void pc_truncate(sqlite3_pcache *p, unsigned limit)
{
    struct wrapped_cache *c = wrapped(p);
    atomic_fetch_add_explicit(&n_truncates, 1, memory_order_relaxed);
    if (!may_hold_from(c, limit))
        return;
    atomic_fetch_add_explicit(&n_forwarded, 1, memory_order_relaxed);
    inner_methods.xTruncate(c->inner, limit);
    forget_from(c, limit);
}

static void pc_destroy(sqlite3_pcache *p)
{
    struct wrapped_cache *c = wrapped(p);
    inner_methods.xDestroy(c->inner);
    free(c);
}

static void pc_shrink(sqlite3_pcache *p)
{
    if (inner_methods.xShrink)
        inner_methods.xShrink(wrapped(p)->inner);
}

int lnk_sqlite_pcache_install(void)
{
    static const sqlite3_pcache_methods2 methods = {
        .iVersion = 1,
        .xInit = pc_init,
        .xShutdown = pc_shutdown,
        .xCreate = pc_create,
        .xCachesize = pc_cachesize,
        .xPagecount = pc_pagecount,
        .xFetch = pc_fetch,
        .xUnpin = pc_unpin,
        .xRekey = pc_rekey,
        .xTruncate = pc_truncate,
        .xDestroy = pc_destroy,
        .xShrink = pc_shrink,
    };
    sqlite3_pcache_methods2 current;
    int rc = sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &current);
    if (rc != SQLITE_OK || current.xFetch == pc_fetch)
        return rc; /* initialized already, or installed */
    inner_methods = current;
    return sqlite3_config(SQLITE_CONFIG_PCACHE2, &methods);
}

void lnk_sqlite_pcache_counts(struct lnk_sqlite_pcache_counts *out)
{
    out->truncates = atomic_load_explicit(&n_truncates, memory_order_relaxed);
    out->forwarded = atomic_load_explicit(&n_forwarded, memory_order_relaxed);
    out->moved_high = atomic_load_explicit(&n_moved_high, memory_order_relaxed);
}
