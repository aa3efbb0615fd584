/* SPDX-License-Identifier: MIT */
/* A bounded multipart/form-data reader: boundary search with memmem, part
 * headers scanned for Content-Disposition only. CRLF line ends as RFC 7578
 * requires. */
#include "linkd/multipart.h"

#include <string.h>

#include "linkd/err.h"

static bool starts_with_nocase(struct lnk_str s, const char *p)
{
    size_t n = strlen(p);
    return s.len >= n && lnk_str_eq_nocase(lnk_str_make(s.ptr, n), lnk_str_make(p, n));
}

/* Value of parameter `key` in a header value like `form-data; name="x"`:
 * parameters are split at ';' outside quotes only, so a quoted value that
 * contains "; key=" is not mistaken for the parameter. */
static struct lnk_str header_param(struct lnk_str v, const char *key)
{
    size_t kl = strlen(key), i = 0;
    bool quoted = false;
    while (i < v.len) {
        char ch = v.ptr[i++];
        if (ch == '"')
            quoted = !quoted;
        if (ch != ';' || quoted)
            continue;
        struct lnk_str rest = lnk_str_trim(lnk_str_make(v.ptr + i, v.len - i));
        if (rest.len <= kl || !starts_with_nocase(rest, key) || rest.ptr[kl] != '=')
            continue;
        const char *p = rest.ptr + kl + 1, *end = rest.ptr + rest.len;
        if (p < end && *p == '"') {
            const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
            return q ? lnk_str_make(p + 1, (size_t)(q - p - 1)) : LNK_STR_NULL;
        }
        const char *q = p;
        while (q < end && *q != ';' && *q != ' ')
            q++;
        return lnk_str_make(p, (size_t)(q - p));
    }
    return LNK_STR_NULL;
}

int lnk_multipart_boundary(struct lnk_str content_type, struct lnk_str *boundary)
{
    static const char type[] = "multipart/form-data";
    struct lnk_str ct = lnk_str_trim(content_type);
    size_t tl = sizeof(type) - 1;
    /* the type must end there: "multipart/form-dataX" is another type */
    if (!starts_with_nocase(ct, type) || (ct.len > tl && ct.ptr[tl] != ';' && ct.ptr[tl] != ' '))
        return LNK_EINVAL;
    struct lnk_str b = header_param(ct, "boundary");
    if (b.len == 0 || b.len > LNK_MULTIPART_BOUNDARY_MAX)
        return LNK_EINVAL;
    *boundary = b;
    return LNK_OK;
}

/* Reads one part's header block at p; sets name/filename and *body_start. */
static int read_part_headers(const char *p, const char *end, struct lnk_multipart_part *part,
                             const char **body_start)
{
    const char *hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
    if (!hdr_end)
        return LNK_EINVAL;
    *part = (struct lnk_multipart_part){0};
    while (p < hdr_end) {
        const char *eol = memmem(p, (size_t)(hdr_end + 2 - p), "\r\n", 2);
        struct lnk_str line = lnk_str_make(p, (size_t)(eol - p));
        if (starts_with_nocase(line, "content-disposition:")) {
            part->name = header_param(line, "name");
            part->filename = header_param(line, "filename");
        }
        p = eol + 2;
    }
    *body_start = hdr_end + 4;
    return LNK_OK;
}

int lnk_multipart_find_file(struct lnk_str body, struct lnk_str boundary, const char *field,
                            struct lnk_multipart_part *out)
{
    char delim[LNK_MULTIPART_BOUNDARY_MAX + 4] = "\r\n--";
    if (boundary.len == 0 || boundary.len > LNK_MULTIPART_BOUNDARY_MAX)
        return LNK_EINVAL;
    memcpy(delim + 4, boundary.ptr, boundary.len);
    size_t dl = boundary.len + 4;
    const char *end = body.ptr + body.len;
    /* The first boundary may start the body (no preceding CRLF). */
    const char *p;
    if (body.len >= dl - 2 && memcmp(body.ptr, delim + 2, dl - 2) == 0)
        p = body.ptr + dl - 2;
    else if (body.ptr && (p = memmem(body.ptr, body.len, delim, dl)) != NULL)
        p += dl;
    else
        return LNK_EINVAL;
    bool have_file = false;
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return have_file ? LNK_OK : LNK_ENOTFOUND; /* closing boundary */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return LNK_EINVAL;
        struct lnk_multipart_part part;
        const char *content;
        if (read_part_headers(p + 2, end, &part, &content) != LNK_OK)
            return LNK_EINVAL;
        const char *next = memmem(content, (size_t)(end - content), delim, dl);
        if (!next)
            return LNK_EINVAL;
        part.body = lnk_str_make(content, (size_t)(next - content));
        if (lnk_str_eq_cstr(part.name, field)) {
            *out = part;
            return LNK_OK;
        }
        if (!have_file && part.filename.len > 0) {
            *out = part;
            have_file = true;
        }
        p = next + dl;
    }
}
