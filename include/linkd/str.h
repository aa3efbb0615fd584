/* SPDX-License-Identifier: MIT */
/* Borrowed string slices (h2o's iovec, curl's Curl_str): pointer + length,
 * not NUL-terminated. A slice never owns its bytes. */
#ifndef LNK_STR_H
#define LNK_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct lnk_str {
    const char *ptr;
    size_t len;
};

#define LNK_STR(lit) ((struct lnk_str){(lit), sizeof(lit) - 1})
#define LNK_STR_NULL ((struct lnk_str){NULL, 0})

static inline struct lnk_str lnk_str_make(const char *p, size_t len)
{
    return (struct lnk_str){p, len};
}

static inline struct lnk_str lnk_str_from_cstr(const char *s)
{
    return (struct lnk_str){s, s ? strlen(s) : 0};
}

static inline bool lnk_str_eq(struct lnk_str a, struct lnk_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool lnk_str_eq_cstr(struct lnk_str a, const char *b)
{
    return lnk_str_eq(a, lnk_str_from_cstr(b));
}

/* ASCII case-insensitive comparison. */
bool lnk_str_eq_nocase(struct lnk_str a, struct lnk_str b);

/* Removes leading and trailing ASCII white space (space, \t, \r, \n, \v, \f). */
struct lnk_str lnk_str_trim(struct lnk_str s);

/* True when s is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool lnk_utf8_valid(const char *s, size_t len);

/* A 64-bit hash of the bytes (FNV-1a with a final mix so that short keys
 * spread over every bit). Not for adversarial use as a secret. */
uint64_t lnk_str_hash(struct lnk_str s);

/* Number of code points in well-formed UTF-8 s[0..len). */
size_t lnk_utf8_len(const char *s, size_t len);

/* Parses a decimal int64 made only of digits with an optional leading '-'.
 * LNK_EINVAL on empty input, any other character, or overflow. */
int lnk_str_to_i64(struct lnk_str s, long long *out);

/* The byte of the percent escape at s.ptr[*i] ('%' and two hex digits),
 * advancing *i past it; -1 for a malformed escape or %00, which no
 * NUL-terminated result could hold. */
int lnk_str_pct_byte(struct lnk_str s, size_t *i);

/* The value of a hex digit (either case), or -1. */
int lnk_hex_digit(char c);

#endif
