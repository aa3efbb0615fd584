/* SPDX-License-Identifier: MIT */
/* Destination URL validation (CONTRACT.md §4.9): cheap byte checks first
 * (length, white space, control and non-ASCII bytes), then RFC 3986 syntax
 * via liburiparser, then scheme http/https and a non-empty host. The only
 * file that includes uriparser (scripts/check-layering.sh). Thread-safe. */
#include "linkd/url.h"

#include <stdbool.h>
#include <uriparser/Uri.h>

#include "linkd/err.h"
#include "linkd/model.h"
#include "linkd/str.h"

static bool range_empty(const UriTextRangeA *r)
{
    return r->first == NULL || r->afterLast <= r->first;
}

static struct lnk_str range_str(const UriTextRangeA *r)
{
    return range_empty(r) ? LNK_STR_NULL
                          : lnk_str_make(r->first, (size_t)(r->afterLast - r->first));
}

/* RFC 3986 allows any run of digits as a port; a URL we redirect to must
 * name a real TCP port. */
static bool port_ok(const UriTextRangeA *r)
{
    struct lnk_str p = range_str(r);
    unsigned long v = 0;
    for (size_t i = 0; i < p.len; i++) {
        v = v * 10 + (unsigned long)(p.ptr[i] - '0');
        if (v > 65535)
            return false;
    }
    return true;
}

int lnk_url_validate(const char *s, size_t len, const char **reason)
{
    const char *why = NULL;
    UriUriA uri;
    bool parsed = false;

    if (len == 0) {
        why = "empty URL";
        goto out;
    }
    if (len > LNK_URL_MAX) {
        why = "URL longer than 2048 bytes";
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f) {
            why = "URL contains white space or control characters";
            goto out;
        }
        if (c >= 0x80) {
            why = "URL contains non-ASCII characters (they must be percent-encoded)";
            goto out;
        }
    }

    const char *error_pos = NULL;
    if (uriParseSingleUriExA(&uri, s, s + len, &error_pos) != URI_SUCCESS) {
        why = "malformed URL";
        goto out;
    }
    parsed = true;
    struct lnk_str scheme = range_str(&uri.scheme);
    if (!lnk_str_eq_nocase(scheme, LNK_STR("http")) &&
        !lnk_str_eq_nocase(scheme, LNK_STR("https"))) {
        why = "not an http(s) URL";
        goto out;
    }
    if (range_empty(&uri.hostText)) {
        why = "URL has no host";
        goto out;
    }
    if (!port_ok(&uri.portText)) {
        why = "URL port out of range";
        goto out;
    }

out:
    if (parsed)
        uriFreeUriMembersA(&uri);
    if (why && reason)
        *reason = why;
    return why ? LNK_EINVAL : LNK_OK;
}
