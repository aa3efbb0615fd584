/* SPDX-License-Identifier: MIT */
/* Private to src/http/: the check of a request head (request line and header
 * fields) before libh2o frames the request. libh2o 2.2.5 lets through heads
 * that RFC 9112 says a server must reject, because a proxy in front of linkd
 * may frame the same bytes differently (request smuggling). The check parses
 * with picohttpparser, the parser libh2o itself runs, so both agree on where
 * the head ends and which heads parse at all. No h2o types: unit-testable.
 * Pure; any thread. */
#ifndef LNK_HTTP_HEAD_H
#define LNK_HTTP_HEAD_H

#include <stddef.h>

#include "linkd/str.h"

/* libh2o 2.2.5's H2O_MAX_HEADERS: a head with more fields fails its parser. */
#define LNK_HTTP_MAX_HEADERS 100

struct lnk_http_head {
    size_t len;            /* request line + fields + blank line, in bytes */
    struct lnk_str method; /* into the checked buffer; empty if unparsable */
    struct lnk_str path;   /* ditto */
    int minor_version;     /* HTTP/1.x */
    const char *error;     /* static, when rejected: the JSON error text */
};

/* Checks the head at the start of buf[0..len) (anything after it, a body or a
 * pipelined request, is ignored). LNK_OK: complete and acceptable, head->len
 * set. LNK_EEOF: incomplete so far. LNK_EINVAL: to be answered 400 and the
 * connection closed; head->error says why. */
int lnk_http_head_check(const char *buf, size_t len, struct lnk_http_head *head);

#endif
