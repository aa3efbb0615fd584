/* SPDX-License-Identifier: MIT */
/* Private to src/handlers/: docs/openapi.json as compiled into the binary.
 * The definitions are generated at build time by scripts/embed-openapi.cmake
 * (openapi_doc.c in the build tree), so GET /openapi.json never reads docs/
 * at run time and always serves the document of the code it runs. */
#ifndef LNK_OPENAPI_INT_H
#define LNK_OPENAPI_INT_H

#include <stddef.h>

/* The document's bytes, exactly as in docs/openapi.json (not NUL-terminated). */
extern const unsigned char lnk_openapi_doc[];
extern const size_t lnk_openapi_doc_len;
/* Its ETag, quotes included: 16 hex digits of the document's SHA-256. */
extern const char lnk_openapi_etag[];

#endif
