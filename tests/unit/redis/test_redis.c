/* SPDX-License-Identifier: MIT */
/* The pure parts of the Redis client: REDIS_URL (bad input first, then the
 * forms clients use), the tier's encoding of a link, and invalidation
 * messages. The client itself runs against a real Redis in tests/redis. */
#include "check.h"

#include <stdio.h>
#include <string.h>

#include "linkd/err.h"
#include "linkd/redis.h"
#include "linkd/url.h"
#include "redis/redis_int.h"

static int parse(const char *url, struct lnk_redis_addr *a, char *err)
{
    return lnk_redis_url_parse(url, a, err, 160);
}

static void check_refused(const char *url, const char *why)
{
    struct lnk_redis_addr a;
    char err[160] = "";
    int rc = parse(url, &a, err);
    if (rc != LNK_EINVAL || !strstr(err, why) || strstr(err, "s3cret") || a.password[0]) {
        print_error("url %s: rc %d, err '%s'\n", url, rc, err);
        fail_msg("expected a refusal mentioning '%s', without the password", why);
    }
}

static void test_unusable_urls_are_refused_without_quoting_them(void **state)
{
    (void)state;
    check_refused("", "not a redis:// URL");
    check_refused("http://127.0.0.1:6379", "not a redis:// URL");
    check_refused("redis:/127.0.0.1", "not a redis:// URL");
    check_refused("rediss://:s3cret@h:6379", "TLS");
    check_refused("redis://:s3cret@", "no host");
    check_refused("redis://:s3cret@:6379/0", "no host");
    check_refused("redis://:s3cret@h:0", "port");
    check_refused("redis://:s3cret@h:65536", "port");
    check_refused("redis://:s3cret@h:63x9", "port");
    check_refused("redis://:s3cret@h:", "port");
    check_refused("redis://:s3cret@h/x", "database");
    check_refused("redis://:s3cret@h/-1", "database");
    check_refused("redis://:s3cret@h/2147483648", "database");
    check_refused("redis://:s3cret@h/0?timeout=1", "query");
    check_refused("redis://:s3cret@h/0#x", "query or fragment");
    check_refused("redis://:s3%zzret@h", "percent-encoding");
    check_refused("redis://:s3cret%00@h", "percent-encoding");
    check_refused("redis://user@h", "needs a password");
    check_refused("redis://:s3cret@[::1", "']'");
    check_refused("redis://:s3cret@[::1]x:6379", "after the IPv6");
    check_refused("redis://:s3cret@h%2f:6379", "character");
    check_refused("redis://:s3cret@h ost:6379", "character");
    char long_pw[700] = "redis://:";
    memset(long_pw + 9, 'p', 600);
    strcpy(long_pw + 609, "@h");
    check_refused(long_pw, "too long");
}

static void test_the_forms_redis_cli_takes_are_read(void **state)
{
    (void)state;
    struct lnk_redis_addr a;
    char err[160];
    CHECK(parse("redis://cache.internal", &a, err) == LNK_OK, "a host alone");
    CHECK(strcmp(a.host, "cache.internal") == 0 && a.port == 6379 && a.db == 0 && !a.password[0] &&
              !a.user[0],
          "defaults: port 6379, db 0, no AUTH");
    CHECK(parse("redis://127.0.0.1:6380/", &a, err) == LNK_OK && a.port == 6380 && a.db == 0,
          "a port, an empty path");
    CHECK(parse("redis://:s3cret@10.0.0.5:6379/7", &a, err) == LNK_OK, "a password and a db");
    CHECK(strcmp(a.password, "s3cret") == 0 && !a.user[0] && a.db == 7, "AUTH password, SELECT 7");
    CHECK(parse("redis://linkd:pa:ss@h/1", &a, err) == LNK_OK, "an ACL user");
    CHECK(strcmp(a.user, "linkd") == 0 && strcmp(a.password, "pa:ss") == 0,
          "the first ':' ends the user name");
    CHECK(parse("redis://:p%40ss%2Fw@h", &a, err) == LNK_OK && strcmp(a.password, "p@ss/w") == 0,
          "percent-encoded '@' and '/' in a password");
    CHECK(parse("redis://:p@ss@h:1", &a, err) == LNK_OK && strcmp(a.password, "p@ss") == 0 &&
              strcmp(a.host, "h") == 0,
          "the last '@' ends the user information");
    CHECK(parse("redis://[::1]:6390/2", &a, err) == LNK_OK && strcmp(a.host, "::1") == 0 &&
              a.port == 6390 && a.db == 2,
          "an IPv6 literal");
    CHECK(parse("redis://h/2147483647", &a, err) == LNK_OK && a.db == 2147483647u,
          "the largest db");
}

static void test_what_parses_is_shown_without_its_password(void **state)
{
    (void)state;
    const char *urls[] = {"redis://:s3cret@h:6379/0", "redis://u:s3cret@h", "redis://:s3:cret@h",
                          "redis://:s3cret@@h"};
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct lnk_redis_addr a;
        char err[160], shown[128];
        CHECK(parse(urls[i], &a, err) == LNK_OK, "parses");
        lnk_url_redact(urls[i], shown, sizeof(shown));
        CHECK(!strstr(shown, "s3") && strstr(shown, "***"), "the redaction finds the password");
    }
}

static void test_a_link_round_trips_and_bad_values_are_refused(void **state)
{
    (void)state;
    struct lnk_arena a;
    struct lnk_redis_link in = {42, 7, true, "https://example.com/a?b=c", 25}, out;
    lnk_arena_init(&a);
    struct lnk_str v = lnk_redis_link_encode(&in, &a);
    CHECK(lnk_str_eq_cstr(v, "42 7 1 https://example.com/a?b=c"), "the stored form");
    CHECK(lnk_redis_link_decode(v, &out) == LNK_OK, "decodes");
    CHECK(out.id == 42 && out.owner == 7 && out.active && out.url_len == 25 &&
              memcmp(out.url, in.url, 25) == 0,
          "the same link");
    struct lnk_redis_link with = {43, 7, false, "https://x.y/", 12, "{\"tags\": [\"a b\"]}", 17};
    v = lnk_redis_link_encode(&with, &a);
    CHECK(lnk_str_eq_cstr(v, "43 7 0 https://x.y/ {\"tags\": [\"a b\"]}"),
          "the options follow the url after a space");
    CHECK(lnk_redis_link_decode(v, &out) == LNK_OK, "decodes with options");
    CHECK(out.url_len == 12 && memcmp(out.url, "https://x.y/", 12) == 0 && out.opts_len == 17 &&
              memcmp(out.opts, with.opts, 17) == 0 && !out.active,
          "the url and its options, spaces inside the options kept");
    const char *bad[] = {"",
                         "42",
                         "42 7",
                         "42 7 1",
                         "42 7 1 ",
                         "42 7 2 https://x.y",
                         "x 7 1 https://x.y",
                         "0 7 1 https://x.y",
                         "42 7 1 https://x.y z",
                         "42 7 1 https://x.y ",
                         "42  7 1 https://x.y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(lnk_redis_link_decode(lnk_str_from_cstr(bad[i]), &out) == LNK_EINVAL,
              "a malformed value is refused (read as a miss)");
    lnk_arena_cleanup(&a);
}

struct seen {
    int n;
    int64_t ids[8];
    char codes[8][16];
};

static void remember(void *udata, int64_t id, struct lnk_str code)
{
    struct seen *s = udata;
    s->ids[s->n] = id;
    snprintf(s->codes[s->n], sizeof(s->codes[0]), "%.*s", (int)code.len, code.ptr ? code.ptr : "");
    s->n++;
}

static void test_an_invalidation_message_round_trips(void **state)
{
    (void)state;
    struct lnk_arena a;
    struct seen s = {0};
    struct lnk_redis_changed links[] = {{5, "abcDEF"}, {0, "custom-1"}, {9, NULL}};
    lnk_arena_init(&a);
    struct lnk_str msg = lnk_redis_message_build(links, 3, &a);
    CHECK(lnk_str_eq_cstr(msg, "5 abcDEF\n0 custom-1\n9 \n"), "one line per link");
    CHECK(lnk_redis_message_each(msg, remember, &s) == 3 && s.n == 3, "every line is read");
    CHECK(s.ids[0] == 5 && strcmp(s.codes[0], "abcDEF") == 0, "id and code");
    CHECK(s.ids[1] == 0 && strcmp(s.codes[1], "custom-1") == 0, "an unknown id");
    CHECK(s.ids[2] == 9 && s.codes[2][0] == '\0', "no code");
    s.n = 0;
    CHECK(lnk_redis_message_each(LNK_STR("x y\n-1 a\n1 a b\n\n7 ok"), remember, &s) == 1 &&
              s.ids[0] == 7 && strcmp(s.codes[0], "ok") == 0,
          "malformed lines are skipped; a last line without newline counts");
    lnk_arena_cleanup(&a);
}

static void test_channels_name_their_db_and_scripts_their_sha(void **state)
{
    (void)state;
    char ch[64];
    lnk_redis_channel_name(3, ch, sizeof(ch));
    CHECK(strcmp(ch, "linkd:invalidate:3") == 0, "the db is in the channel name");
    for (int s = 0; s < LNK_SCRIPTS; s++)
        CHECK(strlen(lnk_redis_script_sha((enum lnk_redis_script)s)) == 40, "a SHA1 in hex");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unusable_urls_are_refused_without_quoting_them),
        cmocka_unit_test(test_the_forms_redis_cli_takes_are_read),
        cmocka_unit_test(test_what_parses_is_shown_without_its_password),
        cmocka_unit_test(test_a_link_round_trips_and_bad_values_are_refused),
        cmocka_unit_test(test_an_invalidation_message_round_trips),
        cmocka_unit_test(test_channels_name_their_db_and_scripts_their_sha),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
