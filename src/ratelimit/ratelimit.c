/* SPDX-License-Identifier: MIT */
/* GCRA over a lock-free slot table. Per slot: a key fingerprint and the
 * theoretical arrival time (tat, ns). A request at `now` is allowed when
 * max(tat, now) - now <= tau (tau = (burst - 1) * T, T = 1 s / rate); it then
 * moves tat to max(tat, now) + T with a CAS, retried on contention. */
#include "linkd/ratelimit.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "linkd/arena.h"
#include "linkd/err.h"

#define SLOTS 65536 /* power of two */
#define PROBE 4

struct slot {
    _Atomic uint64_t fp; /* key fingerprint; 0 = free */
    _Atomic uint64_t tat;
};

struct lnk_ratelimit {
    uint64_t t_ns;   /* emission interval */
    uint64_t tau_ns; /* burst tolerance */
    uint32_t burst;
    const struct lnk_clock *clock;
    struct slot slots[SLOTS];
};

struct lnk_ratelimit *lnk_ratelimit_new(uint32_t rate_per_sec, uint32_t burst,
                                        const struct lnk_clock *clock)
{
    if (rate_per_sec == 0)
        return NULL;
    struct lnk_ratelimit *rl = lnk_xcalloc(1, sizeof(*rl));
    rl->burst = burst ? burst : 1;
    rl->t_ns = 1000000000ull / rate_per_sec;
    if (rl->t_ns == 0)
        rl->t_ns = 1;
    rl->tau_ns = rl->t_ns * (rl->burst - 1);
    rl->clock = clock;
    return rl;
}

void lnk_ratelimit_free(struct lnk_ratelimit *rl)
{
    free(rl);
}

static uint64_t fingerprint(struct lnk_str key)
{
    return lnk_str_hash(key) | 1; /* never 0, which marks a free slot */
}

/* The slot of fp: its own, or a free or idle one claimed for it, or (all
 * probed slots busy) the first, shared. */
static struct slot *find_slot(struct lnk_ratelimit *rl, uint64_t fp, uint64_t now)
{
    size_t base = (size_t)(fp >> 16) & (SLOTS - 1);
    for (int i = 0; i < PROBE; i++) {
        struct slot *s = &rl->slots[(base + (size_t)i) & (SLOTS - 1)];
        uint64_t cur = atomic_load_explicit(&s->fp, memory_order_acquire);
        if (cur == fp)
            return s;
        /* idle: its owner's budget is full again, so it can be reused */
        bool idle = cur == 0 || atomic_load_explicit(&s->tat, memory_order_relaxed) <= now;
        if (idle && atomic_compare_exchange_strong(&s->fp, &cur, fp)) {
            atomic_store_explicit(&s->tat, 0, memory_order_relaxed);
            return s;
        }
    }
    return &rl->slots[base];
}

static uint32_t ceil_s(uint64_t ns)
{
    return (uint32_t)((ns + 999999999ull) / 1000000000ull);
}

void lnk_ratelimit_params(const struct lnk_ratelimit *rl, uint64_t *interval_ns, uint64_t *tau_ns)
{
    *interval_ns = rl->t_ns;
    *tau_ns = rl->tau_ns;
}

void lnk_ratelimit_result_of(const struct lnk_ratelimit *rl, bool allowed, uint64_t ahead_ns,
                             struct lnk_ratelimit_result *out)
{
    out->limit = rl->burst;
    out->reset_s = ceil_s(ahead_ns);
    if (!allowed) {
        out->remaining = 0;
        out->retry_after_s = ceil_s(ahead_ns > rl->tau_ns ? ahead_ns - rl->tau_ns : 0);
        return;
    }
    uint64_t used = (ahead_ns + rl->t_ns - 1) / rl->t_ns;
    out->remaining = used >= rl->burst ? 0 : (uint32_t)(rl->burst - used);
    out->retry_after_s = 0;
}

int lnk_ratelimit_check(struct lnk_ratelimit *rl, struct lnk_str key,
                        struct lnk_ratelimit_result *out)
{
    uint64_t now = lnk_clock_now_ns(rl->clock);
    struct slot *s = find_slot(rl, fingerprint(key), now);
    uint64_t tat = atomic_load_explicit(&s->tat, memory_order_relaxed);
    for (;;) {
        uint64_t start = tat > now ? tat : now;
        if (start - now > rl->tau_ns) {
            lnk_ratelimit_result_of(rl, false, start - now, out);
            return LNK_ELIMIT;
        }
        uint64_t next = start + rl->t_ns;
        if (atomic_compare_exchange_weak_explicit(&s->tat, &tat, next, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            lnk_ratelimit_result_of(rl, true, next - now, out);
            return LNK_OK;
        }
    }
}
