/* SPDX-License-Identifier: MIT */
/* A bump allocator for results that die together (a store operation's rows,
 * a parsed CSV upload). Not thread-safe: one owner at a time. Allocation
 * failure aborts (lnk_xmalloc), so the functions never return NULL. */
#ifndef LNK_ARENA_H
#define LNK_ARENA_H

#include <stddef.h>

struct lnk_arena_chunk;

struct lnk_arena {
    struct lnk_arena_chunk *head;
    size_t used_bytes; /* total handed out, for limits and metrics */
};

void lnk_arena_init(struct lnk_arena *a);
/* Frees every chunk; the arena may be reused afterwards. */
void lnk_arena_cleanup(struct lnk_arena *a);
/* 16-byte aligned; size 0 gives a valid unique pointer. */
void *lnk_arena_alloc(struct lnk_arena *a, size_t size);
/* Copies len bytes and appends a NUL. */
char *lnk_arena_strndup(struct lnk_arena *a, const char *s, size_t len);
char *lnk_arena_strdup(struct lnk_arena *a, const char *s);

/* malloc/calloc/realloc/strdup that log and abort on OOM (h2o, Redis). */
void *lnk_xmalloc(size_t size);
void *lnk_xcalloc(size_t n, size_t size);
void *lnk_xrealloc(void *p, size_t size);
char *lnk_xstrndup(const char *s, size_t len);

#endif
