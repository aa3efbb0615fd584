/* SPDX-License-Identifier: MIT */
/* Base62 with the alphabet 0-9A-Za-z, fixed width, most significant digit
 * first. Pure functions, thread-safe. */
#ifndef LNK_BASE62_H
#define LNK_BASE62_H

#include <stddef.h>
#include <stdint.h>

#define LNK_BASE62_WIDTH_MAX 10 /* 62^10 < 2^64 */

/* Writes exactly `width` digits and a NUL to out (width + 1 bytes).
 * LNK_ERANGE when v >= 62^width; LNK_EINVAL when width is 0 or > 10. */
int lnk_base62_encode(uint64_t v, unsigned width, char *out);

/* Decodes s[0..len). LNK_EINVAL on empty input, a byte outside the alphabet,
 * or len > 10. Leading zeros ('0') are allowed. */
int lnk_base62_decode(const char *s, size_t len, uint64_t *out);

/* 62^width for width 0..10 (1 for 0). */
uint64_t lnk_base62_pow(unsigned width);

#endif
