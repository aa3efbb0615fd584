/* SPDX-License-Identifier: MIT */
/* Addresses, CIDR lists and the X-Forwarded-For walk, bad input first. */
#include "check.h"

#include <string.h>

#include "linkd/cidr.h"
#include "linkd/err.h"

static struct lnk_ip ip(const char *s)
{
    struct lnk_ip out;
    lnk_ip_parse(lnk_str_from_cstr(s), &out);
    return out;
}

static void test_bad_addresses_and_lists_are_rejected(void **state)
{
    (void)state;
    struct lnk_ip a;
    struct lnk_cidr_list l;
    char err[128];
    const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "::g", "1.2.3.4:80", "[::1]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(lnk_ip_parse(lnk_str_from_cstr(bad[i]), &a) == LNK_EINVAL, "malformed address");
    CHECK(lnk_cidr_list_parse("10.0.0.0/33", &l, err, sizeof(err)) == LNK_EINVAL,
          "IPv4 prefix over 32");
    CHECK(strstr(err, "10.0.0.0/33") != NULL, "the error names the entry");
    CHECK(lnk_cidr_list_parse("::/129", &l, err, sizeof(err)) == LNK_EINVAL,
          "IPv6 prefix over 128");
    CHECK(lnk_cidr_list_parse("10.0.0.0/x", &l, err, sizeof(err)) == LNK_EINVAL, "bad prefix");
    CHECK(lnk_cidr_list_parse("", &l, err, sizeof(err)) == LNK_OK && l.n == 0, "empty list");
}

static void test_loopback_and_membership(void **state)
{
    (void)state;
    struct lnk_cidr_list l;
    char err[128], text[64];
    struct lnk_ip a = ip("127.0.0.9"), b = ip("::1"), c = ip("10.1.2.3"), d = ip("fd00::1");
    CHECK(lnk_ip_is_loopback(&a) && lnk_ip_is_loopback(&b), "127/8 and ::1 are loopback");
    CHECK(!lnk_ip_is_loopback(&c), "10.1.2.3 is not loopback");
    CHECK(lnk_cidr_list_parse(" 10.0.0.0/8 , fd00::/8,192.168.1.1", &l, err, sizeof(err)) == LNK_OK,
          "list parsed");
    CHECK(l.n == 3, "three entries");
    struct lnk_ip e = ip("192.168.1.1"), f = ip("192.168.1.2"), g = ip("11.0.0.1");
    CHECK(lnk_cidr_list_contains(&l, &c) && lnk_cidr_list_contains(&l, &d) &&
              lnk_cidr_list_contains(&l, &e),
          "members match");
    CHECK(!lnk_cidr_list_contains(&l, &f) && !lnk_cidr_list_contains(&l, &g), "non-members do not");
    lnk_ip_format(&c, text, sizeof(text));
    CHECK(strcmp(text, "10.1.2.3") == 0, "IPv4 formats dotted");
}

static void test_forwarded_for_is_believed_only_from_trusted_peers(void **state)
{
    (void)state;
    struct lnk_cidr_list trusted;
    char err[128], text[64];
    lnk_cidr_list_parse("127.0.0.1, 10.0.0.0/8", &trusted, err, sizeof(err));
    struct lnk_ip peer = ip("203.0.113.5"), proxy = ip("127.0.0.1");
    struct lnk_ip got = lnk_cidr_client_ip(&trusted, &peer, LNK_STR("1.1.1.1"));
    lnk_ip_format(&got, text, sizeof(text));
    CHECK(strcmp(text, "203.0.113.5") == 0, "an untrusted peer's header is ignored");
    got = lnk_cidr_client_ip(&trusted, &proxy, LNK_STR("6.6.6.6, 198.51.100.7, 10.0.0.2"));
    lnk_ip_format(&got, text, sizeof(text));
    CHECK(strcmp(text, "198.51.100.7") == 0, "the rightmost untrusted address is the client");
    got = lnk_cidr_client_ip(&trusted, &proxy, LNK_STR("garbage, 10.0.0.2"));
    lnk_ip_format(&got, text, sizeof(text));
    CHECK(strcmp(text, "10.0.0.2") == 0, "a malformed entry stops the walk");
    got = lnk_cidr_client_ip(&trusted, &proxy, LNK_STR(""));
    lnk_ip_format(&got, text, sizeof(text));
    CHECK(strcmp(text, "127.0.0.1") == 0, "no header: the proxy itself");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_addresses_and_lists_are_rejected),
        cmocka_unit_test(test_loopback_and_membership),
        cmocka_unit_test(test_forwarded_for_is_believed_only_from_trusted_peers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
