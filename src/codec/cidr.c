/* SPDX-License-Identifier: MIT */
/* Address parsing with inet_pton, prefix matching on the 128-bit form, and
 * the X-Forwarded-For walk. */
#include "linkd/cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "linkd/err.h"

int lnk_ip_parse(struct lnk_str s, struct lnk_ip *out)
{
    char buf[64];
    s = lnk_str_trim(s);
    if (s.len == 0 || s.len >= sizeof(buf))
        return LNK_EINVAL;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->b + 12) == 1) {
        out->b[10] = out->b[11] = 0xff;
        return LNK_OK;
    }
    return inet_pton(AF_INET6, buf, out->b) == 1 ? LNK_OK : LNK_EINVAL;
}

static bool is_v4(const struct lnk_ip *ip)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(ip->b, prefix, 12) == 0;
}

void lnk_ip_format(const struct lnk_ip *ip, char *out, size_t cap)
{
    if (!inet_ntop(is_v4(ip) ? AF_INET : AF_INET6, is_v4(ip) ? ip->b + 12 : ip->b, out,
                   (socklen_t)cap))
        snprintf(out, cap, "?");
}

bool lnk_ip_is_loopback(const struct lnk_ip *ip)
{
    static const uint8_t v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return is_v4(ip) ? ip->b[12] == 127 : memcmp(ip->b, v6_loop, 16) == 0;
}

static bool prefix_match(const struct lnk_cidr *c, const struct lnk_ip *ip)
{
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->net.b, ip->b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->net.b[full] & mask) == (ip->b[full] & mask);
}

static int parse_entry(struct lnk_str e, struct lnk_cidr *out)
{
    const char *slash = memchr(e.ptr, '/', e.len);
    struct lnk_str addr = slash ? lnk_str_make(e.ptr, (size_t)(slash - e.ptr)) : e;
    if (lnk_ip_parse(addr, &out->net) != LNK_OK)
        return LNK_EINVAL;
    unsigned max = is_v4(&out->net) ? 32 : 128;
    long long bits = max;
    if (slash) {
        struct lnk_str b = lnk_str_make(slash + 1, e.len - (size_t)(slash + 1 - e.ptr));
        if (lnk_str_to_i64(b, &bits) != LNK_OK || bits < 0 || bits > (long long)max)
            return LNK_EINVAL;
    }
    out->bits = (uint8_t)(bits + (max == 32 ? 96 : 0));
    return LNK_OK;
}

int lnk_cidr_list_parse(const char *s, struct lnk_cidr_list *out, char *err, size_t errcap)
{
    out->n = 0;
    const char *p = s ? s : "";
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        struct lnk_str e = lnk_str_trim(lnk_str_make(p, len));
        if (e.len > 0) {
            if (out->n == LNK_CIDR_MAX) {
                snprintf(err, errcap, "more than %d entries", LNK_CIDR_MAX);
                return LNK_ETOOBIG;
            }
            if (parse_entry(e, &out->e[out->n]) != LNK_OK) {
                snprintf(err, errcap, "'%.*s' is not an address or CIDR", (int)e.len, e.ptr);
                return LNK_EINVAL;
            }
            out->n++;
        }
        p += len + (comma ? 1 : 0);
    }
    return LNK_OK;
}

bool lnk_cidr_list_contains(const struct lnk_cidr_list *l, const struct lnk_ip *ip)
{
    for (size_t i = 0; i < l->n; i++)
        if (prefix_match(&l->e[i], ip))
            return true;
    return false;
}

struct lnk_ip lnk_cidr_client_ip(const struct lnk_cidr_list *trusted, const struct lnk_ip *peer,
                                 struct lnk_str xff)
{
    struct lnk_ip client = *peer, ip;
    if (!lnk_cidr_list_contains(trusted, peer))
        return client;
    size_t end = xff.len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff.ptr[start - 1] != ',')
            start--;
        if (lnk_ip_parse(lnk_str_make(xff.ptr + start, end - start), &ip) != LNK_OK)
            break;
        client = ip;
        if (!lnk_cidr_list_contains(trusted, &ip))
            break;
        end = start > 0 ? start - 1 : 0;
    }
    return client;
}
