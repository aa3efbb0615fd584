/* SPDX-License-Identifier: MIT */
/* A growable byte buffer with a maximum size (curl's dynbuf): appends past
 * the maximum fail with LNK_ETOOBIG and leave the buffer as it was. The bytes
 * are always NUL-terminated. Not thread-safe. */
#ifndef LNK_BUF_H
#define LNK_BUF_H

#include <stddef.h>

struct lnk_buf {
    char *ptr;
    size_t len, cap, max;
};

void lnk_buf_init(struct lnk_buf *b, size_t max);
void lnk_buf_cleanup(struct lnk_buf *b);
int lnk_buf_append(struct lnk_buf *b, const void *p, size_t len);
int lnk_buf_printf(struct lnk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (free them), leaving b empty. Never NULL. */
char *lnk_buf_steal(struct lnk_buf *b, size_t *len);

#endif
