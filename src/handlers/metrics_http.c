/* SPDX-License-Identifier: MIT */
/* GET /metrics: Prometheus text, or JSON with ?format=json or
 * Accept: application/json (CONTRACT.md §4.2). */
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/handlers.h"
#include "linkd/metrics.h"
#include "linkd/query.h"

static bool wants_json(struct lnk_req *r)
{
    char fmt[16];
    size_t len;
    if (lnk_query_get(lnk_req_query(r), "format", fmt, sizeof(fmt), &len) == 0)
        return strcmp(fmt, "json") == 0;
    struct lnk_str accept = lnk_req_header(r, "accept");
    return accept.ptr && memmem(accept.ptr, accept.len, "application/json", 16) != NULL;
}

void lnk_h_metrics(struct lnk_req *r)
{
    struct lnk_metrics *m = lnk_req_env(r)->metrics;
    if (wants_json(r)) {
        lnk_resp_json(r, 200, lnk_metrics_render_json(m));
        return;
    }
    size_t len;
    char *text = lnk_metrics_render_text(m, &len);
    lnk_resp_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}
