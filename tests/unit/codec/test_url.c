/* SPDX-License-Identifier: MIT */
/* URL validation (CONTRACT.md §4.9, "Deceitful Scroll"): everything that is
 * not an absolute http(s) URL with a host is refused with a reason; real URLs
 * with queries, fragments, ports, IPv6 hosts and escapes pass. */
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
        "https://user:pw@example.com/",
        "https://sub.domain.example.co.uk/a/b/c.html",
        "http://localhost",
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_non_http_and_hostless_urls),
        cmocka_unit_test(test_rejects_whitespace_control_and_nul),
        cmocka_unit_test(test_rejects_non_ascii_asking_for_percent_encoding),
        cmocka_unit_test(test_rejects_empty_and_too_long),
        cmocka_unit_test(test_rejects_malformed_syntax),
        cmocka_unit_test(test_accepts_real_http_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
