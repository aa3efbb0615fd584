/* SPDX-License-Identifier: MIT */
/* Bounded growable buffer. */
#include "linkd/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkd/arena.h"
#include "linkd/err.h"

void lnk_buf_init(struct lnk_buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void lnk_buf_cleanup(struct lnk_buf *b)
{
    free(b->ptr);
    lnk_buf_init(b, b->max);
}

static int reserve(struct lnk_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return LNK_ETOOBIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return LNK_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->ptr = lnk_xrealloc(b->ptr, cap);
    b->cap = cap;
    return LNK_OK;
}

int lnk_buf_append(struct lnk_buf *b, const void *p, size_t len)
{
    int rc = reserve(b, len);
    if (rc != LNK_OK)
        return rc;
    if (len)
        memcpy(b->ptr + b->len, p, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return LNK_OK;
}

int lnk_buf_printf(struct lnk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return LNK_EINVAL;
    int rc = reserve(b, (size_t)n);
    if (rc != LNK_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return LNK_OK;
}

char *lnk_buf_steal(struct lnk_buf *b, size_t *len)
{
    if (!b->ptr)
        reserve(b, 0);
    char *p = b->ptr;
    if (len)
        *len = b->len;
    lnk_buf_init(b, b->max);
    return p;
}
