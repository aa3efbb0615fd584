/* SPDX-License-Identifier: MIT */
/* lnk_policy_build: the option fields of a v1 link -> the canonical stored
 * OPTIONS object (docs/link-policy.md#stored-options). Validation names the
 * offending field as a JSON pointer into the input (RFC 6901). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "linkd/err.h"
#include "linkd/policy.h"
#include "linkd/str.h"
#include "linkd/timefmt.h"
#include "linkd/url.h"

#define PTR_MAX sizeof(((struct lnk_policy_error *)0)->field)

static int fail(struct lnk_policy_error *err, const char *type, const char *ptr, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

static int fail(struct lnk_policy_error *err, const char *type, const char *ptr, const char *fmt,
                ...)
{
    err->type = type;
    if (snprintf(err->field, sizeof(err->field), "%s", ptr) >= (int)sizeof(err->field))
        err->field[sizeof(err->field) - 1] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    return LNK_EINVAL;
}

/* out = base + "/" + key, with '~' and '/' escaped as RFC 6901 says
 * (truncated past PTR_MAX: the pointer is for humans then). */
static void ptr_key(char out[PTR_MAX], const char *base, const char *key)
{
    int w = snprintf(out, PTR_MAX, "%s/", base);
    size_t n = w < (int)PTR_MAX ? (size_t)w : PTR_MAX - 1;
    for (const char *k = key; *k && n + 3 < PTR_MAX; k++) {
        if (*k == '~' || *k == '/') {
            out[n++] = '~';
            out[n++] = *k == '~' ? '0' : '1';
        } else {
            out[n++] = *k;
        }
    }
    out[n < PTR_MAX ? n : PTR_MAX - 1] = '\0';
}

static void ptr_index(char out[PTR_MAX], const char *base, size_t i)
{
    /* The return value is read so that truncation is a choice, not a warning. */
    if (snprintf(out, PTR_MAX, "%s/%zu", base, i) >= (int)PTR_MAX)
        out[PTR_MAX - 1] = '\0';
}

/* A string without NUL of 1..max bytes (min_len 0 allows ""). */
static int get_text(const json_t *v, const char *ptr, size_t min_len, size_t max,
                    struct lnk_policy_error *err, const char **s, size_t *n)
{
    if (!json_is_string(v))
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must be a string");
    *s = json_string_value(v);
    *n = json_string_length(v);
    if (strlen(*s) != *n)
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must not hold a NUL character");
    if (*n < min_len)
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must not be empty");
    if (*n > max)
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must be at most %zu bytes", max);
    return LNK_OK;
}

/* An array of 1..max items (too-many-items past max). */
static int get_list(const json_t *v, const char *ptr, size_t max, struct lnk_policy_error *err)
{
    if (!json_is_array(v))
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must be an array");
    if (json_array_size(v) == 0)
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must hold at least one item");
    if (json_array_size(v) > max)
        return fail(err, LNK_POLICY_E_TOO_MANY, ptr, "may hold at most %zu items", max);
    return LNK_OK;
}

static int check_url(const json_t *v, const char *ptr, struct lnk_policy_error *err, json_t **out)
{
    if (!json_is_string(v))
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must be a string");
    const char *why = NULL;
    if (lnk_url_validate(json_string_value(v), json_string_length(v), &why) != LNK_OK)
        return fail(err, LNK_POLICY_E_URL, ptr, "%s", why ? why : "is not a valid URL");
    *out = json_stringn(json_string_value(v), json_string_length(v));
    return LNK_OK;
}

/* RFC 3339 in UTC: "YYYY-MM-DDTHH:MM:SS[.frac]" and "Z" or "+00:00" (other
 * offsets are refused, not converted, as lnk_ts_parse does). */
static int check_time(const json_t *v, const char *ptr, struct lnk_policy_error *err, int64_t *t)
{
    if (!json_is_string(v))
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must be an RFC 3339 time string");
    if (lnk_ts_parse_utc(json_string_value(v), json_string_length(v), t) != LNK_OK)
        return fail(err, LNK_POLICY_E_TIME, ptr,
                    "must be an RFC 3339 UTC time such as 2026-12-01T00:00:00Z");
    return LNK_OK;
}

static int check_redirect_type(const json_t *v, const char *ptr, struct lnk_policy_error *err,
                               json_t **out)
{
    json_int_t c = json_is_integer(v) ? json_integer_value(v) : 0;
    if (c != 301 && c != 302 && c != 307 && c != 308)
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must be 301, 302, 307 or 308");
    *out = c == 302 ? NULL : json_integer(c);
    return LNK_OK;
}

static int check_forward_query(const json_t *v, const char *ptr, struct lnk_policy_error *err,
                               json_t **out)
{
    if (!json_is_boolean(v))
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must be true or false");
    *out = json_is_true(v) ? json_true() : NULL;
    return LNK_OK;
}

static const char *const UTM_KEYS[] = {"source", "medium", "campaign", "term", "content"};
#define N_UTM (sizeof(UTM_KEYS) / sizeof(UTM_KEYS[0]))

static int check_utm(const json_t *v, const char *ptr, struct lnk_policy_error *err, json_t **out)
{
    char p[PTR_MAX];
    if (!json_is_object(v))
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must be an object");
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        size_t i = 0;
        while (i < N_UTM && strcmp(key, UTM_KEYS[i]) != 0)
            i++;
        ptr_key(p, ptr, key);
        if (i == N_UTM)
            return fail(err, LNK_POLICY_E_FIELD, p,
                        "is not one of source, medium, campaign, term, content");
        const char *s = NULL;
        size_t n = 0;
        int rc = json_is_null(val) ? LNK_OK : get_text(val, p, 1, LNK_POLICY_UTM_MAX, err, &s, &n);
        if (rc != LNK_OK)
            return rc;
    }
    json_t *o = json_object();
    for (size_t i = 0; i < N_UTM; i++) {
        val = json_object_get(v, UTM_KEYS[i]);
        if (val && !json_is_null(val))
            json_object_set(o, UTM_KEYS[i], (json_t *)val);
    }
    if (json_object_size(o) == 0) {
        json_decref(o);
        o = NULL;
    }
    *out = o;
    return LNK_OK;
}

/* Tags: trimmed, ASCII lower-cased, 1..LNK_POLICY_TAG_MAX characters, no
 * control characters; duplicates after that are dropped. */
static int check_tags(const json_t *v, const char *ptr, struct lnk_policy_error *err, json_t **out)
{
    char p[PTR_MAX];
    int rc = get_list(v, ptr, LNK_POLICY_LIST_MAX, err);
    if (rc != LNK_OK)
        return rc;
    json_t *tags = json_array();
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        ptr_index(p, ptr, i);
        const char *s = NULL;
        size_t n = 0;
        rc = get_text(item, p, 0, 4 * LNK_POLICY_TAG_MAX + 64, err, &s, &n);
        if (rc != LNK_OK)
            break;
        struct lnk_str t = lnk_str_trim(lnk_str_make(s, n));
        size_t chars = lnk_utf8_len(t.ptr, t.len);
        if (chars == 0 || chars > LNK_POLICY_TAG_MAX) {
            rc = fail(err, LNK_POLICY_E_FIELD, p, "must be 1 to %d characters once trimmed",
                      LNK_POLICY_TAG_MAX);
            break;
        }
        char low[4 * LNK_POLICY_TAG_MAX];
        for (size_t k = 0; k < t.len; k++) {
            unsigned char c = (unsigned char)t.ptr[k];
            if (c < 0x20 || c == 0x7f) {
                rc = fail(err, LNK_POLICY_E_FIELD, p, "must not hold control characters");
                break;
            }
            low[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        if (rc != LNK_OK)
            break;
        bool seen = false;
        size_t j;
        const json_t *prev;
        json_array_foreach(tags, j, prev)
        {
            seen = seen || (json_string_length(prev) == t.len &&
                            memcmp(json_string_value(prev), low, t.len) == 0);
        }
        if (!seen)
            json_array_append_new(tags, json_stringn(low, t.len));
    }
    if (rc != LNK_OK) {
        json_decref(tags);
        return rc;
    }
    *out = tags;
    return LNK_OK;
}

static int check_notes(const json_t *v, const char *ptr, struct lnk_policy_error *err, json_t **out)
{
    const char *s = NULL;
    size_t n = 0;
    if (json_is_string(v) && json_string_length(v) > LNK_POLICY_NOTES_MAX)
        return fail(err, LNK_POLICY_E_TOO_MANY, ptr, "must be at most %d bytes",
                    LNK_POLICY_NOTES_MAX);
    int rc = get_text(v, ptr, 0, LNK_POLICY_NOTES_MAX, err, &s, &n);
    if (rc == LNK_OK)
        *out = n ? json_stringn(s, n) : NULL;
    return rc;
}

static int check_stored_time(const json_t *v, const char *ptr, struct lnk_policy_error *err,
                             json_t **out)
{
    int64_t t;
    int rc = check_time(v, ptr, err, &t);
    if (rc == LNK_OK)
        *out = json_integer(t);
    return rc;
}

static int check_max_clicks(const json_t *v, const char *ptr, struct lnk_policy_error *err,
                            json_t **out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must be an integer of at least 1");
    *out = json_integer(json_integer_value(v));
    return LNK_OK;
}

/* One string of an enumeration. */
static int check_enum(const json_t *v, const char *ptr, const char *const *names, size_t n_names,
                      const char *expect, struct lnk_policy_error *err)
{
    if (json_is_string(v))
        for (size_t i = 0; i < n_names; i++)
            if (strcmp(json_string_value(v), names[i]) == 0)
                return LNK_OK;
    return fail(err, LNK_POLICY_E_FIELD, ptr, "must be one of %s", expect);
}

static const char *const DEVICES[] = {"mobile", "tablet", "desktop", "bot"};
static const char *const OSES[] = {"ios", "android", "windows", "macos", "linux", "other"};

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* A language tag as Accept-Language carries it (RFC 4647 §2.1 language-range
 * without "*"): 1-8 letters, then "-" and 1-8 letters or digits, repeated;
 * lower-cased into low. */
static bool lang_tag(const char *s, size_t n, char *low)
{
    size_t run = 0;
    bool first = true;
    if (n == 0 || n > 35)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '-') {
            if (run == 0 || run > 8)
                return false;
            run = 0;
            first = false;
            if (i < n)
                low[i] = '-';
            continue;
        }
        if (!(first ? is_alpha(s[i]) : is_alnum(s[i])))
            return false;
        low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
        run++;
    }
    return true;
}

/* A list of enumeration names, language tags or country codes. */
enum list_kind { L_DEVICE, L_OS, L_LANG, L_COUNTRY };

static int check_cond_list(const json_t *v, const char *ptr, enum list_kind kind,
                           struct lnk_policy_error *err, json_t **out)
{
    char p[PTR_MAX];
    int rc = get_list(v, ptr, LNK_POLICY_LIST_MAX, err);
    if (rc != LNK_OK)
        return rc;
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        ptr_index(p, ptr, i);
        if (kind == L_DEVICE)
            rc = check_enum(item, p, DEVICES, 4, "mobile, tablet, desktop, bot", err);
        else if (kind == L_OS)
            rc = check_enum(item, p, OSES, 6, "ios, android, windows, macos, linux, other", err);
        if (rc != LNK_OK)
            return rc;
    }
    json_t *list = json_array();
    json_array_foreach(v, i, item)
    {
        ptr_index(p, ptr, i);
        const char *s = json_is_string(item) ? json_string_value(item) : "";
        size_t n = json_is_string(item) ? json_string_length(item) : 0;
        char canon[36];
        if (kind == L_LANG && !lang_tag(s, n, canon)) {
            rc = fail(err, LNK_POLICY_E_FIELD, p, "must be a language tag such as de or fr-CH");
            break;
        }
        if (kind == L_COUNTRY) {
            if (n != 2 || !is_alpha(s[0]) || !is_alpha(s[1])) {
                rc = fail(err, LNK_POLICY_E_FIELD, p,
                          "must be an ISO 3166-1 alpha-2 country code such as DE");
                break;
            }
            canon[0] = (char)(s[0] & ~0x20);
            canon[1] = (char)(s[1] & ~0x20);
        }
        json_array_append_new(list, kind == L_LANG || kind == L_COUNTRY ? json_stringn(canon, n)
                                                                        : json_stringn(s, n));
    }
    if (rc != LNK_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return LNK_OK;
}

/* {"param": "value", ...}: 1..LNK_POLICY_LIST_MAX parameters. */
static int check_query(const json_t *v, const char *ptr, struct lnk_policy_error *err, json_t **out)
{
    char p[PTR_MAX];
    if (!json_is_object(v))
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must be an object of strings");
    if (json_object_size(v) == 0)
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must hold at least one parameter");
    if (json_object_size(v) > LNK_POLICY_LIST_MAX)
        return fail(err, LNK_POLICY_E_TOO_MANY, ptr, "may hold at most %d parameters",
                    LNK_POLICY_LIST_MAX);
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        ptr_key(p, ptr, key);
        size_t klen = strlen(key);
        if (klen == 0 || klen > LNK_POLICY_QUERY_KEY_MAX)
            return fail(err, LNK_POLICY_E_FIELD, p, "parameter names are 1 to %d bytes",
                        LNK_POLICY_QUERY_KEY_MAX);
        const char *s = NULL;
        size_t n = 0;
        int rc = get_text(val, p, 0, LNK_POLICY_QUERY_VAL_MAX, err, &s, &n);
        if (rc != LNK_OK)
            return rc;
    }
    *out = json_deep_copy(v);
    return LNK_OK;
}

static int check_rule(const json_t *v, const char *ptr, struct lnk_policy_error *err, json_t **out)
{
    static const char *const KEYS[] = {"url",     "device", "os",   "lang",
                                       "country", "query",  "from", "until"};
    char p[PTR_MAX];
    if (!json_is_object(v))
        return fail(err, LNK_POLICY_E_FIELD, ptr, "must be an object");
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        size_t i = 0;
        while (i < 8 && strcmp(key, KEYS[i]) != 0)
            i++;
        if (i == 8) {
            ptr_key(p, ptr, key);
            return fail(err, LNK_POLICY_E_FIELD, p, "is not a rule field");
        }
    }
    json_t *rule = json_object();
    int rc = LNK_OK;
    int64_t from = 0, until = 0;
    for (size_t i = 0; i < 8 && rc == LNK_OK; i++) {
        val = json_object_get(v, KEYS[i]);
        ptr_key(p, ptr, KEYS[i]);
        if (!val && i == 0) {
            rc = fail(err, LNK_POLICY_E_FIELD, p, "is required");
            break;
        }
        if (!val || (i > 0 && json_is_null(val)))
            continue;
        json_t *c = NULL;
        if (i == 0)
            rc = check_url(val, p, err, &c);
        else if (i <= 4)
            rc = check_cond_list(val, p, (enum list_kind)(i - 1), err, &c);
        else if (i == 5)
            rc = check_query(val, p, err, &c);
        else
            rc = check_time(val, p, err, i == 6 ? &from : &until);
        if (rc == LNK_OK)
            json_object_set_new(rule, KEYS[i], c ? c : json_integer(i == 6 ? from : until));
    }
    if (rc == LNK_OK && json_object_get(rule, "from") && json_object_get(rule, "until") &&
        from >= until) {
        ptr_key(p, ptr, "until");
        rc = fail(err, LNK_POLICY_E_WINDOW, p, "must be later than from");
    }
    if (rc != LNK_OK) {
        json_decref(rule);
        return rc;
    }
    *out = rule;
    return LNK_OK;
}

static int check_rules(const json_t *v, const char *ptr, struct lnk_policy_error *err, json_t **out)
{
    char p[PTR_MAX];
    int rc = get_list(v, ptr, LNK_POLICY_RULES_MAX, err);
    if (rc != LNK_OK)
        return rc;
    json_t *rules = json_array();
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        ptr_index(p, ptr, i);
        json_t *r = NULL;
        rc = check_rule(item, p, err, &r);
        if (rc != LNK_OK) {
            json_decref(rules);
            return rc;
        }
        json_array_append_new(rules, r);
    }
    *out = rules;
    return LNK_OK;
}

static int check_split(const json_t *v, const char *ptr, struct lnk_policy_error *err, json_t **out)
{
    char p[PTR_MAX];
    int rc = get_list(v, ptr, LNK_POLICY_SPLIT_MAX, err);
    if (rc != LNK_OK)
        return rc;
    json_t *split = json_array();
    json_int_t sum = 0;
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        ptr_index(p, ptr, i);
        char q[PTR_MAX];
        const char *key;
        const json_t *val;
        if (!json_is_object(item)) {
            rc = fail(err, LNK_POLICY_E_FIELD, p, "must be an object with url and weight");
            break;
        }
        json_object_foreach((json_t *)item, key, val)
        {
            if (rc == LNK_OK && strcmp(key, "url") != 0 && strcmp(key, "weight") != 0) {
                ptr_key(q, p, key);
                rc = fail(err, LNK_POLICY_E_FIELD, q, "is not a split field");
            }
        }
        if (rc != LNK_OK)
            break;
        json_t *url = NULL;
        ptr_key(q, p, "url");
        val = json_object_get(item, "url");
        rc = val ? check_url(val, q, err, &url) : fail(err, LNK_POLICY_E_FIELD, q, "is required");
        if (rc != LNK_OK)
            break;
        ptr_key(q, p, "weight");
        val = json_object_get(item, "weight");
        if (!json_is_integer(val) || json_integer_value(val) < 1 ||
            json_integer_value(val) > LNK_POLICY_WEIGHT_SUM_MAX) {
            json_decref(url);
            rc = fail(err, LNK_POLICY_E_FIELD, q, "must be an integer from 1 to %d",
                      LNK_POLICY_WEIGHT_SUM_MAX);
            break;
        }
        sum += json_integer_value(val);
        json_t *e = json_object();
        json_object_set_new(e, "url", url);
        json_object_set_new(e, "weight", json_integer(json_integer_value(val)));
        json_array_append_new(split, e);
    }
    if (rc == LNK_OK && sum > LNK_POLICY_WEIGHT_SUM_MAX)
        rc = fail(err, LNK_POLICY_E_WEIGHTS, ptr, "weights must sum to at most %d, not %lld",
                  LNK_POLICY_WEIGHT_SUM_MAX, (long long)sum);
    if (rc != LNK_OK) {
        json_decref(split);
        return rc;
    }
    *out = split;
    return LNK_OK;
}

static int check_fallback(const json_t *v, const char *ptr, struct lnk_policy_error *err,
                          json_t **out)
{
    return check_url(v, ptr, err, out);
}

/* The option keys: input name, stored name, checker (NULL *out = default).
 * The order is the stored order. */
struct field {
    const char *in, *stored;
    int (*check)(const json_t *v, const char *ptr, struct lnk_policy_error *err, json_t **out);
};

static const struct field FIELDS[] = {
    {"redirect_type", "redirect_type", check_redirect_type},
    {"forward_query", "forward_query", check_forward_query},
    {"utm", "utm", check_utm},
    {"tags", "tags", check_tags},
    {"notes", "notes", check_notes},
    {"valid_from", "valid_from", check_stored_time},
    {"valid_until", "valid_until", check_stored_time},
    {"max_clicks", "max_clicks", check_max_clicks},
    {"fallback_url", "fallback_url", check_fallback},
    {"password", "password_hash", NULL},
    {"rules", "rules", check_rules},
    {"split", "split", check_split},
};
#define N_FIELDS (sizeof(FIELDS) / sizeof(FIELDS[0]))

/* The password pair, after every other field (see policy.h). */
static int apply_password(const json_t *input, json_t *work, struct lnk_policy_error *err)
{
    const json_t *pw = json_object_get(input, "password");
    const json_t *hash = json_object_get(input, "password_hash");
    const char *s = NULL;
    size_t n = 0;
    if (pw && json_is_null(pw)) {
        json_object_del(work, "password_hash");
        return LNK_OK;
    }
    if (pw) {
        int rc = get_text(pw, "/password", 1, LNK_POLICY_PASSWORD_MAX, err, &s, &n);
        if (rc != LNK_OK)
            return rc;
    }
    if (!hash) {
        if (pw)
            return fail(err, LNK_POLICY_E_NOT_HASHED, "/password",
                        "the password must be hashed before the options are built");
        return LNK_OK;
    }
    if (!json_is_string(hash) || strncmp(json_string_value(hash), "$argon2id$", 10) != 0 ||
        json_string_length(hash) >= LNK_POLICY_HASH_MAX ||
        strlen(json_string_value(hash)) != json_string_length(hash))
        return fail(err, LNK_POLICY_E_FIELD, "/password_hash", "must be an Argon2id hash string");
    json_object_set_new(work, "password_hash", json_string(json_string_value(hash)));
    return LNK_OK;
}

int lnk_policy_build(const json_t *input, const json_t *current, json_t **opts_out,
                     struct lnk_policy_error *err)
{
    int rc = LNK_OK;
    char p[PTR_MAX];
    json_t *work = json_is_object(current) ? json_deep_copy(current) : json_object();
    *opts_out = NULL;
    memset(err, 0, sizeof(*err));
    if (!json_is_object(input)) {
        rc = fail(err, LNK_POLICY_E_FIELD, "", "must be an object");
        goto out;
    }
    for (size_t i = 0; i < N_FIELDS && rc == LNK_OK; i++) {
        const json_t *v = json_object_get(input, FIELDS[i].in);
        if (!v || !FIELDS[i].check)
            continue;
        json_t *c = NULL;
        ptr_key(p, "", FIELDS[i].in);
        if (!json_is_null(v))
            rc = FIELDS[i].check(v, p, err, &c);
        if (rc == LNK_OK && c)
            json_object_set_new(work, FIELDS[i].stored, c);
        else if (rc == LNK_OK)
            json_object_del(work, FIELDS[i].stored);
    }
    if (rc != LNK_OK)
        goto out;
    const json_t *from = json_object_get(work, "valid_from");
    const json_t *until = json_object_get(work, "valid_until");
    if (from && until && json_integer_value(from) >= json_integer_value(until)) {
        bool until_given = json_object_get(input, "valid_until") != NULL;
        rc = fail(err, LNK_POLICY_E_WINDOW, until_given ? "/valid_until" : "/valid_from",
                  "valid_from must be earlier than valid_until");
        goto out;
    }
    rc = apply_password(input, work, err);
    if (rc != LNK_OK)
        goto out;
    /* Canonical: the stored order, whatever order current had. */
    json_t *opts = json_object();
    for (size_t i = 0; i < N_FIELDS; i++) {
        json_t *v = json_object_get(work, FIELDS[i].stored);
        if (v)
            json_object_set(opts, FIELDS[i].stored, v);
    }
    *opts_out = opts;
out:
    json_decref(work);
    return rc;
}
