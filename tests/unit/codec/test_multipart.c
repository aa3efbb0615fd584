/* SPDX-License-Identifier: MIT */
/* multipart/form-data: boundary parsing and file-part lookup, bad input first. */
#include "check.h"

#include <string.h>

#include "linkd/err.h"
#include "linkd/multipart.h"

static struct lnk_str S(const char *s) {
    return lnk_str_from_cstr(s);
}

static void
test_boundary_rejects_other_types_and_missing_boundary(void **state)
{
    (void)state;
    struct lnk_str b;
    CHECK(lnk_multipart_boundary(S("application/json"), &b) == LNK_EINVAL, "json is not multipart");
    CHECK(lnk_multipart_boundary(S("multipart/form-data"), &b) == LNK_EINVAL, "boundary required");
    CHECK(lnk_multipart_boundary(S("multipart/form-data; boundary="), &b) == LNK_EINVAL,
          "empty boundary rejected");
    CHECK(lnk_multipart_boundary(S("multipart/form-dataX; boundary=a"), &b) == LNK_EINVAL,
          "another type with the same prefix is rejected");
    char big[200] = "multipart/form-data; boundary=";
    memset(big + strlen(big), 'x', 71);
    CHECK(lnk_multipart_boundary(S(big), &b) == LNK_EINVAL, "boundary over 70 bytes rejected");
}

static void test_boundary_quoted_and_bare(void **state)
{
    (void)state;
    struct lnk_str b;
    CHECK(lnk_multipart_boundary(S("multipart/form-data; boundary=abc"), &b) == LNK_OK, "bare");
    CHECK(lnk_str_eq_cstr(b, "abc"), "bare value");
    CHECK(lnk_multipart_boundary(S("Multipart/Form-Data; charset=x; boundary=\"a b\""), &b) ==
              LNK_OK,
          "quoted, any case, after another parameter");
    CHECK(lnk_str_eq_cstr(b, "a b"), "quoted value");
    CHECK(lnk_multipart_boundary(S("multipart/form-data; x=\"a; boundary=evil\"; boundary=real"),
                                 &b) == LNK_OK,
          "a quoted ';' does not start a parameter");
    CHECK(lnk_str_eq_cstr(b, "real"), "the real boundary is found");
}

static void test_find_rejects_malformed_bodies(void **state)
{
    (void)state;
    struct lnk_multipart_part p;
    CHECK(lnk_multipart_find_file(S(""), S("b"), "file", &p) == LNK_EINVAL, "empty body");
    CHECK(lnk_multipart_find_file(S("no boundary here"), S("b"), "file", &p) == LNK_EINVAL,
          "no opening boundary");
    CHECK(lnk_multipart_find_file(S("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n"),
                                  S("b"), "file", &p) == LNK_EINVAL,
          "header block never ends");
    CHECK(lnk_multipart_find_file(
              S("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ndata"), S("b"), "file",
              &p) == LNK_EINVAL,
          "no closing boundary");
    CHECK(lnk_multipart_find_file(S("--bXX"), S("b"), "file", &p) == LNK_EINVAL,
          "junk after the boundary");
}

static void test_find_reports_missing_file_part(void **state)
{
    (void)state;
    struct lnk_multipart_part p;
    const char *body =
        "--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n";
    CHECK(lnk_multipart_find_file(S(body), S("b"), "file", &p) == LNK_ENOTFOUND,
          "a form without a file part is not found");
}

static void test_find_named_part_and_fallback_file(void **state)
{
    (void)state;
    struct lnk_multipart_part p;
    const char *body = "preamble\r\n--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n"
                       "hi\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; "
                       "filename=\"u.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\r\n1,2\r\n"
                       "\r\n--b--\r\n";
    CHECK(lnk_multipart_find_file(S(body), S("b"), "file", &p) == LNK_OK, "file part found");
    CHECK(lnk_str_eq_cstr(p.body, "a,b\r\n1,2\r\n"), "body excludes the delimiter CRLF");
    CHECK(lnk_str_eq_cstr(p.filename, "u.csv"), "filename read");
    const char *other = "--b\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"x\"\r\n"
                        "\r\nrows\r\n--b--";
    CHECK(lnk_multipart_find_file(S(other), S("b"), "file", &p) == LNK_OK,
          "any file part is accepted");
    CHECK(lnk_str_eq_cstr(p.body, "rows"), "its body");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary_rejects_other_types_and_missing_boundary),
        cmocka_unit_test(test_boundary_quoted_and_bare),
        cmocka_unit_test(test_find_rejects_malformed_bodies),
        cmocka_unit_test(test_find_reports_missing_file_part),
        cmocka_unit_test(test_find_named_part_and_fallback_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
