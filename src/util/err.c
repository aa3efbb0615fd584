/* SPDX-License-Identifier: MIT */
/* lnk_err <-> text and errno. */
#include "linkd/err.h"

#include <string.h>

const char *lnk_strerror(int rc)
{
    switch (rc) {
    case LNK_OK:
        return "ok";
    case LNK_ENOTFOUND:
        return "not found";
    case LNK_EEXISTS:
        return "already exists";
    case LNK_EEXPIRED:
        return "expired";
    case LNK_ELIMIT:
        return "rate limited";
    case LNK_ETOOBIG:
        return "too large";
    case LNK_EBACKEND:
        return "backend error";
    case LNK_EUNAVAIL:
        return "unavailable";
    case LNK_EEOF:
        return "end of input";
    case LNK_ECANCELED:
        return "canceled";
    case LNK_EBUSY:
        return "busy";
    case LNK_EIDSPACE:
        return "id space exhausted";
    default:
        /* strerror is not guaranteed thread-safe; the strings it returns for
         * the errno values we use are static in glibc. */
        return rc < 0 && rc > -1000 ? strerror(-rc) : "unknown error";
    }
}

int lnk_err_from_errno(int err)
{
    if (err == ENOSPC || err == EROFS || err == EACCES || err == EPERM || err == EIO)
        return LNK_EUNAVAIL;
    return err > 0 ? -err : LNK_EBACKEND;
}
