/* SPDX-License-Identifier: MIT */
/* URL validation (CONTRACT.md §4.9, "Deceitful Scroll"): everything that is
 * not an absolute http(s) URL with a host is refused with a reason; so are
 * destinations that mislead about where they lead (user information, port 0,
 * hosts that are not host names or IP literals, docs/security.md#destinations).
 * Real URLs with queries, fragments, ports, IPv4/IPv6 literals, punycode
 * hosts and escapes pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "linkd/err.h"
#include "linkd/model.h"
#include "linkd/url.h"

static int validate(const char *s, const char **reason)
{
    return lnk_url_validate(s, strlen(s), reason);
}

static void test_rejects_non_http_and_hostless_urls(void **state)
{
    (void)state;
    const char *bad[] = {
        "hello",
        "example.com",
        "www.example.com/path",
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,hi",
        "ftp://x.com",
        "file:///etc/passwd",
        "mailto:a@b.c",
        "http://",
        "https://",
        "https:///path",
        "http:///",
        "http:example.com",
        "//example.com/path",
        "/relative/path",
        "http//example.com",
        "httpx://example.com",
        "http://:80/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *reason = NULL;
        CHECK(validate(bad[i], &reason) == LNK_EINVAL, "non-http(s) or hostless URL rejected");
        CHECK(reason != NULL && reason[0] != '\0', "a reason is given");
    }
    const char *reason = NULL;
    CHECK(validate("ftp://x.com", &reason) == LNK_EINVAL &&
              strcmp(reason, "not an http(s) URL") == 0,
          "wrong scheme says so");
}

static void test_rejects_whitespace_control_and_nul(void **state)
{
    (void)state;
    const char *bad[] = {
        "http://exa mple.com/",  "http://example.com/a b",  " http://example.com/",
        "http://example.com/ ",  "http://example.com/\t",   "http://example.com/\n",
        "http://example.com/\r", "http://example.com/\x7f", "http://example.com/\x01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *reason = NULL;
        CHECK(validate(bad[i], &reason) == LNK_EINVAL, "white space or control byte rejected");
        CHECK(reason && strstr(reason, "white space") != NULL, "the reason names it");
    }
    const char *reason = NULL;
    CHECK(lnk_url_validate("http://a.com/\0x", 15, &reason) == LNK_EINVAL,
          "an embedded NUL is rejected");
}

static void test_rejects_non_ascii_asking_for_percent_encoding(void **state)
{
    (void)state;
    const char *reason = NULL;
    CHECK(validate("https://example.com/caf\xc3\xa9", &reason) == LNK_EINVAL,
          "raw UTF-8 in the path is rejected");
    CHECK(reason && strstr(reason, "percent-encoded") != NULL, "the reason asks for escapes");
    CHECK(validate("https://b\xc3\xbc\x63her.de/", &reason) == LNK_EINVAL,
          "a raw IDN host is rejected");
    CHECK(validate("https://example.com/\xff", &reason) == LNK_EINVAL, "invalid UTF-8 too");
}

static void test_rejects_empty_and_too_long(void **state)
{
    (void)state;
    const char *reason = NULL;
    CHECK(lnk_url_validate("", 0, &reason) == LNK_EINVAL, "empty URL rejected");
    const char *prefix = "https://example.com/";
    size_t n = strlen(prefix);
    char *s = malloc(LNK_URL_MAX + 2);
    memcpy(s, prefix, n);
    memset(s + n, 'a', LNK_URL_MAX + 1 - n);
    s[LNK_URL_MAX + 1] = '\0';
    CHECK(lnk_url_validate(s, LNK_URL_MAX + 1, &reason) == LNK_EINVAL, "2049 bytes is too long");
    CHECK(reason && strstr(reason, "2048") != NULL, "the reason names the limit");
    CHECK(lnk_url_validate(s, LNK_URL_MAX, &reason) == LNK_OK, "exactly 2048 bytes is fine");
    free(s);
}

static void test_rejects_malformed_syntax(void **state)
{
    (void)state;
    const char *bad[] = {
        "http://example.com/%zz",    "http://example.com/%4",   "http://[::1/",
        "http://exa<mple.com/",      "http://example.com:abc/", "http://example.com/\"x\"",
        "http://example.com:99999/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *reason = NULL;
        CHECK(validate(bad[i], &reason) == LNK_EINVAL, "malformed URL rejected");
    }
}

static void test_accepts_real_http_urls(void **state)
{
    (void)state;
    const char *good[] = {
        "http://example.com",
        "https://example.com/",
        "HTTPS://EXAMPLE.COM/Path",
        "HtTp://example.com",
        "https://opswise.net/urban/lagoon/1",
        "https://example.com/search?q=a+b&lang=en",
        "https://example.com/page#section-2",
        "https://example.com/a?x=1#frag",
        "http://example.com:8080/",
        "http://127.0.0.1:65535/x",
        "http://[::1]/",
        "http://[2001:db8::1]:8443/path",
        "https://example.com/caf%C3%A9",
        "https://sub.domain.example.co.uk/a/b/c.html",
        "http://localhost",
        "http://127.0.0.1:8080/",
        "http://[::1]/",
        "https://xn--bcher-kva.example/",
        "https://xn--80ak6aa92e.com/path",
        "https://a-b.c-d.example/",
        "https://1a.example/",
        "https://example.com./",
        "https://example.123abc/",
        "https://EXAMPLE.COM:443/",
        "http://example.com:/",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *reason = "unset";
        CHECK(validate(good[i], &reason) == LNK_OK, "a real http(s) URL is accepted");
        CHECK(strcmp(reason, "unset") == 0, "reason untouched on success");
    }
    CHECK(lnk_url_validate("https://example.com/", 20, NULL) == LNK_OK, "reason may be NULL");
    CHECK(lnk_url_validate("https://example.com/ trailing", 20, NULL) == LNK_OK,
          "only len bytes are read");
}

/* One row of the host table: the URL and a word its reason must hold. */
struct bad_url {
    const char *url;
    const char *reason_word;
};

static void test_rejects_misleading_destinations(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct bad_url bad[] = {
        /* user information hides the real host: good.com is a user name */
        {"https://good.com@evil.com/", "user information"},
        {"http://@evil.com/", "user information"},
        {"https://user:pw@example.com/", "user information"},
        {"https://user:pa%3Ass@host.example/p", "user information"},
        {"http://a@b@c/", "malformed"},
        /* port 0 is no TCP port a client can reach */
        {"http://example.com:0/", "port"},
        {"http://example.com:00/", "port"},
        /* hosts that are not host names */
        {"https://.../", "host name"},
        {"https://-.-/", "host name"},
        {"https://./", "host name"},
        {"https://a..b/", "host name"},
        {"https://.example.com/", "host name"},
        {"https://-a.example/", "host name"},
        {"https://a-.example/", "host name"},
        {"https://a_b.example/", "host name"},
        {"https://a!b.example/", "host name"},
        {"https://ex$ample.com/", "host name"},
        {"https://example.com../", "host name"},
        /* a host a browser reads as an IPv4 number */
        {"https://1/", "number"},
        {"https://1.2.3/", "number"},
        {"https://256.1.1.1/", "number"},
        {"https://1.2.3.4.5/", "number"},
        {"https://example.123/", "number"},
        {"https://0x7f000001/", "number"},
        {"https://a.0X1F/", "number"},
        {"https://a.0x/", "number"},
        {"https://4294967295/", "number"},
        /* a percent-encoded host is not the name the reader sees */
        {"https://%65vil.com/", "percent-encoded"},
        {"https://evil%2Ecom/", "percent-encoded"},
        {"https://ex%41mple.com/", "percent-encoded"},
        /* other literal forms */
        {"http://[v1.fe]/", "IP"},
    };
    /* clang-format on */
    size_t wrong = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *reason = NULL;
        int rc = validate(bad[i].url, &reason);
        if (rc != LNK_EINVAL || !reason || !strstr(reason, bad[i].reason_word)) {
            print_error("%s -> %s\n", bad[i].url, rc == LNK_OK ? "accepted" : reason);
            wrong++;
        }
    }
    CHECK(wrong == 0, "each misleading destination is rejected with a reason that says why");
}

static void test_host_name_length_limits(void **state)
{
    (void)state;
    char url[512];
    char label63[64], label64[65];
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    snprintf(url, sizeof(url), "https://%s.example/", label63);
    CHECK(validate(url, NULL) == LNK_OK, "a 63-character label is fine");
    const char *reason = NULL;
    snprintf(url, sizeof(url), "https://%s.example/", label64);
    CHECK(validate(url, &reason) == LNK_EINVAL && strstr(reason, "63"),
          "a 64-character label is not");

    /* 4 * 63 + 3 dots = 255 characters; trim to exactly 253 and 254 */
    char host[300];
    snprintf(host, sizeof(host), "%s.%s.%s.%s", label63, label63, label63, label63);
    host[253] = '\0';
    CHECK(host[252] != '.', "the 253-character host ends in a letter");
    snprintf(url, sizeof(url), "https://%s/", host);
    CHECK(validate(url, NULL) == LNK_OK, "a 253-character host name is fine");
    snprintf(url, sizeof(url), "https://%s./", host);
    CHECK(validate(url, NULL) == LNK_OK, "so is the same name with a final dot");
    snprintf(host, sizeof(host), "%s.%s.%s.%s", label63, label63, label63, label63);
    host[254] = '\0';
    snprintf(url, sizeof(url), "https://%s/", host);
    CHECK(validate(url, &reason) == LNK_EINVAL && strstr(reason, "253"),
          "a 254-character host name is not");
}

static void check_redacted(const char *in, const char *want)
{
    char out[256];
    lnk_url_redact(in, out, sizeof(out));
    if (strcmp(out, want) != 0)
        fail_msg("redact(%s) = %s, want %s", in, out, want);
}

static void test_redacts_passwords_in_database_locations(void **state)
{
    (void)state;
    check_redacted("postgres://linkd:s3cret@db:5432/linkd", "postgres://linkd:***@db:5432/linkd");
    check_redacted("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db");
    check_redacted("postgres://linkd@db/linkd", "postgres://linkd@db/linkd");
    check_redacted("postgres://db/linkd?user=u&password=x%20y&sslmode=require",
                   "postgres://db/linkd?user=u&password=***&sslmode=require");
    check_redacted("host=db user=u password=secret dbname=linkd",
                   "host=db user=u password=*** dbname=linkd");
    check_redacted("host=db password = 'a b\\' c' dbname=linkd",
                   "host=db password = *** dbname=linkd");
    check_redacted("sqlite:///var/lib/linkd/linkd.db", "sqlite:///var/lib/linkd/linkd.db");
    check_redacted("sqlite:///srv/password=1/linkd.db", "sqlite:///srv/password=1/linkd.db");
    char small[12];
    lnk_url_redact("postgres://u:secret@h/db", small, sizeof(small));
    CHECK(strcmp(small, "postgres://") == 0, "a short buffer gets a terminated prefix");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_non_http_and_hostless_urls),
        cmocka_unit_test(test_rejects_whitespace_control_and_nul),
        cmocka_unit_test(test_rejects_non_ascii_asking_for_percent_encoding),
        cmocka_unit_test(test_rejects_empty_and_too_long),
        cmocka_unit_test(test_rejects_malformed_syntax),
        cmocka_unit_test(test_accepts_real_http_urls),
        cmocka_unit_test(test_rejects_misleading_destinations),
        cmocka_unit_test(test_host_name_length_limits),
        cmocka_unit_test(test_redacts_passwords_in_database_locations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
