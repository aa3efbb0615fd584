/* SPDX-License-Identifier: MIT */
/* Splits the path into segments and walks the route table. The first route
 * whose segments match wins; the method then picks the handler (HEAD falls
 * back to GET). A trailing slash is ignored; empty segments never match. */
#include "linkd/router.h"

#include <string.h>

#include "router/routes.h"

struct segs {
    size_t n;
    struct lnk_str s[LNK_ROUTE_SEGS_MAX];
};

/* False when the path has more segments than any route or an empty one. */
static bool split(struct lnk_str path, struct segs *out)
{
    out->n = 0;
    if (path.len == 0 || path.ptr[0] != '/')
        return false;
    const char *p = path.ptr + 1, *end = path.ptr + path.len;
    if (end > p && end[-1] == '/')
        end--; /* "/users/" is "/users" */
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash ? slash : end;
        if (seg_end == p || out->n == LNK_ROUTE_SEGS_MAX)
            return false;
        out->s[out->n++] = lnk_str_make(p, (size_t)(seg_end - p));
        p = slash ? slash + 1 : end;
    }
    return true; /* "/": no segment */
}

static bool match(const struct lnk_route_def *d, const struct segs *sg, struct lnk_str *param)
{
    size_t i = 0;
    for (; i < LNK_ROUTE_SEGS_MAX && d->segs[i]; i++) {
        if (i >= sg->n)
            return false;
        if (strcmp(d->segs[i], "{}") == 0)
            *param = sg->s[i];
        else if (!lnk_str_eq_cstr(sg->s[i], d->segs[i]))
            return false;
    }
    return i == sg->n;
}

static void allow_header(const struct lnk_route_def *d, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int m = 0; m < LNK_METHOD_COUNT; m++) {
        bool has = d->handlers[m] || (m == LNK_METHOD_HEAD && d->handlers[LNK_METHOD_GET]);
        const char *name = lnk_method_name((enum lnk_method)m);
        if (!has || len + strlen(name) + 3 > cap)
            continue;
        if (len) {
            memcpy(buf + len, ", ", 2);
            len += 2;
        }
        memcpy(buf + len, name, strlen(name) + 1);
        len += strlen(name);
    }
}

/* /api/v1/...: errors as problem details (handlers/problem.c). */
static bool is_v1(const struct segs *sg)
{
    return sg->n >= 2 && lnk_str_eq_cstr(sg->s[0], "api") && lnk_str_eq_cstr(sg->s[1], "v1");
}

void lnk_router_dispatch(struct lnk_req *r)
{
    struct segs sg;
    bool ok = split(lnk_req_path(r), &sg);
    /* before the split's verdict: a /api/v1 path too deep for any route
     * still gets its 404 as a problem (split fills the segments it read) */
    if (is_v1(&sg))
        lnk_req_set_error_shaper(r, lnk_h_problem_shape);
    if (!ok) {
        lnk_h_not_found(r);
        return;
    }
    if (sg.n == 0) { /* "/": a domain's root redirect, else 404 (redirect.c); unmatched */
        lnk_h_root(r);
        return;
    }
    for (size_t i = 0; i < lnk_route_table_len; i++) {
        const struct lnk_route_def *d = &lnk_route_table[i];
        struct lnk_str param = LNK_STR_NULL;
        if (!match(d, &sg, &param))
            continue;
        lnk_req_set_route(r, d->route, param, d->access == LNK_ACCESS_REDIRECT);
        enum lnk_method m = lnk_req_method(r);
        lnk_handler_fn h = d->handlers[m];
        if (!h && m == LNK_METHOD_HEAD)
            h = d->handlers[LNK_METHOD_GET];
        if (h) {
            lnk_h_guard(r, d->access, h);
        } else {
            char allow[64];
            allow_header(d, allow, sizeof(allow));
            lnk_h_method_not_allowed(r, allow);
        }
        return;
    }
    lnk_h_not_found(r);
}
