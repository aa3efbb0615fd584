/* SPDX-License-Identifier: MIT */
/* Bump allocator in linked chunks, plus the aborting allocators. */
#include "linkd/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES 4096
#define ALIGN       16

struct lnk_arena_chunk {
    struct lnk_arena_chunk *next;
    size_t used, cap;
    _Alignas(ALIGN) unsigned char data[];
};

static void oom(size_t size)
{
    fprintf(stderr,
            "{\"level\":\"error\",\"component\":\"alloc\",\"event\":\"out_of_memory\","
            "\"bytes\":%zu}\n",
            size);
    abort();
}

void *lnk_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

void *lnk_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *lnk_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        oom(size);
    return q;
}

char *lnk_xstrndup(const char *s, size_t len)
{
    char *p = lnk_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void lnk_arena_init(struct lnk_arena *a)
{
    a->head = NULL;
    a->used_bytes = 0;
}

void lnk_arena_cleanup(struct lnk_arena *a)
{
    struct lnk_arena_chunk *c = a->head;
    while (c) {
        struct lnk_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    lnk_arena_init(a);
}

void *lnk_arena_alloc(struct lnk_arena *a, size_t size)
{
    size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need == 0)
        need = ALIGN;
    struct lnk_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > CHUNK_BYTES ? need : CHUNK_BYTES;
        c = lnk_xmalloc(sizeof(*c) + cap);
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->used_bytes += need;
    return p;
}

char *lnk_arena_strndup(struct lnk_arena *a, const char *s, size_t len)
{
    char *p = lnk_arena_alloc(a, len + 1);
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *lnk_arena_strdup(struct lnk_arena *a, const char *s)
{
    return lnk_arena_strndup(a, s, strlen(s));
}
