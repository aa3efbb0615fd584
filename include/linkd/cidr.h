/* SPDX-License-Identifier: MIT */
/* IP addresses and CIDR lists, for LINKD_TRUSTED_PROXIES and client-address
 * decisions (loopback, trusted proxy). IPv4 addresses are held as
 * IPv4-mapped IPv6 so one comparison serves both. Thread-safe. */
#ifndef LNK_CIDR_H
#define LNK_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/str.h"

#define LNK_CIDR_MAX 32 /* entries in one list */

struct lnk_ip {
    uint8_t b[16]; /* network order; IPv4 as ::ffff:a.b.c.d */
};

struct lnk_cidr {
    struct lnk_ip net;
    uint8_t bits; /* prefix length over the 128-bit form */
};

struct lnk_cidr_list {
    size_t n;
    struct lnk_cidr e[LNK_CIDR_MAX];
};

/* A numeric IPv4 or IPv6 address (no port, no brackets, no zone). */
int lnk_ip_parse(struct lnk_str s, struct lnk_ip *out);
/* Writes the address in its usual text form (IPv4 dotted for mapped ones). */
void lnk_ip_format(const struct lnk_ip *ip, char *out, size_t cap);
bool lnk_ip_is_loopback(const struct lnk_ip *ip);

/* "10.0.0.0/8, 127.0.0.1, ::1/128": comma-separated, blanks ignored, an entry
 * without a prefix is a single address. LNK_EINVAL (err says which entry) for
 * a malformed entry, LNK_ETOOBIG past LNK_CIDR_MAX. Empty input: empty list. */
int lnk_cidr_list_parse(const char *s, struct lnk_cidr_list *out, char *err, size_t errcap);
bool lnk_cidr_list_contains(const struct lnk_cidr_list *l, const struct lnk_ip *ip);

/* The client of a request that came from `peer` with X-Forwarded-For `xff`
 * (may be empty): when peer is a trusted proxy, the rightmost address in xff
 * that is not itself trusted (the leftmost if all are); otherwise the peer.
 * Malformed xff entries stop the walk. */
struct lnk_ip lnk_cidr_client_ip(const struct lnk_cidr_list *trusted, const struct lnk_ip *peer,
                                 struct lnk_str xff);

#endif
