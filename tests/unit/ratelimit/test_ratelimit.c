/* SPDX-License-Identifier: MIT */
/* GCRA limiter with a fake clock: bursts, refill, headers' numbers, keys kept
 * apart, and a zero rate meaning "no limiter". */
#include "check.h"

#include <stdio.h>

#include "linkd/clock.h"
#include "linkd/err.h"
#include "linkd/ratelimit.h"

#define SEC 1000000000ull

static void test_zero_rate_means_no_limiter(void **state)
{
    (void)state;
    CHECK(lnk_ratelimit_new(0, 10, &lnk_clock_monotonic) == NULL, "rate 0 gives no limiter");
}

static void test_burst_then_refusal_with_retry_after(void **state)
{
    (void)state;
    struct lnk_clock clk;
    struct lnk_ratelimit_result res;
    lnk_clock_fake_init(&clk, 1000 * SEC);
    struct lnk_ratelimit *rl = lnk_ratelimit_new(1, 3, &clk);
    for (int i = 0; i < 3; i++) {
        CHECK(lnk_ratelimit_check(rl, LNK_STR("k"), &res) == LNK_OK, "within the burst");
        CHECK(res.limit == 3 && res.remaining == (uint32_t)(2 - i), "remaining counts down");
    }
    CHECK(lnk_ratelimit_check(rl, LNK_STR("k"), &res) == LNK_ELIMIT, "burst spent");
    CHECK(res.remaining == 0 && res.retry_after_s == 1, "retry after one emission interval");
    CHECK(res.reset_s == 3, "full again after three seconds");
    lnk_ratelimit_free(rl);
}

static void test_budget_refills_with_time(void **state)
{
    (void)state;
    struct lnk_clock clk;
    struct lnk_ratelimit_result res;
    lnk_clock_fake_init(&clk, 1000 * SEC);
    struct lnk_ratelimit *rl = lnk_ratelimit_new(10, 1, &clk);
    CHECK(lnk_ratelimit_check(rl, LNK_STR("k"), &res) == LNK_OK, "first passes");
    CHECK(lnk_ratelimit_check(rl, LNK_STR("k"), &res) == LNK_ELIMIT, "second within 100 ms fails");
    lnk_clock_fake_advance(&clk, SEC / 10);
    CHECK(lnk_ratelimit_check(rl, LNK_STR("k"), &res) == LNK_OK, "refilled after 100 ms");
    lnk_clock_fake_advance(&clk, 60 * SEC);
    CHECK(lnk_ratelimit_check(rl, LNK_STR("k"), &res) == LNK_OK, "an idle key starts afresh");
    CHECK(lnk_ratelimit_check(rl, LNK_STR("k"), &res) == LNK_ELIMIT,
          "idle time does not bank more than the burst");
    lnk_ratelimit_free(rl);
}

static void test_keys_have_separate_budgets(void **state)
{
    (void)state;
    struct lnk_clock clk;
    struct lnk_ratelimit_result res;
    char key[32];
    lnk_clock_fake_init(&clk, 1000 * SEC);
    struct lnk_ratelimit *rl = lnk_ratelimit_new(1, 1, &clk);
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
        CHECK(lnk_ratelimit_check(rl, lnk_str_make(key, (size_t)n), &res) == LNK_OK,
              "each client has its own first request");
    }
    CHECK(lnk_ratelimit_check(rl, LNK_STR("10.0.0.0"), &res) == LNK_ELIMIT,
          "a client that spent its budget is still limited");
    lnk_ratelimit_free(rl);
}

/* A shared limiter (Redis) keeps the same state: its answers, turned into
 * results, give the headers the local limiter gives. */
static void test_a_shared_decision_reads_as_a_local_one(void **state)
{
    (void)state;
    struct lnk_clock clk;
    struct lnk_ratelimit_result local, shared;
    uint64_t interval_ns, tau_ns;
    lnk_clock_fake_init(&clk, 1000 * SEC);
    struct lnk_ratelimit *rl = lnk_ratelimit_new(2, 4, &clk);
    lnk_ratelimit_params(rl, &interval_ns, &tau_ns);
    CHECK(interval_ns == SEC / 2 && tau_ns == 3 * (SEC / 2),
          "interval 1/rate, tolerance (burst-1)/rate");
    /* allowed: the first request leaves the theoretical arrival one interval ahead */
    lnk_ratelimit_check(rl, LNK_STR("k"), &local);
    lnk_ratelimit_result_of(rl, true, interval_ns, &shared);
    CHECK(shared.limit == local.limit && shared.remaining == local.remaining &&
              shared.reset_s == local.reset_s && shared.retry_after_s == 0,
          "an allowed shared decision has the local headers");
    for (int i = 0; i < 3; i++)
        lnk_ratelimit_check(rl, LNK_STR("k"), &local);
    CHECK(lnk_ratelimit_check(rl, LNK_STR("k"), &local) == LNK_ELIMIT, "burst spent");
    lnk_ratelimit_result_of(rl, false, 4 * interval_ns, &shared);
    CHECK(shared.remaining == 0 && shared.retry_after_s == local.retry_after_s &&
              shared.reset_s == local.reset_s,
          "a refused shared decision has the local headers");
    lnk_ratelimit_result_of(rl, true, 4 * interval_ns, &shared);
    CHECK(shared.remaining == 0, "no budget left is never negative");
    lnk_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_rate_means_no_limiter),
        cmocka_unit_test(test_burst_then_refusal_with_retry_after),
        cmocka_unit_test(test_budget_refills_with_time),
        cmocka_unit_test(test_keys_have_separate_budgets),
        cmocka_unit_test(test_a_shared_decision_reads_as_a_local_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
