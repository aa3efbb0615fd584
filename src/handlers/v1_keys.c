/* SPDX-License-Identifier: MIT */
/* /api/v1/keys (docs/api-v1.md#keys), for admins: list, create (the key is
 * shown once, only its SHA-256 is kept), revoke. The same keys and rules as
 * `linkd keys` (app/keys.c): a user key needs its user, the admin scope is
 * an admin key's only, an expiry lies ahead. */
#include <stdio.h>
#include <string.h>

#include "handlers/v1_int.h"
#include "linkd/auth.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/timefmt.h"

static json_t *time_or_null(int64_t t)
{
    return t ? lnk_v1_time_json(t) : json_null();
}

static json_t *key_json(const struct lnk_api_key *k)
{
    json_t *o = json_object();
    unsigned bits = 0;
    json_object_set_new(o, "id", json_integer(k->id));
    json_object_set_new(o, "name", json_string(k->name));
    json_object_set_new(o, "prefix", json_string(k->prefix));
    json_object_set_new(o, "role", json_string(k->admin ? "admin" : "user"));
    json_object_set_new(o, "user_id", k->admin ? json_null() : json_integer(k->user_id));
    if (k->scopes && lnk_auth_scopes_parse(lnk_str_from_cstr(k->scopes), &bits) == LNK_OK) {
        json_t *list = json_array();
        for (unsigned b = 1; b <= LNK_SCOPE_ADMIN; b <<= 1)
            if (bits & b)
                json_array_append_new(list, json_string(lnk_auth_scope_name(b)));
        json_object_set_new(o, "scopes", list);
    } else {
        json_object_set_new(o, "scopes", json_null());
    }
    json_object_set_new(o, "expires_at", time_or_null(k->expires_at));
    json_object_set_new(o, "created_at", time_or_null(k->created_at));
    json_object_set_new(o, "revoked_at", time_or_null(k->revoked_at));
    const char *status = k->revoked_at                                    ? "revoked"
                         : k->expires_at && k->expires_at <= lnk_ts_now() ? "expired"
                                                                          : "active";
    json_object_set_new(o, "status", json_string(status));
    return o;
}

static void then_listed(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    const struct lnk_op_key *k = LNK_OP_AS(op, key);
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < k->n_keys; i++)
        json_array_append_new(data, key_json(&k->keys[i]));
    json_t *o = json_object();
    json_object_set_new(o, "data", data);
    lnk_resp_json(r, 200, o);
}

void lnk_h_v1_keys_list(struct lnk_req *r)
{
    lnk_h_submit(r, lnk_store_op_new(LNK_OP_KEY_LIST), then_listed, NULL);
}

/* The key itself rides with the op until the answer. */
static void then_created(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    const char *secret = ctx;
    const struct lnk_op_key *k = LNK_OP_AS(op, key);
    if (op->rc == LNK_ENOTFOUND) {
        lnk_h_problem(r, 404, "user-not-found", "user not found", "/user_id");
        return;
    }
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    json_t *o = key_json(&k->out);
    json_object_set_new(o, "key", json_string(secret));
    char loc[64];
    snprintf(loc, sizeof(loc), "/api/v1/keys/%lld", (long long)k->out.id);
    lnk_resp_header(r, "location", loc);
    lnk_resp_header(r, "cache-control", "no-store");
    lnk_resp_json(r, 201, o);
}

/* The scopes of a new key: an array of names, or absent/null (all of its
 * role). False when answered (422). */
static bool read_scopes(struct lnk_req *r, const json_t *body, bool admin, unsigned *bits)
{
    const json_t *list = json_object_get(body, "scopes");
    size_t i;
    const json_t *name;
    *bits = 0;
    if (!list || json_is_null(list))
        return true;
    if (!json_is_array(list) || json_array_size(list) == 0) {
        lnk_h_problem(r, 422, "validation-failed", "scopes must be a non-empty array or null",
                      "/scopes");
        return false;
    }
    json_array_foreach(list, i, name)
    {
        unsigned one = 0;
        char ptr[32];
        snprintf(ptr, sizeof(ptr), "/scopes/%zu", i);
        if (!json_is_string(name) ||
            lnk_auth_scopes_parse(lnk_str_from_cstr(json_string_value(name)), &one) != LNK_OK ||
            strchr(json_string_value(name), ',')) {
            lnk_h_problem(r, 422, "validation-failed",
                          "a scope is links:read, links:write, analytics:read or admin", ptr);
            return false;
        }
        *bits |= one;
    }
    if (lnk_auth_scopes_check(*bits, admin) != LNK_OK) {
        lnk_h_problem(r, 422, "validation-failed", "the admin scope needs an admin key", "/scopes");
        return false;
    }
    return true;
}

/* {"name", "admin": bool, "user_id" (a user key's), "scopes": [...],
 * "expires_at": RFC 3339 UTC}. No Idempotency-Key here: keeping the answer
 * would keep the key itself, which exists nowhere but with its client. */
void lnk_h_v1_keys_create(struct lnk_req *r)
{
    json_t *body;
    if (!lnk_h_json_body(r, &body))
        return;
    struct lnk_op_key *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_KEY_CREATE), key);
    struct lnk_h_invalid v = {0};
    bool admin = false, set;
    const char *name = NULL;
    int64_t user_id = 0, expires_at = 0;
    unsigned bits = 0;
    const char *key_name;
    json_t *val;
    json_object_foreach(body, key_name, val)
    {
        static const char *const known[] = {"name", "admin", "user_id", "scopes", "expires_at"};
        bool ok_key = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok_key |= strcmp(key_name, known[i]) == 0;
        if (!ok_key) { /* a typo ("scope") must not make a key with every right */
            char ptr[80], detail[120];
            snprintf(ptr, sizeof(ptr), "/%.64s", key_name);
            snprintf(detail, sizeof(detail), "unknown field \"%.64s\"", key_name);
            lnk_h_problem(r, 422, "invalid-field", detail, ptr);
            json_decref(body);
            lnk_store_op_free(&op->op);
            return;
        }
    }
    lnk_h_text_field(body, "name", true, 64, &v, &op->op.arena, &name);
    lnk_h_read_flag(body, "admin", &v, &set, &admin);
    if (!admin)
        lnk_h_read_owner(body, 0, &v, &user_id);
    else if (json_object_get(body, "user_id"))
        lnk_h_invalid_add(&v, "user_id", "an admin key belongs to no user");
    const json_t *exp = json_object_get(body, "expires_at");
    if (exp && !json_is_null(exp) &&
        (!json_is_string(exp) ||
         lnk_ts_parse_utc(json_string_value(exp), json_string_length(exp), &expires_at) != LNK_OK ||
         expires_at <= lnk_ts_now()))
        lnk_h_invalid_add(&v, "expires_at", "must be a future RFC 3339 UTC time or null");
    bool ok = !lnk_h_invalid_answer(r, &v) && read_scopes(r, body, admin, &bits);
    json_decref(body);
    char *key = lnk_req_alloc(r, LNK_AUTH_KEY_LEN + 1);
    char *hash = lnk_arena_alloc(&op->op.arena, LNK_AUTH_HASH_LEN + 1);
    char *prefix = lnk_arena_alloc(&op->op.arena, LNK_AUTH_PREFIX_LEN + 1);
    if (ok && lnk_auth_key_new(key, hash, prefix) != LNK_OK) {
        lnk_h_problem(r, 503, NULL, "no randomness available for a key", NULL);
        ok = false;
    }
    if (!ok) {
        lnk_store_op_free(&op->op);
        return;
    }
    char *scopes = NULL;
    if (bits) {
        scopes = lnk_arena_alloc(&op->op.arena, LNK_SCOPES_TEXT_MAX);
        lnk_auth_scopes_format(bits, scopes);
    }
    op->in = (struct lnk_api_key){.name = name,
                                  .prefix = prefix,
                                  .admin = admin,
                                  .user_id = user_id,
                                  .scopes = scopes,
                                  .expires_at = expires_at};
    op->key_hash = hash;
    lnk_h_submit(r, &op->op, then_created, key);
}

static void then_revoked(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    lnk_resp_empty(r, 204);
}

void lnk_h_v1_key_revoke(struct lnk_req *r)
{
    int64_t id;
    if (!lnk_h_path_id(r, "key", &id))
        return;
    struct lnk_op_key *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_KEY_REVOKE), key);
    op->id = id;
    lnk_h_submit(r, &op->op, then_revoked, NULL);
}
