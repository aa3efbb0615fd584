/* SPDX-License-Identifier: MIT */
/* lnk_policy_decide: one redirect of a link with options
 * (docs/link-policy.md#order). Reads the stored text in place
 * (policy_int.h); the visitor's classes are worked out only when a rule
 * asks for them, once per call. Strings handed back come from the caller's
 * alloc; nothing else is allocated. */
#include <string.h>

#include "linkd/err.h"
#include "linkd/policy.h"
#include "linkd/query.h"
#include "policy_int.h"

/* Decoded condition values: device/os names, language tags (35 bytes),
 * country codes; longer ones are not the stored form. */
#define NAME_BUF 40

/* The members of the stored object that a redirect reads. */
struct opts {
    int64_t redirect_type, max_clicks, valid_from, valid_until;
    bool forward_query, has_from, has_until;
    struct lnk_js utm, fallback_url, password_hash, rules, split;
};

/* The visitor, worked out lazily. */
struct visitor {
    const struct lnk_visit *v;
    bool ua_done, lang_done, has_lang, cc_done, has_cc;
    enum lnk_ua_device device;
    enum lnk_ua_os os;
    struct lnk_str lang;
    char cc[3];
};

static bool key_is(struct lnk_str key, const char *name)
{
    return lnk_str_eq_cstr(key, name);
}

static int read_opts(const char *text, size_t len, struct opts *o)
{
    struct lnk_js root, v;
    struct lnk_js_iter it;
    struct lnk_str key;
    memset(o, 0, sizeof(*o));
    o->redirect_type = 302;
    if (!lnk_js_parse(lnk_str_make(text, len), &root) || !lnk_js_is_object(root))
        return LNK_EINVAL;
    lnk_js_iter_begin(root, &it);
    while (lnk_js_next_member(&it, &key, &v)) {
        bool ok = true;
        if (key_is(key, "redirect_type"))
            ok = lnk_js_int(v, &o->redirect_type) &&
                 (o->redirect_type == 301 || o->redirect_type == 302 || o->redirect_type == 307 ||
                  o->redirect_type == 308);
        else if (key_is(key, "forward_query"))
            ok = lnk_js_bool(v, &o->forward_query);
        else if (key_is(key, "max_clicks"))
            ok = lnk_js_int(v, &o->max_clicks);
        else if (key_is(key, "valid_from"))
            ok = o->has_from = lnk_js_int(v, &o->valid_from);
        else if (key_is(key, "valid_until"))
            ok = o->has_until = lnk_js_int(v, &o->valid_until);
        else if (key_is(key, "utm"))
            ok = lnk_js_is_object(o->utm = v);
        else if (key_is(key, "fallback_url"))
            ok = lnk_js_is_string(o->fallback_url = v);
        else if (key_is(key, "password_hash"))
            ok = lnk_js_is_string(o->password_hash = v);
        else if (key_is(key, "rules"))
            ok = lnk_js_is_array(o->rules = v);
        else if (key_is(key, "split"))
            ok = lnk_js_is_array(o->split = v);
        if (!ok)
            return LNK_EINVAL;
    }
    return LNK_OK;
}

/* A decoded copy of a string value from alloc. */
static char *dup_string(struct lnk_js v, void *(*alloc)(void *, size_t), void *ud, size_t *len)
{
    char *s = alloc(ud, v.n);
    return lnk_js_string(v, s, v.n, len) ? s : NULL;
}

static void classify(struct visitor *vis)
{
    if (!vis->ua_done)
        lnk_ua_classify(vis->v->user_agent, &vis->device, &vis->os);
    vis->ua_done = true;
}

/* Rule language l matches the visitor's tag t when equal, or when l is a
 * prefix of t ending at a subtag boundary ("de" matches "de-AT"). */
static bool lang_matches(struct lnk_str l, struct lnk_str t)
{
    if (l.len > t.len || (l.len < t.len && t.ptr[l.len] != '-'))
        return false;
    return lnk_str_eq_nocase(l, lnk_str_make(t.ptr, l.len));
}

enum cond { C_DEVICE, C_OS, C_LANG, C_COUNTRY };

/* One item of a list condition against the visitor. */
static bool item_matches(struct visitor *vis, enum cond c, struct lnk_str item)
{
    switch (c) {
    case C_DEVICE:
        classify(vis);
        return lnk_str_eq_cstr(item, lnk_ua_device_name(vis->device));
    case C_OS:
        classify(vis);
        return lnk_str_eq_cstr(item, lnk_ua_os_name(vis->os));
    case C_LANG:
        if (!vis->lang_done)
            vis->has_lang = lnk_lang_preferred(vis->v->accept_language, &vis->lang);
        vis->lang_done = true;
        return vis->has_lang && lang_matches(item, vis->lang);
    case C_COUNTRY:
        if (!vis->cc_done)
            vis->has_cc = lnk_geo_country(vis->v->geo, vis->v->ip, vis->cc);
        vis->cc_done = true;
        return vis->has_cc && lnk_str_eq_nocase(item, lnk_str_make(vis->cc, 2));
    }
    return false;
}

/* A list condition holds when any item matches. LNK_EINVAL for a list that
 * is not the stored form. */
static int list_holds(struct visitor *vis, enum cond c, struct lnk_js list, bool *holds)
{
    struct lnk_js_iter it;
    struct lnk_js item;
    *holds = false;
    if (!lnk_js_iter_begin(list, &it) || !lnk_js_is_array(list))
        return LNK_EINVAL;
    while (!*holds && lnk_js_next_item(&it, &item)) {
        char buf[NAME_BUF];
        size_t n;
        if (!lnk_js_string(item, buf, sizeof(buf), &n))
            return LNK_EINVAL;
        *holds = item_matches(vis, c, lnk_str_make(buf, n));
    }
    return LNK_OK;
}

/* Every parameter of the rule's query object is in the visit's query with
 * exactly that value (both decoded). */
static int query_holds(const struct lnk_visit *v, struct lnk_js obj, bool *holds)
{
    struct lnk_js_iter it;
    struct lnk_str raw_key;
    struct lnk_js val;
    *holds = true;
    if (!lnk_js_is_object(obj) || !lnk_js_iter_begin(obj, &it))
        return LNK_EINVAL;
    while (*holds && lnk_js_next_member(&it, &raw_key, &val)) {
        char key[LNK_POLICY_QUERY_KEY_MAX + 1], want[LNK_POLICY_QUERY_VAL_MAX + 1];
        char got[LNK_POLICY_QUERY_VAL_MAX + 1];
        size_t klen, wlen, glen;
        /* The raw key with its quotes is a string value. */
        struct lnk_js k = {raw_key.ptr - 1, raw_key.len + 2};
        if (!lnk_js_string(k, key, sizeof(key), &klen) ||
            !lnk_js_string(val, want, sizeof(want), &wlen))
            return LNK_EINVAL;
        *holds = lnk_query_get(v->query, key, got, sizeof(got), &glen) == LNK_OK && glen == wlen &&
                 memcmp(got, want, wlen) == 0;
    }
    return LNK_OK;
}

/* Whether rule holds for the visit; *url its destination. */
static int rule_holds(struct visitor *vis, struct lnk_js rule, struct lnk_js *url, bool *holds)
{
    struct lnk_js_iter it;
    struct lnk_str key;
    struct lnk_js v;
    int rc = LNK_OK;
    url->n = 0;
    *holds = true;
    if (!lnk_js_iter_begin(rule, &it) || !lnk_js_is_object(rule))
        return LNK_EINVAL;
    while (rc == LNK_OK && lnk_js_next_member(&it, &key, &v)) {
        int64_t t;
        bool h = true;
        if (key_is(key, "url"))
            rc = lnk_js_is_string(*url = v) ? LNK_OK : LNK_EINVAL;
        else if (key_is(key, "device"))
            rc = list_holds(vis, C_DEVICE, v, &h);
        else if (key_is(key, "os"))
            rc = list_holds(vis, C_OS, v, &h);
        else if (key_is(key, "lang"))
            rc = list_holds(vis, C_LANG, v, &h);
        else if (key_is(key, "country"))
            rc = list_holds(vis, C_COUNTRY, v, &h);
        else if (key_is(key, "query"))
            rc = query_holds(vis->v, v, &h);
        else if (key_is(key, "from") && lnk_js_int(v, &t))
            h = vis->v->now >= t;
        else if (key_is(key, "until") && lnk_js_int(v, &t))
            h = vis->v->now < t;
        else
            rc = LNK_EINVAL; /* a condition this version does not know: never guess */
        *holds = *holds && h;
    }
    if (rc == LNK_OK && url->n == 0)
        rc = LNK_EINVAL;
    return rc;
}

/* The first matching rule's url; url->n == 0 when none matched. */
static int pick_rule(struct visitor *vis, struct lnk_js rules, struct lnk_js *url)
{
    struct lnk_js_iter it;
    struct lnk_js rule;
    url->n = 0;
    if (rules.n == 0)
        return LNK_OK;
    lnk_js_iter_begin(rules, &it);
    while (lnk_js_next_item(&it, &rule)) {
        bool holds;
        int rc = rule_holds(vis, rule, url, &holds);
        if (rc != LNK_OK || holds)
            return rc;
    }
    url->n = 0;
    return LNK_OK;
}

/* One split entry: its url and weight. */
static int split_entry(struct lnk_js e, struct lnk_js *url, int64_t *weight)
{
    struct lnk_js_iter it;
    struct lnk_str key;
    struct lnk_js v;
    url->n = 0;
    *weight = 0;
    if (!lnk_js_iter_begin(e, &it) || !lnk_js_is_object(e))
        return LNK_EINVAL;
    while (lnk_js_next_member(&it, &key, &v)) {
        if (key_is(key, "url") && lnk_js_is_string(v))
            *url = v;
        else if (!key_is(key, "weight") || !lnk_js_int(v, weight))
            return LNK_EINVAL;
    }
    return url->n && *weight >= 1 && *weight <= LNK_POLICY_WEIGHT_SUM_MAX ? LNK_OK : LNK_EINVAL;
}

/* Entry i is picked when rand % sum falls in its share of [0, sum): with
 * sum <= 10000 and 64 random bits, the modulo bias is below 1e-15. */
static int pick_split(struct lnk_js split, uint64_t rand, struct lnk_js *url)
{
    struct lnk_js_iter it;
    struct lnk_js e;
    int64_t sum = 0, w;
    url->n = 0;
    if (split.n == 0)
        return LNK_OK;
    lnk_js_iter_begin(split, &it);
    while (lnk_js_next_item(&it, &e)) {
        if (split_entry(e, url, &w) != LNK_OK || (sum += w) > LNK_POLICY_WEIGHT_SUM_MAX)
            return LNK_EINVAL;
    }
    if (sum == 0)
        return LNK_OK;
    uint64_t r = rand % (uint64_t)sum;
    lnk_js_iter_begin(split, &it);
    while (lnk_js_next_item(&it, &e)) {
        split_entry(e, url, &w);
        if (r < (uint64_t)w)
            return LNK_OK;
        r -= (uint64_t)w;
    }
    return LNK_EINVAL; /* not reached: r < sum */
}

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* s[0..n) percent-encoded (RFC 3986 §2: all but unreserved) at out. */
static size_t pct_encode(char *out, const char *s, size_t n)
{
    static const char HEX[] = "0123456789ABCDEF";
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            out[k++] = (char)c;
        } else {
            out[k++] = '%';
            out[k++] = HEX[c >> 4];
            out[k++] = HEX[c & 15];
        }
    }
    return k;
}

/* True when param is in the query part of url[0..n) (up to a fragment). */
static bool has_param(const char *url, size_t n, const char *param)
{
    const char *hash = memchr(url, '#', n);
    size_t end = hash ? (size_t)(hash - url) : n;
    const char *q = memchr(url, '?', end);
    if (!q)
        return false;
    struct lnk_str query = lnk_str_make(q + 1, end - (size_t)(q + 1 - url));
    char one[1];
    return lnk_query_get(query, param, one, sizeof(one), NULL) != LNK_ENOTFOUND;
}

/* Appends "name=value" (val percent-encoded), or the bare text val when
 * name is NULL, to the query of the URL buf[0..*len) (no fragment), with
 * the '?' or '&' it needs. The caller sized buf. */
static void add_param(char *buf, size_t *len, const char *name, const char *val, size_t val_len)
{
    const char *q = memchr(buf, '?', *len);
    if (!q)
        buf[(*len)++] = '?';
    else if (buf[*len - 1] != '?' && buf[*len - 1] != '&')
        buf[(*len)++] = '&';
    if (name) {
        size_t n = strlen(name);
        memcpy(buf + *len, name, n);
        *len += n;
        buf[(*len)++] = '=';
    }
    if (name) {
        *len += pct_encode(buf + *len, val, val_len);
    } else {
        memcpy(buf + *len, val, val_len);
        *len += val_len;
    }
}

/* The location: base, then the visit's query (forward_query), then each utm
 * parameter the URL does not have yet, all before base's fragment. */
static int build_location(const struct opts *o, const struct lnk_visit *v, struct lnk_js base_js,
                          const char *base, size_t base_len, void *(*alloc)(void *, size_t),
                          void *ud, struct lnk_decision *out)
{
    static const char *const UTM[] = {"source", "medium", "campaign", "term", "content"};
    static const char *const PARAM[] = {"utm_source", "utm_medium", "utm_campaign", "utm_term",
                                        "utm_content"};
    struct lnk_js utm_val[5] = {{0}};
    size_t bound = (base_js.n ? base_js.n : base_len) + 1;
    if (o->forward_query)
        bound += v->query.len + 1;
    if (o->utm.n) {
        struct lnk_js_iter it;
        struct lnk_str key;
        struct lnk_js val;
        lnk_js_iter_begin(o->utm, &it);
        while (lnk_js_next_member(&it, &key, &val)) {
            for (size_t i = 0; i < 5; i++)
                if (key_is(key, UTM[i]) && lnk_js_is_string(val))
                    utm_val[i] = val;
        }
        for (size_t i = 0; i < 5; i++)
            bound += utm_val[i].n ? 14 + 3 * utm_val[i].n : 0;
    }
    char *buf = alloc(ud, bound);
    size_t len = base_len;
    if (base_js.n) {
        if (!lnk_js_string(base_js, buf, bound, &len))
            return LNK_EINVAL;
    } else {
        memcpy(buf, base, base_len);
    }
    /* Park the fragment at the end of the buffer while parameters go in. */
    const char *hash = memchr(buf, '#', len);
    size_t frag_len = hash ? len - (size_t)(hash - buf) : 0;
    len -= frag_len;
    memmove(buf + bound - 1 - frag_len, buf + len, frag_len);
    if (o->forward_query && v->query.len)
        add_param(buf, &len, NULL, v->query.ptr, v->query.len);
    for (size_t i = 0; i < 5; i++) {
        char val[LNK_POLICY_UTM_MAX + 1];
        size_t n;
        if (!utm_val[i].n || has_param(buf, len, PARAM[i]))
            continue;
        if (!lnk_js_string(utm_val[i], val, sizeof(val), &n))
            return LNK_EINVAL;
        add_param(buf, &len, PARAM[i], val, n);
    }
    memmove(buf + len, buf + bound - 1 - frag_len, frag_len);
    len += frag_len;
    buf[len] = '\0';
    out->location = buf;
    out->location_len = len;
    return LNK_OK;
}

int lnk_policy_decide(const char *opts, size_t opts_len, const char *dest, size_t dest_len,
                      const struct lnk_visit *v, void *(*alloc)(void *, size_t), void *ud,
                      struct lnk_decision *out)
{
    struct opts o;
    memset(out, 0, sizeof(*out));
    int rc = read_opts(opts, opts_len, &o);
    if (rc != LNK_OK)
        return rc;
    out->max_clicks = o.max_clicks > 0 ? o.max_clicks : 0;

    /* 1. The time window [valid_from, valid_until) and the click budget. */
    if ((o.has_from && v->now < o.valid_from) || (o.has_until && v->now >= o.valid_until) ||
        v->clicks_exhausted) {
        out->kind = LNK_DECISION_GONE;
        out->status = 410;
        if (o.fallback_url.n) {
            char *loc = dup_string(o.fallback_url, alloc, ud, &out->location_len);
            if (!loc)
                return LNK_EINVAL;
            out->location = loc;
            out->status = 302; /* temporary: the window or the budget may change */
        }
        return LNK_OK;
    }
    /* 2. The password. */
    if (o.password_hash.n && !v->password_ok) {
        size_t n;
        out->kind = LNK_DECISION_PASSWORD;
        out->password_hash = dup_string(o.password_hash, alloc, ud, &n);
        return out->password_hash ? LNK_OK : LNK_EINVAL;
    }
    /* 3. The first matching rule, else the split, else the destination. */
    struct visitor vis = {.v = v};
    struct lnk_js url;
    rc = pick_rule(&vis, o.rules, &url);
    if (rc == LNK_OK && url.n == 0)
        rc = pick_split(o.split, v->rand, &url);
    if (rc != LNK_OK)
        return rc;
    out->kind = LNK_DECISION_REDIRECT;
    out->status = (int)o.redirect_type;
    return build_location(&o, v, url, dest, dest_len, alloc, ud, out);
}
