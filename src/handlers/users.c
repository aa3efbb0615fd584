/* SPDX-License-Identifier: MIT */
/* /users and /users/{id} (CONTRACT.md §4.4-§4.8). */
#include <stdint.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/handlers.h"

/* local@domain.tld: one '@', a non-empty local part, a dotted domain whose
 * labels are non-empty and whose last label has two or more letters. */
static bool email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@'))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    const char *dom = at + 1, *last_dot = strrchr(dom, '.');
    if (!last_dot || dom[0] == '.' || strstr(dom, ".."))
        return false;
    size_t tld = 0;
    for (const char *p = last_dot + 1; *p; p++, tld++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return false;
    return tld >= 2;
}

void lnk_h_read_user_fields(const json_t *body, bool required, struct lnk_h_invalid *v,
                            struct lnk_arena *a, struct lnk_user *u)
{
    lnk_h_text_field(body, "username", required, LNK_NAME_MAX, v, a, &u->username);
    if (lnk_h_text_field(body, "email", required, LNK_NAME_MAX, v, a, &u->email) && u->email &&
        !email_ok(u->email))
        lnk_h_invalid_add(v, "email", "must look like local@domain.tld");
}

/* Reads username and email (both required on create, optional on update). */
static bool read_user(struct lnk_req *r, const json_t *body, bool required, struct lnk_op_user *op)
{
    struct lnk_h_invalid v = {0};
    lnk_h_read_user_fields(body, required, &v, &op->op.arena, &op->in);
    return !lnk_h_invalid_answer(r, &v);
}

/* ctx: the status of a success */
static void then_user(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    if (op->rc != 0)
        lnk_h_store_error(r, op);
    else
        lnk_resp_json(r, (int)(intptr_t)ctx, lnk_h_user_json(&LNK_OP_AS(op, user)->out));
}

/* The user's urls are gone with it: forget each before answering. */
static void then_deleted(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    const struct lnk_op_user *u = LNK_OP_AS(op, user);
    if (op->rc != 0) {
        lnk_h_store_error(r, op);
        return;
    }
    lnk_h_forget_urls(r, u->urls, u->n_urls);
    lnk_resp_empty(r, 204);
}

static struct lnk_op_user *user_op(enum lnk_op_kind kind, int64_t id)
{
    struct lnk_op_user *op = LNK_OP_AS(lnk_store_op_new(kind), user);
    op->id = id;
    return op;
}

void lnk_h_users_list(struct lnk_req *r)
{
    lnk_h_list(r, LNK_OP_USER_LIST, 0);
}

void lnk_h_user_get(struct lnk_req *r)
{
    int64_t id;
    if (!lnk_h_path_id(r, "user", &id))
        return;
    lnk_h_submit(r, &user_op(LNK_OP_USER_GET, id)->op, then_user, (void *)200);
}

void lnk_h_users_create(struct lnk_req *r)
{
    json_t *body;
    if (!lnk_h_json_body(r, &body))
        return;
    struct lnk_op_user *op = user_op(LNK_OP_USER_CREATE, 0);
    if (read_user(r, body, true, op))
        lnk_h_submit(r, &op->op, then_user, (void *)201);
    else
        lnk_store_op_free(&op->op);
    json_decref(body);
}

void lnk_h_user_update(struct lnk_req *r)
{
    int64_t id;
    json_t *body;
    if (!lnk_h_path_id(r, "user", &id) || !lnk_h_json_body(r, &body))
        return;
    struct lnk_op_user *op = user_op(LNK_OP_USER_UPDATE, id);
    if (read_user(r, body, false, op))
        lnk_h_submit(r, &op->op, then_user, (void *)200);
    else
        lnk_store_op_free(&op->op);
    json_decref(body);
}

void lnk_h_user_delete(struct lnk_req *r)
{
    int64_t id;
    if (!lnk_h_path_id(r, "user", &id))
        return;
    lnk_h_submit(r, &user_op(LNK_OP_USER_DELETE, id)->op, then_deleted, NULL);
}
