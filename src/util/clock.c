/* SPDX-License-Identifier: MIT */
/* The real monotonic clock and a fake one for tests. */
#include "linkd/clock.h"

#include <time.h>

static uint64_t monotonic_now(const struct lnk_clock *c)
{
    (void)c;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const struct lnk_clock lnk_clock_monotonic = {monotonic_now, 0};

static uint64_t fake_now(const struct lnk_clock *c)
{
    return atomic_load_explicit(&c->fake_ns, memory_order_relaxed);
}

void lnk_clock_fake_init(struct lnk_clock *c, uint64_t start_ns)
{
    c->now_ns = fake_now;
    atomic_store(&c->fake_ns, start_ns);
}

void lnk_clock_fake_advance(struct lnk_clock *c, uint64_t delta_ns)
{
    atomic_fetch_add(&c->fake_ns, delta_ns);
}

struct timespec lnk_clock_deadline(clockid_t clk, uint32_t ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}
