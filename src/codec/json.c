/* SPDX-License-Identifier: MIT */
/* Request-body parsing and typed field access over jansson (CONTRACT.md §2:
 * 400 for a body that is not a JSON object, 422 for a field of the wrong
 * type). Nesting is bounded by a linear pre-scan before jansson sees the
 * bytes, so a hostile body never drives a deep recursion. Thread-safe. */
#include "linkd/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkd/arena.h"
#include "linkd/err.h"
#include "linkd/str.h"

/* Significant digits that print any double so that it reads back the same
 * (IEEE 754 binary64: 17). */
#define DBL_ROUND_TRIP_DIGITS 17
/* 2^63: the first magnitude no int64 holds (-2^63 does, but no JSON client
 * sends it as an id). */
#define INT64_OVERFLOW_AT 9223372036854775808.0

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Maximum [ / { nesting of buf outside string literals, stopping early once
 * it passes LNK_JSON_DEPTH_MAX. Unbalanced input is left for jansson to
 * reject; this only has to bound the depth it will ever recurse to. */
static bool depth_within_limit(const char *buf, size_t len)
{
    size_t depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (c == '\\')
                i++; /* the escaped byte cannot end the string */
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > LNK_JSON_DEPTH_MAX)
                return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return true;
}

int lnk_json_parse_object(const char *buf, size_t len, json_t **out, const char **why)
{
    return lnk_json_parse(buf, len, JSON_OBJECT, out, why);
}

int lnk_json_parse(const char *buf, size_t len, int type, json_t **out, const char **why)
{
    const char *msg = NULL;
    json_t *v = NULL;
    size_t i = 0;
    bool range = false;

    while (i < len && is_json_space(buf[i]))
        i++;
    if (i == len) {
        msg = "empty body";
        goto out;
    }
    if (!depth_within_limit(buf, len)) {
        msg = "JSON nested too deeply";
        goto out;
    }
    /* JSON_DECODE_ANY so that a bare string or number parses and is reported
     * as "not an object" rather than as a syntax error. jansson rejects
     * invalid UTF-8 and \u0000 (no JSON_ALLOW_NUL) on its own. */
    json_error_t error;
    /* \u0000 is valid JSON: accept it here and let the string getters refuse
     * it per field (422), rather than calling the body unparsable (400). */
    v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    if (!v) {
        /* jansson keeps integers in 64 bits and reals in doubles, and
         * refuses a number past either rather than round it; say so,
         * since the text itself is valid JSON. */
        range = strstr(error.text, "too big") || strstr(error.text, "overflow");
        msg = range ? "a number is out of range (integers must fit in 64 bits, reals in a double)"
                    : "invalid JSON";
        goto out;
    }
    if (json_typeof(v) != (json_type)type) {
        msg = type == JSON_ARRAY ? "not a JSON array" : "not a JSON object";
        json_decref(v);
        v = NULL;
        goto out;
    }
    *out = v;

out:
    if (msg && why)
        *why = msg;
    return !msg ? LNK_OK : range ? LNK_ERANGE : LNK_EINVAL;
}

json_t *lnk_json_oversized_keys(const char *buf, size_t len)
{
    json_t *v = NULL, *keys = NULL, *x;
    const char *key;

    if (!depth_within_limit(buf, len))
        goto out;
    /* Read every integer as a double, which holds the ones int64 cannot
     * (up to about 1.8e308), only to find where they are. */
    v = json_loadb(
        buf, len,
        JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
    if (!json_is_object(v))
        goto out;
    json_object_foreach(v, key, x)
    {
        if (json_is_real(x) && fabs(json_real_value(x)) >= INT64_OVERFLOW_AT) {
            if (!keys)
                keys = json_array();
            json_array_append_new(keys, json_string(key));
        }
    }
out:
    json_decref(v);
    return keys;
}

int lnk_json_get_string(const json_t *obj, const char *key, const char **s, size_t *len)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return LNK_ENOTFOUND;
    if (!json_is_string(v))
        return LNK_EINVAL;
    *s = json_string_value(v);
    if (memchr(*s, '\0', json_string_length(v)))
        return LNK_ERANGE;
    if (len)
        *len = json_string_length(v);
    return LNK_OK;
}

int lnk_json_get_int(const json_t *obj, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return LNK_ENOTFOUND;
    if (!json_is_integer(v))
        return LNK_EINVAL;
    *out = (int64_t)json_integer_value(v);
    return LNK_OK;
}

int lnk_json_get_bool(const json_t *obj, const char *key, bool *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return LNK_ENOTFOUND;
    if (!json_is_boolean(v))
        return LNK_EINVAL;
    *out = json_is_true(v);
    return LNK_OK;
}

int lnk_json_get_string_or_null(const json_t *obj, const char *key, const char **s, size_t *len,
                                bool *is_null)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return LNK_ENOTFOUND;
    *is_null = json_is_null(v);
    if (!*is_null)
        return lnk_json_get_string(obj, key, s, len);
    *s = NULL;
    if (len)
        *len = 0;
    return LNK_OK;
}

/* The fewest significant digits (1 to 17) that print x so that it reads
 * back as the same double. 17 always would, but writes 0.1 as
 * 0.10000000000000001. Below 1e16 there are at least as many as x has
 * integer digits, so that %g writes 100.0 as 100.0 rather than 1e2 (the
 * range where Python and JavaScript print plain digits too). */
static int real_digits(double x)
{
    char buf[32];
    int digits = 1, int_digits = 0;
    for (double a = fabs(x); a >= 1 && a < 1e16; a /= 10)
        int_digits++;
    for (; digits < DBL_ROUND_TRIP_DIGITS; digits++) {
        snprintf(buf, sizeof(buf), "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return digits > int_digits ? digits : int_digits;
}

/* The digits that print every real in v exactly: jansson takes one
 * precision per dump, so the real that needs the most sets it. */
static int dump_digits(const json_t *v)
{
    int digits = 1, d;
    const char *key;
    size_t i;
    json_t *x;
    switch (json_typeof(v)) {
    case JSON_REAL:
        return real_digits(json_real_value(v));
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, key, x) if ((d = dump_digits(x)) > digits) digits = d;
        return digits;
    case JSON_ARRAY:
        json_array_foreach(v, i, x) if ((d = dump_digits(x)) > digits) digits = d;
        return digits;
    default:
        return digits;
    }
}

char *lnk_json_dump(const json_t *v, size_t *len)
{
    /* Two passes of json_dumpb so the result comes from our allocator (OOM
     * aborts) and the caller can free() it whatever jansson's allocator is.
     * Reals keep every bit (event details must read back as they were
     * sent); integers are exact in jansson anyway. */
    const size_t flags =
        JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_REAL_PRECISION(dump_digits(v));
    size_t n = json_dumpb(v, NULL, 0, flags);
    if (n == 0) {
        if (len)
            *len = 0;
        return NULL;
    }
    char *s = lnk_xmalloc(n + 1);
    json_dumpb(v, s, n, flags);
    s[n] = '\0';
    if (len)
        *len = n;
    return s;
}

/* ---- writing strings ------------------------------------------------------ */

struct out {
    char *p;
    size_t len, cap;
    bool truncated;
};

static void out_put(struct out *o, const char *s, size_t n)
{
    if (o->truncated || o->len + n > o->cap) {
        o->truncated = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static bool plain_ascii(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* The length of a UTF-8 sequence from its first byte; 1 for a byte that
 * cannot start one. */
static size_t utf8_len(unsigned char c)
{
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 1;
}

/* The escape of the character at s[i], whose first byte is not plain; *used
 * gets the bytes of s it covers. */
static void put_special(struct out *o, const char *s, size_t n, size_t i, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char)s[i];
    *used = 1;
    if (c == '"' || c == '\\') {
        char e[2] = {'\\', (char)c};
        out_put(o, e, 2);
    } else if (c < 0x20 || c == 0x7f) {
        char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        out_put(o, e, 6);
    } else {
        size_t k = utf8_len(c);
        if (k > 1 && i + k <= n && lnk_utf8_valid(s + i, k)) {
            out_put(o, s + i, k);
            *used = k;
        } else {
            out_put(o, "\xEF\xBF\xBD", 3);
        }
    }
}

size_t lnk_json_escape(char *dst, size_t cap, const char *s, size_t n, bool *truncated)
{
    struct out o = {dst, 0, cap, false};
    out_put(&o, "\"", 1);
    for (size_t i = 0; i < n && !o.truncated;) {
        size_t run = i;
        while (run < n && plain_ascii((unsigned char)s[run]))
            run++;
        if (run > i) { /* most of a string: copied in one go */
            out_put(&o, s + i, run - i);
            i = run;
            continue;
        }
        size_t used = 1;
        put_special(&o, s, n, i, &used);
        i += used;
    }
    out_put(&o, "\"", 1);
    if (o.truncated)
        *truncated = true;
    return o.len;
}
