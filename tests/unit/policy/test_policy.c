/* SPDX-License-Identifier: MIT */
/* Link options (include/linkd/policy.h): validation errors, PATCH semantics
 * and the canonical stored form of lnk_policy_build; every branch of
 * lnk_policy_decide; the user-agent classifier, Accept-Language, Argon2id
 * passwords, and GeoIP lookups on a MaxMind DB this test writes itself. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "linkd/arena.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/policy.h"
#include "mmdb_writer.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v)
        fail_msg("bad test JSON (%s): %s", e.text, text);
    return v;
}

/* lnk_policy_build on JSON texts; the stored text (free it) or NULL. */
static char *build(const char *input, const char *current, struct lnk_policy_error *err)
{
    json_t *in = parse(input), *cur = current ? parse(current) : NULL, *opts = NULL;
    int rc = lnk_policy_build(in, cur, &opts, err);
    char *text = NULL;
    if (rc == LNK_OK) {
        CHECK(opts != NULL, "LNK_OK comes with options");
        text = lnk_json_dump(opts, NULL);
    } else {
        CHECK(rc == LNK_EINVAL && opts == NULL, "an error is LNK_EINVAL without options");
    }
    json_decref(opts);
    json_decref(cur);
    json_decref(in);
    return text;
}

static void check_built(const char *input, const char *current, const char *want)
{
    struct lnk_policy_error err;
    char *got = build(input, current, &err);
    if (!got)
        fail_msg("%s: %s at %s (%s)", input, err.type, err.field, err.detail);
    if (strcmp(got, want) != 0)
        fail_msg("%s\n  got  %s\n  want %s", input, got, want);
    free(got);
}

static void check_error(const char *input, const char *current, const char *type, const char *field)
{
    struct lnk_policy_error err;
    char *got = build(input, current, &err);
    if (got)
        fail_msg("%s: accepted as %s", input, got);
    if (strcmp(err.type, type) != 0 || strcmp(err.field, field) != 0)
        fail_msg("%s: got %s at '%s', want %s at '%s'", input, err.type, err.field, type, field);
    CHECK(err.detail[0] != '\0', "every error has a sentence");
}

/* Appends s at *p. */
static void put(char **p, const char *s)
{
    size_t n = strlen(s);
    memcpy(*p, s, n + 1);
    *p += n;
}

/* prefix, n comma-separated copies of item, suffix (free it). */
static char *repeat(const char *prefix, const char *item, size_t n, const char *suffix)
{
    size_t len = strlen(prefix) + n * (strlen(item) + 1) + strlen(suffix) + 1;
    char *s = malloc(len), *p = s;
    put(&p, prefix);
    for (size_t i = 0; i < n; i++) {
        put(&p, i ? "," : "");
        put(&p, item);
    }
    put(&p, suffix);
    return s;
}

static void test_build_refuses_each_invalid_field(void **state)
{
    (void)state;
    static const struct {
        const char *input, *type, *field;
    } CASES[] = {
        {"{\"redirect_type\":303}", LNK_POLICY_E_FIELD, "/redirect_type"},
        {"{\"redirect_type\":\"301\"}", LNK_POLICY_E_FIELD, "/redirect_type"},
        {"{\"forward_query\":1}", LNK_POLICY_E_FIELD, "/forward_query"},
        {"{\"utm\":[]}", LNK_POLICY_E_FIELD, "/utm"},
        {"{\"utm\":{\"source\":\"\"}}", LNK_POLICY_E_FIELD, "/utm/source"},
        {"{\"utm\":{\"bogus\":\"x\"}}", LNK_POLICY_E_FIELD, "/utm/bogus"},
        {"{\"utm\":{\"term\":7}}", LNK_POLICY_E_FIELD, "/utm/term"},
        {"{\"tags\":\"a\"}", LNK_POLICY_E_FIELD, "/tags"},
        {"{\"tags\":[]}", LNK_POLICY_E_FIELD, "/tags"},
        {"{\"tags\":[\"ok\",\"   \"]}", LNK_POLICY_E_FIELD, "/tags/1"},
        {"{\"tags\":[\"a\\u0001b\"]}", LNK_POLICY_E_FIELD, "/tags/0"},
        {"{\"tags\":[\"a\\u0000b\"]}", LNK_POLICY_E_FIELD, "/tags/0"},
        {"{\"tags\":[1]}", LNK_POLICY_E_FIELD, "/tags/0"},
        {"{\"notes\":5}", LNK_POLICY_E_FIELD, "/notes"},
        {"{\"valid_from\":\"2026-12-01\"}", LNK_POLICY_E_TIME, "/valid_from"},
        {"{\"valid_from\":\"2026-12-01 00:00:00Z\"}", LNK_POLICY_E_TIME, "/valid_from"},
        {"{\"valid_from\":\"2026-12-01T00:00:00\"}", LNK_POLICY_E_TIME, "/valid_from"},
        {"{\"valid_from\":\"2026-12-01T00:00:00+02:00\"}", LNK_POLICY_E_TIME, "/valid_from"},
        {"{\"valid_until\":\"2026-02-30T00:00:00Z\"}", LNK_POLICY_E_TIME, "/valid_until"},
        {"{\"valid_from\":1764547200}", LNK_POLICY_E_FIELD, "/valid_from"},
        {"{\"valid_from\":\"2027-01-01T00:00:00Z\",\"valid_until\":\"2026-12-01T00:00:00Z\"}",
         LNK_POLICY_E_WINDOW, "/valid_until"},
        {"{\"valid_from\":\"2027-01-01T00:00:00Z\",\"valid_until\":\"2027-01-01T00:00:00Z\"}",
         LNK_POLICY_E_WINDOW, "/valid_until"},
        {"{\"max_clicks\":0}", LNK_POLICY_E_FIELD, "/max_clicks"},
        {"{\"max_clicks\":1.5}", LNK_POLICY_E_FIELD, "/max_clicks"},
        {"{\"fallback_url\":\"ftp://example.com/\"}", LNK_POLICY_E_URL, "/fallback_url"},
        {"{\"fallback_url\":true}", LNK_POLICY_E_FIELD, "/fallback_url"},
        {"{\"rules\":{}}", LNK_POLICY_E_FIELD, "/rules"},
        {"{\"rules\":[]}", LNK_POLICY_E_FIELD, "/rules"},
        {"{\"rules\":[7]}", LNK_POLICY_E_FIELD, "/rules/0"},
        {"{\"rules\":[{\"device\":[\"mobile\"]}]}", LNK_POLICY_E_FIELD, "/rules/0/url"},
        {"{\"rules\":[{\"url\":\"javascript:alert(1)\"}]}", LNK_POLICY_E_URL, "/rules/0/url"},
        {"{\"rules\":[{\"url\":\"https://a.example\",\"color\":[\"red\"]}]}", LNK_POLICY_E_FIELD,
         "/rules/0/color"},
        {"{\"rules\":[{\"url\":\"https://a.example\",\"device\":[\"phone\"]}]}", LNK_POLICY_E_FIELD,
         "/rules/0/device/0"},
        {"{\"rules\":[{\"url\":\"https://a.example\",\"device\":[]}]}", LNK_POLICY_E_FIELD,
         "/rules/0/device"},
        {"{\"rules\":[{\"url\":\"https://a.example\"},"
         "{\"url\":\"https://b.example\",\"os\":[\"ios\",\"beos\"]}]}",
         LNK_POLICY_E_FIELD, "/rules/1/os/1"},
        {"{\"rules\":[{\"url\":\"https://a.example\",\"lang\":[\"de_DE\"]}]}", LNK_POLICY_E_FIELD,
         "/rules/0/lang/0"},
        {"{\"rules\":[{\"url\":\"https://a.example\",\"lang\":[\"*\"]}]}", LNK_POLICY_E_FIELD,
         "/rules/0/lang/0"},
        {"{\"rules\":[{\"url\":\"https://a.example\",\"country\":[\"DEU\"]}]}", LNK_POLICY_E_FIELD,
         "/rules/0/country/0"},
        {"{\"rules\":[{\"url\":\"https://a.example\",\"query\":{\"a/b\":1}}]}", LNK_POLICY_E_FIELD,
         "/rules/0/query/a~1b"},
        {"{\"rules\":[{\"url\":\"https://a.example\",\"query\":{}}]}", LNK_POLICY_E_FIELD,
         "/rules/0/query"},
        {"{\"rules\":[{\"url\":\"https://a.example\",\"from\":\"soon\"}]}", LNK_POLICY_E_TIME,
         "/rules/0/from"},
        {"{\"rules\":[{\"url\":\"https://a.example\",\"from\":\"2026-12-27T00:00:00Z\","
         "\"until\":\"2026-12-24T00:00:00Z\"}]}",
         LNK_POLICY_E_WINDOW, "/rules/0/until"},
        {"{\"split\":[{\"url\":\"https://a.example\"}]}", LNK_POLICY_E_FIELD, "/split/0/weight"},
        {"{\"split\":[{\"weight\":5}]}", LNK_POLICY_E_FIELD, "/split/0/url"},
        {"{\"split\":[{\"url\":\"https://a.example\",\"weight\":0}]}", LNK_POLICY_E_FIELD,
         "/split/0/weight"},
        {"{\"split\":[{\"url\":\"https://a.example\",\"weight\":5,\"x\":1}]}", LNK_POLICY_E_FIELD,
         "/split/0/x"},
        {"{\"split\":[{\"url\":\"https://a.example\",\"weight\":1},"
         "{\"url\":\"gopher://b.example\",\"weight\":1}]}",
         LNK_POLICY_E_URL, "/split/1/url"},
        {"{\"split\":[{\"url\":\"https://a.example\",\"weight\":6000},"
         "{\"url\":\"https://b.example\",\"weight\":5000}]}",
         LNK_POLICY_E_WEIGHTS, "/split"},
        {"{\"password\":\"\"}", LNK_POLICY_E_FIELD, "/password"},
        {"{\"password\":42}", LNK_POLICY_E_FIELD, "/password"},
        {"{\"password\":\"hunter2\"}", LNK_POLICY_E_NOT_HASHED, "/password"},
        {"{\"password_hash\":\"$2y$10$abc\"}", LNK_POLICY_E_FIELD, "/password_hash"},
        /* Every other field is checked before the password asks for a hash. */
        {"{\"password\":\"hunter2\",\"redirect_type\":1}", LNK_POLICY_E_FIELD, "/redirect_type"},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++)
        check_error(CASES[i].input, NULL, CASES[i].type, CASES[i].field);

    struct lnk_policy_error err;
    json_t *arr = json_array(), *opts = (json_t *)1;
    CHECK(lnk_policy_build(arr, NULL, &opts, &err) == LNK_EINVAL && opts == NULL &&
              strcmp(err.type, LNK_POLICY_E_FIELD) == 0 && strcmp(err.field, "") == 0,
          "a body that is not an object is refused at the root");
    json_decref(arr);
}

static void test_build_enforces_limits(void **state)
{
    (void)state;
    char tag65[80] = "\"";
    memset(tag65 + 1, 'x', 65);
    memcpy(tag65 + 66, "\"", 2);
    char *s = repeat("{\"tags\":[", tag65, 1, "]}");
    check_error(s, NULL, LNK_POLICY_E_FIELD, "/tags/0");
    free(s);
    /* 64 characters of 2 bytes each are a valid tag; duplicates are folded. */
    s = repeat("{\"tags\":[",
               "\"\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
               "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
               "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
               "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
               "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
               "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
               "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
               "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\"",
               32, "]}");
    struct lnk_policy_error err;
    char *got = build(s, NULL, &err);
    CHECK(got && strstr(got, "\"tags\":[\"") && !strstr(got, "\",\""),
          "32 copies of a 64-character tag fold into one");
    free(got);
    free(s);

    s = repeat("{\"tags\":[", "\"t\"", 33, "]}");
    check_error(s, NULL, LNK_POLICY_E_TOO_MANY, "/tags");
    free(s);
    s = repeat("{\"rules\":[", "{\"url\":\"https://a.example\"}", 32, "]}");
    got = build(s, NULL, &err);
    CHECK(got != NULL, "32 rules are allowed");
    free(got);
    free(s);
    s = repeat("{\"rules\":[", "{\"url\":\"https://a.example\"}", 33, "]}");
    check_error(s, NULL, LNK_POLICY_E_TOO_MANY, "/rules");
    free(s);
    s = repeat("{\"split\":[", "{\"url\":\"https://a.example\",\"weight\":1}", 11, "]}");
    check_error(s, NULL, LNK_POLICY_E_TOO_MANY, "/split");
    free(s);
    s = repeat("{\"rules\":[{\"url\":\"https://a.example\",\"country\":[", "\"DE\"", 33, "]}]}");
    check_error(s, NULL, LNK_POLICY_E_TOO_MANY, "/rules/0/country");
    free(s);

    char q[64];
    s = malloc(33 * 16 + 128);
    char *p = s;
    put(&p, "{\"rules\":[{\"url\":\"https://a.example\",\"query\":{");
    for (int i = 0; i < 33; i++) {
        snprintf(q, sizeof(q), "%s\"k%d\":\"v\"", i ? "," : "", i);
        put(&p, q);
    }
    put(&p, "}}]}");
    check_error(s, NULL, LNK_POLICY_E_TOO_MANY, "/rules/0/query");
    free(s);

    s = malloc(LNK_POLICY_NOTES_MAX + 32);
    p = s;
    put(&p, "{\"notes\":\"");
    memset(p, 'n', LNK_POLICY_NOTES_MAX + 1);
    memcpy(p + LNK_POLICY_NOTES_MAX + 1, "\"}", 3);
    check_error(s, NULL, LNK_POLICY_E_TOO_MANY, "/notes");
    memcpy(p + LNK_POLICY_NOTES_MAX, "\"}", 3);
    got = build(s, NULL, &err);
    CHECK(got != NULL, "notes of exactly the limit are kept");
    free(got);
    free(s);
}

static void test_build_writes_the_canonical_form(void **state)
{
    (void)state;
    check_built("{}", NULL, "{}");
    check_built("{\"redirect_type\":302,\"forward_query\":false,\"notes\":\"\",\"utm\":{\"source\":"
                "null},\"url\":\"https://ignored.example\",\"title\":\"not an option\"}",
                NULL, "{}");
    check_built(
        "{\"split\":[{\"weight\":50,\"url\":\"https://a.example\"},"
        "{\"url\":\"https://b.example\",\"weight\":50}],"
        "\"rules\":[{\"until\":\"2026-12-27T00:00:00Z\",\"from\":\"2026-12-24T00:00:00Z\","
        "\"query\":{\"ref\":\"tw\"},\"country\":[\"de\",\"At\"],\"lang\":[\"DE\",\"fr-ch\"],"
        "\"os\":[\"ios\",\"android\"],\"device\":[\"mobile\",\"tablet\"],"
        "\"url\":\"https://m.example.com\"},{\"url\":\"https://x.example\",\"device\":null}],"
        "\"password_hash\":\"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA\","
        "\"fallback_url\":\"https://example.com/over\",\"max_clicks\":100,"
        "\"valid_until\":\"2027-01-01T00:00:00Z\",\"valid_from\":\"2026-12-01T00:00:00.5Z\","
        "\"notes\":\"free text\",\"tags\":[\" Spring \",\"MAIL\",\"spring\"],"
        "\"utm\":{\"content\":\"y\",\"source\":\"news\",\"medium\":null},"
        "\"forward_query\":true,\"redirect_type\":301}",
        NULL,
        "{\"redirect_type\":301,\"forward_query\":true,\"utm\":{\"source\":\"news\","
        "\"content\":\"y\"},\"tags\":[\"spring\",\"mail\"],\"notes\":\"free text\","
        "\"valid_from\":1796083200,\"valid_until\":1798761600,\"max_clicks\":100,"
        "\"fallback_url\":\"https://example.com/over\","
        "\"password_hash\":\"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA\","
        "\"rules\":[{\"url\":\"https://m.example.com\",\"device\":[\"mobile\",\"tablet\"],"
        "\"os\":[\"ios\",\"android\"],\"lang\":[\"de\",\"fr-ch\"],\"country\":[\"DE\","
        "\"AT\"],\"query\":{\"ref\":\"tw\"},\"from\":1798070400,\"until\":1798329600},"
        "{\"url\":\"https://x.example\"}],"
        "\"split\":[{\"url\":\"https://a.example\",\"weight\":50},"
        "{\"url\":\"https://b.example\",\"weight\":50}]}");
    check_built("{\"valid_from\":\"2025-12-01T00:00:00+00:00\"}", NULL,
                "{\"valid_from\":1764547200}");
}

static void test_build_patches_over_current(void **state)
{
    (void)state;
    const char *cur = "{\"redirect_type\":301,\"tags\":[\"a\"],\"valid_from\":1764547200,"
                      "\"max_clicks\":5,\"password_hash\":\"$argon2id$v=19$x\"}";
    check_built("{}", cur, cur);
    check_built("{\"title\":\"x\"}", cur, cur);
    check_built("{\"max_clicks\":null,\"tags\":[\"b\",\"c\"]}", cur,
                "{\"redirect_type\":301,\"tags\":[\"b\",\"c\"],\"valid_from\":1764547200,"
                "\"password_hash\":\"$argon2id$v=19$x\"}");
    check_built("{\"redirect_type\":302,\"password\":null}", cur,
                "{\"tags\":[\"a\"],\"valid_from\":1764547200,\"max_clicks\":5}");
    check_built("{\"redirect_type\":null,\"tags\":null,\"valid_from\":null,\"max_clicks\":null,"
                "\"password\":null}",
                cur, "{}");
    /* Keys come out in the stored order whatever order current has. */
    check_built("{\"forward_query\":true}", "{\"max_clicks\":5,\"redirect_type\":307}",
                "{\"redirect_type\":307,\"forward_query\":true,\"max_clicks\":5}");
    /* The window is checked on the merged options. */
    check_error("{\"valid_until\":\"2025-11-30T00:00:00Z\"}", cur, LNK_POLICY_E_WINDOW,
                "/valid_until");
    check_error("{\"valid_from\":\"2027-02-01T00:00:00Z\"}", "{\"valid_until\":1767225600}",
                LNK_POLICY_E_WINDOW, "/valid_from");
    check_built(
        "{\"valid_until\":\"2026-01-01T00:00:00Z\"}", cur,
        "{\"redirect_type\":301,\"tags\":[\"a\"],\"valid_from\":1764547200,"
        "\"valid_until\":1767225600,\"max_clicks\":5,\"password_hash\":\"$argon2id$v=19$x\"}");
    /* A failed patch leaves no options behind (and current untouched). */
    check_error("{\"max_clicks\":-1}", cur, LNK_POLICY_E_FIELD, "/max_clicks");
}

static void test_password_is_hashed_with_argon2id(void **state)
{
    (void)state;
    char hash[LNK_POLICY_HASH_MAX];
    CHECK(lnk_policy_hash_password("", 0, hash) == LNK_EINVAL, "an empty password is refused");
    CHECK(lnk_policy_hash_password("hunter2", 7, hash) == LNK_OK, "a password hashes");
    CHECK(strncmp(hash, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0,
          "Argon2id with m = 19 MiB, t = 2, p = 1");
    CHECK(lnk_policy_check_password(hash, "hunter2", 7), "the right password matches");
    CHECK(!lnk_policy_check_password(hash, "hunter3", 7), "a wrong password does not");
    CHECK(!lnk_policy_check_password(hash, "hunter2", 6), "a prefix does not");
    CHECK(!lnk_policy_check_password("$argon2id$garbage", "hunter2", 7), "a broken hash never");
    char again[LNK_POLICY_HASH_MAX];
    CHECK(lnk_policy_hash_password("hunter2", 7, again) == LNK_OK && strcmp(hash, again) != 0,
          "each hash has its own salt");

    /* The flow of policy.h: build, hash, build again with the hash. */
    json_t *in = parse("{\"password\":\"hunter2\",\"max_clicks\":3}"), *opts = NULL;
    struct lnk_policy_error err;
    CHECK(lnk_policy_build(in, NULL, &opts, &err) == LNK_EINVAL &&
              strcmp(err.type, LNK_POLICY_E_NOT_HASHED) == 0,
          "a clear password asks for its hash");
    json_object_set_new(in, "password_hash", json_string(hash));
    CHECK(lnk_policy_build(in, NULL, &opts, &err) == LNK_OK, "with its hash it builds");
    CHECK(strcmp(json_string_value(json_object_get(opts, "password_hash")), hash) == 0 &&
              !json_object_get(opts, "password"),
          "only the hash is stored");
    json_decref(opts);
    json_decref(in);
}

/* ---- decide ---- */

static void *arena_alloc(void *ud, size_t n)
{
    return lnk_arena_alloc(ud, n);
}

static struct lnk_arena arena;

static const char *const DEST = "https://dest.example/page";
#define UA_IPHONE                                                                                  \
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "    \
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
#define UA_WINDOWS                                                                                 \
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "            \
    "Chrome/124.0.0.0 Safari/537.36"

static struct lnk_visit visit(void)
{
    return (struct lnk_visit){.now = 1766000000, .user_agent = LNK_STR(UA_WINDOWS)};
}

static int decide_on(const char *opts, const char *dest, const struct lnk_visit *v,
                     struct lnk_decision *out)
{
    return lnk_policy_decide(opts, strlen(opts), dest, strlen(dest), v, arena_alloc, &arena, out);
}

/* The location of a REDIRECT (status checked against want_status). */
static const char *go(const char *opts, const char *dest, const struct lnk_visit *v,
                      int want_status)
{
    struct lnk_decision d;
    int rc = decide_on(opts, dest, v, &d);
    if (rc != LNK_OK || d.kind != LNK_DECISION_REDIRECT || d.status != want_status)
        fail_msg("%s: rc %d kind %d status %d", opts, rc, d.kind, d.status);
    CHECK(strlen(d.location) == d.location_len, "location_len is the location's length");
    return d.location;
}

static void test_decide_refuses_options_that_are_not_the_stored_form(void **state)
{
    (void)state;
    static const char *const BAD[] = {
        "",
        "{",
        "[]",
        "{\"redirect_type\":\"301\"}",
        "{\"redirect_type\":303}",
        "{\"max_clicks\":1.5}",
        "{\"valid_from\":\"2026\"}",
        "{\"rules\":{}}",
        "{\"rules\":[{\"device\":[\"mobile\"]}]}",
        "{\"rules\":[{\"url\":\"https://a.example\",\"color\":[\"red\"]}]}",
        "{\"rules\":[{\"url\":\"https://a.example\",\"device\":\"mobile\"}]}",
        "{\"split\":[{\"url\":\"https://a.example\",\"weight\":0}]}",
        "{\"split\":[{\"url\":\"https://a.example\",\"weight\":6000},"
        "{\"url\":\"https://b.example\",\"weight\":6000}]}",
        "{\"a\":1}x",
        "{\"a\":\"\\q\"}",
    };
    struct lnk_visit v = visit();
    struct lnk_decision d;
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++)
        if (decide_on(BAD[i], DEST, &v, &d) != LNK_EINVAL)
            fail_msg("accepted: %s", BAD[i]);
}

static void test_decide_plain_options_redirect_to_the_destination(void **state)
{
    (void)state;
    struct lnk_visit v = visit();
    CHECK(strcmp(go("{}", DEST, &v, 302), DEST) == 0, "no options: 302 to dest");
    CHECK(strcmp(go(" { \"tags\" : [\"a\"] , \"notes\":\"n\" } ", DEST, &v, 302), DEST) == 0,
          "tags and notes change nothing; white space is fine");
    CHECK(strcmp(go("{\"redirect_type\":308}", DEST, &v, 308), DEST) == 0, "redirect_type");
    struct lnk_decision d;
    CHECK(decide_on("{\"max_clicks\":100}", DEST, &v, &d) == LNK_OK && d.max_clicks == 100 &&
              d.kind == LNK_DECISION_REDIRECT,
          "max_clicks is handed to the caller");
}

static void test_decide_time_window_edges_and_fallback(void **state)
{
    (void)state;
    const char *w = "{\"valid_from\":1000,\"valid_until\":2000}";
    const char *wf = "{\"valid_from\":1000,\"valid_until\":2000,\"fallback_url\":"
                     "\"https://example.com/over\",\"redirect_type\":301}";
    struct lnk_visit v = visit();
    struct lnk_decision d;
    static const struct {
        int64_t now;
        bool open;
    } EDGES[] = {{999, false}, {1000, true}, {1999, true}, {2000, false}};
    for (size_t i = 0; i < 4; i++) {
        v.now = EDGES[i].now;
        CHECK(decide_on(w, DEST, &v, &d) == LNK_OK, "decides");
        if (EDGES[i].open) {
            CHECK(d.kind == LNK_DECISION_REDIRECT && strcmp(d.location, DEST) == 0,
                  "inside [valid_from, valid_until) it redirects");
        } else {
            CHECK(d.kind == LNK_DECISION_GONE && d.status == 410 && d.location == NULL,
                  "outside, without fallback: 410");
            CHECK(decide_on(wf, DEST, &v, &d) == LNK_OK && d.kind == LNK_DECISION_GONE &&
                      d.status == 302 && strcmp(d.location, "https://example.com/over") == 0,
                  "outside, with fallback: a temporary redirect there");
        }
    }
    v.now = 1500;
    v.clicks_exhausted = true;
    CHECK(decide_on(wf, DEST, &v, &d) == LNK_OK && d.kind == LNK_DECISION_GONE && d.status == 302 &&
              strcmp(d.location, "https://example.com/over") == 0,
          "used up: the fallback");
    CHECK(decide_on("{\"max_clicks\":3}", DEST, &v, &d) == LNK_OK && d.kind == LNK_DECISION_GONE &&
              d.status == 410 && d.max_clicks == 3,
          "used up without fallback: 410");
}

static void test_decide_password(void **state)
{
    (void)state;
    const char *o = "{\"valid_until\":2000,\"password_hash\":\"$argon2id$v=19$m=19456\\/x\","
                    "\"rules\":[{\"url\":\"https://r.example\"}]}";
    struct lnk_visit v = visit();
    struct lnk_decision d;
    v.now = 1000;
    CHECK(decide_on(o, DEST, &v, &d) == LNK_OK && d.kind == LNK_DECISION_PASSWORD &&
              strcmp(d.password_hash, "$argon2id$v=19$m=19456/x") == 0 && d.location == NULL,
          "no password yet: ask for it, with the hash decoded");
    v.password_ok = true;
    CHECK(strcmp(go(o, DEST, &v, 302), "https://r.example") == 0, "right password: go on");
    v.password_ok = false;
    v.now = 2000;
    CHECK(decide_on(o, DEST, &v, &d) == LNK_OK && d.kind == LNK_DECISION_GONE,
          "an expired link is gone before any password");
}

static void test_decide_rules_by_condition(void **state)
{
    (void)state;
    struct lnk_visit v = visit();
    const char *dev = "{\"rules\":[{\"url\":\"https://m.example\",\"device\":[\"mobile\","
                      "\"tablet\"]}]}";
    CHECK(strcmp(go(dev, DEST, &v, 302), DEST) == 0, "a desktop skips a mobile rule");
    v.user_agent = LNK_STR(UA_IPHONE);
    CHECK(strcmp(go(dev, DEST, &v, 302), "https://m.example") == 0, "an iPhone takes it");

    const char *os = "{\"rules\":[{\"url\":\"https://w.example\",\"os\":[\"windows\"]}]}";
    CHECK(strcmp(go(os, DEST, &v, 302), DEST) == 0, "iOS is not windows");
    v.user_agent = LNK_STR(UA_WINDOWS);
    CHECK(strcmp(go(os, DEST, &v, 302), "https://w.example") == 0, "windows is");

    const char *lang = "{\"rules\":[{\"url\":\"https://de.example\",\"lang\":[\"de\"]},"
                       "{\"url\":\"https://ch.example\",\"lang\":[\"fr-ch\"]}]}";
    CHECK(strcmp(go(lang, DEST, &v, 302), DEST) == 0, "no Accept-Language: no language rule");
    v.accept_language = LNK_STR("de-AT,de;q=0.9,en;q=0.8");
    CHECK(strcmp(go(lang, DEST, &v, 302), "https://de.example") == 0, "de matches de-AT");
    v.accept_language = LNK_STR("en;q=0.5, fr-CH;q=0.9, de;q=0.7");
    CHECK(strcmp(go(lang, DEST, &v, 302), "https://ch.example") == 0,
          "the highest q decides, not the order");
    v.accept_language = LNK_STR("fr");
    CHECK(strcmp(go(lang, DEST, &v, 302), DEST) == 0, "fr-ch does not match plain fr");
    v.accept_language = LNK_STR("deu, en");
    CHECK(strcmp(go(lang, DEST, &v, 302), DEST) == 0, "de does not match deu");
    v.accept_language = LNK_STR("en, de;q=0.9");
    CHECK(strcmp(go(lang, DEST, &v, 302), DEST) == 0, "only the most preferred language counts");

    const char *q = "{\"rules\":[{\"url\":\"https://tw.example\",\"query\":{\"ref\":\"tw\","
                    "\"a b\":\"c\\u00e4\"}}]}";
    v.query = LNK_STR("ref=tw");
    CHECK(strcmp(go(q, DEST, &v, 302), DEST) == 0, "every query parameter must be there");
    v.query = LNK_STR("x=1&a+b=c%C3%A4&ref=t%77");
    CHECK(strcmp(go(q, DEST, &v, 302), "https://tw.example") == 0, "parameters match once decoded");
    v.query = LNK_STR("a+b=c%C3%A4&ref=twx");
    CHECK(strcmp(go(q, DEST, &v, 302), DEST) == 0, "values match exactly");

    const char *t = "{\"rules\":[{\"url\":\"https://xmas.example\",\"from\":1000,"
                    "\"until\":2000}]}";
    v.query = LNK_STR_NULL;
    v.now = 999;
    CHECK(strcmp(go(t, DEST, &v, 302), DEST) == 0, "before from");
    v.now = 1000;
    CHECK(strcmp(go(t, DEST, &v, 302), "https://xmas.example") == 0, "at from");
    v.now = 1999;
    CHECK(strcmp(go(t, DEST, &v, 302), "https://xmas.example") == 0, "before until");
    v.now = 2000;
    CHECK(strcmp(go(t, DEST, &v, 302), DEST) == 0, "at until");

    const char *c = "{\"rules\":[{\"url\":\"https://de.example\",\"country\":[\"DE\"]}]}";
    v.ip = "192.0.2.1";
    CHECK(strcmp(go(c, DEST, &v, 302), DEST) == 0, "no GeoIP database: no country rule");
}

static void test_decide_first_match_wins_then_split_then_dest(void **state)
{
    (void)state;
    const char *o = "{\"rules\":[{\"url\":\"https://bot.example\",\"device\":[\"bot\"]},"
                    "{\"url\":\"https://one.example\",\"os\":[\"windows\"]},"
                    "{\"url\":\"https://two.example\",\"device\":[\"desktop\"]}],"
                    "\"split\":[{\"url\":\"https://a.example\",\"weight\":1},"
                    "{\"url\":\"https://b.example\",\"weight\":3}]}";
    struct lnk_visit v = visit();
    CHECK(strcmp(go(o, DEST, &v, 302), "https://one.example") == 0, "the first match wins");
    v.user_agent = LNK_STR("curl/8.5.0");
    CHECK(strcmp(go(o, DEST, &v, 302), "https://bot.example") == 0, "curl is a bot");
    v.user_agent = LNK_STR(UA_IPHONE);
    static const struct {
        uint64_t rand;
        const char *url;
    } PICKS[] = {{0, "https://a.example"},
                 {1, "https://b.example"},
                 {3, "https://b.example"},
                 {4, "https://a.example"},
                 {UINT64_MAX, "https://b.example"}}; /* 2^64 - 1 = 3 mod 4 */
    for (size_t i = 0; i < 5; i++) {
        v.rand = PICKS[i].rand;
        CHECK(strcmp(go(o, DEST, &v, 302), PICKS[i].url) == 0,
              "no rule matched: the split picks by rand modulo the weight sum");
    }
    const char *r = "{\"rules\":[{\"url\":\"https://w.example\",\"os\":[\"windows\"]}]}";
    CHECK(strcmp(go(r, DEST, &v, 302), DEST) == 0, "no rule, no split: the destination");
}

static void test_decide_split_distribution(void **state)
{
    (void)state;
    const char *o = "{\"split\":[{\"url\":\"https://a.example\",\"weight\":50},"
                    "{\"url\":\"https://b.example\",\"weight\":30},"
                    "{\"url\":\"https://c.example\",\"weight\":20}]}";
    struct lnk_visit v = visit();
    int counts[3] = {0};
    for (uint64_t r = 0; r < 1000; r++) {
        v.rand = r * 7919; /* a permutation of the residues mod 100 per 100 steps */
        const char *url = go(o, DEST, &v, 302);
        counts[url[8] - 'a']++;
    }
    CHECK(counts[0] == 500 && counts[1] == 300 && counts[2] == 200,
          "over every residue the split follows the weights exactly");
}

static void test_decide_forward_query_and_utm(void **state)
{
    (void)state;
    const char *fq = "{\"forward_query\":true}";
    struct lnk_visit v = visit();
    CHECK(strcmp(go(fq, "https://d.example/p", &v, 302), "https://d.example/p") == 0,
          "an empty visit query adds nothing");
    v.query = LNK_STR("a=1&b=%20");
    CHECK(strcmp(go("{}", "https://d.example/p", &v, 302), "https://d.example/p") == 0,
          "without forward_query the query stays behind");
    CHECK(strcmp(go(fq, "https://d.example/p", &v, 302), "https://d.example/p?a=1&b=%20") == 0,
          "forwarded as is");
    CHECK(strcmp(go(fq, "https://d.example/p?x=2", &v, 302), "https://d.example/p?x=2&a=1&b=%20") ==
              0,
          "after the destination's own query");
    CHECK(strcmp(go(fq, "https://d.example/p?", &v, 302), "https://d.example/p?a=1&b=%20") == 0,
          "an empty query takes it without '&'");
    CHECK(strcmp(go(fq, "https://d.example/p?x=2&", &v, 302),
                 "https://d.example/p?x=2&a=1&b=%20") == 0,
          "a trailing '&' is not doubled");
    CHECK(strcmp(go(fq, "https://d.example/p#top", &v, 302), "https://d.example/p?a=1&b=%20#top") ==
              0,
          "before the fragment");
    CHECK(strcmp(go(fq, "https://d.example/p?x=2#a?b", &v, 302),
                 "https://d.example/p?x=2&a=1&b=%20#a?b") == 0,
          "a '?' in the fragment is the fragment's");

    const char *utm = "{\"utm\":{\"source\":\"news letter\",\"campaign\":\"spring/\\u00e4&=\","
                      "\"content\":\"a-b_c.d~e\"}}";
    v.query = LNK_STR_NULL;
    CHECK(strcmp(go(utm, "https://d.example/p", &v, 302),
                 "https://d.example/p?utm_source=news%20letter&utm_campaign=spring%2F%C3%A4%26%3D"
                 "&utm_content=a-b_c.d~e") == 0,
          "utm parameters in the model's order, percent-encoded");
    CHECK(strcmp(go(utm, "https://d.example/p?utm_source=orig&k=v#f", &v, 302),
                 "https://d.example/p?utm_source=orig&k=v&utm_campaign=spring%2F%C3%A4%26%3D"
                 "&utm_content=a-b_c.d~e#f") == 0,
          "the destination's own utm_source stays");
    const char *both = "{\"forward_query\":true,\"utm\":{\"source\":\"news\",\"medium\":\"mail\"}}";
    v.query = LNK_STR("utm_medium=tw&x=1");
    CHECK(strcmp(go(both, "https://d.example/p#f", &v, 302),
                 "https://d.example/p?utm_medium=tw&x=1&utm_source=news#f") == 0,
          "a forwarded utm parameter counts as the destination's");
    const char *rule = "{\"utm\":{\"source\":\"s\"},\"rules\":[{\"url\":"
                       "\"https:\\/\\/r.example\\/\\u00e4?q=1#frag\"}]}";
    CHECK(strcmp(go(rule, DEST, &v, 302), "https://r.example/\xc3\xa4?q=1&utm_source=s#frag") == 0,
          "a rule's url is decoded from JSON, then extended");
}

/* ---- classifier and languages ---- */

static void test_ua_classify_real_user_agents(void **state)
{
    (void)state;
    static const struct {
        const char *ua, *device, *os;
    } UAS[] = {
        {UA_IPHONE, "mobile", "ios"},
        {"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.4 Mobile/15E148 Safari/604.1",
         "tablet", "ios"},
        {"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/124.0.6367.82 Mobile Safari/537.36",
         "mobile", "android"},
        {"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/124.0.0.0 Safari/537.36",
         "tablet", "android"},
        {"Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0", "mobile",
         "android"},
        {UA_WINDOWS, "desktop", "windows"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.4 Safari/605.1.15",
         "desktop", "macos"},
        {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
         "desktop", "linux"},
        {"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/124.0.0.0 Safari/537.36",
         "desktop", "linux"},
        {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot",
         "other"},
        {"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
         "like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
         "+http://www.google.com/bot.html)",
         "bot", "android"},
        {"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot", "other"},
        {"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "bot",
         "other"},
        {"Mozilla/5.0 (compatible; YandexSpider/3.0; +http://yandex.com/bots)", "bot", "other"},
        {"curl/8.5.0", "bot", "other"},
        {"Wget/1.21.3", "bot", "other"},
        {"python-requests/2.31.0", "bot", "other"},
        {"Go-http-client/1.1", "bot", "other"},
        {"", "bot", "other"},
        {"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) "
         "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 "
         "Edge/15.14977",
         "mobile", "android"},
        {"Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) AppleWebKit/537.36 "
         "(KHTML, like Gecko) Silk/3.68 like Chrome/39.0.2171.93 Safari/537.36",
         "tablet", "android"},
        {"Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) "
         "Presto/2.5.25 Version/10.54",
         "mobile", "other"},
    };
    for (size_t i = 0; i < sizeof(UAS) / sizeof(UAS[0]); i++) {
        enum lnk_ua_device d;
        enum lnk_ua_os os;
        lnk_ua_classify(lnk_str_from_cstr(UAS[i].ua), &d, &os);
        if (strcmp(lnk_ua_device_name(d), UAS[i].device) != 0 ||
            strcmp(lnk_ua_os_name(os), UAS[i].os) != 0)
            fail_msg("%s: got %s/%s, want %s/%s", UAS[i].ua, lnk_ua_device_name(d),
                     lnk_ua_os_name(os), UAS[i].device, UAS[i].os);
    }
}

static void test_accept_language_preference(void **state)
{
    (void)state;
    static const struct {
        const char *header, *want; /* NULL: none */
    } CASES[] = {
        {"", NULL},
        {"de", "de"},
        {"de-AT, de;q=0.9, en;q=0.8", "de-AT"},
        {"en;q=0.5, fr-CH;q=0.9, de;q=0.7", "fr-CH"},
        {"en;q=0.8,de;q=0.8", "en"},
        {"*, fr;q=0.5", "fr"},
        {"en;q=0, de;q=0.001", "de"},
        {"en;q=0", NULL},
        {"en;q=1.5, de;q=0.2", "de"},
        {"en;q=0.1234, de;q=0.2", "de"},
        {"en;Q=1.000, de", "en"},
        {"en;level=1, de;q=0.3", "de"},
        {" , ,it ;q=0.4 ", "it"},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        struct lnk_str tag = LNK_STR_NULL;
        bool found = lnk_lang_preferred(lnk_str_from_cstr(CASES[i].header), &tag);
        bool ok = CASES[i].want ? found && lnk_str_eq_cstr(tag, CASES[i].want) : !found;
        if (!ok)
            fail_msg("'%s': got %s '%.*s'", CASES[i].header, found ? "" : "none", (int)tag.len,
                     tag.ptr ? tag.ptr : "");
    }
}

/* ---- GeoIP ---- */

static void test_geo_country_lookups(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/linkd-geo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    CHECK(fd >= 0, "a temporary file");
    close(fd);

    static struct mmdb_w w;
    mmdb_w_init(&w);
    mmdb_w_insert_text(&w, "192.0.2.0", 24, "country", "DE");
    mmdb_w_insert_text(&w, "198.51.100.128", 25, "country", "at");
    mmdb_w_insert_text(&w, "203.0.113.0", 24, "registered_country", "CH");
    mmdb_w_insert_text(&w, "2001:db8::", 32, "country", "FR");
    CHECK(mmdb_w_write(&w, path), "the test database is written");

    struct lnk_geo *g = NULL;
    CHECK(lnk_geo_open("/nonexistent/linkd.mmdb", &g) == LNK_ENOTFOUND && g == NULL,
          "a missing file is LNK_ENOTFOUND");
    CHECK(lnk_geo_open("/etc/hostname", &g) == LNK_EINVAL || access("/etc/hostname", F_OK) != 0,
          "a file that is not a MaxMind DB is LNK_EINVAL");
    CHECK(lnk_geo_open(path, &g) == LNK_OK && g != NULL, "the written database opens");

    char cc[3] = "";
    CHECK(lnk_geo_country(g, "192.0.2.77", cc) && strcmp(cc, "DE") == 0, "IPv4 in a /24");
    CHECK(lnk_geo_country(g, "198.51.100.200", cc) && strcmp(cc, "AT") == 0,
          "IPv4 in a /25, upper-cased");
    CHECK(!lnk_geo_country(g, "198.51.100.100", cc), "the other half of that /24 is a miss");
    CHECK(lnk_geo_country(g, "203.0.113.9", cc) && strcmp(cc, "CH") == 0,
          "registered_country when there is no country");
    CHECK(lnk_geo_country(g, "2001:db8:1234::1", cc) && strcmp(cc, "FR") == 0, "IPv6");
    CHECK(!lnk_geo_country(g, "2001:db9::1", cc), "an IPv6 miss");
    CHECK(!lnk_geo_country(g, "8.8.8.8", cc), "an IPv4 miss");
    CHECK(!lnk_geo_country(g, "localhost", cc), "names are never resolved");
    CHECK(!lnk_geo_country(g, NULL, cc) && !lnk_geo_country(NULL, "192.0.2.1", cc),
          "no address or no database: no country");

    const char *o = "{\"rules\":[{\"url\":\"https://dach.example\",\"country\":[\"DE\",\"AT\"]}]}";
    struct lnk_visit v = visit();
    v.geo = g;
    v.ip = "198.51.100.129";
    CHECK(strcmp(go(o, DEST, &v, 302), "https://dach.example") == 0, "a country rule matches");
    v.ip = "2001:db8::1";
    CHECK(strcmp(go(o, DEST, &v, 302), DEST) == 0, "another country does not");
    v.ip = NULL;
    CHECK(strcmp(go(o, DEST, &v, 302), DEST) == 0, "nor an unknown address");

    lnk_geo_close(g);
    lnk_geo_close(NULL);
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    lnk_arena_init(&arena);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lnk_arena_cleanup(&arena);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_refuses_each_invalid_field),
        cmocka_unit_test(test_build_enforces_limits),
        cmocka_unit_test(test_build_writes_the_canonical_form),
        cmocka_unit_test(test_build_patches_over_current),
        cmocka_unit_test(test_password_is_hashed_with_argon2id),
        cmocka_unit_test_setup_teardown(test_decide_refuses_options_that_are_not_the_stored_form,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_plain_options_redirect_to_the_destination,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_time_window_edges_and_fallback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_decide_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_rules_by_condition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_first_match_wins_then_split_then_dest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_decide_split_distribution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_forward_query_and_utm, setup, teardown),
        cmocka_unit_test(test_ua_classify_real_user_agents),
        cmocka_unit_test(test_accept_language_preference),
        cmocka_unit_test_setup_teardown(test_geo_country_lookups, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
