/* SPDX-License-Identifier: MIT */
/* lnk_err -> HTTP status and message: the one table (STYLE.md §5), and the
 * answers for unknown routes and wrong methods. */
#include <stdio.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/err.h"
#include "linkd/handlers.h"
#include "linkd/metrics.h"

/* An exhausted id space is 500, not 503: retrying cannot help, and the
 * store stays healthy for everything else (docs/security.md#ids). */
static const struct {
    int rc;
    int status;
} status_table[] = {
    {LNK_OK, 200},       {LNK_ENOTFOUND, 404}, {LNK_EEXISTS, 409}, {LNK_EINVAL, 422},
    {LNK_EEXPIRED, 410}, {LNK_ELIMIT, 429},    {LNK_ETOOBIG, 413}, {LNK_EUNAVAIL, 503},
    {LNK_EBACKEND, 500}, {LNK_EIDSPACE, 500},
};

int lnk_h_status_of(int rc)
{
    for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
        if (status_table[i].rc == rc)
            return status_table[i].status;
    return 500;
}

json_t *lnk_h_error_body(int rc, const char *field, int *status_out)
{
    int status = lnk_h_status_of(rc);
    char msg[96];
    switch (status) {
    case 404:
        snprintf(msg, sizeof(msg), "%s not found", field ? field : "resource");
        break;
    case 409:
        snprintf(msg, sizeof(msg), "%s already exists", field ? field : "resource");
        break;
    case 422:
        snprintf(msg, sizeof(msg), "invalid %s", field ? field : "input");
        break;
    case 503:
        snprintf(msg, sizeof(msg), "storage unavailable, retry later");
        break;
    default:
        if (rc == LNK_EIDSPACE)
            snprintf(msg, sizeof(msg), "id space exhausted: no %s id is left below 2^53",
                     field ? field : "new");
        else
            snprintf(msg, sizeof(msg), "internal error");
        break;
    }
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(msg));
    if (field && (status == 409 || status == 422)) {
        json_t *details = json_object();
        json_object_set_new(details, field, json_string(status == 409 ? "taken" : "invalid"));
        json_object_set_new(o, "details", details);
    }
    *status_out = status;
    return o;
}

void lnk_h_store_error(struct lnk_req *r, const struct lnk_store_op *op)
{
    int status;
    json_t *body = lnk_h_error_body(op->rc, op->err_field, &status);
    if (status >= 500)
        lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_store_errors_total, 1);
    lnk_resp_json(r, status, body);
}

void lnk_h_not_found(struct lnk_req *r)
{
    lnk_resp_error(r, 404, "not found", NULL);
}

void lnk_h_method_not_allowed(struct lnk_req *r, const char *allow)
{
    lnk_resp_header(r, "allow", allow);
    lnk_resp_error(r, 405, "method not allowed", NULL);
}
