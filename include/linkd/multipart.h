/* SPDX-License-Identifier: MIT */
/* multipart/form-data (RFC 7578) over a body held in memory: the boundary
 * from Content-Type, and the file part of an upload. Parts are slices into
 * the body; nothing is copied. Thread-safe. */
#ifndef LNK_MULTIPART_H
#define LNK_MULTIPART_H

#include "linkd/str.h"

#define LNK_MULTIPART_BOUNDARY_MAX 70 /* RFC 2046 §5.1.1 */

struct lnk_multipart_part {
    struct lnk_str name;     /* from Content-Disposition; may be empty */
    struct lnk_str filename; /* empty when the part is not a file */
    struct lnk_str body;
};

/* The boundary of a "multipart/form-data; boundary=..." value (quoted or
 * not). LNK_EINVAL when the type is not multipart/form-data or the boundary
 * is missing, empty or longer than 70 bytes. */
int lnk_multipart_boundary(struct lnk_str content_type, struct lnk_str *boundary);

/* The part named `field`, or else the first part with a filename.
 * LNK_ENOTFOUND when there is neither; LNK_EINVAL when the body is not
 * well-formed multipart (no opening boundary, a part without its header
 * block, no closing boundary). */
int lnk_multipart_find_file(struct lnk_str body, struct lnk_str boundary, const char *field,
                            struct lnk_multipart_part *out);

#endif
