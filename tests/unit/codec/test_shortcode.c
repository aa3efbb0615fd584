/* SPDX-License-Identifier: MIT */
/* Short codes: range errors and syntax checks first, then the Feistel
 * permutation's bijectivity and the shape of generated codes. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "linkd/base62.h"
#include "linkd/err.h"
#include "linkd/shortcode.h"

static const uint8_t KEY[LNK_CODEGEN_KEY_BYTES] = {1, 2,  3,  4,  5,  6,  7,  8,
                                                   9, 10, 11, 12, 13, 14, 15, 16};

static struct lnk_codegen make_gen(const uint8_t *key)
{
    struct lnk_codegen g;
    lnk_codegen_init(&g, key);
    return g;
}

static void test_permute_rejects_value_out_of_domain(void **state)
{
    (void)state;
    struct lnk_codegen g = make_gen(KEY);
    uint64_t out = 42;
    CHECK(g.domain == lnk_base62_pow(6), "domain is 62^6");
    CHECK(lnk_codegen_permute(&g, g.domain, &out) == LNK_ERANGE, "62^6 is out of range");
    CHECK(lnk_codegen_unpermute(&g, g.domain, &out) == LNK_ERANGE, "inverse too");
    CHECK(lnk_codegen_permute(&g, UINT64_MAX, &out) == LNK_ERANGE, "huge value is out");
    char code[7];
    CHECK(lnk_codegen_code(&g, g.domain, code) == LNK_ERANGE, "code of seq 62^6 is ERANGE");
    CHECK(out == 42, "out untouched on error");
}

static void test_plausible_rejects_empty_long_and_foreign_bytes(void **state)
{
    (void)state;
    char longest[65];
    memset(longest, 'a', sizeof(longest));
    CHECK(!lnk_code_is_plausible("", 0), "empty is not plausible");
    CHECK(!lnk_code_is_plausible(longest, 65), "65 bytes is too long");
    CHECK(lnk_code_is_plausible(longest, 64), "64 bytes is allowed");
    const char *bad[] = {"ab.c", "a/b", "a b", "a%20", "ab\xc3\xa9", "..", "a?b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!lnk_code_is_plausible(bad[i], strlen(bad[i])), "only [A-Za-z0-9_-] allowed");
    CHECK(!lnk_code_is_plausible("ab\0c", 4), "embedded NUL is not plausible");
    CHECK(lnk_code_is_plausible("a", 1), "one char is plausible");
    CHECK(lnk_code_is_plausible("Ab_9-z", 6), "mixed alphabet is plausible");
}

static void test_custom_code_rejects_bad_length_alphabet_and_reserved(void **state)
{
    (void)state;
    char s[40];
    memset(s, 'x', sizeof(s));
    CHECK(!lnk_code_is_valid_custom("ab", 2), "2 chars are too short");
    CHECK(lnk_code_is_valid_custom("abc", 3), "3 chars are enough");
    CHECK(lnk_code_is_valid_custom(s, 32), "32 chars are allowed");
    CHECK(!lnk_code_is_valid_custom(s, 33), "33 chars are too long");
    CHECK(!lnk_code_is_valid_custom("my code", 7), "space not allowed");
    CHECK(!lnk_code_is_valid_custom("my.code", 7), "dot not allowed");
    CHECK(!lnk_code_is_valid_custom("HEALTH", 6), "reserved word, any case");
    CHECK(!lnk_code_is_valid_custom("Events", 6), "reserved route events");
    CHECK(lnk_code_is_valid_custom("my-code_1", 9), "dash, underscore and digits are fine");
}

static void test_reserved_words_match_case_insensitively(void **state)
{
    (void)state;
    const char *words[] = {"health",     "metrics", "users",  "urls",      "events",
                           "api",        "admin",   "static", "assets",    "docs",
                           "login",      "logout",  "signup", "dashboard", "favicon.ico",
                           "robots.txt", "shorten", "stats",  "s",         "r"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        CHECK(lnk_code_is_reserved(words[i], strlen(words[i])), "route word is reserved");
    CHECK(lnk_code_is_reserved("HeAlTh", 6), "comparison ignores case");
    CHECK(lnk_code_is_reserved("ROBOTS.TXT", 10), "file names ignore case too");
    CHECK(!lnk_code_is_reserved("healt", 5), "a prefix is not reserved");
    CHECK(!lnk_code_is_reserved("healthy", 7), "a longer word is not reserved");
    CHECK(!lnk_code_is_reserved("", 0), "empty is not reserved");
    CHECK(!lnk_code_is_reserved("OvfxQA", 6), "an ordinary code is not reserved");
}

static void test_permute_and_unpermute_are_inverse(void **state)
{
    (void)state;
    struct lnk_codegen g = make_gen(KEY);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 200000; i++) {
        uint64_t v;
        if (i < 1000)
            v = (uint64_t)i;
        else if (i < 2000)
            v = g.domain - 1 - (uint64_t)(i - 1000);
        else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v = x % g.domain;
        }
        uint64_t y, back;
        CHECK(lnk_codegen_permute(&g, v, &y) == LNK_OK, "in-domain value permutes");
        CHECK(y < g.domain, "image stays in the domain");
        CHECK(lnk_codegen_unpermute(&g, y, &back) == LNK_OK && back == v,
              "unpermute inverts permute");
        CHECK(lnk_codegen_permute(&g, back, &y) == LNK_OK &&
                  lnk_codegen_unpermute(&g, y, &back) == LNK_OK && back == v,
              "the round trip is stable");
    }
}

static int cmp_code(const void *a, const void *b)
{
    return memcmp(a, b, 7);
}

static void test_consecutive_seqs_give_distinct_well_formed_codes(void **state)
{
    (void)state;
    enum { N = 100000 };
    struct lnk_codegen g = make_gen(KEY);
    char(*codes)[7] = malloc(sizeof(*codes) * N);
    size_t identity = 0;
    for (uint64_t seq = 0; seq < N; seq++) {
        CHECK(lnk_codegen_code(&g, seq, codes[seq]) == LNK_OK, "code for seq");
        CHECK(strlen(codes[seq]) == 6, "codes are 6 characters");
        for (int i = 0; i < 6; i++) {
            char c = codes[seq][i];
            CHECK((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'),
                  "codes use only [A-Za-z0-9]");
        }
        uint64_t v;
        CHECK(lnk_base62_decode(codes[seq], 6, &v) == LNK_OK, "code decodes");
        uint64_t back;
        CHECK(lnk_codegen_unpermute(&g, v, &back) == LNK_OK && back == seq,
              "code maps back to its seq");
        if (v == seq)
            identity++;
    }
    qsort(codes, N, sizeof(*codes), cmp_code);
    for (size_t i = 1; i < N; i++)
        CHECK(memcmp(codes[i - 1], codes[i], 7) != 0, "all codes are distinct");
    CHECK(identity < 5, "the permutation is not the identity");
    free(codes);
}

static void test_consecutive_codes_are_not_sequential(void **state)
{
    (void)state;
    struct lnk_codegen g = make_gen(KEY);
    char a[7], b[7];
    size_t shared_prefix = 0;
    for (uint64_t seq = 0; seq < 1000; seq++) {
        CHECK(lnk_codegen_code(&g, seq, a) == LNK_OK && lnk_codegen_code(&g, seq + 1, b) == LNK_OK,
              "codes generate");
        if (memcmp(a, b, 4) == 0)
            shared_prefix++;
    }
    CHECK(shared_prefix < 10, "neighbouring seqs do not share a 4-char prefix");
}

static void test_different_keys_give_different_codes(void **state)
{
    (void)state;
    uint8_t key2[LNK_CODEGEN_KEY_BYTES];
    memcpy(key2, KEY, sizeof(key2));
    key2[15] ^= 1; /* one bit in the second key word */
    struct lnk_codegen g1 = make_gen(KEY), g2 = make_gen(key2), g1b = make_gen(KEY);
    size_t same = 0;
    for (uint64_t seq = 0; seq < 1000; seq++) {
        char a[7], b[7], c[7];
        lnk_codegen_code(&g1, seq, a);
        lnk_codegen_code(&g2, seq, b);
        lnk_codegen_code(&g1b, seq, c);
        CHECK(strcmp(a, c) == 0, "the same key gives the same code");
        if (strcmp(a, b) == 0)
            same++;
    }
    CHECK(same < 3, "a one-bit key change gives different codes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permute_rejects_value_out_of_domain),
        cmocka_unit_test(test_plausible_rejects_empty_long_and_foreign_bytes),
        cmocka_unit_test(test_custom_code_rejects_bad_length_alphabet_and_reserved),
        cmocka_unit_test(test_reserved_words_match_case_insensitively),
        cmocka_unit_test(test_permute_and_unpermute_are_inverse),
        cmocka_unit_test(test_consecutive_seqs_give_distinct_well_formed_codes),
        cmocka_unit_test(test_consecutive_codes_are_not_sequential),
        cmocka_unit_test(test_different_keys_give_different_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
