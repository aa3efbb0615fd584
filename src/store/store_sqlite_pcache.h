/* SPDX-License-Identifier: MIT */
/* A page cache for SQLite that is SQLite's own with one cost removed: the
 * scan of the whole cache at the end of a write transaction that split a
 * B-tree page (store_sqlite_pcache.c). Used by store_sqlite.c; the tests
 * read its counters. */
#ifndef LNK_STORE_SQLITE_PCACHE_H
#define LNK_STORE_SQLITE_PCACHE_H

#include <stdint.h>

/* Installs the cache for every connection opened afterwards. SQLITE_OK, or
 * SQLite's error when it is initialized already (then nothing changes). */
int lnk_sqlite_pcache_install(void);

/* Since start: truncations asked of the cache, those of them that had a
 * page to drop and went to SQLite's cache, and pages renumbered above every
 * number fetched so far. */
struct lnk_sqlite_pcache_counts {
    uint64_t truncates;
    uint64_t forwarded;
    uint64_t moved_high;
};

void lnk_sqlite_pcache_counts(struct lnk_sqlite_pcache_counts *out);

#endif
