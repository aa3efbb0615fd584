/* SPDX-License-Identifier: MIT */
/* REDIS_URL: redis://[[user]:password@]host[:port][/db], the form redis-cli
 * -u and the common clients take. Pure; errors never quote the URL, since it
 * may hold a password. */
#include <stdio.h>
#include <string.h>

#include "linkd/err.h"
#include "linkd/redis.h"
#include "linkd/str.h"

#define SCHEME    "redis://"
#define DB_MAX    2147483647LL
#define PORT_DFLT 6379

static int fail(char *err, size_t errcap, const char *why)
{
    snprintf(err, errcap, "REDIS_URL: %s", why);
    return LNK_EINVAL;
}

/* Percent-decodes s into out (cap bytes with the NUL); LNK_EINVAL for a
 * bad escape or a decoded NUL, LNK_ETOOBIG when it does not fit. */
static int decode(struct lnk_str s, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < s.len;) {
        int c = s.ptr[i] == '%' ? lnk_str_pct_byte(s, &i) : (unsigned char)s.ptr[i++];
        if (c < 0)
            return LNK_EINVAL;
        if (o + 1 >= cap)
            return LNK_ETOOBIG;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return LNK_OK;
}

static int parse_userinfo(struct lnk_str ui, struct lnk_redis_addr *out, char *err, size_t errcap)
{
    const char *colon = memchr(ui.ptr, ':', ui.len);
    struct lnk_str user = colon ? lnk_str_make(ui.ptr, (size_t)(colon - ui.ptr)) : ui;
    struct lnk_str pass = colon ? lnk_str_make(colon + 1, ui.len - user.len - 1) : LNK_STR_NULL;
    int rc = decode(user, out->user, sizeof(out->user));
    if (rc == LNK_OK)
        rc = decode(pass, out->password, sizeof(out->password));
    if (rc == LNK_ETOOBIG)
        return fail(err, errcap, "the user name or password is too long");
    if (rc != LNK_OK)
        return fail(err, errcap, "bad percent-encoding in the user name or password");
    if (out->user[0] && !out->password[0])
        return fail(err, errcap, "a user name needs a password (redis://user:password@host)");
    return LNK_OK;
}

static int parse_port(struct lnk_str p, uint16_t *port, char *err, size_t errcap)
{
    long long n;
    if (lnk_str_to_i64(p, &n) != LNK_OK || n < 1 || n > 65535)
        return fail(err, errcap, "the port is not a number from 1 to 65535");
    *port = (uint16_t)n;
    return LNK_OK;
}

/* host[:port] or [v6]:port */
static int parse_hostport(struct lnk_str hp, struct lnk_redis_addr *out, char *err, size_t errcap)
{
    struct lnk_str host = hp, port = LNK_STR_NULL;
    if (hp.len && hp.ptr[0] == '[') {
        const char *close = memchr(hp.ptr, ']', hp.len);
        if (!close)
            return fail(err, errcap, "an IPv6 address is missing its ']'");
        host = lnk_str_make(hp.ptr + 1, (size_t)(close - hp.ptr - 1));
        struct lnk_str rest = lnk_str_make(close + 1, hp.len - host.len - 2);
        if (rest.len && rest.ptr[0] != ':')
            return fail(err, errcap, "unexpected characters after the IPv6 address");
        if (rest.len)
            port = lnk_str_make(rest.ptr + 1, rest.len - 1);
    } else {
        const char *colon = memchr(hp.ptr, ':', hp.len);
        if (colon) {
            host = lnk_str_make(hp.ptr, (size_t)(colon - hp.ptr));
            port = lnk_str_make(colon + 1, hp.len - host.len - 1);
        }
    }
    if (host.len == 0)
        return fail(err, errcap, "no host");
    if (host.len > LNK_REDIS_HOST_MAX)
        return fail(err, errcap, "the host name is too long");
    for (size_t i = 0; i < host.len; i++)
        if ((unsigned char)host.ptr[i] <= ' ' || host.ptr[i] == '%' || host.ptr[i] == 0x7f)
            return fail(err, errcap, "the host has a character no host name has");
    memcpy(out->host, host.ptr, host.len);
    out->host[host.len] = '\0';
    out->port = PORT_DFLT;
    return port.ptr ? parse_port(port, &out->port, err, errcap) : LNK_OK;
}

static int parse_db(struct lnk_str path, unsigned *db, char *err, size_t errcap)
{
    long long n;
    if (path.len <= 1) /* "" or "/" */
        return LNK_OK;
    struct lnk_str digits = lnk_str_make(path.ptr + 1, path.len - 1);
    if (digits.ptr[0] == '-' || lnk_str_to_i64(digits, &n) != LNK_OK || n < 0 || n > DB_MAX)
        return fail(err, errcap, "the path is not a database number (redis://host:6379/0)");
    *db = (unsigned)n;
    return LNK_OK;
}

int lnk_redis_url_parse(const char *url, struct lnk_redis_addr *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    struct lnk_str s = lnk_str_from_cstr(url);
    if (strncmp(url, "rediss://", 9) == 0)
        return fail(err, errcap,
                    "rediss:// (TLS) is not supported: reach a TLS Redis through a local TLS "
                    "proxy (docs/deploy.md)");
    if (s.len < sizeof(SCHEME) - 1 || strncmp(url, SCHEME, sizeof(SCHEME) - 1) != 0)
        return fail(err, errcap, "not a redis:// URL (redis://[[user]:password@]host[:port][/db])");
    const char *auth = url + sizeof(SCHEME) - 1;
    if (strpbrk(auth, "?#"))
        return fail(err, errcap, "a query or fragment is not supported");
    size_t auth_len = strcspn(auth, "/");
    /* The last '@' ends the user information, so a password may hold '@'
     * (lnk_url_redact reads it the same way). */
    const char *at = NULL;
    for (size_t i = 0; i < auth_len; i++)
        if (auth[i] == '@')
            at = auth + i;
    int rc = LNK_OK;
    if (at)
        rc = parse_userinfo(lnk_str_make(auth, (size_t)(at - auth)), out, err, errcap);
    const char *hp = at ? at + 1 : auth;
    if (rc == LNK_OK)
        rc = parse_hostport(lnk_str_make(hp, (size_t)(auth + auth_len - hp)), out, err, errcap);
    if (rc == LNK_OK)
        rc = parse_db(lnk_str_from_cstr(auth + auth_len), &out->db, err, errcap);
    if (rc != LNK_OK)
        memset(out, 0, sizeof(*out)); /* no password left behind */
    return rc;
}
