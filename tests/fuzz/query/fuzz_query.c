/* SPDX-License-Identifier: MIT */
/* Query strings. Input: the key up to the first '\n' (at most 32 bytes), then
 * the query string; the key's first byte also picks a small output size.
 * Checks: the output is NUL-terminated within cap; a small cap only ever
 * turns a success into ETOOBIG, never changes the bytes; the three getters
 * agree on absent keys; the integer and boolean getters agree with a
 * reference reading of the decoded value. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "../fuzz.h"
#include "linkd/err.h"
#include "linkd/query.h"

#define KEY_MAX      32
#define I64_TEXT_MAX 32 /* query.c's number buffer */

/* The reference for lnk_query_get_i64: an optional '+' or '-', then digits,
 * in int64 range. Values of I64_TEXT_MAX bytes or more (zero padding) are
 * refused as too long. */
static bool ref_i64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    if (len >= I64_TEXT_MAX)
        return false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i == len)
        return false;
    for (size_t j = i; j < len; j++)
        if (s[j] < '0' || s[j] > '9')
            return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || end != s + len)
        return false;
    *out = (int64_t)v;
    return true;
}

static bool ref_bool(const char *s, size_t len, bool *out)
{
    static const char *const YES[] = {"true", "1", "yes"}, *const NO[] = {"false", "0", "no"};
    for (size_t i = 0; i < 3; i++) {
        if (len == strlen(YES[i]) && strncasecmp(s, YES[i], len) == 0) {
            *out = true;
            return true;
        }
        if (len == strlen(NO[i]) && strncasecmp(s, NO[i], len) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char key[KEY_MAX + 1];
    size_t k = 0;
    while (k < size && k < KEY_MAX && data[k] != '\n' && data[k] != '\0') {
        key[k] = (char)data[k];
        k++;
    }
    key[k] = '\0';
    while (k < size && data[k] != '\n')
        k++;
    size_t qoff = k < size ? k + 1 : size;
    /* An exact-size copy, so a read past the query's end is caught. */
    size_t qlen = size - qoff;
    char *qbuf = malloc(qlen ? qlen : 1);
    FUZZ_CHECK(qbuf != NULL, "malloc");
    memcpy(qbuf, data + qoff, qlen);
    struct lnk_str q = lnk_str_make(qbuf, qlen);

    /* Large enough for any value: decoding never grows it. */
    size_t big_cap = qlen + 1, big_len = SIZE_MAX;
    char *big = malloc(big_cap);
    FUZZ_CHECK(big != NULL, "malloc");
    int rc = lnk_query_get(q, key, big, big_cap, &big_len);
    FUZZ_CHECK(rc == LNK_OK || rc == LNK_ENOTFOUND || rc == LNK_EINVAL,
               "a value that fits is never ETOOBIG");
    if (rc == LNK_OK)
        FUZZ_CHECK(big_len < big_cap && big[big_len] == '\0', "NUL-terminated within cap");
    FUZZ_CHECK(lnk_query_get(q, key, big, big_cap, NULL) == rc, "out_len is optional");

    /* A small output: the same answer, or ETOOBIG where the value does not
     * fit. */
    size_t small_cap = size > 0 ? data[0] % 9 : 0, small_len = SIZE_MAX;
    char small[8];
    int src = lnk_query_get(q, key, small, small_cap, &small_len);
    if (rc == LNK_OK && big_len + 1 > small_cap) {
        FUZZ_CHECK(src == LNK_ETOOBIG, "a value that does not fit is ETOOBIG");
    } else if (rc == LNK_EINVAL) {
        /* The output may fill up before the bad escape is reached. */
        FUZZ_CHECK(src == LNK_EINVAL || src == LNK_ETOOBIG, "bad escape: EINVAL or ETOOBIG");
    } else {
        FUZZ_CHECK(src == rc, "cap does not change the answer");
        if (rc == LNK_OK)
            FUZZ_CHECK(small_len == big_len && memcmp(small, big, big_len + 1) == 0,
                       "cap does not change the bytes");
    }

    int64_t iv = 0, want_iv = 0;
    int irc = lnk_query_get_i64(q, key, &iv);
    bool bv = false, want_bv = false;
    int brc = lnk_query_get_bool(q, key, &bv);
    if (rc == LNK_ENOTFOUND) {
        FUZZ_CHECK(irc == LNK_ENOTFOUND && brc == LNK_ENOTFOUND, "getters agree: absent");
    } else if (rc == LNK_EINVAL) {
        FUZZ_CHECK(irc == LNK_EINVAL && brc == LNK_EINVAL, "getters agree: bad escape");
    } else {
        bool is_int = ref_i64(big, big_len, &want_iv);
        FUZZ_CHECK(irc == (is_int ? LNK_OK : LNK_EINVAL), "i64: [+-]digits in range, else EINVAL");
        if (is_int)
            FUZZ_CHECK(iv == want_iv, "i64: the value");
        bool is_bool = ref_bool(big, big_len, &want_bv);
        FUZZ_CHECK(brc == (is_bool ? LNK_OK : LNK_EINVAL), "bool: six words, else EINVAL");
        if (is_bool)
            FUZZ_CHECK(bv == want_bv, "bool: the value");
    }

    free(big);
    free(qbuf);
    return 0;
}
