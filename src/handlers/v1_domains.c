/* SPDX-License-Identifier: MIT */
/* /api/v1/domains (docs/api-v1.md#domains, ADR 0028), for admins: list,
 * create, change the redirects of, and delete (only while no link names
 * it) the hosts links may belong to. Each change is applied to this node's
 * table before the answer, so a link may name a new domain at once; the
 * other nodes read the table again within LNK_DOMAINS_RELOAD_MS. */
#include <stdio.h>
#include <string.h>

#include "handlers/v1_int.h"
#include "linkd/domains.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/url.h"

static const char *const url_keys[] = {"root_url", "not_found_url", "fallback_url"};
#define N_URL_KEYS (sizeof(url_keys) / sizeof(url_keys[0]))

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *domain_json(const struct lnk_domain *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(d->id));
    json_object_set_new(o, "host", json_string(d->host));
    json_object_set_new(o, "root_url", str_or_null(d->root_url));
    json_object_set_new(o, "not_found_url", str_or_null(d->not_found_url));
    json_object_set_new(o, "fallback_url", str_or_null(d->fallback_url));
    json_object_set_new(o, "created_at", lnk_v1_time_json(d->created_at));
    return o;
}

static void then_listed(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    const struct lnk_op_domain *d = LNK_OP_AS(op, domain);
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < d->n_domains; i++)
        json_array_append_new(data, domain_json(&d->domains[i]));
    json_t *o = json_object();
    json_object_set_new(o, "data", data);
    lnk_resp_json(r, 200, o);
}

void lnk_h_v1_domains_list(struct lnk_req *r)
{
    lnk_h_submit(r, lnk_store_op_new(LNK_OP_DOMAIN_LIST), then_listed, NULL);
}

/* A host as DNS spells it: labels of 1..63 letters, digits and '-' (not
 * first or last), joined by '.', at most 253 characters; lower-cased into
 * a. An IDN must come in its punycode form ("xn--..."). NULL when it is
 * not one (answered 422). */
static const char *read_host(struct lnk_req *r, const json_t *body, struct lnk_arena *a)
{
    const char *s;
    size_t len, label = 0;
    const char *bad = NULL;
    if (lnk_json_get_string(body, "host", &s, &len) != LNK_OK) {
        lnk_h_problem(r, 422, "validation-failed", "host is required: a string", "/host");
        return NULL;
    }
    if (len == 0 || len > LNK_DOMAIN_HOST_MAX)
        bad = "must be 1 to 253 characters";
    char *out = lnk_arena_strndup(a, s, len);
    for (size_t i = 0; !bad && i <= len; i++) {
        unsigned char ch = i < len ? (unsigned char)s[i] : '.';
        if (ch >= 0x80) {
            bad = "must be ASCII: give an internationalized name in its punycode form (xn--...)";
        } else if (ch == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                bad = "each label must be 1 to 63 characters, not ending with '-'";
            label = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                   (ch == '-' && label > 0)) {
            label++;
        } else if (ch >= 'A' && ch <= 'Z') {
            out[i] = (char)(ch - 'A' + 'a');
            label++;
        } else {
            bad = "must be a host name: letters, digits, '-' and '.', without a port";
        }
    }
    if (bad) {
        lnk_h_problem(r, 422, "validation-failed", bad, "/host");
        return NULL;
    }
    return out;
}

/* The URLs of a body: absent (unset), null, or an http(s) URL; unknown
 * keys are refused. False when answered (422). */
static bool read_urls(struct lnk_req *r, const json_t *body, bool create, struct lnk_arena *a,
                      struct lnk_domain_patch *p)
{
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)body, key, val)
    {
        bool known = create && strcmp(key, "host") == 0;
        for (size_t i = 0; i < N_URL_KEYS; i++)
            known |= strcmp(key, url_keys[i]) == 0;
        if (!known) {
            char ptr[80], detail[120];
            snprintf(ptr, sizeof(ptr), "/%.64s", key);
            snprintf(detail, sizeof(detail), "unknown field \"%.64s\"%s", key,
                     strcmp(key, "host") == 0 ? ": a domain's host does not change" : "");
            lnk_h_problem(r, 422, LNK_POLICY_E_FIELD, detail, ptr);
            return false;
        }
    }
    bool *set[N_URL_KEYS] = {&p->set_root_url, &p->set_not_found_url, &p->set_fallback_url};
    const char **out[N_URL_KEYS] = {&p->root_url, &p->not_found_url, &p->fallback_url};
    for (size_t i = 0; i < N_URL_KEYS; i++) {
        const json_t *v = json_object_get(body, url_keys[i]);
        const char *why = NULL;
        char ptr[32];
        snprintf(ptr, sizeof(ptr), "/%s", url_keys[i]);
        if (!v)
            continue;
        *set[i] = true;
        if (json_is_null(v))
            continue;
        if (!json_is_string(v) ||
            lnk_url_validate(json_string_value(v), json_string_length(v), &why) != LNK_OK) {
            lnk_h_problem(r, 422, LNK_POLICY_E_URL, why ? why : "must be an http(s) URL or null",
                          ptr);
            return false;
        }
        *out[i] = lnk_arena_strndup(a, json_string_value(v), json_string_length(v));
    }
    return true;
}

static void answer_domain(struct lnk_req *r, const struct lnk_domain *d, int status)
{
    if (status == 201) {
        char loc[64];
        snprintf(loc, sizeof(loc), "/api/v1/domains/%lld", (long long)d->id);
        lnk_resp_header(r, "location", loc);
    }
    lnk_resp_json(r, status, domain_json(d));
}

static void then_created(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    const struct lnk_op_domain *d = LNK_OP_AS(op, domain);
    if (op->rc == LNK_EEXISTS) {
        lnk_h_problem(r, 409, "domain-taken", "the host is listed already", "/host");
        return;
    }
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    lnk_domains_put(lnk_req_env(r)->domains, &d->out);
    answer_domain(r, &d->out, 201);
}

/* {"host", "root_url", "not_found_url", "fallback_url"} */
void lnk_h_v1_domains_create(struct lnk_req *r)
{
    json_t *body;
    if (lnk_h_idempotent(r, lnk_h_v1_domains_create) || !lnk_h_json_body(r, &body))
        return;
    struct lnk_op_domain *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_DOMAIN_CREATE), domain);
    struct lnk_domain_patch p = {0};
    const char *host = NULL;
    bool ok = read_urls(r, body, true, &op->op.arena, &p) &&
              (host = read_host(r, body, &op->op.arena)) != NULL;
    json_decref(body);
    if (!ok) {
        lnk_store_op_free(&op->op);
        return;
    }
    op->in = (struct lnk_domain){.host = host,
                                 .root_url = p.root_url,
                                 .not_found_url = p.not_found_url,
                                 .fallback_url = p.fallback_url};
    lnk_h_submit(r, &op->op, then_created, NULL);
}

static void then_updated(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    const struct lnk_op_domain *d = LNK_OP_AS(op, domain);
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    lnk_domains_put(lnk_req_env(r)->domains, &d->out);
    answer_domain(r, &d->out, 200);
}

/* Absent: kept; null: unset. */
void lnk_h_v1_domain_update(struct lnk_req *r)
{
    int64_t id;
    json_t *body;
    if (!lnk_h_path_id(r, "domain", &id) || !lnk_h_json_body(r, &body))
        return;
    struct lnk_op_domain *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_DOMAIN_UPDATE), domain);
    bool ok = read_urls(r, body, false, &op->op.arena, &op->patch);
    json_decref(body);
    if (!ok) {
        lnk_store_op_free(&op->op);
        return;
    }
    op->id = id;
    lnk_h_submit(r, &op->op, then_updated, NULL);
}

static void then_deleted(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    if (op->rc == LNK_EEXISTS) {
        lnk_h_problem(r, 409, "domain-in-use", "links belong to this domain", NULL);
        return;
    }
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    lnk_domains_remove(lnk_req_env(r)->domains, LNK_OP_AS(op, domain)->id);
    lnk_resp_empty(r, 204);
}

void lnk_h_v1_domain_delete(struct lnk_req *r)
{
    int64_t id;
    if (!lnk_h_path_id(r, "domain", &id))
        return;
    struct lnk_op_domain *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_DOMAIN_DELETE), domain);
    op->id = id;
    lnk_h_submit(r, &op->op, then_deleted, NULL);
}
