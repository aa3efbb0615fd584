/* SPDX-License-Identifier: MIT */
/* String slices: malformed UTF-8 and integers first, then comparison and
 * trimming, then UTF-8 lengths and integer round trips. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "linkd/err.h"
#include "linkd/str.h"

static struct lnk_str s(const char *p)
{
    return lnk_str_from_cstr(p);
}

static void test_utf8_rejects_malformed_sequences(void **state)
{
    (void)state;
    const char *bad[] = {
        "\x80",             /* lone continuation byte */
        "\xbf",             /* lone continuation byte */
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xf0\x80\x80\xaf", /* overlong 4-byte */
        "\xed\xa0\x80",     /* UTF-16 surrogate D800 */
        "\xed\xbf\xbf",     /* surrogate DFFF */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", /* invalid lead byte */
        "\xff",             /* invalid byte */
        "\xc3",             /* truncated 2-byte */
        "\xe2\x82",         /* truncated 3-byte */
        "\xf0\x9f\x98",     /* truncated 4-byte */
        "a\xc3(",           /* bad continuation */
        "ok\xe2\x28\xa1",   /* bad continuation in the middle */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!lnk_utf8_valid(bad[i], strlen(bad[i])), "malformed UTF-8 is invalid");
    CHECK(!lnk_utf8_valid("\xe2\x82\xac", 2), "a sequence cut by len is invalid");
}

static void test_utf8_accepts_well_formed_text(void **state)
{
    (void)state;
    const char *good[] = {
        "",
        "plain ascii",
        "caf\xc3\xa9",      /* é */
        "\xe2\x82\xac",     /* € */
        "\xf0\x9f\x98\x80", /* 😀 */
        "\xed\x9f\xbf",     /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",     /* U+E000, just above */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF */
        "\xc2\x80",         /* U+0080, smallest 2-byte */
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK(lnk_utf8_valid(good[i], strlen(good[i])), "well-formed UTF-8 is valid");
    CHECK(lnk_utf8_valid("a\0b", 3), "NUL is a valid code point (callers reject it)");
}

static void test_utf8_len_counts_code_points(void **state)
{
    (void)state;
    CHECK(lnk_utf8_len("", 0) == 0, "empty");
    CHECK(lnk_utf8_len("abc", 3) == 3, "ASCII");
    CHECK(lnk_utf8_len("caf\xc3\xa9", 5) == 4, "two-byte char counts once");
    CHECK(lnk_utf8_len("\xe2\x82\xac\xf0\x9f\x98\x80", 7) == 2, "3- and 4-byte chars");
}

static void test_to_i64_rejects_malformed_and_overflow(void **state)
{
    (void)state;
    long long v = 99;
    const char *bad[] = {"",
                         "-",
                         "+1",
                         " 1",
                         "1 ",
                         "1.0",
                         "1e3",
                         "0x1",
                         "--1",
                         "1-",
                         "abc",
                         "\xd9\xa1",
                         "9223372036854775808",
                         "-9223372036854775809",
                         "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(lnk_str_to_i64(s(bad[i]), &v) == LNK_EINVAL, "not a strict decimal int64");
    CHECK(lnk_str_to_i64(lnk_str_make("12", 0), &v) == LNK_EINVAL, "len 0 is empty");
    CHECK(v == 99, "out untouched on error");
}

static void test_to_i64_parses_decimal_range(void **state)
{
    (void)state;
    long long v;
    CHECK(lnk_str_to_i64(s("0"), &v) == LNK_OK && v == 0, "zero");
    CHECK(lnk_str_to_i64(s("-0"), &v) == LNK_OK && v == 0, "minus zero");
    CHECK(lnk_str_to_i64(s("0042"), &v) == LNK_OK && v == 42, "leading zeros");
    CHECK(lnk_str_to_i64(s("9223372036854775807"), &v) == LNK_OK && v == LLONG_MAX, "max");
    CHECK(lnk_str_to_i64(s("-9223372036854775808"), &v) == LNK_OK && v == LLONG_MIN, "min");
    CHECK(lnk_str_to_i64(lnk_str_make("123abc", 3), &v) == LNK_OK && v == 123,
          "only len bytes are read");
}

static void test_to_i64_round_trips_printed_values(void **state)
{
    (void)state;
    unsigned long long x = 1;
    for (int i = 0; i < 10000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL; /* LCG, wraps mod 2^64 */
        long long mag = (long long)(x >> 1);
        long long want = i % 2 ? mag : -mag - (i % 3 == 0);
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", want);
        long long got;
        CHECK(lnk_str_to_i64(s(buf), &got) == LNK_OK && got == want, "printf then parse");
    }
}

static void test_eq_and_nocase_compare_slices(void **state)
{
    (void)state;
    CHECK(lnk_str_eq(LNK_STR("abc"), s("abc")), "equal slices");
    CHECK(!lnk_str_eq(LNK_STR("abc"), s("abd")), "different bytes");
    CHECK(!lnk_str_eq(LNK_STR("abc"), s("ab")), "different lengths");
    CHECK(lnk_str_eq(LNK_STR_NULL, s("")), "NULL slice equals empty");
    CHECK(lnk_str_eq_cstr(lnk_str_make("abcdef", 3), "abc"), "a slice of a longer buffer");
    CHECK(lnk_str_eq_nocase(s("HeLLo"), s("hello")), "case is ignored");
    CHECK(!lnk_str_eq_nocase(s("hello"), s("hellp")), "other letters differ");
    CHECK(!lnk_str_eq_nocase(s("hello"), s("hell")), "length matters");
    CHECK(!lnk_str_eq_nocase(s("@"), s("`")), "only letters fold (0x40 vs 0x60)");
    CHECK(!lnk_str_eq_nocase(s("\xc3\xa9"), s("\xc3\x89")), "non-ASCII is not folded");
}

static void test_trim_removes_ascii_space_only(void **state)
{
    (void)state;
    CHECK(lnk_str_eq_cstr(lnk_str_trim(s(" \t\r\n\v\fab c\n ")), "ab c"),
          "leading and trailing white space removed, inner kept");
    CHECK(lnk_str_trim(s("   ")).len == 0, "all space trims to empty");
    CHECK(lnk_str_trim(LNK_STR_NULL).len == 0, "NULL slice stays empty");
    CHECK(lnk_str_eq_cstr(lnk_str_trim(s("\xc2\xa0x")), "\xc2\xa0x"),
          "a non-breaking space is not ASCII white space");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_rejects_malformed_sequences),
        cmocka_unit_test(test_utf8_accepts_well_formed_text),
        cmocka_unit_test(test_utf8_len_counts_code_points),
        cmocka_unit_test(test_to_i64_rejects_malformed_and_overflow),
        cmocka_unit_test(test_to_i64_parses_decimal_range),
        cmocka_unit_test(test_to_i64_round_trips_printed_values),
        cmocka_unit_test(test_eq_and_nocase_compare_slices),
        cmocka_unit_test(test_trim_removes_ascii_space_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
