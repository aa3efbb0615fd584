/* SPDX-License-Identifier: MIT */
/* base62: range and alphabet checks, then encode/decode round trips. */
#include <string.h>

#include "check.h"
#include "linkd/base62.h"
#include "linkd/err.h"

static void test_encode_rejects_zero_and_oversized_width(void **state)
{
    (void)state;
    char out[16];
    CHECK(lnk_base62_encode(0, 0, out) == LNK_EINVAL, "width 0 is invalid");
    CHECK(lnk_base62_encode(0, 11, out) == LNK_EINVAL, "width 11 is invalid");
}

static void test_encode_rejects_value_out_of_range(void **state)
{
    (void)state;
    char out[16];
    CHECK(lnk_base62_encode(62, 1, out) == LNK_ERANGE, "62 does not fit one digit");
    CHECK(lnk_base62_encode(lnk_base62_pow(6), 6, out) == LNK_ERANGE, "62^6 needs 7 digits");
    CHECK(lnk_base62_encode(UINT64_MAX, 10, out) == LNK_ERANGE, "2^64-1 exceeds 62^10");
}

static void test_decode_rejects_empty_long_and_foreign_bytes(void **state)
{
    (void)state;
    uint64_t v = 7;
    CHECK(lnk_base62_decode("", 0, &v) == LNK_EINVAL, "empty input is invalid");
    CHECK(lnk_base62_decode("00000000000", 11, &v) == LNK_EINVAL, "11 digits are too many");
    const char *bad[] = {"ab-c", "ab_c", "a b", "abc=", "+", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(lnk_base62_decode(bad[i], strlen(bad[i]), &v) == LNK_EINVAL,
              "a byte outside 0-9A-Za-z is invalid");
    CHECK(lnk_base62_decode("ab\0c", 4, &v) == LNK_EINVAL, "an embedded NUL is invalid");
    CHECK(v == 7, "out is untouched on error");
}

static void test_pow_matches_repeated_multiplication(void **state)
{
    (void)state;
    CHECK(lnk_base62_pow(0) == 1, "62^0 is 1");
    CHECK(lnk_base62_pow(1) == 62, "62^1 is 62");
    CHECK(lnk_base62_pow(6) == UINT64_C(56800235584), "62^6");
    CHECK(lnk_base62_pow(10) == UINT64_C(839299365868340224), "62^10");
}

static void test_encode_is_fixed_width_msd_first(void **state)
{
    (void)state;
    char out[16];
    CHECK(lnk_base62_encode(0, 6, out) == LNK_OK && strcmp(out, "000000") == 0,
          "zero pads to width");
    CHECK(lnk_base62_encode(61, 3, out) == LNK_OK && strcmp(out, "00z") == 0,
          "61 is the last digit z");
    CHECK(lnk_base62_encode(62, 3, out) == LNK_OK && strcmp(out, "010") == 0,
          "62 carries into the second digit");
    CHECK(lnk_base62_encode(10, 1, out) == LNK_OK && strcmp(out, "A") == 0, "10 is A");
    CHECK(lnk_base62_encode(36, 1, out) == LNK_OK && strcmp(out, "a") == 0, "36 is a");
    CHECK(lnk_base62_encode(lnk_base62_pow(6) - 1, 6, out) == LNK_OK && strcmp(out, "zzzzzz") == 0,
          "62^6-1 is zzzzzz");
    CHECK(lnk_base62_encode(lnk_base62_pow(10) - 1, 10, out) == LNK_OK &&
              strcmp(out, "zzzzzzzzzz") == 0,
          "the largest 10-digit value encodes");
}

static void test_decode_accepts_leading_zeros(void **state)
{
    (void)state;
    uint64_t v = 1;
    CHECK(lnk_base62_decode("000000", 6, &v) == LNK_OK && v == 0, "all zeros is 0");
    CHECK(lnk_base62_decode("0010", 4, &v) == LNK_OK && v == 62, "leading zeros are ignored");
    CHECK(lnk_base62_decode("zzzzzzzzzz", 10, &v) == LNK_OK && v == lnk_base62_pow(10) - 1,
          "ten z digits decode without overflow");
}

static void test_encode_decode_round_trip(void **state)
{
    (void)state;
    char out[16];
    uint64_t x = 0x243f6a8885a308d3u;
    for (unsigned width = 1; width <= 10; width++) {
        uint64_t limit = lnk_base62_pow(width);
        for (int i = 0; i < 2000; i++) {
            /* xorshift64: deterministic spread over the whole range */
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            uint64_t v = i < 3 ? (uint64_t)i : x % limit;
            uint64_t back = 0;
            CHECK(lnk_base62_encode(v, width, out) == LNK_OK, "in-range value encodes");
            CHECK(strlen(out) == width, "output has exactly width digits");
            CHECK(lnk_base62_decode(out, width, &back) == LNK_OK && back == v,
                  "decode inverts encode");
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_rejects_zero_and_oversized_width),
        cmocka_unit_test(test_encode_rejects_value_out_of_range),
        cmocka_unit_test(test_decode_rejects_empty_long_and_foreign_bytes),
        cmocka_unit_test(test_pow_matches_repeated_multiplication),
        cmocka_unit_test(test_encode_is_fixed_width_msd_first),
        cmocka_unit_test(test_decode_accepts_leading_zeros),
        cmocka_unit_test(test_encode_decode_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
