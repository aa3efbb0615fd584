/* SPDX-License-Identifier: MIT */
/* Trusted-proxy lists and the X-Forwarded-For walk. Input: a CIDR list up to
 * the first '\n', the peer address up to the second, then the header value.
 * Checks: a parsed list has at most LNK_CIDR_MAX entries with prefixes in
 * range; the client is the peer unless the peer is trusted; otherwise it is
 * the peer or an address that appears in the header; an address formats to
 * text that parses back to itself. */
#include <string.h>

#include "../fuzz.h"
#include "linkd/cidr.h"
#include "linkd/err.h"

static size_t line_end(const char *s, size_t from, size_t n)
{
    const char *nl = memchr(s + from, '\n', n - from);
    return nl ? (size_t)(nl - s) : n;
}

static bool same_ip(const struct lnk_ip *a, const struct lnk_ip *b)
{
    return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

/* True when ip is one of the comma-separated entries of xff. */
static bool in_header(struct lnk_str xff, const struct lnk_ip *ip)
{
    size_t start = 0;
    for (size_t i = 0; i <= xff.len; i++) {
        if (i < xff.len && xff.ptr[i] != ',')
            continue;
        struct lnk_ip e;
        if (lnk_ip_parse(lnk_str_make(xff.ptr + start, i - start), &e) == LNK_OK && same_ip(&e, ip))
            return true;
        start = i + 1;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    size_t a = line_end(s, 0, size), b = a < size ? line_end(s, a + 1, size) : size;
    char list_text[512];
    size_t ll = a < sizeof(list_text) - 1 ? a : sizeof(list_text) - 1;
    memcpy(list_text, s, ll);
    list_text[ll] = '\0';

    struct lnk_cidr_list list;
    char err[128];
    int rc = lnk_cidr_list_parse(list_text, &list, err, sizeof(err));
    FUZZ_CHECK(rc == LNK_OK || rc == LNK_EINVAL || rc == LNK_ETOOBIG, "documented results only");
    if (rc != LNK_OK)
        list.n = 0;
    FUZZ_CHECK(list.n <= LNK_CIDR_MAX, "bounded list");
    for (size_t i = 0; i < list.n; i++)
        FUZZ_CHECK(list.e[i].bits <= 128, "prefix within 128 bits");

    struct lnk_ip peer;
    struct lnk_str peer_text = a < size ? lnk_str_make(s + a + 1, b - a - 1) : LNK_STR_NULL;
    if (lnk_ip_parse(peer_text, &peer) == LNK_OK) {
        char text[64];
        struct lnk_ip again;
        lnk_ip_format(&peer, text, sizeof(text));
        FUZZ_CHECK(lnk_ip_parse(lnk_str_from_cstr(text), &again) == LNK_OK &&
                       same_ip(&again, &peer),
                   "format then parse gives the address back");
        struct lnk_str xff = b < size ? lnk_str_make(s + b + 1, size - b - 1) : LNK_STR_NULL;
        struct lnk_ip client = lnk_cidr_client_ip(&list, &peer, xff);
        if (!lnk_cidr_list_contains(&list, &peer))
            FUZZ_CHECK(same_ip(&client, &peer), "an untrusted peer is the client");
        else
            FUZZ_CHECK(same_ip(&client, &peer) || in_header(xff, &client),
                       "a trusted peer's client comes from the header");
    }
    free(s);
    return 0;
}
