/* SPDX-License-Identifier: MIT */
/* Maps a request to its route and handler (the route table is in
 * src/router/routes.c). Unknown paths answer 404 JSON; a known path with a
 * method it does not take answers 405 JSON with Allow. A trailing slash is
 * ignored. Runs on worker threads; stateless. */
#ifndef LNK_ROUTER_H
#define LNK_ROUTER_H

#include "linkd/req.h"

void lnk_router_dispatch(struct lnk_req *r);

#endif
