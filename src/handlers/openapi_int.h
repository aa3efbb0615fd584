/* SPDX-License-Identifier: MIT */
/* Private to src/handlers/: the OpenAPI documents as compiled into the
 * binary, docs/openapi.json (the root API) and docs/openapi-v1.json
 * (/api/v1). The definitions are generated at build time by
 * scripts/embed-openapi.cmake (lnk_openapi*_doc.c in the build tree), so the
 * server never reads docs/ at run time and always serves the documents of
 * the code it runs. */
#ifndef LNK_OPENAPI_INT_H
#define LNK_OPENAPI_INT_H

#include <stddef.h>

/* Each document's bytes, exactly as in its file (not NUL-terminated), and
 * its ETag, quotes included: 16 hex digits of the document's SHA-256. */
extern const unsigned char lnk_openapi_doc[];
extern const size_t lnk_openapi_doc_len;
extern const char lnk_openapi_etag[];

extern const unsigned char lnk_openapi_v1_doc[];
extern const size_t lnk_openapi_v1_doc_len;
extern const char lnk_openapi_v1_etag[];

#endif
