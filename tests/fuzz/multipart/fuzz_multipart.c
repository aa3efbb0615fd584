/* SPDX-License-Identifier: MIT */
/* multipart/form-data as POST /users/bulk reads it. Input: the Content-Type
 * value up to the first '\n', then the body. The boundary comes from the
 * Content-Type, or is "XyZ" when that is refused, so the body parser runs
 * either way. Checks: the boundary is 1..70 bytes inside the header value;
 * a found part lies inside the body, is the `file` part or a file, and is
 * followed by the delimiter. Header and body are exact-size heap copies so
 * that over-reads are caught. */
#include <string.h>

#include "../fuzz.h"
#include "linkd/err.h"
#include "linkd/multipart.h"

#define FALLBACK_BOUNDARY "XyZ"

/* s lies within outer; an empty s may also be LNK_STR_NULL. */
static bool inside(struct lnk_str outer, struct lnk_str s)
{
    if (s.ptr == NULL)
        return s.len == 0;
    uintptr_t lo = (uintptr_t)outer.ptr, p = (uintptr_t)s.ptr;
    return p >= lo && s.len <= outer.len && p - lo <= outer.len - s.len;
}

static char *copy(const uint8_t *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    FUZZ_CHECK(c != NULL, "malloc");
    if (n)
        memcpy(c, p, n);
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ct_len = nl ? (size_t)(nl - data) : size;
    size_t body_off = nl ? ct_len + 1 : size;
    char *ct_buf = copy(data, ct_len), *body_buf = copy(data + body_off, size - body_off);
    struct lnk_str ct = lnk_str_make(ct_buf, ct_len);
    struct lnk_str body = lnk_str_make(body_buf, size - body_off);

    struct lnk_str boundary = LNK_STR_NULL;
    int rc = lnk_multipart_boundary(ct, &boundary);
    FUZZ_CHECK(rc == LNK_OK || rc == LNK_EINVAL, "boundary: only LNK_OK or LNK_EINVAL");
    if (rc == LNK_OK) {
        FUZZ_CHECK(boundary.len >= 1 && boundary.len <= LNK_MULTIPART_BOUNDARY_MAX,
                   "boundaries are 1..70 bytes");
        FUZZ_CHECK(inside(ct, boundary), "the boundary is a slice of the header value");
    } else {
        boundary = LNK_STR(FALLBACK_BOUNDARY);
    }
    /* Its own exact-size copy too. */
    char *b_buf = copy((const uint8_t *)boundary.ptr, boundary.len);
    boundary.ptr = b_buf;

    struct lnk_multipart_part part;
    memset(&part, 0xA5, sizeof(part));
    rc = lnk_multipart_find_file(body, boundary, "file", &part);
    FUZZ_CHECK(rc == LNK_OK || rc == LNK_ENOTFOUND || rc == LNK_EINVAL, "documented codes only");
    if (rc == LNK_OK) {
        FUZZ_CHECK(inside(body, part.name) && inside(body, part.filename) &&
                       part.body.ptr != NULL && inside(body, part.body),
                   "parts are slices of the body");
        FUZZ_CHECK(lnk_str_eq_cstr(part.name, "file") || part.filename.len > 0,
                   "the part named file, or a file part");
        const char *after = part.body.ptr + part.body.len;
        size_t left = (size_t)(body.ptr + body.len - after);
        FUZZ_CHECK(left >= 4 + boundary.len && memcmp(after, "\r\n--", 4) == 0 &&
                       memcmp(after + 4, boundary.ptr, boundary.len) == 0,
                   "a part's body ends at a delimiter");
    }

    free(b_buf);
    free(body_buf);
    free(ct_buf);
    return 0;
}
