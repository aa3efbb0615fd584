/* SPDX-License-Identifier: MIT */
/* GET /openapi.json and GET /api/v1/openapi.json: the OpenAPI 3.1 documents
 * of the root API and of /api/v1 (docs/openapi.json, docs/openapi-v1.json,
 * compiled in). Public like /health: no key, no rate budget. A document only
 * changes with the binary, so it carries a fixed ETag with Cache-Control:
 * no-cache: clients may keep it, and a revalidation with If-None-Match
 * costs a 304 instead of the whole document. */
#include <string.h>

#include "handlers/handlers_int.h"
#include "handlers/openapi_int.h"
#include "linkd/handlers.h"
#include "linkd/str.h"

/* One document with its ETag: 200, or 304 when the client has it. */
static void serve(struct lnk_req *r, const unsigned char *doc, size_t len, const char *etag)
{
    lnk_resp_header(r, "etag", etag);
    lnk_resp_header(r, "cache-control", "no-cache");
    if (lnk_h_etag_matches(lnk_req_header(r, "if-none-match"), etag)) {
        lnk_resp_empty(r, 304);
        return;
    }
    lnk_resp_raw(r, 200, "application/json", (const char *)doc, len);
}

void lnk_h_openapi(struct lnk_req *r)
{
    serve(r, lnk_openapi_doc, lnk_openapi_doc_len, lnk_openapi_etag);
}

void lnk_h_v1_openapi(struct lnk_req *r)
{
    serve(r, lnk_openapi_v1_doc, lnk_openapi_v1_doc_len, lnk_openapi_v1_etag);
}
