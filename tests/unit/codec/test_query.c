/* SPDX-License-Identifier: MIT */
/* Query strings: bad escapes, overflow and malformed typed values first,
 * then lookup with decoding, then the CONTRACT.md §2 boolean words. */
#include <string.h>

#include "check.h"
#include "linkd/err.h"
#include "linkd/query.h"

static struct lnk_str q(const char *s)
{
    return lnk_str_from_cstr(s);
}

static void test_get_rejects_bad_percent_escapes(void **state)
{
    (void)state;
    char out[32];
    size_t len;
    const char *bad[] = {"k=%", "k=%4", "k=%zz", "k=a%g1", "k=%00", "k=ok%"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(lnk_query_get(q(bad[i]), "k", out, sizeof(out), &len) == LNK_EINVAL,
              "a malformed %-escape in the value is EINVAL");
    CHECK(lnk_query_get(q("%zz=1&k=2"), "k", out, sizeof(out), &len) == LNK_OK &&
              strcmp(out, "2") == 0,
          "a malformed escape in another key does not hide k");
}

static void test_get_reports_too_big_when_value_does_not_fit(void **state)
{
    (void)state;
    char out[4];
    size_t len;
    CHECK(lnk_query_get(q("k=abcd"), "k", out, sizeof(out), &len) == LNK_ETOOBIG,
          "4 bytes + NUL do not fit in 4");
    CHECK(lnk_query_get(q("k=abc"), "k", out, sizeof(out), &len) == LNK_OK && len == 3,
          "3 bytes + NUL fit");
    CHECK(lnk_query_get(q("k=%41%42%43"), "k", out, sizeof(out), &len) == LNK_OK &&
              strcmp(out, "ABC") == 0,
          "the limit applies to decoded bytes");
    CHECK(lnk_query_get(q("k="), "k", out, 0, &len) == LNK_ETOOBIG, "cap 0 never fits");
}

static void test_get_reports_absent_keys(void **state)
{
    (void)state;
    char out[16];
    size_t len;
    CHECK(lnk_query_get(LNK_STR_NULL, "k", out, sizeof(out), &len) == LNK_ENOTFOUND, "empty query");
    CHECK(lnk_query_get(q("kk=1&ka=2&=3&k%3D=4"), "k", out, sizeof(out), &len) == LNK_ENOTFOUND,
          "no key equals k exactly");
    CHECK(lnk_query_get(q("user_id=1"), "user", out, sizeof(out), &len) == LNK_ENOTFOUND,
          "a prefix does not match");
}

static void test_get_decodes_keys_and_values(void **state)
{
    (void)state;
    char out[64];
    size_t len;
    struct lnk_str query = q("a=1&&event_type=cli%63k&b+c=x+y&d%5Fe=%2Fp%3Fq&flag&empty=");
    CHECK(lnk_query_get(query, "a", out, sizeof(out), &len) == LNK_OK && strcmp(out, "1") == 0,
          "first pair");
    CHECK(lnk_query_get(query, "event_type", out, sizeof(out), &len) == LNK_OK &&
              strcmp(out, "click") == 0 && len == 5,
          "%63 decodes to c");
    CHECK(lnk_query_get(query, "b c", out, sizeof(out), &len) == LNK_OK && strcmp(out, "x y") == 0,
          "+ is a space in keys and values");
    CHECK(lnk_query_get(query, "d_e", out, sizeof(out), &len) == LNK_OK && strcmp(out, "/p?q") == 0,
          "keys are compared after decoding");
    CHECK(lnk_query_get(query, "flag", out, sizeof(out), &len) == LNK_OK && len == 0 &&
              out[0] == '\0',
          "a key without = has the empty value");
    CHECK(lnk_query_get(query, "empty", out, sizeof(out), NULL) == LNK_OK && out[0] == '\0',
          "an empty value; out_len may be NULL");
    CHECK(lnk_query_get(q("k=1&k=2"), "k", out, sizeof(out), &len) == LNK_OK &&
              strcmp(out, "1") == 0,
          "the first occurrence wins");
    CHECK(lnk_query_get(q("k=a=b"), "k", out, sizeof(out), &len) == LNK_OK &&
              strcmp(out, "a=b") == 0,
          "only the first = splits");
}

static void test_get_i64_rejects_malformed_numbers(void **state)
{
    (void)state;
    int64_t v = 7;
    const char *bad[] = {"n=",
                         "n=abc",
                         "n=1.5",
                         "n=1e3",
                         "n=0x10",
                         "n=+1",
                         "n=%2B-1",
                         "n=--1",
                         "n=1 ",
                         "n=%201",
                         "n=9223372036854775808",
                         "n=-9223372036854775809",
                         "n=123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(lnk_query_get_i64(q(bad[i]), "n", &v) == LNK_EINVAL, "malformed integer");
    CHECK(lnk_query_get_i64(q("m=1"), "n", &v) == LNK_ENOTFOUND, "absent integer");
    CHECK(v == 7, "out untouched on error");
}

static void test_get_i64_parses_signed_decimal(void **state)
{
    (void)state;
    int64_t v;
    CHECK(lnk_query_get_i64(q("n=42"), "n", &v) == LNK_OK && v == 42, "plain");
    CHECK(lnk_query_get_i64(q("n=-3"), "n", &v) == LNK_OK && v == -3, "negative");
    CHECK(lnk_query_get_i64(q("n=%2B5"), "n", &v) == LNK_OK && v == 5, "explicit plus");
    CHECK(lnk_query_get_i64(q("n=007"), "n", &v) == LNK_OK && v == 7, "leading zeros");
    CHECK(lnk_query_get_i64(q("n=9223372036854775807"), "n", &v) == LNK_OK && v == INT64_MAX,
          "int64 max");
    CHECK(lnk_query_get_i64(q("n=-9223372036854775808"), "n", &v) == LNK_OK && v == INT64_MIN,
          "int64 min");
}

static void test_get_bool_rejects_other_words(void **state)
{
    (void)state;
    bool b = true;
    const char *bad[] = {"b=",  "b=tru",   "b=2",       "b=on",          "b=off",
                         "b=y", "b=truee", "b=%20true", "b=verylongword"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(lnk_query_get_bool(q(bad[i]), "b", &b) == LNK_EINVAL, "not a boolean word");
    CHECK(lnk_query_get_bool(q("x=1"), "b", &b) == LNK_ENOTFOUND, "absent boolean");
    CHECK(b == true, "out untouched on error");
}

static void test_get_bool_accepts_contract_words_any_case(void **state)
{
    (void)state;
    const char *yes[] = {"b=true", "b=TRUE", "b=True", "b=1", "b=yes", "b=YeS"};
    const char *no[] = {"b=false", "b=FALSE", "b=False", "b=0", "b=no", "b=NO"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        bool b = false;
        CHECK(lnk_query_get_bool(q(yes[i]), "b", &b) == LNK_OK && b, "true word");
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        bool b = true;
        CHECK(lnk_query_get_bool(q(no[i]), "b", &b) == LNK_OK && !b, "false word");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_rejects_bad_percent_escapes),
        cmocka_unit_test(test_get_reports_too_big_when_value_does_not_fit),
        cmocka_unit_test(test_get_reports_absent_keys),
        cmocka_unit_test(test_get_decodes_keys_and_values),
        cmocka_unit_test(test_get_i64_rejects_malformed_numbers),
        cmocka_unit_test(test_get_i64_parses_signed_decimal),
        cmocka_unit_test(test_get_bool_rejects_other_words),
        cmocka_unit_test(test_get_bool_accepts_contract_words_any_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
