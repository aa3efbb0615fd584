/* SPDX-License-Identifier: MIT */
/* Query-string lookup (application/x-www-form-urlencoded: '&'-separated
 * key=value pairs, %XX escapes and '+' for space). Keys are matched after
 * decoding, values are decoded into caller storage; nothing is allocated.
 * Typed getters follow CONTRACT.md §2. Thread-safe. */
#include "linkd/query.h"

#include <string.h>

#include "linkd/err.h"

#define NUM_BUF_BYTES  32
#define BOOL_BUF_BYTES 8

/* Decodes one byte of s at *i and advances *i. -1 for a malformed escape:
 * '%' without two hex digits, or %00, which could not survive the
 * NUL-terminated output. */
static int decode_byte(struct lnk_str s, size_t *i)
{
    char c = s.ptr[*i];
    if (c == '+') {
        (*i)++;
        return ' ';
    }
    if (c != '%') {
        (*i)++;
        return (unsigned char)c;
    }
    return lnk_str_pct_byte(s, i);
}

/* True when the encoded key enc decodes to exactly key. */
static bool key_matches(struct lnk_str enc, const char *key)
{
    size_t i = 0, k = 0, key_len = strlen(key);
    while (i < enc.len) {
        int c = decode_byte(enc, &i);
        if (c < 0 || k == key_len || (unsigned char)key[k] != c)
            return false;
        k++;
    }
    return k == key_len;
}

int lnk_query_get(struct lnk_str query, const char *key, char *out, size_t cap, size_t *out_len)
{
    size_t pos = 0;
    while (pos < query.len) {
        const char *start = query.ptr + pos;
        const char *amp = memchr(start, '&', query.len - pos);
        size_t pair_len = amp ? (size_t)(amp - start) : query.len - pos;
        pos += pair_len + 1;

        const char *eq = memchr(start, '=', pair_len);
        struct lnk_str k = lnk_str_make(start, eq ? (size_t)(eq - start) : pair_len);
        if (pair_len == 0 || !key_matches(k, key))
            continue;

        struct lnk_str v = eq ? lnk_str_make(eq + 1, pair_len - k.len - 1) : LNK_STR("");
        size_t n = 0, i = 0;
        while (i < v.len) {
            int c = decode_byte(v, &i);
            if (c < 0)
                return LNK_EINVAL;
            if (n + 1 >= cap)
                return LNK_ETOOBIG;
            out[n++] = (char)c;
        }
        if (cap == 0)
            return LNK_ETOOBIG;
        out[n] = '\0';
        if (out_len)
            *out_len = n;
        return LNK_OK;
    }
    return LNK_ENOTFOUND;
}

/* A value for a typed getter: one too long for its buffer cannot be valid. */
static int get_short_value(struct lnk_str query, const char *key, char *buf, size_t cap,
                           size_t *len)
{
    int rc = lnk_query_get(query, key, buf, cap, len);
    return rc == LNK_ETOOBIG ? LNK_EINVAL : rc;
}

int lnk_query_get_i64(struct lnk_str query, const char *key, int64_t *out)
{
    char buf[NUM_BUF_BYTES];
    size_t len;
    int rc = get_short_value(query, key, buf, sizeof(buf), &len);
    if (rc != LNK_OK)
        return rc;
    struct lnk_str s = lnk_str_make(buf, len);
    /* An explicit '+' (sent as %2B) must be followed by a digit: "+-1" is not
     * a number. */
    if (s.len > 0 && s.ptr[0] == '+') {
        s.ptr++;
        s.len--;
        if (s.len == 0 || s.ptr[0] < '0' || s.ptr[0] > '9')
            return LNK_EINVAL;
    }
    long long v;
    rc = lnk_str_to_i64(s, &v);
    if (rc != LNK_OK)
        return rc;
    *out = (int64_t)v;
    return LNK_OK;
}

int lnk_query_get_bool(struct lnk_str query, const char *key, bool *out)
{
    static const struct {
        const char *word;
        bool value;
    } WORDS[] = {{"true", true},   {"1", true},  {"yes", true},
                 {"false", false}, {"0", false}, {"no", false}};
    char buf[BOOL_BUF_BYTES];
    size_t len;
    int rc = get_short_value(query, key, buf, sizeof(buf), &len);
    if (rc != LNK_OK)
        return rc;
    for (size_t i = 0; i < sizeof(WORDS) / sizeof(WORDS[0]); i++) {
        if (lnk_str_eq_nocase(lnk_str_make(buf, len), lnk_str_from_cstr(WORDS[i].word))) {
            *out = WORDS[i].value;
            return LNK_OK;
        }
    }
    return LNK_EINVAL;
}
