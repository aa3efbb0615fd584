/* SPDX-License-Identifier: MIT */
/* The in-place JSON reader of policy_int.h (RFC 8259 syntax): values are
 * spans of the input; strings are decoded only when asked, into the
 * caller's storage. */
#include <string.h>

#include "policy_int.h"

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Past the closing quote of the string starting at p (the opening quote);
 * NULL if malformed. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c != '\\')
            continue;
        if (++p == end)
            return NULL;
        if (*p == 'u') {
            if (end - p < 5)
                return NULL;
            for (int i = 1; i <= 4; i++)
                if (lnk_hex_digit(p[i]) < 0)
                    return NULL;
            p += 4;
        } else if (!strchr("\"\\/bfnrt", *p)) {
            return NULL;
        }
    }
    return NULL;
}

static const char *skip_number(const char *p, const char *end)
{
    const char *start = p;
    if (p < end && *p == '-')
        p++;
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    if (p == digits)
        return NULL;
    if (p < end && *p == '.') {
        const char *frac = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == frac)
            return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const char *exp = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == exp)
            return NULL;
    }
    return p > start ? p : NULL;
}

static const char *skip_value(const char *p, const char *end, int depth);

/* Objects and arrays: open is at p. */
static const char *skip_container(const char *p, const char *end, int depth)
{
    char close = *p == '{' ? '}' : ']';
    bool object = *p == '{';
    if (depth >= LNK_JS_DEPTH_MAX)
        return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (object) {
            if (p >= end || *p != '"' || !(p = skip_string(p, end)))
                return NULL;
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p = skip_ws(p + 1, end);
        }
        p = skip_value(p, end, depth + 1);
        if (!p)
            return NULL;
        p = skip_ws(p, end);
        if (p < end && *p == close)
            return p + 1;
        if (p >= end || *p != ',')
            return NULL;
        p = skip_ws(p + 1, end);
    }
}

static const char *skip_literal(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0 ? p + n : NULL;
}

static const char *skip_value(const char *p, const char *end, int depth)
{
    if (p >= end)
        return NULL;
    switch (*p) {
    case '"':
        return skip_string(p, end);
    case '{':
    case '[':
        return skip_container(p, end, depth);
    case 't':
        return skip_literal(p, end, "true");
    case 'f':
        return skip_literal(p, end, "false");
    case 'n':
        return skip_literal(p, end, "null");
    default:
        return skip_number(p, end);
    }
}

bool lnk_js_parse(struct lnk_str s, struct lnk_js *out)
{
    const char *end = s.ptr + s.len;
    const char *p = skip_ws(s.ptr, end);
    const char *q = skip_value(p, end, 0);
    if (!q || skip_ws(q, end) != end)
        return false;
    out->p = p;
    out->n = (size_t)(q - p);
    return true;
}

bool lnk_js_is_object(struct lnk_js v)
{
    return v.n > 0 && v.p[0] == '{';
}

bool lnk_js_is_array(struct lnk_js v)
{
    return v.n > 0 && v.p[0] == '[';
}

bool lnk_js_is_string(struct lnk_js v)
{
    return v.n > 0 && v.p[0] == '"';
}

bool lnk_js_iter_begin(struct lnk_js v, struct lnk_js_iter *it)
{
    if (!lnk_js_is_object(v) && !lnk_js_is_array(v))
        return false;
    it->p = v.p + 1;
    it->end = v.p + v.n - 1; /* the closing bracket */
    return true;
}

/* The next value of a (checked) container, at it->p after white space and
 * an optional comma. */
static bool next_value(struct lnk_js_iter *it, struct lnk_js *val)
{
    const char *p = skip_ws(it->p, it->end);
    const char *q = skip_value(p, it->end, 0);
    if (!q)
        return false;
    val->p = p;
    val->n = (size_t)(q - p);
    it->p = skip_ws(q, it->end);
    if (it->p < it->end && *it->p == ',')
        it->p++;
    return true;
}

bool lnk_js_next_member(struct lnk_js_iter *it, struct lnk_str *key, struct lnk_js *val)
{
    const char *p = skip_ws(it->p, it->end);
    if (p >= it->end || *p != '"')
        return false;
    const char *q = skip_string(p, it->end);
    if (!q)
        return false;
    *key = lnk_str_make(p + 1, (size_t)(q - p - 2));
    p = skip_ws(q, it->end);
    if (p >= it->end || *p != ':')
        return false;
    it->p = p + 1;
    return next_value(it, val);
}

bool lnk_js_next_item(struct lnk_js_iter *it, struct lnk_js *val)
{
    if (skip_ws(it->p, it->end) >= it->end)
        return false;
    return next_value(it, val);
}

bool lnk_js_int(struct lnk_js v, int64_t *out)
{
    size_t i = 0;
    bool neg = v.n > 0 && v.p[0] == '-';
    uint64_t r = 0;
    i = neg;
    if (i == v.n)
        return false;
    for (; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return false;
        unsigned d = (unsigned)(v.p[i] - '0');
        if (r > (UINT64_MAX - d) / 10)
            return false;
        r = r * 10 + d;
    }
    if (r > (uint64_t)INT64_MAX + neg)
        return false;
    *out = neg ? (int64_t)(0 - r) : (int64_t)r;
    return true;
}

bool lnk_js_bool(struct lnk_js v, bool *out)
{
    if (v.n == 4 && memcmp(v.p, "true", 4) == 0)
        *out = true;
    else if (v.n == 5 && memcmp(v.p, "false", 5) == 0)
        *out = false;
    else
        return false;
    return true;
}

static unsigned read_hex4(const char *p)
{
    return (unsigned)(lnk_hex_digit(p[0]) << 12 | lnk_hex_digit(p[1]) << 8 |
                      lnk_hex_digit(p[2]) << 4 | lnk_hex_digit(p[3]));
}

/* UTF-8 of code point cp into out; its length. */
static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

bool lnk_js_string(struct lnk_js v, char *out, size_t cap, size_t *len)
{
    static const char ESC_IN[] = "\"\\/bfnrt";
    static const char ESC_OUT[] = "\"\\/\b\f\n\r\t";
    size_t n = 0;
    if (!lnk_js_is_string(v))
        return false;
    const char *p = v.p + 1, *end = v.p + v.n - 1;
    while (p < end) {
        char tmp[4];
        size_t k = 1;
        if (*p != '\\') {
            tmp[0] = *p++;
        } else if (p[1] != 'u') {
            tmp[0] = ESC_OUT[strchr(ESC_IN, p[1]) - ESC_IN];
            p += 2;
        } else {
            unsigned cp = read_hex4(p + 2);
            p += 6;
            if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = read_hex4(p + 2);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
            }
            if (cp == 0)
                return false;
            if (cp >= 0xd800 && cp < 0xe000)
                cp = 0xfffd; /* a lone surrogate */
            k = put_utf8(tmp, cp);
        }
        if (n + k >= cap)
            return false;
        memcpy(out + n, tmp, k);
        n += k;
    }
    if (cap == 0)
        return false;
    out[n] = '\0';
    *len = n;
    return true;
}
