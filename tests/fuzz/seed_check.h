/* SPDX-License-Identifier: MIT */
/* Checks shared by the three seed-parser harnesses (seed_users, seed_urls,
 * seed_events): what a parsed text field must look like, and how many data
 * records the CSV reader sees in the input. */
#ifndef LNK_FUZZ_SEED_CHECK_H
#define LNK_FUZZ_SEED_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "linkd/csv.h"
#include "linkd/err.h"
#include "linkd/name.h"
#include "linkd/str.h"

#define ERR_BYTES 256
#define TS_MAX    INT64_C(253402300799) /* 9999-12-31T23:59:59 */

static inline bool seed_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* A NUL-terminated, trimmed, non-empty UTF-8 string of at most max code
 * points. */
static inline bool text_ok(const char *s, size_t max)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    return len > 0 && !seed_is_space(s[0]) && !seed_is_space(s[len - 1]) &&
           lnk_utf8_valid(s, len) && lnk_utf8_len(s, len) <= max;
}

/* text_ok, and none of the characters names may not hold
 * (docs/security.md#names). */
static inline bool name_ok(const char *s, size_t max)
{
    return text_ok(s, max) && lnk_name_check(s, strlen(s), NULL) == LNK_OK;
}

/* Records after the header, or -1 when the CSV reader stops on an error. */
static inline long data_records(const uint8_t *data, size_t size)
{
    struct lnk_csv c;
    struct lnk_csv_record rec;
    long n = -1;
    int rc;
    lnk_csv_init(&c, (const char *)data, size);
    while ((rc = lnk_csv_next(&c, &rec)) == LNK_OK)
        n++;
    lnk_csv_cleanup(&c);
    return rc == LNK_EEOF ? n : -1;
}

#endif
