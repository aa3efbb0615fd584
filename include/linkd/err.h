/* SPDX-License-Identifier: MIT */
/* Error codes shared by every module (the Knot model). Functions return an
 * int that is LNK_OK or a negative lnk_err; results go through out-params.
 * Errno values keep their negated numbers; linkd's own codes start at -1000. */
#ifndef LNK_ERR_H
#define LNK_ERR_H

#include <errno.h>

enum lnk_err {
    LNK_OK = 0,
    LNK_ENOMEM = -ENOMEM,
    LNK_EINVAL = -EINVAL,
    LNK_ERANGE = -ERANGE,
    LNK_ETIMEDOUT = -ETIMEDOUT, /* a dependency did not answer in time */
    LNK_ENOTFOUND = -1000,      /* no such row, key or route */
    LNK_EEXISTS,                /* unique constraint: the thing already exists */
    LNK_EEXPIRED,               /* existed, but no longer usable */
    LNK_ELIMIT,                 /* a rate limit was hit */
    LNK_ETOOBIG,                /* a configured size limit was exceeded */
    LNK_EBACKEND,               /* the store failed in an unexpected way */
    LNK_EUNAVAIL,               /* a dependency is down or read-only; retry later */
    LNK_EEOF,                   /* end of input (parsers) */
    LNK_ECANCELED,              /* nobody waits for the answer any more; the work was dropped */
    LNK_EBUSY,                  /* too much work queued; retry later */
    LNK_EIDSPACE,               /* no id at or below LNK_ID_MAX is left for a new row */
};

/* Static, human-readable text for rc; never NULL. Thread-safe. */
const char *lnk_strerror(int rc);

/* Maps an errno value (positive) to an lnk_err. */
int lnk_err_from_errno(int err);

#endif
