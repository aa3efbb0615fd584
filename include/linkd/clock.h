/* SPDX-License-Identifier: MIT */
/* An injectable monotonic clock, so that time-driven modules (the rate
 * limiter) are tested without sleeping. */
#ifndef LNK_CLOCK_H
#define LNK_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

struct lnk_clock {
    uint64_t (*now_ns)(const struct lnk_clock *c);
    _Atomic uint64_t fake_ns; /* used by the fake clock only */
};

/* CLOCK_MONOTONIC. */
extern const struct lnk_clock lnk_clock_monotonic;

/* A clock that stands still until advanced; starts at start_ns. */
void lnk_clock_fake_init(struct lnk_clock *c, uint64_t start_ns);
void lnk_clock_fake_advance(struct lnk_clock *c, uint64_t delta_ns);

/* The time ms milliseconds from now on clock clk, as the timed waits of
 * pthreads take it (pthread_cond_timedwait: CLOCK_REALTIME unless the
 * condition variable was set to another clock). */
struct timespec lnk_clock_deadline(clockid_t clk, uint32_t ms);

static inline uint64_t lnk_clock_now_ns(const struct lnk_clock *c)
{
    return c->now_ns(c);
}

#endif
