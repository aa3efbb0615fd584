/* SPDX-License-Identifier: MIT */
/* Destination URL validation (CONTRACT.md §4.9): cheap byte checks first
 * (length, white space, control and non-ASCII bytes), then RFC 3986 syntax
 * via liburiparser, then scheme http/https, no user information, a host
 * that is an IP literal or an RFC 1123 host name, and a port 1-65535
 * (docs/security.md#destinations). The only file that includes uriparser
 * (scripts/check-layering.sh). Thread-safe. */
#include "linkd/url.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>
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

#define HOST_NAME_MAX_CHARS 253 /* RFC 1035 §2.3.4, as written in a URL */
#define LABEL_MAX_CHARS     63

/* RFC 3986 allows any run of digits as a port; a URL we redirect to must
 * name a real TCP port, and 0 is none. An empty port (`host:`) means the
 * scheme's default. */
static bool port_ok(const UriTextRangeA *r)
{
    struct lnk_str p = range_str(r);
    unsigned long v = 0;
    for (size_t i = 0; i < p.len; i++) {
        v = v * 10 + (unsigned long)(p.ptr[i] - '0');
        if (v > 65535)
            return false;
    }
    return p.len == 0 || v > 0;
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* An RFC 1123 label: letters, digits and hyphens, not at either end. */
static const char *label_problem(struct lnk_str l)
{
    if (l.len == 0)
        return "URL host is not a host name (empty label)";
    if (l.len > LABEL_MAX_CHARS)
        return "URL host name has a label longer than 63 characters";
    for (size_t i = 0; i < l.len; i++)
        if (!is_alnum(l.ptr[i]) && l.ptr[i] != '-')
            return "URL host is not a host name (letters, digits and hyphens only)";
    if (l.ptr[0] == '-' || l.ptr[l.len - 1] == '-')
        return "URL host is not a host name (a label starts or ends with a hyphen)";
    return NULL;
}

/* Whether browsers read a host ending in this label as an IPv4 address
 * (WHATWG URL, "ends in a number"): all digits, or 0x and hex digits.
 * "https://1/" would lead to 0.0.0.1 and "https://0x7f000001/" to
 * 127.0.0.1, neither of which a reader sees in the text. */
static bool numeric_label(struct lnk_str l)
{
    size_t i = 0;
    if (l.len >= 2 && l.ptr[0] == '0' && (l.ptr[1] == 'x' || l.ptr[1] == 'X')) {
        for (i = 2; i < l.len && is_hex(l.ptr[i]); i++)
            ;
        return i == l.len;
    }
    for (; i < l.len && l.ptr[i] >= '0' && l.ptr[i] <= '9'; i++)
        ;
    return l.len > 0 && i == l.len;
}

/* NULL when the host is an IPv4 or IPv6 literal or a host name a reader
 * can trust (docs/security.md#destinations); else why not. IDNs pass in
 * their punycode (xn--) form: raw non-ASCII bytes are refused earlier and
 * an escape in a host is refused here. */
static const char *host_problem(const UriUriA *uri)
{
    if (uri->hostData.ip4 || uri->hostData.ip6)
        return NULL;
    if (uri->hostData.ipFuture.first)
        return "URL host is not a host name or an IP address";
    struct lnk_str h = range_str(&uri->hostText);
    if (memchr(h.ptr, '%', h.len))
        return "URL host must not be percent-encoded";
    if (h.len > 1 && h.ptr[h.len - 1] == '.')
        h.len--; /* the root label of a fully qualified name */
    if (h.len > HOST_NAME_MAX_CHARS)
        return "URL host name is longer than 253 characters";
    struct lnk_str label = LNK_STR_NULL;
    for (size_t start = 0, i = 0; i <= h.len; i++) {
        if (i < h.len && h.ptr[i] != '.')
            continue;
        label = lnk_str_make(h.ptr + start, i - start);
        const char *why = label_problem(label);
        if (why)
            return why;
        start = i + 1;
    }
    if (numeric_label(label))
        return "URL host ends in a number: use a host name or a dotted IPv4 address";
    return NULL;
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
    /* "https://good.com@evil.com/" leads to evil.com; nobody needs user
     * information in a link they hand out, and browsers drop or warn on it. */
    if (uri.userInfo.first) {
        why = "URL must not contain user information (user@host)";
        goto out;
    }
    if (range_empty(&uri.hostText)) {
        why = "URL has no host";
        goto out;
    }
    if ((why = host_problem(&uri)))
        goto out;
    if (!port_ok(&uri.portText)) {
        why = "URL port out of range (1-65535)";
        goto out;
    }

out:
    if (parsed)
        uriFreeUriMembersA(&uri);
    if (why && reason)
        *reason = why;
    return why ? LNK_EINVAL : LNK_OK;
}

/* ---- redaction --------------------------------------------------------- */

#define REDACTED "***"

/* Length of the option value at v: up to white space, '&' or '#', or a
 * single-quoted string with backslash escapes (key=value form). */
static size_t option_value_len(const char *v)
{
    size_t i = 0;
    if (v[0] == '\'') {
        for (i = 1; v[i] && v[i] != '\''; i++)
            if (v[i] == '\\' && v[i + 1])
                i++;
        return v[i] ? i + 1 : i;
    }
    while (v[i] && v[i] != '&' && v[i] != '#' && v[i] != ' ' && v[i] != '\t' && v[i] != '\n')
        i++;
    return i;
}

/* Where the password of a URL's user information starts, and its length;
 * NULL when there is none. */
static const char *userinfo_password(const char *s, size_t *len)
{
    const char *auth = strstr(s, "://");
    if (!auth)
        return NULL;
    auth += 3;
    size_t end = strcspn(auth, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < end; i++)
        if (auth[i] == '@')
            at = auth + i; /* the last '@' ends the user information */
    if (!at)
        return NULL;
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (!colon)
        return NULL;
    *len = (size_t)(at - colon - 1);
    return colon + 1;
}

static bool password_key_at(const char *s, const char *p)
{
    static const char key[] = "password";
    if (strncasecmp(p, key, sizeof(key) - 1) != 0)
        return false;
    const char *q = p + sizeof(key) - 1;
    while (*q == ' ')
        q++;
    if (*q != '=')
        return false;
    char before = p == s ? ' ' : p[-1];
    return before == ' ' || before == '?' || before == '&' || before == '\t';
}

void lnk_url_redact(const char *s, char *out, size_t cap)
{
    if (!cap)
        return;
    size_t pw_len = 0, o = 0;
    const char *pw = userinfo_password(s, &pw_len);
    for (const char *p = s; *p && o + 1 < cap;) {
        const char *skip = NULL;
        size_t n = 0;
        if (p == pw && pw_len) {
            skip = p;
            n = pw_len;
        } else if (password_key_at(s, p)) {
            const char *eq = strchr(p, '=') + 1;
            while (*eq == ' ')
                eq++;
            size_t head = (size_t)(eq - p);
            for (size_t i = 0; i < head && o + 1 < cap; i++)
                out[o++] = p[i];
            p = eq;
            skip = p;
            n = option_value_len(p);
        }
        if (skip) {
            for (const char *r = REDACTED; *r && o + 1 < cap; r++)
                out[o++] = *r;
            p += n;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
}
