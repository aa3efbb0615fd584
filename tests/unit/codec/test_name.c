/* SPDX-License-Identifier: MIT */
/* Name characters (docs/security.md#names): control, bidirectional
 * formatting and noncharacters and U+FEFF are refused wherever they sit,
 * with a reason; every other character of every script passes. */
#include <string.h>

#include "check.h"
#include "linkd/err.h"
#include "linkd/name.h"

struct bad_name {
    const char *s;
    const char *reason_word;
};

static void test_refuses_hidden_and_rewriting_characters(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct bad_name bad[] = {
        {"a\rb", "control"},
        {"a\nb", "control"},
        {"ab\r\n", "control"},
        {"\tab", "control"},
        {"a\x01", "control"},
        {"a\x1f", "control"},
        {"a\x7f" "b", "control"},
        {"a\xc2\x80" "b", "control"},        /* U+0080, C1 */
        {"a\xc2\x85" "b", "control"},        /* U+0085 NEL */
        {"a\xc2\x9f" "b", "control"},        /* U+009F */
        {"admin\xe2\x80\xae" "txt.exe", "bidirectional"}, /* U+202E RLO */
        {"\xe2\x80\xaa" "x", "bidirectional"},  /* U+202A */
        {"\xe2\x80\xab" "x", "bidirectional"},  /* U+202B */
        {"\xe2\x80\xac" "x", "bidirectional"},  /* U+202C */
        {"\xe2\x80\xad" "x", "bidirectional"},  /* U+202D */
        {"x\xe2\x80\x8e", "bidirectional"},     /* U+200E LRM */
        {"x\xe2\x80\x8f", "bidirectional"},     /* U+200F RLM */
        {"x\xe2\x81\xa6" "y", "bidirectional"}, /* U+2066 LRI */
        {"x\xe2\x81\xa9" "y", "bidirectional"}, /* U+2069 PDI */
        {"x\xd8\x9c" "y", "bidirectional"},     /* U+061C ALM */
        {"x\xef\xbf\xbf", "noncharacter"},      /* U+FFFF */
        {"x\xef\xbf\xbe", "noncharacter"},      /* U+FFFE */
        {"x\xef\xb7\x90", "noncharacter"},      /* U+FDD0 */
        {"x\xef\xb7\xaf", "noncharacter"},      /* U+FDEF */
        {"x\xf0\x9f\xbf\xbe", "noncharacter"},  /* U+1FFFE */
        {"x\xf4\x8f\xbf\xbf", "noncharacter"},  /* U+10FFFF */
        {"\xef\xbb\xbf" "ada", "FEFF"},         /* BOM */
        {"a\xef\xbb\xbf" "da", "FEFF"},
        {"a\xff", "UTF-8"},
        {"a\xc3", "UTF-8"},
        {"\xed\xa0\x80", "UTF-8"},              /* a surrogate */
    };
    /* clang-format on */
    size_t wrong = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *reason = NULL;
        int rc = lnk_name_check(bad[i].s, strlen(bad[i].s), &reason);
        if (rc != LNK_EINVAL || !reason || !strstr(reason, bad[i].reason_word)) {
            print_error("case %zu -> %s\n", i, rc == LNK_OK ? "accepted" : reason);
            wrong++;
        }
    }
    CHECK(wrong == 0, "each hidden or rewriting character is refused with a reason naming it");
    CHECK(lnk_name_check("a\0b", 3, NULL) == LNK_EINVAL, "a NUL is a control character");
    CHECK(lnk_name_check("a\nb", 3, NULL) == LNK_EINVAL, "reason may be NULL");
}

static void test_accepts_names_in_every_script(void **state)
{
    (void)state;
    const char *good[] = {
        "ada",
        "Ada Lovelace",
        "ada.lovelace+tag@example.com",
        "caf\xc3\xa9",                              /* café */
        "\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0",         /* Анна */
        "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",         /* שלום, right-to-left by itself */
        "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7", /* مرحبا */
        "\xe5\xb1\xb1\xe7\x94\xb0",                 /* 山田 */
        "\xf0\x9f\x98\x80 smile",                   /* U+1F600 */
        "\xc2\xa0nbsp",                             /* U+00A0, first after C1 */
        "\xe2\x80\x8d",                             /* U+200D ZWJ (emoji sequences) */
        "\xe2\x80\xaf",                             /* U+202F, after the overrides */
        "\xe2\x81\xaa",                             /* U+206A, after the isolates */
        "\xef\xb7\x8f\xef\xb7\xb0",                 /* U+FDCF U+FDF0 around the block */
        "\xef\xbf\xbd",                             /* U+FFFD */
        "\xf4\x8f\xbf\xbd",                         /* U+10FFFD */
        "",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *reason = "unset";
        CHECK(lnk_name_check(good[i], strlen(good[i]), &reason) == LNK_OK,
              "an ordinary name in any script passes");
        CHECK(strcmp(reason, "unset") == 0, "reason untouched on success");
    }
    CHECK(lnk_name_check("ada\nx", 3, NULL) == LNK_OK, "only len bytes are read");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_hidden_and_rewriting_characters),
        cmocka_unit_test(test_accepts_names_in_every_script),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
