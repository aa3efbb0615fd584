/* SPDX-License-Identifier: MIT */
/* Imports of other shorteners' exports, and the CSV export of what they
 * give. Input: the first byte picks the format (modulo the six), the rest is
 * the file. Checks: the return code is OK, EINVAL or ETOOBIG; a refused file
 * gives no links and at least one error; every error has a row >= 0, a field
 * and a detail; every link has a destination lnk_url_validate accepts, a
 * custom code if any, RFC 3339 UTC times, at most 32 lower-case tags; each
 * link exports as one CSV record of 13 cells whose url and code cells read
 * back as the link's. */
#include <string.h>

#include "../fuzz.h"
#include "linkd/csv.h"
#include "linkd/err.h"
#include "linkd/portable.h"
#include "linkd/shortcode.h"
#include "linkd/timefmt.h"
#include "linkd/url.h"

static void check_time(const json_t *link, const char *key)
{
    json_t *v = json_object_get(link, key);
    if (!v)
        return;
    FUZZ_CHECK(json_is_string(v) && json_string_length(v) == LNK_TS_LEN + 1 &&
                   json_string_value(v)[LNK_TS_LEN] == 'Z',
               "times are YYYY-MM-DDTHH:MM:SSZ");
    int64_t t;
    FUZZ_CHECK(lnk_ts_parse(json_string_value(v), LNK_TS_LEN + 1, &t) == LNK_OK,
               "times parse back");
}

static void check_export(const json_t *link)
{
    struct lnk_buf b;
    lnk_buf_init(&b, 1 << 24);
    FUZZ_CHECK(lnk_portable_export_csv_row(link, &b) == LNK_OK, "an imported link exports");
    struct lnk_csv c;
    struct lnk_csv_record r;
    lnk_csv_init(&c, b.ptr, b.len);
    FUZZ_CHECK(lnk_csv_next(&c, &r) == LNK_OK && r.n_fields == 13, "one record of 13 cells");
    json_t *url = json_object_get(link, "url");
    FUZZ_CHECK(
        lnk_str_eq(r.fields[2], lnk_str_make(json_string_value(url), json_string_length(url))),
        "the url cell is the destination");
    json_t *code = json_object_get(link, "code");
    if (code)
        FUZZ_CHECK(lnk_str_eq_cstr(r.fields[1], json_string_value(code)), "the code cell");
    FUZZ_CHECK(lnk_csv_next(&c, &r) == LNK_EEOF, "nothing after it");
    lnk_csv_cleanup(&c);
    lnk_buf_cleanup(&b);
}

static void check_link(const json_t *link)
{
    FUZZ_CHECK(json_is_object(link), "a link is an object");
    json_t *url = json_object_get(link, "url");
    FUZZ_CHECK(json_is_string(url) && lnk_url_validate(json_string_value(url),
                                                       json_string_length(url), NULL) == LNK_OK,
               "a destination linkd accepts");
    json_t *code = json_object_get(link, "code");
    FUZZ_CHECK(!code ||
                   (json_is_string(code) &&
                    lnk_code_is_valid_custom(json_string_value(code), json_string_length(code))),
               "a custom code linkd accepts");
    check_time(link, "created_at");
    check_time(link, "valid_from");
    check_time(link, "valid_until");
    json_t *tags = json_object_get(link, "tags");
    FUZZ_CHECK(
        !tags || (json_is_array(tags) && json_array_size(tags) >= 1 && json_array_size(tags) <= 32),
        "1..32 tags");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *s = json_string_value(t);
        FUZZ_CHECK(s && s[0] != '\0', "a tag is a non-empty string");
        for (const char *p = s; *p; p++)
            FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'), "tags are lower case");
    }
    json_t *max = json_object_get(link, "max_clicks");
    FUZZ_CHECK(!max || (json_is_integer(max) && json_integer_value(max) >= 1), "max_clicks >= 1");
    check_export(link);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t n_formats = 0;
    while (lnk_portable_formats[n_formats])
        n_formats++;
    const char *format = lnk_portable_formats[data[0] % n_formats];
    char *buf = malloc(size - 1 ? size - 1 : 1);
    FUZZ_CHECK(buf != NULL, "malloc");
    memcpy(buf, data + 1, size - 1);
    json_t *links = NULL, *errors = NULL;
    int rc = lnk_portable_import(format, buf, size - 1, &links, &errors);
    FUZZ_CHECK(rc == LNK_OK || rc == LNK_EINVAL || rc == LNK_ETOOBIG, "documented codes");
    FUZZ_CHECK(json_is_array(links) && json_is_array(errors), "both arrays, always");
    if (rc != LNK_OK)
        FUZZ_CHECK(json_array_size(links) == 0 && json_array_size(errors) >= 1,
                   "a refused file: no links, a reason");
    size_t i;
    json_t *v;
    json_array_foreach(errors, i, v)
    {
        json_t *row = json_object_get(v, "row");
        FUZZ_CHECK(json_is_integer(row) && json_integer_value(row) >= 0, "row >= 0");
        FUZZ_CHECK(json_is_string(json_object_get(v, "field")), "a field");
        FUZZ_CHECK(json_string_length(json_object_get(v, "detail")) > 0, "a detail");
    }
    json_array_foreach(links, i, v)
    {
        check_link(v);
    }
    json_decref(links);
    json_decref(errors);
    free(buf);
    return 0;
}
