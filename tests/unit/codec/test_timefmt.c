/* SPDX-License-Identifier: MIT */
/* Timestamps: malformed and out-of-range text first, then known instants,
 * then format/parse round trips across leap days and year boundaries. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "linkd/err.h"
#include "linkd/timefmt.h"

static int parse(const char *s, int64_t *out)
{
    return lnk_ts_parse(s, strlen(s), out);
}

static void test_parse_rejects_malformed_text(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "2025-06-09",
        "2025-06-09 11:24",
        "2025-06-09 11:24:4",
        "2025/06/09 11:24:49",
        "2025-06-09_11:24:49",
        "2025-6-09 11:24:49",
        "2025-06-09 11:24:49 ",
        " 2025-06-09 11:24:49",
        "2025-06-09 11:24:49.",
        "2025-06-09 11:24:49.1234567890",
        "2025-06-09 11:24:49+01:00",
        "2025-06-09 11:24:49-00:00",
        "2025-06-09 11:24:49+00",
        "2025-06-09 11:24:49ZZ",
        "2025-06-09 11:24:49z",
        "Thu, 09 Jun 2025 11:24:49 GMT",
        "+025-06-09 11:24:49",
        "2025-06-09T11:24:49.5Zjunk",
    };
    int64_t v = 123;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(parse(bad[i], &v) == LNK_EINVAL, "malformed timestamp is rejected");
    CHECK(lnk_ts_parse("2025-06-09 11:24:49", 18, &v) == LNK_EINVAL, "len is honoured");
    CHECK(lnk_ts_parse("2025-06-09 11:24:49\0", 20, &v) == LNK_EINVAL, "trailing NUL rejected");
    CHECK(v == 123, "out untouched on error");
}

static void test_parse_rejects_out_of_range_fields(void **state)
{
    (void)state;
    const char *bad[] = {
        "2025-00-10 00:00:00", "2025-13-10 00:00:00", "2025-01-00 00:00:00", "2025-01-32 00:00:00",
        "2025-04-31 00:00:00", "2025-02-29 00:00:00", "1900-02-29 00:00:00", "2100-02-29 00:00:00",
        "2025-01-01 24:00:00", "2025-01-01 23:60:00", "2025-01-01 23:59:60", "1969-12-31 23:59:59",
        "0000-01-01 00:00:00",
    };
    int64_t v;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(parse(bad[i], &v) == LNK_EINVAL, "out-of-range field is rejected");
}

static void test_parse_accepts_seed_and_iso_forms(void **state)
{
    (void)state;
    int64_t v;
    CHECK(parse("1970-01-01 00:00:00", &v) == LNK_OK && v == 0, "epoch is 0");
    CHECK(parse("2025-06-09 11:24:49", &v) == LNK_OK && v == 1749468289, "seed form");
    CHECK(parse("2025-06-09T11:24:49", &v) == LNK_OK && v == 1749468289, "T separator");
    CHECK(parse("2025-06-09T11:24:49Z", &v) == LNK_OK && v == 1749468289, "Z suffix");
    CHECK(parse("2025-06-09T11:24:49+00:00", &v) == LNK_OK && v == 1749468289, "+00:00");
    CHECK(parse("2025-06-09T11:24:49.999", &v) == LNK_OK && v == 1749468289,
          "fraction is truncated");
    CHECK(parse("2025-06-09 11:24:49.123456Z", &v) == LNK_OK && v == 1749468289, "fraction then Z");
    CHECK(parse("2000-02-29 12:00:00", &v) == LNK_OK && v == 951825600, "2000 is a leap year");
    CHECK(parse("2024-02-29 00:00:00", &v) == LNK_OK && v == 1709164800, "leap day 2024");
    CHECK(parse("2038-01-19 03:14:08", &v) == LNK_OK && v == INT64_C(2147483648),
          "past the 32-bit epoch limit");
    CHECK(parse("9999-12-31 23:59:59", &v) == LNK_OK && v == INT64_C(253402300799),
          "last accepted second");
}

static void test_format_writes_iso_seconds(void **state)
{
    (void)state;
    char out[LNK_TS_LEN + 1];
    lnk_ts_format(0, out);
    CHECK(strcmp(out, "1970-01-01T00:00:00") == 0, "epoch");
    lnk_ts_format(1749468289, out);
    CHECK(strcmp(out, "2025-06-09T11:24:49") == 0, "seed instant");
    lnk_ts_format(951782400, out);
    CHECK(strcmp(out, "2000-02-29T00:00:00") == 0, "leap day 2000");
    lnk_ts_format(-1, out);
    CHECK(strcmp(out, "1969-12-31T23:59:59") == 0, "one second before the epoch");
    lnk_ts_format(INT64_C(253402300799), out);
    CHECK(strcmp(out, "9999-12-31T23:59:59") == 0, "year 9999");
}

static void test_format_clamps_years_outside_four_digits(void **state)
{
    (void)state;
    char out[LNK_TS_LEN + 1];
    lnk_ts_format(INT64_MAX, out);
    CHECK(strcmp(out, "9999-12-31T23:59:59") == 0, "huge values clamp to 9999");
    lnk_ts_format(INT64_C(253402300800), out);
    CHECK(strcmp(out, "9999-12-31T23:59:59") == 0, "year 10000 clamps");
    lnk_ts_format(INT64_MIN, out);
    CHECK(strcmp(out, "0000-01-01T00:00:00") == 0, "huge negatives clamp to year 0");
    CHECK(strlen(out) == LNK_TS_LEN, "always 19 characters");
}

static void test_format_parse_round_trip(void **state)
{
    (void)state;
    char out[LNK_TS_LEN + 1];
    int64_t back;
    /* Every day from 1970 to 2100 at a moving time of day, covering each leap
     * day, month end and year boundary. */
    for (int64_t day = 0; day < 47482; day++) {
        int64_t t = day * 86400 + (day * 7919) % 86400;
        lnk_ts_format(t, out);
        CHECK(lnk_ts_parse(out, LNK_TS_LEN, &back) == LNK_OK && back == t, "parse inverts format");
        out[10] = ' ';
        CHECK(lnk_ts_parse(out, LNK_TS_LEN, &back) == LNK_OK && back == t,
              "space form parses to the same instant");
    }
    const char *leap[] = {"1972-02-29T23:59:59", "2000-02-29T00:00:00", "2400-02-29T12:34:56",
                          "2024-12-31T23:59:59", "2025-01-01T00:00:00"};
    for (size_t i = 0; i < sizeof(leap) / sizeof(leap[0]); i++) {
        CHECK(parse(leap[i], &back) == LNK_OK, "leap and boundary instants parse");
        lnk_ts_format(back, out);
        CHECK(strcmp(out, leap[i]) == 0, "and format back identically");
    }
}

static void test_now_does_not_depend_on_tz(void **state)
{
    (void)state;
    setenv("TZ", "Asia/Kolkata", 1);
    int64_t v;
    CHECK(parse("2025-06-09 11:24:49", &v) == LNK_OK && v == 1749468289,
          "parse ignores the TZ environment");
    int64_t now = lnk_ts_now();
    CHECK(now > 1700000000 && now < INT64_C(253402300799), "now is a plausible UTC time");
    unsetenv("TZ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_rejects_malformed_text),
        cmocka_unit_test(test_parse_rejects_out_of_range_fields),
        cmocka_unit_test(test_parse_accepts_seed_and_iso_forms),
        cmocka_unit_test(test_format_writes_iso_seconds),
        cmocka_unit_test(test_format_clamps_years_outside_four_digits),
        cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_now_does_not_depend_on_tz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
