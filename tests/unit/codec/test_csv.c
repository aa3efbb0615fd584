/* SPDX-License-Identifier: MIT */
/* CSV reader: malformed records and limits first (with the line and field
 * they name), then RFC 4180 quoting, line endings and BOM, then line numbers
 * across quoted newlines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "linkd/csv.h"
#include "linkd/err.h"

static bool field_is(const struct lnk_csv_record *r, size_t i, const char *want)
{
    return i < r->n_fields && lnk_str_eq_cstr(r->fields[i], want);
}

/* Reads records until the first non-OK code and returns it. */
static int read_all(struct lnk_csv *c, struct lnk_csv_record *r, size_t *n_records)
{
    int rc;
    *n_records = 0;
    while ((rc = lnk_csv_next(c, r)) == LNK_OK)
        (*n_records)++;
    return rc;
}

static int first_error(const char *data, size_t *line, size_t *col)
{
    struct lnk_csv c;
    struct lnk_csv_record r;
    size_t n;
    lnk_csv_init(&c, data, strlen(data));
    int rc = read_all(&c, &r, &n);
    *line = c.line;
    *col = c.err_col;
    lnk_csv_cleanup(&c);
    return rc;
}

static void test_unterminated_quote_names_the_opening_line(void **state)
{
    (void)state;
    size_t line, col;
    CHECK(first_error("a,b\n1,\"open\n\nmore\n", &line, &col) == LNK_EINVAL,
          "unterminated quote is malformed");
    CHECK(line == 2 && col == 2, "error names line 2, field 2 where the quote opened");
}

static void test_quote_inside_unquoted_field_is_malformed(void **state)
{
    (void)state;
    size_t line, col;
    CHECK(first_error("a,b,c\n1,2,3\nx,ab\"c\",z\n", &line, &col) == LNK_EINVAL,
          "a quote in an unquoted field is malformed");
    CHECK(line == 3 && col == 2, "error names line 3, field 2");
}

static void test_junk_after_closing_quote_is_malformed(void **state)
{
    (void)state;
    size_t line, col;
    CHECK(first_error("a,b\n\"x\"y,2\n", &line, &col) == LNK_EINVAL,
          "text after a closing quote is malformed");
    CHECK(line == 2 && col == 1, "error names line 2, field 1");
    CHECK(first_error("a,b\n1,\"multi\nline\" \n", &line, &col) == LNK_EINVAL,
          "a space after the closing quote is malformed");
    CHECK(line == 3 && col == 2, "the line is where the junk is, after the quoted newline");
}

static void test_too_many_fields_is_too_big(void **state)
{
    (void)state;
    char buf[LNK_CSV_FIELDS_MAX * 2 + 8];
    size_t n = 0;
    for (int i = 0; i < LNK_CSV_FIELDS_MAX; i++) {
        buf[n++] = 'x';
        buf[n++] = ',';
    }
    buf[n - 1] = '\n';
    buf[n] = '\0';
    struct lnk_csv c;
    struct lnk_csv_record r;
    lnk_csv_init(&c, buf, n);
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && r.n_fields == LNK_CSV_FIELDS_MAX,
          "exactly the maximum number of fields is fine");
    lnk_csv_cleanup(&c);

    buf[n - 1] = ',';
    buf[n++] = 'y';
    buf[n] = '\0';
    size_t line, col;
    CHECK(first_error(buf, &line, &col) == LNK_ETOOBIG, "one field too many is ETOOBIG");
    CHECK(line == 1 && col == LNK_CSV_FIELDS_MAX + 1, "error names the extra field");
}

static void test_oversized_record_is_too_big(void **state)
{
    (void)state;
    size_t len = LNK_CSV_RECORD_MAX + 16;
    char *buf = malloc(len + 1);
    memcpy(buf, "h\nab,\"", 6);
    memset(buf + 6, 'q', len - 6);
    buf[len - 2] = '"';
    buf[len - 1] = '\n';
    buf[len] = '\0';
    struct lnk_csv c;
    struct lnk_csv_record r;
    lnk_csv_init(&c, buf, len);
    CHECK(lnk_csv_next(&c, &r) == LNK_OK, "header reads");
    CHECK(lnk_csv_next(&c, &r) == LNK_ETOOBIG, "a record over 1 MiB is ETOOBIG");
    CHECK(c.line == 2 && c.err_col == 2, "error names line 2, field 2");
    CHECK(lnk_csv_next(&c, &r) == LNK_EEOF, "the reader stops after an error");
    CHECK(c.scratch_cap <= LNK_CSV_RECORD_MAX, "scratch never grows past the limit");
    lnk_csv_cleanup(&c);
    free(buf);
}

static void test_empty_input_has_no_records(void **state)
{
    (void)state;
    const char *inputs[] = {"", "\n", "\r\n", "\n\n\n", "\xEF\xBB\xBF"};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        struct lnk_csv c;
        struct lnk_csv_record r;
        lnk_csv_init(&c, inputs[i], strlen(inputs[i]));
        CHECK(lnk_csv_next(&c, &r) == LNK_EEOF, "empty input is EEOF");
        CHECK(lnk_csv_next(&c, &r) == LNK_EEOF, "and stays EEOF");
        lnk_csv_cleanup(&c);
    }
}

static void test_reads_plain_records_with_lf_and_crlf(void **state)
{
    (void)state;
    const char *inputs[] = {"id,name\n1,alice\n2,bob\n", "id,name\r\n1,alice\r\n2,bob\r\n",
                            "id,name\n1,alice\n2,bob", "id,name\r\n1,alice\n2,bob\r"};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        struct lnk_csv c;
        struct lnk_csv_record r;
        lnk_csv_init(&c, inputs[i], strlen(inputs[i]));
        CHECK(lnk_csv_next(&c, &r) == LNK_OK && r.n_fields == 2 && field_is(&r, 0, "id") &&
                  field_is(&r, 1, "name") && c.line == 1,
              "header on line 1");
        CHECK(lnk_csv_next(&c, &r) == LNK_OK && field_is(&r, 0, "1") && field_is(&r, 1, "alice") &&
                  c.line == 2,
              "first row on line 2");
        CHECK(lnk_csv_next(&c, &r) == LNK_OK && field_is(&r, 0, "2") && field_is(&r, 1, "bob") &&
                  c.line == 3,
              "second row on line 3, no CR left in the field");
        CHECK(lnk_csv_next(&c, &r) == LNK_EEOF, "then the end");
        lnk_csv_cleanup(&c);
    }
}

static void test_empty_fields_and_trailing_comma(void **state)
{
    (void)state;
    const char *data = ",\na,,b,\n\"\",x\n";
    struct lnk_csv c;
    struct lnk_csv_record r;
    lnk_csv_init(&c, data, strlen(data));
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && r.n_fields == 2 && r.fields[0].len == 0 &&
              r.fields[1].len == 0,
          "a lone comma is two empty fields");
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && r.n_fields == 4 && field_is(&r, 0, "a") &&
              field_is(&r, 1, "") && field_is(&r, 2, "b") && field_is(&r, 3, ""),
          "a trailing comma adds an empty field");
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && r.n_fields == 2 && field_is(&r, 0, "") &&
              field_is(&r, 1, "x"),
          "an empty quoted field");
    lnk_csv_cleanup(&c);
}

static void test_quoted_fields_hold_commas_quotes_and_newlines(void **state)
{
    (void)state;
    const char *data = "id,details\n"
                       "1,\"{\"\"short_code\"\":\"\"OvfxQA\"\",\"\"x\"\":1}\"\n"
                       "2,\"a, b\"\n"
                       "3,\"line1\nline2\r\nline3\"\n"
                       "4,\"\"\"\"\n";
    struct lnk_csv c;
    struct lnk_csv_record r;
    lnk_csv_init(&c, data, strlen(data));
    CHECK(lnk_csv_next(&c, &r) == LNK_OK, "header");
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && field_is(&r, 1, "{\"short_code\":\"OvfxQA\",\"x\":1}"),
          "doubled quotes collapse (seed details column)");
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && field_is(&r, 1, "a, b"), "a comma inside quotes");
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && field_is(&r, 1, "line1\nline2\r\nline3"),
          "newlines inside quotes are kept verbatim");
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && field_is(&r, 1, "\""), "a field of one quote");
    CHECK(lnk_csv_next(&c, &r) == LNK_EEOF, "end");
    lnk_csv_cleanup(&c);
}

static void test_bom_is_skipped(void **state)
{
    (void)state;
    const char *data = "\xEF\xBB\xBFusername,email\nu,e@x.io\n";
    struct lnk_csv c;
    struct lnk_csv_record r;
    lnk_csv_init(&c, data, strlen(data));
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && field_is(&r, 0, "username"),
          "the BOM is not part of the first field");
    CHECK(lnk_csv_find_column(&r, "username") == 0, "and the column is found");
    lnk_csv_cleanup(&c);
}

static void test_find_column_trims_and_matches_exactly(void **state)
{
    (void)state;
    const char *data = " id ,Email,email\t,user name\n";
    struct lnk_csv c;
    struct lnk_csv_record r;
    lnk_csv_init(&c, data, strlen(data));
    CHECK(lnk_csv_next(&c, &r) == LNK_OK, "header");
    CHECK(lnk_csv_find_column(&r, "id") == 0, "spaces around a name are trimmed");
    CHECK(lnk_csv_find_column(&r, "email") == 2, "names are case-sensitive, first exact match");
    CHECK(lnk_csv_find_column(&r, "user name") == 3, "inner spaces are kept");
    CHECK(lnk_csv_find_column(&r, "missing") == -1, "absent column is -1");
    lnk_csv_cleanup(&c);
}

static void test_line_numbers_follow_quoted_newlines_and_blank_lines(void **state)
{
    (void)state;
    const char *data = "h1,h2\n"         /* 1 */
                       "1,\"a\nb\nc\"\n" /* 2-4 */
                       "\n"              /* 5: blank, skipped */
                       "2,x\n"           /* 6 */
                       "3,\"\r\n\"\r\n"  /* 7-8 */
                       "4,y\n";          /* 9 */
    struct lnk_csv c;
    struct lnk_csv_record r;
    size_t want[] = {1, 2, 6, 7, 9};
    lnk_csv_init(&c, data, strlen(data));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        CHECK(lnk_csv_next(&c, &r) == LNK_OK && c.line == want[i],
              "each record reports its first physical line");
    CHECK(lnk_csv_next(&c, &r) == LNK_EEOF, "end");
    lnk_csv_cleanup(&c);

    size_t line, col;
    CHECK(first_error("h\n\"a\nb\"\n\"c\nd\"\nx\"y\n", &line, &col) == LNK_EINVAL && line == 6,
          "an error after two multi-line records is on line 6");
}

static void test_many_records_round_trip(void **state)
{
    (void)state;
    /* Write 5000 records with quoting where needed, then read them back. */
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    n += (size_t)snprintf(buf + n, cap - n, "id,text\n");
    for (int i = 0; i < 5000; i++) {
        if (i % 3 == 0)
            n += (size_t)snprintf(buf + n, cap - n, "%d,\"v%d, \"\"q\"\"\n%d\"\n", i, i, i);
        else
            n += (size_t)snprintf(buf + n, cap - n, "%d,v%d\n", i, i);
    }
    struct lnk_csv c;
    struct lnk_csv_record r;
    lnk_csv_init(&c, buf, n);
    CHECK(lnk_csv_next(&c, &r) == LNK_OK, "header");
    size_t line = 2;
    for (int i = 0; i < 5000; i++) {
        char want[64];
        if (i % 3 == 0)
            snprintf(want, sizeof(want), "v%d, \"q\"\n%d", i, i);
        else
            snprintf(want, sizeof(want), "v%d", i);
        CHECK(lnk_csv_next(&c, &r) == LNK_OK && r.n_fields == 2 && field_is(&r, 1, want),
              "field reads back as written");
        CHECK(c.line == line, "line number tracks quoted newlines");
        line += i % 3 == 0 ? 2 : 1;
    }
    CHECK(lnk_csv_next(&c, &r) == LNK_EEOF, "end");
    lnk_csv_cleanup(&c);
    free(buf);
}

static void test_append_field_quotes_only_when_needed_and_reads_back(void **state)
{
    (void)state;
    static const char *cells[] = {"plain", "", "a,b", "say \"hi\"", "\"", "l1\nl2", "cr\r", " sp "};
    struct lnk_buf b;
    lnk_buf_init(&b, 4096);
    for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
        if (i)
            lnk_buf_append(&b, ",", 1);
        CHECK(lnk_csv_append_field(&b, cells[i], strlen(cells[i])) == LNK_OK, "append");
    }
    CHECK(strcmp(b.ptr, "plain,,\"a,b\",\"say \"\"hi\"\"\",\"\"\"\",\"l1\nl2\",\"cr\r\", sp ") == 0,
          "quoted exactly where RFC 4180 needs it");
    struct lnk_csv c;
    struct lnk_csv_record r;
    lnk_csv_init(&c, b.ptr, b.len);
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && r.n_fields == 8, "one record of 8 fields");
    for (size_t i = 0; i < 8; i++)
        CHECK(field_is(&r, i, cells[i]), "each field reads back as written");
    lnk_csv_cleanup(&c);
    struct lnk_buf small;
    lnk_buf_init(&small, 5);
    lnk_buf_append(&small, "ab", 2);
    CHECK(lnk_csv_append_field(&small, "x,y", 3) == LNK_ETOOBIG && small.len == 2 &&
              strcmp(small.ptr, "ab") == 0,
          "past the maximum: too big, buffer as it was");
    lnk_buf_cleanup(&small);
    lnk_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unterminated_quote_names_the_opening_line),
        cmocka_unit_test(test_quote_inside_unquoted_field_is_malformed),
        cmocka_unit_test(test_junk_after_closing_quote_is_malformed),
        cmocka_unit_test(test_too_many_fields_is_too_big),
        cmocka_unit_test(test_oversized_record_is_too_big),
        cmocka_unit_test(test_empty_input_has_no_records),
        cmocka_unit_test(test_reads_plain_records_with_lf_and_crlf),
        cmocka_unit_test(test_empty_fields_and_trailing_comma),
        cmocka_unit_test(test_quoted_fields_hold_commas_quotes_and_newlines),
        cmocka_unit_test(test_bom_is_skipped),
        cmocka_unit_test(test_find_column_trims_and_matches_exactly),
        cmocka_unit_test(test_line_numbers_follow_quoted_newlines_and_blank_lines),
        cmocka_unit_test(test_many_records_round_trip),
        cmocka_unit_test(test_append_field_quotes_only_when_needed_and_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
