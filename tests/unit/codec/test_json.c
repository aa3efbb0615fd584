/* SPDX-License-Identifier: MIT */
/* JSON bodies: every way a body can fail to be an object first (empty,
 * invalid, too deep, NUL, bad UTF-8, duplicates, non-objects), then typed
 * getters, then dump/parse round trips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "linkd/err.h"
#include "linkd/json.h"

static int parse(const char *s, json_t **out, const char **why)
{
    return lnk_json_parse_object(s, strlen(s), out, why);
}

static void test_empty_or_blank_body_is_rejected(void **state)
{
    (void)state;
    const char *blank[] = {"", " ", "\n\t\r "};
    for (size_t i = 0; i < sizeof(blank) / sizeof(blank[0]); i++) {
        json_t *v = NULL;
        const char *why = NULL;
        CHECK(parse(blank[i], &v, &why) == LNK_EINVAL && v == NULL, "blank body rejected");
        CHECK(why && strcmp(why, "empty body") == 0, "reason is 'empty body'");
    }
    const char *why = NULL;
    json_t *v = NULL;
    CHECK(lnk_json_parse_object(NULL, 0, &v, &why) == LNK_EINVAL, "NULL, 0 is empty");
}

static void test_invalid_json_is_rejected(void **state)
{
    (void)state;
    const char *bad[] = {"{",
                         "{\"a\":}",
                         "{'a':1}",
                         "{\"a\":1,}",
                         "{\"a\":1}x",
                         "{\"a\":1}{}",
                         "{a:1}",
                         "{\"a\":NaN}",
                         "{\"a\":01}",
                         "{\"a\":\"\\x\"}",
                         "{\"a\":\"\t\"}",
                         "}",
                         "{\"a\":1,\"a\":2}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *v = NULL;
        const char *why = NULL;
        CHECK(parse(bad[i], &v, &why) == LNK_EINVAL && v == NULL, "invalid JSON rejected");
        CHECK(why != NULL, "with a reason");
    }
}

static void test_nul_and_invalid_utf8_are_rejected(void **state)
{
    (void)state;
    json_t *v = NULL;
    const char *why = NULL;
    CHECK(lnk_json_parse_object("{\"a\":\"x\0y\"}", 11, &v, &why) == LNK_EINVAL,
          "a raw NUL inside a string is rejected");
    CHECK(lnk_json_parse_object("{\"a\":1}\0", 8, &v, &why) == LNK_EINVAL,
          "a raw NUL after the object is rejected");
    CHECK(parse("{\"a\":\"x\\u0000y\"}", &v, &why) == LNK_OK, "\\u0000 is valid JSON and parses");
    const char *s;
    size_t len;
    CHECK(lnk_json_get_string(v, "a", &s, &len) == LNK_ERANGE,
          "the string getter refuses a string holding NUL");
    json_decref(v);
    v = NULL;
    CHECK(parse("{\"a\":\"\xff\"}", &v, &why) == LNK_EINVAL, "invalid UTF-8 is rejected");
    CHECK(parse("{\"a\":\"\xc0\xaf\"}", &v, &why) == LNK_EINVAL, "overlong UTF-8 is rejected");
    CHECK(parse("{\"a\":\"\xed\xa0\x80\"}", &v, &why) == LNK_EINVAL,
          "an encoded surrogate is rejected");
}

static void test_non_object_values_are_rejected(void **state)
{
    (void)state;
    const char *bad[] = {"\"hello\"", "[]", "[{\"a\":1}]", "null", "42", "true", "1.5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *v = NULL;
        const char *why = NULL;
        CHECK(parse(bad[i], &v, &why) == LNK_EINVAL && v == NULL, "non-object rejected");
        CHECK(why && strstr(why, "object") != NULL, "the reason says it must be an object");
    }
}

static char *repeat(char c, size_t n, const char *tail)
{
    size_t t = strlen(tail);
    char *s = malloc(n + t + 1);
    memset(s, c, n);
    memcpy(s + n, tail, t + 1);
    return s;
}

static void test_deep_nesting_is_rejected_without_recursion(void **state)
{
    (void)state;
    json_t *v = NULL;
    const char *why = NULL;
    char *s = repeat('[', 100000, "");
    CHECK(lnk_json_parse_object(s, 100000, &v, &why) == LNK_EINVAL, "100000 '[' are rejected");
    CHECK(why && strstr(why, "deep") != NULL, "as too deep");
    free(s);

    /* {"a":{"a":...{}...}} at exactly the limit and one past it. */
    char buf[1024];
    size_t n = 0;
    for (int i = 0; i < LNK_JSON_DEPTH_MAX - 1; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"a\":");
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{}");
    for (int i = 0; i < LNK_JSON_DEPTH_MAX - 1; i++)
        buf[n++] = '}';
    CHECK(lnk_json_parse_object(buf, n, &v, &why) == LNK_OK, "depth 64 is accepted");
    json_decref(v);

    char deep[300];
    n = 0;
    deep[n++] = '{';
    deep[n++] = '"';
    deep[n++] = 'a';
    deep[n++] = '"';
    deep[n++] = ':';
    for (int i = 0; i < LNK_JSON_DEPTH_MAX; i++)
        deep[n++] = '[';
    for (int i = 0; i < LNK_JSON_DEPTH_MAX; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    CHECK(lnk_json_parse_object(deep, n, &v, &why) == LNK_EINVAL, "depth 65 is rejected");
}

static void test_brackets_inside_strings_do_not_count_as_depth(void **state)
{
    (void)state;
    char *s = repeat('[', 1000, "\"}");
    char *body = malloc(1010);
    memcpy(body, "{\"a\":\"", 6);
    memcpy(body + 6, s, 1003);
    json_t *v = NULL;
    const char *why = NULL;
    CHECK(parse(body, &v, &why) == LNK_OK, "brackets in a string are just text");
    json_decref(v);
    CHECK(parse("{\"a\\\"[[[[\":1}", &v, &why) == LNK_OK, "escaped quotes do not end the string");
    json_decref(v);
    free(s);
    free(body);
}

static void test_getters_report_absent_and_wrong_type(void **state)
{
    (void)state;
    json_t *o = NULL;
    const char *why = NULL;
    CHECK(parse("{\"s\":\"x\",\"i\":5,\"r\":5.0,\"b\":true,\"n\":null,\"o\":{},\"a\":[]}", &o,
                &why) == LNK_OK,
          "object parses");
    const char *s;
    size_t len;
    int64_t i;
    bool b, is_null;
    CHECK(lnk_json_get_string(o, "missing", &s, &len) == LNK_ENOTFOUND, "absent string");
    CHECK(lnk_json_get_int(o, "missing", &i) == LNK_ENOTFOUND, "absent int");
    CHECK(lnk_json_get_bool(o, "missing", &b) == LNK_ENOTFOUND, "absent bool");
    CHECK(lnk_json_get_string_or_null(o, "missing", &s, &len, &is_null) == LNK_ENOTFOUND,
          "absent string-or-null");
    const char *not_string[] = {"i", "r", "b", "n", "o", "a"};
    for (size_t k = 0; k < 6; k++)
        CHECK(lnk_json_get_string(o, not_string[k], &s, &len) == LNK_EINVAL,
              "non-string (null included) is EINVAL");
    const char *not_int[] = {"s", "r", "b", "n", "o", "a"};
    for (size_t k = 0; k < 6; k++)
        CHECK(lnk_json_get_int(o, not_int[k], &i) == LNK_EINVAL,
              "reals, booleans and null are not integers");
    const char *not_bool[] = {"s", "i", "r", "n", "o", "a"};
    for (size_t k = 0; k < 6; k++)
        CHECK(lnk_json_get_bool(o, not_bool[k], &b) == LNK_EINVAL, "non-boolean is EINVAL");
    CHECK(lnk_json_get_string_or_null(o, "i", &s, &len, &is_null) == LNK_EINVAL,
          "an int is neither string nor null");
    json_decref(o);
}

static void test_getters_return_values(void **state)
{
    (void)state;
    json_t *o = NULL;
    const char *why = NULL;
    CHECK(parse("{\"s\":\"caf\xc3\xa9\",\"i\":-9223372036854775808,\"t\":true,\"f\":false,"
                "\"n\":null,\"e\":\"\"}",
                &o, &why) == LNK_OK,
          "object parses");
    const char *s;
    size_t len;
    int64_t i;
    bool b, is_null;
    CHECK(lnk_json_get_string(o, "s", &s, &len) == LNK_OK && len == 5 &&
              strcmp(s, "caf\xc3\xa9") == 0,
          "string value and byte length");
    CHECK(lnk_json_get_int(o, "i", &i) == LNK_OK && i == INT64_MIN, "int64 min");
    CHECK(lnk_json_get_bool(o, "t", &b) == LNK_OK && b, "true");
    CHECK(lnk_json_get_bool(o, "f", &b) == LNK_OK && !b, "false");
    CHECK(lnk_json_get_string_or_null(o, "n", &s, &len, &is_null) == LNK_OK && is_null && s == NULL,
          "null is reported as null");
    CHECK(lnk_json_get_string_or_null(o, "e", &s, &len, &is_null) == LNK_OK && !is_null && len == 0,
          "an empty string is not null");
    json_decref(o);
}

static void test_dump_is_compact_ordered_and_utf8(void **state)
{
    (void)state;
    const char *src = "{ \"z\" : 1, \"a\" : [ true, null ], \"s\" : \"caf\xc3\xa9 / \\\"q\\\"\" }";
    json_t *o = NULL;
    const char *why = NULL;
    CHECK(parse(src, &o, &why) == LNK_OK, "object parses");
    size_t len;
    char *out = lnk_json_dump(o, &len);
    CHECK(out && strcmp(out, "{\"z\":1,\"a\":[true,null],\"s\":\"caf\xc3\xa9 / \\\"q\\\"\"}") == 0,
          "compact, insertion order, UTF-8 kept, slash not escaped");
    CHECK(len == strlen(out), "length matches");
    json_t *back = NULL;
    CHECK(lnk_json_parse_object(out, len, &back, &why) == LNK_OK && json_equal(o, back),
          "dump then parse gives an equal value");
    free(out);
    json_decref(back);
    json_decref(o);

    json_t *str = json_string("x");
    out = lnk_json_dump(str, &len);
    CHECK(out && strcmp(out, "\"x\"") == 0 && len == 3, "a bare string dumps too");
    free(out);
    json_decref(str);

    json_t *empty = json_object();
    out = lnk_json_dump(empty, NULL);
    CHECK(out && strcmp(out, "{}") == 0, "an empty object is {}; len may be NULL");
    free(out);
    json_decref(empty);
}

/* {"n":<text>} parsed, dumped, and the dump's number text. */
static char *number_round_trip(const char *text, json_t **in, json_t **out)
{
    char src[128], *dumped;
    const char *why = NULL;
    snprintf(src, sizeof(src), "{\"n\":%s}", text);
    *in = *out = NULL;
    CHECK(parse(src, in, &why) == LNK_OK, "the number parses");
    size_t len;
    dumped = lnk_json_dump(*in, &len);
    CHECK(dumped && lnk_json_parse_object(dumped, len, out, &why) == LNK_OK, "the dump parses");
    CHECK(len > 6 && dumped[len - 1] == '}', "the dump is an object");
    memmove(dumped, dumped + 5, len - 6); /* past {"n": and before } */
    dumped[len - 6] = '\0';
    return dumped;
}

/* Event details are stored and served through lnk_json_dump: every number
 * must come back as the same number (same double, bit for bit, or the same
 * integer), written as briefly as that allows. */
static void test_dump_keeps_every_number_exactly(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out; /* out NULL: the same text */
    } cases[] = {
        {"1234567890.5", NULL},
        {"0.1", NULL},
        {"0.30000000000000004", NULL},
        {"1e300", NULL},
        {"1E+300", "1e300"},
        {"-1.5e-300", NULL},
        {"5e-324", NULL},
        {"1.7976931348623157e308", NULL},
        {"2.2250738585072014e-308", NULL},
        {"-0.0", NULL},
        {"0.0", NULL},
        {"1.0", NULL},
        {"100.0", NULL},
        {"12345.678", NULL},
        {"1e16", NULL},
        {"0.0001", NULL},
        {"1e-05", "1e-5"},
        {"123456789.123456789", "123456789.12345679"},
        {"3.141592653589793", NULL},
        {"9007199254740993", NULL},
        {"9223372036854775807", NULL},
        {"-9223372036854775808", NULL},
        {"-0", "0"},
    };
    size_t wrong = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *in, *out;
        char *text = number_round_trip(cases[i].in, &in, &out);
        const char *want = cases[i].out ? cases[i].out : cases[i].in;
        const json_t *a = json_object_get(in, "n"), *b = json_object_get(out, "n");
        bool same =
            json_typeof(a) == json_typeof(b) &&
            (json_is_integer(a) ? json_integer_value(a) == json_integer_value(b)
                                : memcmp(&(double){json_real_value(a)},
                                         &(double){json_real_value(b)}, sizeof(double)) == 0);
        if (!same || strcmp(text, want) != 0) {
            print_error("%s -> %s (want %s)\n", cases[i].in, text, want);
            wrong++;
        }
        free(text);
        json_decref(in);
        json_decref(out);
    }
    CHECK(wrong == 0, "each number dumps as the shortest text that reads back as itself");

    /* One document mixes numbers of every length: each keeps its value. */
    json_t *in, *out;
    char *text = number_round_trip("[0.1,1234567890.123456,2.5,1e-7]", &in, &out);
    CHECK(json_equal(in, out), "a mixed array keeps every value");
    free(text);
    json_decref(in);
    json_decref(out);
}

static void test_numbers_out_of_range_are_named(void **state)
{
    (void)state;
    const char *big[] = {"{\"n\":18446744073709551616}", "{\"n\":-9223372036854775809}",
                         "{\"n\":1e400}"};
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        json_t *v = NULL;
        const char *why = NULL;
        CHECK(parse(big[i], &v, &why) == LNK_ERANGE && v == NULL,
              "a number past int64 or double is refused with LNK_ERANGE");
        CHECK(why && strstr(why, "out of range"), "the reason says the number is out of range");
    }
}

/* The top-level fields that hold such integers, so that a handler can answer
 * 422 naming them (docs/security.md#ids). */
static void test_oversized_keys_name_top_level_fields(void **state)
{
    (void)state;
    const char *body = "{\"user_id\":9223372036854775808,\"url_id\":1,\"n\":-1e400000,"
                       "\"details\":{\"deep\":18446744073709551616}}";
    json_t *keys = lnk_json_oversized_keys(body, strlen(body));
    CHECK(keys == NULL, "a real past a double still fails the body: no keys");
    body = "{\"user_id\":9223372036854775808,\"url_id\":1,\"x\":\"9223372036854775808\","
           "\"details\":{\"deep\":18446744073709551616},\"m\":-99999999999999999999}";
    keys = lnk_json_oversized_keys(body, strlen(body));
    CHECK(keys && json_array_size(keys) == 2, "two top-level integers past int64");
    CHECK(strcmp(json_string_value(json_array_get(keys, 0)), "user_id") == 0 &&
              strcmp(json_string_value(json_array_get(keys, 1)), "m") == 0,
          "named in order; nested ones and strings are not");
    json_decref(keys);
    const char *none[] = {"{\"a\":[18446744073709551616]}", "[18446744073709551616]", "{bad",
                          "{\"a\":1,\"a\":18446744073709551616}"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        CHECK(lnk_json_oversized_keys(none[i], strlen(none[i])) == NULL, "nothing to name");
}

/* s escaped into a fresh buffer of cap bytes, NUL-terminated. */
static char *escaped(const char *s, size_t n, size_t cap, bool *truncated)
{
    char *buf = calloc(1, cap + 1);
    *truncated = false;
    size_t len = lnk_json_escape(buf, cap, s, n, truncated);
    CHECK(len <= cap, "never past cap");
    buf[len] = '\0';
    return buf;
}

static void test_escape_writes_valid_json_strings(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        {"curl/8.1", 8, "\"curl/8.1\""},
        {"", 0, "\"\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"tab\there\nnl\x7f", 12, "\"tab\\u0009here\\u000anl\\u007f\""},
        {"caf\xc3\xa9 \xe2\x82\xac", 9, "\"caf\xc3\xa9 \xe2\x82\xac\""},
        {"bad\xff\xc3", 5, "\"bad\xef\xbf\xbd\xef\xbf\xbd\""},
        {"nul\0in", 6, "\"nul\\u0000in\""},
        {"\xc3\xa9\x80", 3, "\"\xc3\xa9\xef\xbf\xbd\""},
        {"\xe2\x82", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool truncated = true;
        char *out = escaped(cases[i].in, cases[i].n, 64, &truncated);
        if (strcmp(out, cases[i].out) != 0)
            print_error("case %zu: got %s\n", i, out);
        CHECK(strcmp(out, cases[i].out) == 0, "the expected escape");
        CHECK(!truncated, "not truncated");
        json_error_t err;
        json_t *v = json_loads(out, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        CHECK(v && json_is_string(v), "jansson reads it back as one string");
        json_decref(v);
        free(out);
    }
}

static void test_escape_truncates_between_escapes(void **state)
{
    (void)state;
    bool truncated = false;
    char *out = escaped("ab\"cd", 5, 4, &truncated);
    CHECK(truncated, "a string that does not fit says so");
    CHECK(strcmp(out, "\"ab") == 0, "and stops before the escape that would not fit");
    free(out);
    out = escaped("\xc3\xa9\xc3\xa9", 4, 4, &truncated);
    CHECK(truncated && strcmp(out, "\"\xc3\xa9") == 0, "never half a character");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_or_blank_body_is_rejected),
        cmocka_unit_test(test_invalid_json_is_rejected),
        cmocka_unit_test(test_nul_and_invalid_utf8_are_rejected),
        cmocka_unit_test(test_non_object_values_are_rejected),
        cmocka_unit_test(test_deep_nesting_is_rejected_without_recursion),
        cmocka_unit_test(test_brackets_inside_strings_do_not_count_as_depth),
        cmocka_unit_test(test_getters_report_absent_and_wrong_type),
        cmocka_unit_test(test_getters_return_values),
        cmocka_unit_test(test_dump_is_compact_ordered_and_utf8),
        cmocka_unit_test(test_dump_keeps_every_number_exactly),
        cmocka_unit_test(test_numbers_out_of_range_are_named),
        cmocka_unit_test(test_oversized_keys_name_top_level_fields),
        cmocka_unit_test(test_escape_writes_valid_json_strings),
        cmocka_unit_test(test_escape_truncates_between_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
