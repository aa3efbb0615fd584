/* SPDX-License-Identifier: MIT */
/* Rate limiting with GCRA (the generic cell rate algorithm: a token bucket
 * kept as one "theoretical arrival time" per key). One limiter is one budget
 * (for example management writes), shared by all workers: a fixed table of
 * slots updated with compare-and-swap, so checks take no lock. Keys hash to a
 * slot; an idle slot is reclaimed by the next key that needs it, and in the
 * rare case that every probed slot is busy with other keys they share one
 * (a stricter limit, never a looser one). */
#ifndef LNK_RATELIMIT_H
#define LNK_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/clock.h"
#include "linkd/str.h"

struct lnk_ratelimit;

struct lnk_ratelimit_result {
    uint32_t limit;         /* the burst: requests allowed at once */
    uint32_t remaining;     /* requests left right now */
    uint32_t reset_s;       /* seconds until the budget is full again */
    uint32_t retry_after_s; /* when refused: seconds until one request fits */
};

/* rate_per_sec requests per second sustained, burst at once (>= 1). NULL when
 * rate_per_sec is 0 (no limit). `clock` is borrowed and must outlive it. */
struct lnk_ratelimit *lnk_ratelimit_new(uint32_t rate_per_sec, uint32_t burst,
                                        const struct lnk_clock *clock);
void lnk_ratelimit_free(struct lnk_ratelimit *rl); /* NULL ok */

/* LNK_OK (counted) or LNK_ELIMIT (refused, not counted); *out is set in both
 * cases. Thread-safe, lock-free, never blocks. */
int lnk_ratelimit_check(struct lnk_ratelimit *rl, struct lnk_str key,
                        struct lnk_ratelimit_result *out);

/* For a limiter that keeps the same GCRA state elsewhere (Redis, shared by
 * several nodes: docs/adr/0014-redis-tier.md): the emission interval and
 * the burst tolerance, in ns. */
void lnk_ratelimit_params(const struct lnk_ratelimit *rl, uint64_t *interval_ns, uint64_t *tau_ns);
/* The result of a decision whose theoretical arrival time lies ahead_ns
 * after now (counting the request, when allowed). Pure. */
void lnk_ratelimit_result_of(const struct lnk_ratelimit *rl, bool allowed, uint64_t ahead_ns,
                             struct lnk_ratelimit_result *out);

#endif
