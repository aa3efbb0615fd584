/* SPDX-License-Identifier: MIT */
/* Import from Shlink, YOURLS and Kutt exports; export as CSV. Each format
 * is a container (CSV with a header, or one of the JSON shapes the source
 * writes) and a mapper of its source (shlink, yourls, kutt). A CSV record
 * becomes a JSON object keyed by its header, so one mapper serves both
 * containers of a source. Field names are matched normalised (ASCII lower
 * case, without spaces, '_' and '-'): "longUrl", "Long URL" and "long_url"
 * are one name, as the exports and their hand-edited copies spell them.
 * Field mapping and sources: docs/import-export.md. */
#include "linkd/portable.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkd/csv.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/shortcode.h"
#include "linkd/str.h"
#include "linkd/timefmt.h"
#include "linkd/url.h"

#define TAGS_MAX  32 /* per link (v1 model) */
#define TAG_CHARS 64 /* code points */
#define TIME_TEXT 40 /* longest date-time text looked at */
#define CELL_MAX  (1024 * 1024)
#define NOT_TEXT  "not text (a string without NUL bytes)"

const char *const lnk_portable_formats[] = {
    "shlink-csv", "shlink-json", "yourls-csv", "yourls-json", "kutt-csv", "kutt-json", NULL};

enum source { SRC_SHLINK, SRC_YOURLS, SRC_KUTT };

struct import {
    enum source src;
    json_t *links, *errors;
};

static void add_error(struct import *im, size_t row, const char *field, const char *detail)
{
    json_array_append_new(im->errors, json_pack("{s:I, s:s, s:s}", "row", (json_int_t)row, "field",
                                                field, "detail", detail));
}

/* ---- field access ---------------------------------------------------- */

static bool norm_eq(const char *key, const char *norm)
{
    for (;; key++) {
        if (*key == ' ' || *key == '_' || *key == '-')
            continue;
        if (tolower((unsigned char)*key) != *norm)
            return false;
        if (*key == '\0')
            return true;
        norm++;
    }
}

/* The value of the field named norm (normalised) in row, or NULL. */
static json_t *field(const json_t *row, const char *norm)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)row, key, v)
    {
        if (norm_eq(key, norm))
            return v;
    }
    return NULL;
}

/* A string field, trimmed: false when absent, null or empty. *bad is set
 * when it is present with a type that is not a string, or holds a NUL
 * (JSON's \u0000), which no C string downstream could carry. */
static bool text(const json_t *row, const char *norm, struct lnk_str *out, bool *bad)
{
    json_t *v = field(row, norm);
    if (!v || json_is_null(v))
        return false;
    if (!json_is_string(v) || memchr(json_string_value(v), '\0', json_string_length(v))) {
        *bad = true;
        return false;
    }
    *out = lnk_str_trim(lnk_str_make(json_string_value(v), json_string_length(v)));
    return out->len > 0;
}

/* A boolean as JSON or as CSV text: true, t, 1, yes / false, f, 0, no, "".
 * 1 true, 0 false or absent, -1 anything else. */
static int flag(const json_t *row, const char *norm)
{
    json_t *v = field(row, norm);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_integer(v))
        return json_integer_value(v) == 0 ? 0 : json_integer_value(v) == 1 ? 1 : -1;
    if (!json_is_string(v))
        return -1;
    struct lnk_str s = lnk_str_trim(lnk_str_make(json_string_value(v), json_string_length(v)));
    static const char *const yes[] = {"true", "t", "1", "yes"};
    static const char *const no[] = {"false", "f", "0", "no", ""};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (lnk_str_eq_nocase(s, lnk_str_from_cstr(yes[i])))
            return 1;
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (lnk_str_eq_nocase(s, lnk_str_from_cstr(no[i])))
            return 0;
    return -1;
}

/* ---- values ------------------------------------------------------------ */

static int digits2(const char *p, int *v)
{
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
        return LNK_EINVAL;
    *v = (p[0] - '0') * 10 + (p[1] - '0');
    return LNK_OK;
}

/* RFC 3339 / ISO 8601 date-times as the sources write them: "2024-05-01
 * 10:20:30" (YOURLS, UTC), "2024-05-01T10:20:30+02:00" (Shlink, ATOM),
 * "2024-05-01T10:20:30.123Z" (Kutt), a "+0200" offset too. */
static int parse_time(struct lnk_str s, int64_t *out)
{
    size_t n = s.len;
    int64_t offset_s = 0;
    const char *p = s.ptr;
    if (n > 19 && (p[n - 1] == 'Z' || p[n - 1] == 'z')) {
        n--;
    } else if (n >= 25 && (p[n - 6] == '+' || p[n - 6] == '-') && p[n - 3] == ':') {
        int hh, mm;
        if (digits2(p + n - 5, &hh) != LNK_OK || digits2(p + n - 2, &mm) != LNK_OK || hh > 23 ||
            mm > 59)
            return LNK_EINVAL;
        offset_s = (p[n - 6] == '-' ? -1 : 1) * (int64_t)(hh * 3600 + mm * 60);
        n -= 6;
    } else if (n >= 24 && (p[n - 5] == '+' || p[n - 5] == '-')) {
        int hh, mm;
        if (digits2(p + n - 4, &hh) != LNK_OK || digits2(p + n - 2, &mm) != LNK_OK || hh > 23 ||
            mm > 59)
            return LNK_EINVAL;
        offset_s = (p[n - 5] == '-' ? -1 : 1) * (int64_t)(hh * 3600 + mm * 60);
        n -= 5;
    }
    char tmp[TIME_TEXT];
    if (n >= sizeof(tmp))
        return LNK_EINVAL;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    int64_t t;
    int rc = lnk_ts_parse(tmp, n, &t);
    if (rc == LNK_OK)
        *out = t - offset_s;
    return rc;
}

static void set_time(json_t *link, const char *key, int64_t t)
{
    char ts[LNK_TS_LEN + 2];
    lnk_ts_format(t, ts);
    ts[LNK_TS_LEN] = 'Z';
    ts[LNK_TS_LEN + 1] = '\0';
    json_object_set_new(link, key, json_string(ts));
}

/* The time field `name` (normalised `norm`) of row into link[key]. */
static int map_time(struct import *im, size_t row, const json_t *src, const char *norm,
                    const char *name, json_t *link, const char *key)
{
    struct lnk_str s;
    bool bad = false;
    int64_t t;
    if (!text(src, norm, &s, &bad)) {
        if (bad)
            add_error(im, row, name, NOT_TEXT);
        return bad ? LNK_EINVAL : LNK_OK;
    }
    if (parse_time(s, &t) != LNK_OK) {
        add_error(im, row, name, "not a date-time (RFC 3339 or YYYY-MM-DD HH:MM:SS)");
        return LNK_EINVAL;
    }
    set_time(link, key, t);
    return LNK_OK;
}

static int check_url(struct import *im, size_t row, const char *name, struct lnk_str s)
{
    const char *why = NULL;
    if (lnk_url_validate(s.ptr, s.len, &why) == LNK_OK)
        return LNK_OK;
    char detail[160];
    snprintf(detail, sizeof(detail), "not a destination linkd accepts: %s", why ? why : "invalid");
    add_error(im, row, name, detail);
    return LNK_EINVAL;
}

/* The destination: required. */
static int map_url(struct import *im, size_t row, const json_t *src, const char *norm,
                   const char *name, json_t *link)
{
    struct lnk_str s;
    bool bad = false;
    if (!text(src, norm, &s, &bad)) {
        add_error(im, row, name, bad ? NOT_TEXT : "missing: the destination is required");
        return LNK_EINVAL;
    }
    int rc = check_url(im, row, name, s);
    if (rc == LNK_OK)
        json_object_set_new(link, "url", json_stringn(s.ptr, s.len));
    return rc;
}

/* A short code kept as the link's custom code. A code linkd cannot take is
 * the row's error, not a new code: the printed links must keep working. */
static int set_code(struct import *im, size_t row, const char *name, struct lnk_str s, json_t *link)
{
    if (!lnk_code_is_valid_custom(s.ptr, s.len)) {
        add_error(im, row, name,
                  "not a code linkd can keep: 3-32 of A-Z a-z 0-9 _ -, not a reserved word");
        return LNK_EINVAL;
    }
    json_object_set_new(link, "code", json_stringn(s.ptr, s.len));
    return LNK_OK;
}

static int map_code(struct import *im, size_t row, const json_t *src, const char *norm,
                    const char *name, json_t *link)
{
    struct lnk_str s;
    bool bad = false;
    if (!text(src, norm, &s, &bad)) {
        if (bad)
            add_error(im, row, name, NOT_TEXT);
        return bad ? LNK_EINVAL : LNK_OK;
    }
    return set_code(im, row, name, s, link);
}

static int map_title(struct import *im, size_t row, const json_t *src, const char *norm,
                     const char *name, json_t *link)
{
    struct lnk_str s;
    bool bad = false;
    if (text(src, norm, &s, &bad))
        json_object_set_new(link, "title", json_stringn(s.ptr, s.len));
    if (bad)
        add_error(im, row, name, NOT_TEXT);
    return bad ? LNK_EINVAL : LNK_OK;
}

/* Adds one tag, normalised as the v1 model stores them (trimmed, ASCII
 * lower case, 1..64 characters, each once). */
static int add_tag(struct import *im, size_t row, const char *name, struct lnk_str t, json_t *tags)
{
    t = lnk_str_trim(t);
    if (t.len == 0)
        return LNK_OK;
    for (size_t i = 0; i < t.len; i++) {
        if ((unsigned char)t.ptr[i] < 0x20 || t.ptr[i] == 0x7f) {
            add_error(im, row, name, "a tag with a control character");
            return LNK_EINVAL;
        }
    }
    if (!lnk_utf8_valid(t.ptr, t.len) || lnk_utf8_len(t.ptr, t.len) > TAG_CHARS) {
        add_error(im, row, name, "a tag longer than 64 characters or not UTF-8");
        return LNK_EINVAL;
    }
    char *low = malloc(t.len + 1);
    if (!low)
        return LNK_ENOMEM;
    for (size_t i = 0; i < t.len; i++)
        low[i] = (char)tolower((unsigned char)t.ptr[i]);
    low[t.len] = '\0';
    size_t i;
    json_t *v;
    bool seen = false;
    json_array_foreach(tags, i, v)
    {
        seen = seen || strcmp(json_string_value(v), low) == 0;
    }
    int rc = LNK_OK;
    if (!seen && json_array_size(tags) >= TAGS_MAX) {
        add_error(im, row, name, "more than 32 tags");
        rc = LNK_EINVAL;
    } else if (!seen) {
        json_array_append_new(tags, json_stringn(low, t.len));
    }
    free(low);
    return rc;
}

/* Tags as a JSON array of strings or as text split at `sep`. */
static int map_tags(struct import *im, size_t row, const json_t *src, const char *norm,
                    const char *name, char sep, json_t *link)
{
    json_t *v = field(src, norm);
    if (!v || json_is_null(v))
        return LNK_OK;
    json_t *tags = json_array();
    int rc = LNK_OK;
    if (json_is_array(v)) {
        size_t i;
        json_t *t;
        json_array_foreach(v, i, t)
        {
            if (rc != LNK_OK)
                break;
            if (!json_is_string(t)) {
                add_error(im, row, name, "a tag that is not a string");
                rc = LNK_EINVAL;
            } else {
                rc = add_tag(im, row, name,
                             lnk_str_make(json_string_value(t), json_string_length(t)), tags);
            }
        }
    } else if (json_is_string(v)) {
        const char *p = json_string_value(v), *end = p + json_string_length(v);
        while (rc == LNK_OK && p <= end) {
            const char *q = memchr(p, sep, (size_t)(end - p));
            if (!q)
                q = end;
            rc = add_tag(im, row, name, lnk_str_make(p, (size_t)(q - p)), tags);
            p = q + 1;
        }
    } else {
        add_error(im, row, name, "not a list of tags");
        rc = LNK_EINVAL;
    }
    if (rc == LNK_OK && json_array_size(tags) > 0)
        json_object_set(link, "tags", tags);
    json_decref(tags);
    return rc;
}

static int map_max_clicks(struct import *im, size_t row, const json_t *src, const char *norm,
                          const char *name, json_t *link)
{
    json_t *v = field(src, norm);
    long long n;
    if (!v || json_is_null(v))
        return LNK_OK;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        struct lnk_str s = lnk_str_trim(lnk_str_make(json_string_value(v), json_string_length(v)));
        if (s.len == 0)
            return LNK_OK;
        if (lnk_str_to_i64(s, &n) != LNK_OK)
            n = 0;
    } else {
        n = 0;
    }
    if (n < 1) {
        add_error(im, row, name, "not an integer >= 1");
        return LNK_EINVAL;
    }
    json_object_set_new(link, "max_clicks", json_integer(n));
    return LNK_OK;
}

/* ---- the sources ----------------------------------------------------- */

/* Shlink's device long URLs become rules: android and ios by operating
 * system, desktop by device class. */
static int map_shlink_devices(struct import *im, size_t row, const json_t *src, json_t *link)
{
    static const struct {
        const char *norm, *name, *cond, *value;
    } devs[] = {{"android", "deviceLongUrls.android", "os", "android"},
                {"ios", "deviceLongUrls.ios", "os", "ios"},
                {"desktop", "deviceLongUrls.desktop", "device", "desktop"}};
    json_t *d = field(src, "devicelongurls");
    if (!d || json_is_null(d))
        return LNK_OK;
    if (!json_is_object(d)) {
        add_error(im, row, "deviceLongUrls", "not an object");
        return LNK_EINVAL;
    }
    json_t *rules = json_array();
    int rc = LNK_OK;
    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]) && rc == LNK_OK; i++) {
        struct lnk_str s;
        bool bad = false;
        if (!text(d, devs[i].norm, &s, &bad)) {
            if (bad) {
                add_error(im, row, devs[i].name, NOT_TEXT);
                rc = LNK_EINVAL;
            }
            continue;
        }
        rc = check_url(im, row, devs[i].name, s);
        if (rc == LNK_OK)
            json_array_append_new(rules, json_pack("{s:s%, s:[s]}", "url", s.ptr, s.len,
                                                   devs[i].cond, devs[i].value));
    }
    if (rc == LNK_OK && json_array_size(rules) > 0)
        json_object_set(link, "rules", rules);
    json_decref(rules);
    return rc;
}

static int map_shlink(struct import *im, size_t row, const json_t *src, json_t *link)
{
    int rc = map_url(im, row, src, "longurl", "longUrl", link);
    if (rc == LNK_OK)
        rc = map_code(im, row, src, "shortcode", "shortCode", link);
    if (rc == LNK_OK)
        rc = map_title(im, row, src, "title", "title", link);
    if (rc == LNK_OK)
        rc = map_tags(im, row, src, "tags", "tags", '|', link);
    if (rc == LNK_OK) {
        /* dateCreated in the API, createdAt in the web client's CSV */
        const char *norm = field(src, "datecreated") ? "datecreated" : "createdat";
        rc = map_time(im, row, src, norm, norm[0] == 'd' ? "dateCreated" : "createdAt", link,
                      "created_at");
    }
    json_t *meta = field(src, "meta");
    if (rc == LNK_OK && meta && !json_is_null(meta) && !json_is_object(meta)) {
        add_error(im, row, "meta", "not an object");
        rc = LNK_EINVAL;
    }
    if (rc == LNK_OK && json_is_object(meta)) {
        rc = map_time(im, row, meta, "validsince", "meta.validSince", link, "valid_from");
        if (rc == LNK_OK)
            rc = map_time(im, row, meta, "validuntil", "meta.validUntil", link, "valid_until");
        if (rc == LNK_OK)
            rc = map_max_clicks(im, row, meta, "maxvisits", "meta.maxVisits", link);
    }
    json_t *fq = field(src, "forwardquery");
    if (rc == LNK_OK && fq && !json_is_null(fq)) {
        int f = flag(src, "forwardquery");
        if (f < 0) {
            add_error(im, row, "forwardQuery", "not a boolean");
            rc = LNK_EINVAL;
        } else {
            json_object_set_new(link, "forward_query", json_boolean(f));
        }
    }
    if (rc == LNK_OK)
        rc = map_shlink_devices(im, row, src, link);
    return rc;
}

/* The code of a YOURLS row: keyword (database, shlink-list plugin), the
 * last path segment of shorturl (API stats), or source "/keyword/"
 * (Import/Export plugin CSV). */
static int map_yourls_code(struct import *im, size_t row, const json_t *src, json_t *link)
{
    struct lnk_str s;
    bool bad = false;
    if (text(src, "keyword", &s, &bad))
        return set_code(im, row, "keyword", s, link);
    const char *name = "shorturl";
    if (!bad && !text(src, "shorturl", &s, &bad)) {
        name = "source";
        if (!bad && !text(src, "source", &s, &bad))
            return LNK_OK;
    }
    if (bad) {
        add_error(im, row, name, NOT_TEXT);
        return LNK_EINVAL;
    }
    while (s.len > 0 && s.ptr[s.len - 1] == '/')
        s.len--;
    const char *slash = s.len ? memrchr(s.ptr, '/', s.len) : NULL;
    if (slash)
        s = lnk_str_make(slash + 1, s.len - (size_t)(slash + 1 - s.ptr));
    return set_code(im, row, name, s, link);
}

static int map_yourls(struct import *im, size_t row, const json_t *src, json_t *link)
{
    bool db_shape = field(src, "url") != NULL;
    int rc = map_url(im, row, src, db_shape ? "url" : "target", db_shape ? "url" : "target", link);
    if (rc == LNK_OK)
        rc = map_yourls_code(im, row, src, link);
    if (rc == LNK_OK)
        rc = map_title(im, row, src, "title", "title", link);
    if (rc == LNK_OK)
        rc = map_time(im, row, src, "timestamp", "timestamp", link, "created_at");
    return rc;
}

static int map_kutt(struct import *im, size_t row, const json_t *src, json_t *link)
{
    /* The API says whether a link has a password; the database holds its
     * hash. Neither gives the password, and importing the link without one
     * would open what was closed. */
    int pw = flag(src, "password");
    if (pw != 0) {
        add_error(im, row, "password",
                  "the link is password-protected and its password cannot be exported; "
                  "create it again with a password");
        return LNK_EINVAL;
    }
    int rc = map_url(im, row, src, "target", "target", link);
    if (rc == LNK_OK)
        rc = map_code(im, row, src, "address", "address", link);
    if (rc == LNK_OK)
        rc = map_title(im, row, src, "description", "description", link);
    if (rc == LNK_OK)
        rc = map_time(im, row, src, "expirein", "expire_in", link, "valid_until");
    if (rc == LNK_OK)
        rc = map_time(im, row, src, "createdat", "created_at", link, "created_at");
    if (rc == LNK_OK) {
        int banned = flag(src, "banned");
        if (banned < 0) {
            add_error(im, row, "banned", "not a boolean");
            rc = LNK_EINVAL;
        } else if (banned) {
            json_object_set_new(link, "active", json_false());
        }
    }
    return rc;
}

static int map_row(struct import *im, size_t row, const json_t *src)
{
    if (!json_is_object(src)) {
        add_error(im, row, "", "not an object");
        return LNK_OK;
    }
    json_t *link = json_object();
    int rc = im->src == SRC_SHLINK   ? map_shlink(im, row, src, link)
             : im->src == SRC_YOURLS ? map_yourls(im, row, src, link)
                                     : map_kutt(im, row, src, link);
    if (rc == LNK_OK)
        json_array_append(im->links, link);
    json_decref(link);
    return rc == LNK_ENOMEM ? rc : LNK_OK;
}

/* ---- containers ------------------------------------------------------ */

/* The reader cannot go past a malformed record: the import stops there. */
static int csv_failure(struct import *im, size_t row, const struct lnk_csv *c, int rc)
{
    char detail[160];
    snprintf(detail, sizeof(detail), "%s at line %zu, column %zu",
             rc == LNK_ETOOBIG ? "a CSV record past the reader's limits" : "malformed CSV", c->line,
             c->err_col);
    add_error(im, row, "", detail);
    return rc == LNK_ETOOBIG ? LNK_ETOOBIG : LNK_EINVAL;
}

static const char *required_column(enum source src)
{
    return src == SRC_SHLINK ? "longurl" : src == SRC_KUTT ? "target" : NULL;
}

static int import_csv(struct import *im, const char *buf, size_t len)
{
    struct lnk_csv c;
    struct lnk_csv_record rec;
    json_t *names = json_array();
    int rc;
    lnk_csv_init(&c, buf, len);
    rc = lnk_csv_next(&c, &rec);
    if (rc == LNK_EEOF) {
        rc = LNK_OK; /* an empty file: nothing to import */
        goto out;
    }
    if (rc != LNK_OK) {
        rc = csv_failure(im, 0, &c, rc);
        goto out;
    }
    for (size_t i = 0; i < rec.n_fields; i++) {
        struct lnk_str h = lnk_str_trim(rec.fields[i]);
        if (!lnk_utf8_valid(h.ptr, h.len) || memchr(h.ptr, '\0', h.len)) {
            add_error(im, 0, "", "the header is not UTF-8 text");
            rc = LNK_EINVAL;
            goto out;
        }
        json_array_append_new(names, json_stringn(h.ptr, h.len));
    }
    /* the header as a row, to find the columns the way rows are read */
    json_t *probe = json_object();
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        json_object_set_new(probe, json_string_value(n), json_string("x"));
    }
    const char *need = required_column(im->src);
    bool ok = need ? field(probe, need) != NULL
                   : field(probe, "url") != NULL || field(probe, "target") != NULL;
    json_decref(probe);
    if (!ok) {
        add_error(im, 0, need ? need : "url",
                  "the header has no destination column: not an export of this format");
        rc = LNK_EINVAL;
        goto out;
    }
    size_t row = 0;
    while ((rc = lnk_csv_next(&c, &rec)) == LNK_OK) {
        if (++row > LNK_PORTABLE_ROWS_MAX) {
            add_error(im, row, "", "more rows than an import takes (100000)");
            rc = LNK_ETOOBIG;
            goto out;
        }
        json_t *src = json_object();
        const char *bad = NULL;
        for (size_t f = 0; f < rec.n_fields && f < json_array_size(names) && !bad; f++) {
            const char *name = json_string_value(json_array_get(names, f));
            struct lnk_str v = rec.fields[f];
            if (!lnk_utf8_valid(v.ptr, v.len))
                bad = name;
            else
                json_object_set_new(src, name, json_stringn(v.ptr, v.len));
        }
        if (bad)
            add_error(im, row, bad, "not UTF-8 text");
        else
            rc = map_row(im, row, src);
        json_decref(src);
        if (rc != LNK_OK)
            goto out;
    }
    rc = rc == LNK_EEOF ? LNK_OK : csv_failure(im, row + 1, &c, rc);
out:
    json_decref(names);
    lnk_csv_cleanup(&c);
    return rc;
}

/* The rows of a JSON export: the array the format keeps them in. */
static json_t *json_rows(enum source src, json_t *doc)
{
    if (json_is_array(doc))
        return json_incref(doc);
    if (!json_is_object(doc))
        return NULL;
    json_t *v;
    if (src == SRC_SHLINK) {
        /* GET /rest/v3/short-urls: {"shortUrls": {"data": [...], "pagination": {...}}} */
        v = json_object_get(doc, "shortUrls");
        if (json_is_object(v))
            v = json_object_get(v, "data");
        else
            v = json_object_get(doc, "data");
        return json_is_array(v) ? json_incref(v) : NULL;
    }
    if (src == SRC_KUTT) {
        /* GET /api/v2/links: {"limit", "skip", "total", "data": [...]} */
        v = json_object_get(doc, "data");
        return json_is_array(v) ? json_incref(v) : NULL;
    }
    /* YOURLS action=stats: {"links": {"link_1": {...}, ...}, "stats": ...};
     * the shlink-list plugin: {"result": [...]} */
    v = json_object_get(doc, "result");
    if (json_is_array(v))
        return json_incref(v);
    v = json_object_get(doc, "links");
    if (!json_is_object(v))
        return NULL;
    json_t *rows = json_array();
    const char *key;
    json_t *item;
    json_object_foreach(v, key, item)
    {
        json_array_append(rows, item);
    }
    return rows;
}

static int import_json(struct import *im, const char *buf, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    size_t start = i;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (i == len)
        return LNK_OK; /* an empty file: nothing to import */
    json_t *doc = NULL;
    const char *why = NULL;
    int rc = lnk_json_parse(buf + start, len - start, buf[i] == '[' ? JSON_ARRAY : JSON_OBJECT,
                            &doc, &why);
    if (rc != LNK_OK) {
        add_error(im, 0, "", why ? why : "not JSON");
        return LNK_EINVAL;
    }
    json_t *rows = json_rows(im->src, doc);
    if (!rows) {
        add_error(im, 0, "", "not the shape of this export (no list of links found)");
        rc = LNK_EINVAL;
    } else if (json_array_size(rows) > LNK_PORTABLE_ROWS_MAX) {
        add_error(im, LNK_PORTABLE_ROWS_MAX + 1, "", "more rows than an import takes (100000)");
        rc = LNK_ETOOBIG;
    } else {
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            rc = map_row(im, i + 1, row);
            if (rc != LNK_OK)
                break;
        }
    }
    json_decref(rows);
    json_decref(doc);
    return rc;
}

int lnk_portable_import(const char *format, const char *buf, size_t len, json_t **links,
                        json_t **errors)
{
    static const struct {
        const char *name;
        enum source src;
        bool csv;
    } formats[] = {{"shlink-csv", SRC_SHLINK, true}, {"shlink-json", SRC_SHLINK, false},
                   {"yourls-csv", SRC_YOURLS, true}, {"yourls-json", SRC_YOURLS, false},
                   {"kutt-csv", SRC_KUTT, true},     {"kutt-json", SRC_KUTT, false}};
    struct import im = {SRC_SHLINK, json_array(), json_array()};
    int rc = LNK_EINVAL;
    size_t f = 0;
    while (f < sizeof(formats) / sizeof(formats[0]) &&
           !(format && strcmp(format, formats[f].name) == 0))
        f++;
    if (f == sizeof(formats) / sizeof(formats[0])) {
        add_error(&im, 0, "format",
                  "unknown format: shlink-csv, shlink-json, yourls-csv, yourls-json, kutt-csv "
                  "or kutt-json");
    } else {
        im.src = formats[f].src;
        rc = formats[f].csv ? import_csv(&im, buf, len) : import_json(&im, buf, len);
    }
    if (rc != LNK_OK)
        json_array_clear(im.links);
    *links = im.links;
    *errors = im.errors;
    return rc;
}

/* ---- export ---------------------------------------------------------- */

static const char *const export_columns[] = {
    "id",         "code",       "url",           "title",      "tags",
    "notes",      "active",     "redirect_type", "valid_from", "valid_until",
    "max_clicks", "created_at", "updated_at",
};

int lnk_portable_export_csv_header(struct lnk_buf *out)
{
    size_t mark = out->len;
    int rc = LNK_OK;
    for (size_t i = 0; i < sizeof(export_columns) / sizeof(export_columns[0]) && rc == LNK_OK;
         i++) {
        if (i)
            rc = lnk_buf_append(out, ",", 1);
        if (rc == LNK_OK)
            rc = lnk_buf_append(out, export_columns[i], strlen(export_columns[i]));
    }
    if (rc == LNK_OK)
        rc = lnk_buf_append(out, "\r\n", 2);
    if (rc != LNK_OK && out->ptr) {
        out->len = mark;
        out->ptr[mark] = '\0';
    }
    return rc;
}

/* The text of one cell into cell (emptied first). */
static int cell_text(const json_t *v, struct lnk_buf *cell)
{
    cell->len = 0;
    if (!v || json_is_null(v))
        return lnk_buf_append(cell, "", 0);
    if (json_is_string(v))
        return lnk_buf_append(cell, json_string_value(v), json_string_length(v));
    if (json_is_integer(v))
        return lnk_buf_printf(cell, "%lld", (long long)json_integer_value(v));
    if (json_is_boolean(v))
        return lnk_buf_printf(cell, "%s", json_is_true(v) ? "true" : "false");
    if (!json_is_array(v))
        return LNK_EINVAL;
    size_t i;
    json_t *t;
    int rc = lnk_buf_append(cell, "", 0);
    json_array_foreach(v, i, t)
    {
        if (!json_is_string(t))
            return LNK_EINVAL;
        if (i)
            rc = lnk_buf_append(cell, "|", 1);
        if (rc == LNK_OK)
            rc = lnk_buf_append(cell, json_string_value(t), json_string_length(t));
        if (rc != LNK_OK)
            return rc;
    }
    return rc;
}

/* OWASP "CSV injection": a spreadsheet runs a cell that starts with one of
 * these as a formula (tab and CR as well, which some strip first). Only the
 * free-text columns can hold one: the others hold what linkd validated to a
 * closed alphabet (a code is [A-Za-z0-9_-], a destination starts with
 * http), and a code that starts with '-' must be exported as it is. */
static bool formula_start(const char *column, const struct lnk_buf *cell)
{
    bool free_text =
        strcmp(column, "title") == 0 || strcmp(column, "notes") == 0 || strcmp(column, "tags") == 0;
    return free_text && cell->len > 0 && strchr("=+-@\t\r", cell->ptr[0]) != NULL;
}

int lnk_portable_export_csv_row(const json_t *link, struct lnk_buf *out)
{
    if (!json_is_object(link))
        return LNK_EINVAL;
    struct lnk_buf line, cell;
    lnk_buf_init(&line, out->max);
    lnk_buf_init(&cell, CELL_MAX);
    int rc = LNK_OK;
    for (size_t i = 0; i < sizeof(export_columns) / sizeof(export_columns[0]) && rc == LNK_OK;
         i++) {
        json_t *v = json_object_get(link, export_columns[i]);
        if (json_is_array(v) && strcmp(export_columns[i], "tags") != 0)
            rc = LNK_EINVAL;
        if (rc == LNK_OK && i)
            rc = lnk_buf_append(&line, ",", 1);
        if (rc == LNK_OK)
            rc = cell_text(v, &cell);
        if (rc == LNK_OK && formula_start(export_columns[i], &cell)) {
            /* the apostrophe goes inside the quotes, when there are quotes */
            struct lnk_buf defused;
            lnk_buf_init(&defused, CELL_MAX + 1);
            rc = lnk_buf_append(&defused, "'", 1);
            if (rc == LNK_OK)
                rc = lnk_buf_append(&defused, cell.ptr, cell.len);
            if (rc == LNK_OK)
                rc = lnk_csv_append_field(&line, defused.ptr, defused.len);
            lnk_buf_cleanup(&defused);
        } else if (rc == LNK_OK) {
            rc = lnk_csv_append_field(&line, cell.ptr ? cell.ptr : "", cell.len);
        }
    }
    if (rc == LNK_OK)
        rc = lnk_buf_append(&line, "\r\n", 2);
    if (rc == LNK_OK)
        rc = lnk_buf_append(out, line.ptr, line.len);
    lnk_buf_cleanup(&cell);
    lnk_buf_cleanup(&line);
    return rc;
}
