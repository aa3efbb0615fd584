/* SPDX-License-Identifier: MIT */
/* /urls and /urls/{id} (CONTRACT.md §4.9-§4.13). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/cache.h"
#include "linkd/config.h"
#include "linkd/err.h"
#include "linkd/handlers.h"
#include "linkd/json.h"
#include "linkd/name.h"
#include "linkd/shortcode.h"
#include "linkd/url.h"

void lnk_h_read_dest(const json_t *body, const char *key, bool required, struct lnk_h_invalid *v,
                     struct lnk_arena *a, const char **out)
{
    const char *s, *why = NULL;
    size_t len;
    int rc = lnk_json_get_string(body, key, &s, &len);
    if (rc == LNK_ENOTFOUND) {
        if (required)
            lnk_h_invalid_add(v, key, "is required");
    } else if (rc != LNK_OK) {
        lnk_h_invalid_add(v, key, lnk_h_string_problem(rc));
    } else if (lnk_url_validate(s, len, &why) != LNK_OK) {
        lnk_h_invalid_add(v, key, why ? why : "must be an http(s) URL");
    } else {
        *out = lnk_arena_strndup(a, s, len);
    }
}

/* title: a string of at most 255 characters, or null; a name, so only
 * characters lnk_name_check allows (a title is shown to whoever sees the
 * link, where a bidi override could reverse it as a username would). */
void lnk_h_read_title(const json_t *body, struct lnk_h_invalid *v, struct lnk_arena *a, bool *set,
                      const char **out)
{
    const char *s, *why = NULL;
    size_t len;
    bool is_null;
    int rc = lnk_json_get_string_or_null(body, "title", &s, &len, &is_null);
    *set = rc == LNK_OK;
    if (rc == LNK_EINVAL || rc == LNK_ERANGE)
        lnk_h_invalid_add(v, "title",
                          rc == LNK_ERANGE ? lnk_h_string_problem(rc) : "must be a string or null");
    else if (rc == LNK_OK && !is_null && lnk_utf8_len(s, len) > LNK_NAME_MAX)
        lnk_h_invalid_add(v, "title", "is too long");
    else if (rc == LNK_OK && !is_null && lnk_name_check(s, len, &why) != LNK_OK)
        lnk_h_invalid_add(v, "title", why);
    else if (rc == LNK_OK)
        *out = is_null ? NULL : lnk_arena_strndup(a, s, len);
}

void lnk_h_read_flag(const json_t *body, const char *key, struct lnk_h_invalid *v, bool *set,
                     bool *out)
{
    int rc = lnk_json_get_bool(body, key, out);
    *set = rc == LNK_OK;
    if (rc == LNK_EINVAL)
        lnk_h_invalid_add(v, key, "must be a boolean");
}

/* user_id; a user key may leave it out (its own user) and may not name
 * another user (answered as an unknown user by the caller: *out = -1). An
 * id past LNK_ID_MAX is a field error whoever asks. */
void lnk_h_read_owner(const json_t *body, int64_t scope, struct lnk_h_invalid *v, int64_t *out)
{
    int rc = lnk_json_get_int(body, "user_id", out);
    if (scope && (rc == LNK_ENOTFOUND || (rc == LNK_OK && *out != scope && *out <= LNK_ID_MAX))) {
        *out = rc == LNK_ENOTFOUND ? scope : -1;
        return;
    }
    if (rc == LNK_ENOTFOUND)
        lnk_h_invalid_add(v, "user_id", "is required");
    else if (rc != LNK_OK)
        lnk_h_invalid_add(v, "user_id", "must be an integer");
    else if (*out <= 0)
        lnk_h_invalid_add(v, "user_id", "must be positive");
    else if (*out > LNK_ID_MAX)
        lnk_h_invalid_add(v, "user_id", LNK_H_ID_TOO_LARGE);
}

/* An optional custom code under `key`; null counts as absent. */
void lnk_h_read_code(const json_t *body, const char *key, struct lnk_h_invalid *v,
                     struct lnk_arena *a, const char **out)
{
    const char *s;
    size_t len;
    bool is_null;
    int rc = lnk_json_get_string_or_null(body, key, &s, &len, &is_null);
    if (rc == LNK_EINVAL || rc == LNK_ERANGE)
        lnk_h_invalid_add(v, key, lnk_h_string_problem(rc));
    else if (rc != LNK_OK || is_null)
        return;
    else if (lnk_code_is_reserved(s, len))
        lnk_h_invalid_add(v, key, "is a reserved word");
    else if (!lnk_code_is_valid_custom(s, len))
        lnk_h_invalid_add(v, key, "must match [A-Za-z0-9_-]{3,32}");
    else if (*out && strcmp(*out, lnk_arena_strndup(a, s, len)) != 0)
        lnk_h_invalid_add(v, key, "differs from short_code");
    else
        *out = lnk_arena_strndup(a, s, len);
}

/* reuse: opt in to getting the caller's existing link to the destination. */
static void read_reuse(const json_t *body, struct lnk_h_invalid *v, bool *out)
{
    int rc = lnk_json_get_bool(body, "reuse", out);
    if (rc == LNK_ENOTFOUND)
        *out = false;
    else if (rc != LNK_OK)
        lnk_h_invalid_add(v, "reuse", "must be a boolean");
}

/* The absolute short link: LINKD_PUBLIC_URL, else the request's scheme and
 * Host (a Host that is not a plain host[:port] falls back to the listen
 * address). */
json_t *lnk_h_short_url_json(struct lnk_req *r, const char *code)
{
    const struct lnk_config *cfg = lnk_req_env(r)->cfg;
    char buf[LNK_CODE_MAX + 320];
    if (cfg->public_url && *cfg->public_url) {
        snprintf(buf, sizeof(buf), "%s/%s", cfg->public_url, code);
        return json_string(buf);
    }
    struct lnk_str host = lnk_str_trim(lnk_req_host(r));
    bool ok = host.len > 0 && host.len <= 255;
    for (size_t i = 0; ok && i < host.len; i++) {
        char ch = host.ptr[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']';
    }
    if (ok)
        snprintf(buf, sizeof(buf), "%s://%.*s/%s", lnk_req_scheme(r), (int)host.len, host.ptr,
                 code);
    else
        snprintf(buf, sizeof(buf), "%s://%s:%u/%s", lnk_req_scheme(r), cfg->listen_host,
                 (unsigned)cfg->listen_port, code);
    return json_string(buf);
}

static void answer_url(struct lnk_req *r, struct lnk_store_op *sop, int status)
{
    const struct lnk_op_url *op = LNK_OP_AS(sop, url);
    if (sop->rc != 0) {
        lnk_h_store_error(r, sop);
        return;
    }
    json_t *o = lnk_h_url_json(&op->out);
    if (lnk_req_route(r) == LNK_ROUTE_SHORTEN)
        json_object_set_new(o, "short_url", lnk_h_short_url_json(r, op->out.short_code));
    lnk_resp_cache_header(r, false);
    lnk_resp_json(r, status, o);
}

/* GET: answer, and keep the representation for the next read. */
/* ctx: the cache epoch before the read */
static void then_got(struct lnk_req *r, struct lnk_store_op *sop, void *ctx)
{
    const struct lnk_op_url *op = LNK_OP_AS(sop, url);
    struct lnk_cache *c = lnk_req_env(r)->url_json;
    if (sop->rc != 0) {
        lnk_h_store_error(r, sop);
        return;
    }
    if (!lnk_h_url_visible(r, op->out.user_id))
        return;
    size_t len;
    json_t *o = lnk_h_url_json(&op->out);
    char *text = lnk_json_dump(o, &len);
    json_decref(o);
    if (c) {
        const struct lnk_url *u = &op->out;
        struct lnk_cache_value v = {u->id, u->user_id, u->is_active, text, len};
        lnk_cache_put(c, lnk_req_param(r), &v, (uint64_t)(uintptr_t)ctx);
    }
    lnk_resp_cache_header(r, false);
    lnk_resp_raw(r, 200, "application/json", text, len);
    free(text);
}

/* Mutations forget the cached url before they answer. */
static void then_changed(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    const struct lnk_op_url *u = LNK_OP_AS(op, url);
    if (op->rc == 0)
        lnk_h_forget_url(r, &u->out);
    answer_url(r, op, op->kind == LNK_OP_URL_CREATE && !u->reused ? 201 : 200);
}

static void then_deleted(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    if (op->rc != 0) {
        lnk_h_store_error(r, op);
        return;
    }
    lnk_h_forget_url(r, &LNK_OP_AS(op, url)->out);
    lnk_resp_empty(r, 204);
}

static bool answer_from_cache(struct lnk_req *r)
{
    struct lnk_cache *c = lnk_req_env(r)->url_json;
    struct lnk_cache_value v;
    if (!c || lnk_cache_get(c, lnk_req_param(r), lnk_h_req_alloc, r, &v) != LNK_CACHE_HIT)
        return false;
    if (!lnk_h_url_visible(r, v.owner))
        return true;
    lnk_resp_cache_header(r, true);
    lnk_resp_raw(r, 200, "application/json", v.data, v.len);
    return true;
}

void lnk_h_urls_list(struct lnk_req *r)
{
    lnk_h_list(r, LNK_OP_URL_LIST, LNK_H_FILTER_USER_ID | LNK_H_FILTER_IS_ACTIVE);
}

void lnk_h_user_urls(struct lnk_req *r)
{
    lnk_h_list_under(r, "user", LNK_OP_URL_LIST, LNK_H_FILTER_IS_ACTIVE);
}

void lnk_h_url_get(struct lnk_req *r)
{
    int64_t id;
    if (!lnk_h_path_id(r, "url", &id))
        return;
    if (answer_from_cache(r))
        return;
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_GET), url);
    op->id = id;
    uintptr_t epoch = lnk_req_env(r)->url_json ? lnk_cache_epoch(lnk_req_env(r)->url_json) : 0;
    lnk_h_submit(r, &op->op, then_got, (void *)epoch);
}

bool lnk_h_read_new_url(const json_t *body, int64_t scope, struct lnk_h_invalid *v,
                        struct lnk_arena *a, struct lnk_url *u, bool *reuse)
{
    bool set;
    memset(u, 0, sizeof(*u));
    lnk_h_read_owner(body, scope, v, &u->user_id);
    lnk_h_read_dest(body, "original_url", true, v, a, &u->original_url);
    lnk_h_read_title(body, v, a, &set, &u->title);
    u->is_active = true;
    lnk_h_read_flag(body, "is_active", v, &set, &u->is_active);
    lnk_h_read_code(body, "short_code", v, a, &u->short_code);
    /* the seeds' POST /shorten names it custom_code */
    lnk_h_read_code(body, "custom_code", v, a, &u->short_code);
    read_reuse(body, v, reuse);
    return u->user_id != -1;
}

/* POST /urls and POST /shorten (which adds short_url to the answer). */
void lnk_h_urls_create(struct lnk_req *r)
{
    json_t *body;
    if (!lnk_h_json_body(r, &body))
        return;
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_CREATE), url);
    struct lnk_h_invalid v = {0};
    bool known_user =
        lnk_h_read_new_url(body, lnk_h_scope(r), &v, &op->op.arena, &op->in, &op->reuse);
    json_decref(body);
    if (lnk_h_invalid_answer(r, &v)) {
        lnk_store_op_free(&op->op);
        return;
    }
    if (!known_user) {
        lnk_store_op_free(&op->op);
        lnk_resp_error(r, 404, "user not found", NULL);
        return;
    }
    lnk_h_submit(r, &op->op, then_changed, NULL);
}

void lnk_h_url_update(struct lnk_req *r)
{
    int64_t id;
    json_t *body;
    if (!lnk_h_path_id(r, "url", &id) || !lnk_h_json_body(r, &body))
        return;
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_UPDATE), url);
    struct lnk_url_patch *p = &op->patch;
    struct lnk_h_invalid v = {0};
    op->id = id;
    op->owner_guard = lnk_h_scope(r);
    lnk_h_read_title(body, &v, &op->op.arena, &p->set_title, &p->title);
    lnk_h_read_flag(body, "is_active", &v, &p->set_is_active, &p->is_active);
    lnk_h_read_dest(body, "original_url", false, &v, &op->op.arena, &p->original_url);
    json_decref(body);
    if (lnk_h_invalid_answer(r, &v)) {
        lnk_store_op_free(&op->op);
        return;
    }
    lnk_h_submit(r, &op->op, then_changed, NULL);
}

void lnk_h_url_delete(struct lnk_req *r)
{
    int64_t id;
    if (!lnk_h_path_id(r, "url", &id))
        return;
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_DELETE), url);
    op->id = id;
    op->owner_guard = lnk_h_scope(r);
    lnk_h_submit(r, &op->op, then_deleted, NULL);
}
