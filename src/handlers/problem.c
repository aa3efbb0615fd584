/* SPDX-License-Identifier: MIT */
/* /api/v1 errors as RFC 9457 problem details (docs/api-v1.md#errors):
 * {"type", "title", "status", "detail", "instance", "request_id"} and, for
 * field errors, "errors": [{"pointer", "detail"}]. Each status has a generic
 * type; handlers that know more answer a specific one. */
#include <stdio.h>
#include <string.h>

#include "handlers/handlers_int.h"

static const struct {
    int status;
    const char *slug, *title;
} generic[] = {
    {400, "bad-request", "Bad request"},
    {401, "unauthorized", "Authentication required"},
    {403, "forbidden", "Forbidden"},
    {404, "not-found", "Not found"},
    {405, "method-not-allowed", "Method not allowed"},
    {409, "conflict", "Conflict"},
    {410, "gone", "Gone"},
    {412, "precondition-failed", "Precondition failed"},
    {413, "payload-too-large", "Payload too large"},
    {415, "unsupported-media-type", "Unsupported media type"},
    {422, "validation-failed", "Validation failed"},
    {428, "precondition-required", "Precondition required"},
    {429, "rate-limited", "Too many requests"},
    {500, "internal-error", "Internal error"},
    {503, "unavailable", "Service unavailable"},
    {504, "timeout", "Gateway timeout"},
};

static size_t generic_of(int status)
{
    size_t n = sizeof(generic) / sizeof(generic[0]);
    int fallback = status >= 500 ? 500 : 400; /* a status not listed: its class's */
    for (size_t i = 0; i < n; i++)
        if (generic[i].status == status)
            return i;
    for (size_t i = 0; i < n; i++)
        if (generic[i].status == fallback)
            return i;
    return 0;
}

json_t *lnk_h_problem_new(struct lnk_req *r, int status, const char *slug, const char *detail,
                          const char *pointer)
{
    char type[96];
    struct lnk_str path = lnk_req_path(r);
    size_t g = generic_of(status);
    snprintf(type, sizeof(type), LNK_H_PROBLEM_PREFIX "%s", slug ? slug : generic[g].slug);
    json_t *p = json_object();
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(generic[g].title));
    json_object_set_new(p, "status", json_integer(status));
    if (detail)
        json_object_set_new(p, "detail", json_string(detail));
    json_object_set_new(p, "instance", json_stringn(path.ptr, path.len));
    json_object_set_new(p, "request_id", json_string(lnk_req_id(r)));
    if (pointer) {
        json_t *e = json_object();
        json_object_set_new(e, "pointer", json_string(pointer));
        if (detail)
            json_object_set_new(e, "detail", json_string(detail));
        json_t *errors = json_array();
        json_array_append_new(errors, e);
        json_object_set_new(p, "errors", errors);
    }
    return p;
}

/* {"field": "reason"} -> [{"pointer": "/field", "detail": "reason"}] */
static json_t *errors_of(const json_t *details)
{
    const char *key;
    json_t *val;
    json_t *errors = json_array();
    char pointer[160];
    json_object_foreach((json_t *)details, key, val)
    {
        json_t *e = json_object();
        snprintf(pointer, sizeof(pointer), "/%s", key);
        json_object_set_new(e, "pointer", json_string(pointer));
        if (json_is_string(val))
            json_object_set(e, "detail", val);
        json_array_append_new(errors, e);
    }
    return errors;
}

json_t *lnk_h_problem_shape(struct lnk_req *r, int status, json_t *body, const char **content_type)
{
    *content_type = "application/problem+json";
    if (json_object_get(body, "type"))
        return body;
    json_t *p =
        lnk_h_problem_new(r, status, NULL, json_string_value(json_object_get(body, "error")), NULL);
    const json_t *details = json_object_get(body, "details");
    if (json_is_object(details))
        json_object_set_new(p, "errors", errors_of(details));
    json_decref(body);
    return p;
}

void lnk_h_problem(struct lnk_req *r, int status, const char *slug, const char *detail,
                   const char *pointer)
{
    lnk_resp_json(r, status, lnk_h_problem_new(r, status, slug, detail, pointer));
}

json_t *lnk_h_problem_of_store(struct lnk_req *r, const struct lnk_store_op *op, int *status)
{
    const char *ignored;
    json_t *body = lnk_h_error_body(op->rc, op->err_field, status);
    return lnk_h_problem_shape(r, *status, body, &ignored);
}
