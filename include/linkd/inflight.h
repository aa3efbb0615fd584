/* SPDX-License-Identifier: MIT */
/* A concurrency budget per client: how many expensive requests (long
 * lists, totals) one client or API key may have in progress at once, so
 * that a handful of clients cannot take every reader thread. One table for
 * all workers, behind one mutex: it is touched twice per expensive request,
 * never on the redirect path. */
#ifndef LNK_INFLIGHT_H
#define LNK_INFLIGHT_H

#include <stdbool.h>

#include "linkd/str.h"

struct lnk_inflight;

/* max_per_key requests at once per key; NULL when 0 (no budget). */
struct lnk_inflight *lnk_inflight_new(unsigned max_per_key);
void lnk_inflight_free(struct lnk_inflight *f); /* NULL ok */

/* Takes one slot of key's budget: false when the key has max_per_key in
 * progress (or the table of keys is full). Thread-safe. */
bool lnk_inflight_acquire(struct lnk_inflight *f, struct lnk_str key);
/* Gives back a slot taken by acquire. Thread-safe. */
void lnk_inflight_release(struct lnk_inflight *f, struct lnk_str key);

#endif
