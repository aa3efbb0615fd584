/* SPDX-License-Identifier: MIT */
/* The request-head check (src/http/head.h). Input: the bytes a connection
 * received. Checks: the verdict is one of the three documented; an accepted
 * head lies inside the input, with its method and path inside the head, and
 * is accepted again, with the same length, when it arrives alone; a shorter
 * prefix of it is only ever incomplete (so a head is never judged before it
 * is whole); a rejection says why. */
#include <string.h>

#include "../fuzz.h"
#include "http/head.h"
#include "linkd/err.h"

static bool inside(struct lnk_str s, const char *base, size_t len)
{
    return s.ptr >= base && s.ptr + s.len <= base + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so a read past the end is caught. */
    char *buf = malloc(size ? size : 1);
    FUZZ_CHECK(buf != NULL, "malloc");
    memcpy(buf, data, size);
    struct lnk_http_head head;
    int rc = lnk_http_head_check(buf, size, &head);
    FUZZ_CHECK(rc == LNK_OK || rc == LNK_EEOF || rc == LNK_EINVAL, "one of three verdicts");
    if (rc == LNK_EINVAL)
        FUZZ_CHECK(head.error != NULL && head.error[0] != '\0', "a rejection says why");
    if (rc == LNK_OK) {
        size_t len = head.len;
        FUZZ_CHECK(len > 0 && len <= size, "the head lies in the input");
        FUZZ_CHECK(inside(head.method, buf, len) && head.method.len > 0, "method in the head");
        FUZZ_CHECK(inside(head.path, buf, len) && head.path.len > 0, "path in the head");
        /* The parser takes any HTTP/1.x; libh2o serves x > 0 as 1.1. */
        FUZZ_CHECK(head.minor_version >= 0 && head.minor_version <= 9, "HTTP/1.x");
        FUZZ_CHECK(head.error == NULL, "no error when accepted");
        struct lnk_http_head alone;
        FUZZ_CHECK(lnk_http_head_check(buf, len, &alone) == LNK_OK && alone.len == len,
                   "the head alone is accepted with the same length");
        size_t cut = size > 0 ? (size_t)data[0] % len : 0;
        FUZZ_CHECK(lnk_http_head_check(buf, cut, &alone) == LNK_EEOF,
                   "a prefix of an accepted head is incomplete");
        FUZZ_CHECK(lnk_http_head_check(buf, len - 1, &alone) == LNK_EEOF,
                   "one byte short is incomplete");
    }
    free(buf);
    return 0;
}
