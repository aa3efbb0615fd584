/* SPDX-License-Identifier: MIT */
/* The request-head check (src/http/head.h): heads libh2o's parser refuses,
 * then the framing RFC 9112 forbids, then heads that pass, incomplete ones,
 * and that bytes after the head are never looked at. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/head.h"
#include "linkd/err.h"

static int check(const char *s, struct lnk_http_head *h)
{
    return lnk_http_head_check(s, strlen(s), h);
}

static bool rejected_naming(const char *s, const char *word)
{
    struct lnk_http_head h;
    return check(s, &h) == LNK_EINVAL && h.error && strstr(h.error, word);
}

static void test_unparsable_heads_are_rejected(void **state)
{
    (void)state;
    struct lnk_http_head h;
    const char *bad[] = {"GARBAGE\r\n\r\n",
                         "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
                         "GET / HTTP/1.1\r\nHost: a\x01z\r\n\r\n",
                         "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
                         "GET / HTTP/1.1\rHost: x\r\n\r\n",
                         " / HTTP/1.1\r\nHost: x\r\n\r\n",
                         "GET  HTTP/1.1\r\nHost: x\r\n\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(check(bad[i], &h) == LNK_EINVAL && h.error && strstr(h.error, "malformed"),
              "a head the parser refuses is rejected as malformed");
    const char nul[] = "GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(lnk_http_head_check(nul, sizeof(nul) - 1, &h) == LNK_EINVAL, "a NUL byte is rejected");
}

static void test_more_than_100_fields_are_rejected_as_such(void **state)
{
    (void)state;
    char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 99; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: 1\r\n", i);
    struct lnk_http_head h;
    memcpy(buf + n, "\r\n", 3);
    CHECK(check(buf, &h) == LNK_OK, "100 fields are fine");
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-last: 1\r\n\r\n");
    CHECK(check(buf, &h) == LNK_EINVAL && strstr(h.error, "100 header fields"),
          "field 101 is one too many, and the error says so");
}

static void test_ambiguous_framing_is_rejected(void **state)
{
    (void)state;
    CHECK(rejected_naming("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n",
                          "Transfer-Encoding"),
          "Content-Length with Transfer-Encoding");
    CHECK(rejected_naming("POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n"
                          "CONTENT-LENGTH: 5\r\n\r\n",
                          "Content-Length"),
          "in either order and any case");
    CHECK(rejected_naming("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                          "Content-Length: 40\r\n\r\n",
                          "more than one Content-Length"),
          "two lengths");
    CHECK(rejected_naming("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                          "Content-Length: 2\r\n\r\n",
                          "more than one Content-Length"),
          "two equal lengths too");
    CHECK(rejected_naming("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n",
                          "more than one Transfer-Encoding"),
          "two codings");
}

static void test_folding_and_host_rules(void **state)
{
    (void)state;
    CHECK(rejected_naming("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", "folding"),
          "a field line starting with a space is obs-fold");
    CHECK(rejected_naming("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", "folding"),
          "a field line starting with a tab is obs-fold");
    CHECK(rejected_naming("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "missing Host"),
          "HTTP/1.1 needs Host");
    CHECK(rejected_naming("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", "more than one Host"),
          "exactly one Host");
    CHECK(rejected_naming("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host"),
          "at most one Host on HTTP/1.0");
}

static void test_acceptable_heads_pass_with_their_length(void **state)
{
    (void)state;
    struct lnk_http_head h;
    const char *get = "GET /abc?x=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(check(get, &h) == LNK_OK && h.len == strlen(get), "a plain GET; len is the whole head");
    CHECK(lnk_str_eq_cstr(h.method, "GET") && lnk_str_eq_cstr(h.path, "/abc?x=1") &&
              h.minor_version == 1,
          "method, path and version are reported");
    CHECK(check("GET / HTTP/1.0\r\n\r\n", &h) == LNK_OK && h.minor_version == 0,
          "HTTP/1.0 may leave out Host");
    CHECK(check("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n", &h) == LNK_OK,
          "one length");
    CHECK(check("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", &h) == LNK_OK,
          "one coding");
    CHECK(check("GET / HTTP/1.1\nHost: x\n\n", &h) == LNK_OK, "bare LF line ends, as libh2o");
}

static void test_incomplete_heads_wait_and_trailing_bytes_are_ignored(void **state)
{
    (void)state;
    struct lnk_http_head h;
    CHECK(check("", &h) == LNK_EEOF, "nothing yet");
    CHECK(check("GET / HTTP/1.1\r\nHost: x\r\n", &h) == LNK_EEOF, "no blank line yet");
    CHECK(check("GET / HTTP/1.1\r\nHost: x\r\nContent-Le", &h) == LNK_EEOF, "cut in a name");
    const char *two = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE \x01\r\nHost: y\r\n\r\n";
    CHECK(check(two, &h) == LNK_OK && h.len == strlen("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
          "what follows the head (a body, the next request) is not checked");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unparsable_heads_are_rejected),
        cmocka_unit_test(test_more_than_100_fields_are_rejected_as_such),
        cmocka_unit_test(test_ambiguous_framing_is_rejected),
        cmocka_unit_test(test_folding_and_host_rules),
        cmocka_unit_test(test_acceptable_heads_pass_with_their_length),
        cmocka_unit_test(test_incomplete_heads_wait_and_trailing_bytes_are_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
