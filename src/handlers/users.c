/* SPDX-License-Identifier: MIT */
/* /users and /users/{id} (CONTRACT.md §4.4-§4.8). */
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
static bool read_user(struct lnk_req *r, const json_t *body, bool required, struct lnk_store_op *op)
{
    struct lnk_h_invalid v = {0};
    lnk_h_read_user_fields(body, required, &v, &op->arena, &op->user);
    return !lnk_h_invalid_answer(r, &v);
}

static void answer_user(struct lnk_req *r, struct lnk_store_op *op, int status)
{
    if (op->rc != 0)
        lnk_h_store_error(r, op);
    else
        lnk_resp_json(r, status, lnk_h_user_json(&op->users[0]));
}

static void then_ok(struct lnk_req *r, struct lnk_store_op *op)
{
    answer_user(r, op, 200);
}

static void then_created(struct lnk_req *r, struct lnk_store_op *op)
{
    answer_user(r, op, 201);
}

/* The user's urls are gone with it: forget each before answering. */
static void then_deleted(struct lnk_req *r, struct lnk_store_op *op)
{
    if (op->rc != 0) {
        lnk_h_store_error(r, op);
        return;
    }
    for (size_t i = 0; i < op->n_rows; i++)
        lnk_h_forget_url(r, &op->urls[i]);
    lnk_resp_empty(r, 204);
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
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_USER_GET);
    op->in.id = id;
    lnk_h_submit(r, op, then_ok);
}

void lnk_h_users_create(struct lnk_req *r)
{
    json_t *body;
    if (!lnk_h_json_body(r, &body))
        return;
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_USER_CREATE);
    if (read_user(r, body, true, op))
        lnk_h_submit(r, op, then_created);
    else
        lnk_store_op_free(op);
    json_decref(body);
}

void lnk_h_user_update(struct lnk_req *r)
{
    int64_t id;
    json_t *body;
    if (!lnk_h_path_id(r, "user", &id) || !lnk_h_json_body(r, &body))
        return;
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_USER_UPDATE);
    op->in.id = id;
    if (read_user(r, body, false, op))
        lnk_h_submit(r, op, then_ok);
    else
        lnk_store_op_free(op);
    json_decref(body);
}

void lnk_h_user_delete(struct lnk_req *r)
{
    int64_t id;
    if (!lnk_h_path_id(r, "user", &id))
        return;
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_USER_DELETE);
    op->in.id = id;
    lnk_h_submit(r, op, then_deleted);
}
