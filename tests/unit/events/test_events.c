/* SPDX-License-Identifier: MIT */
/* The click hand-off against a real SQLite store: every pushed click is
 * written by the time lnk_events_free returns, a full ring spills to the
 * overflow list, and only a full backlog drops (and counts) clicks. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linkd/err.h"
#include "linkd/events.h"
#include "linkd/store.h"

struct fixture {
    char dir[64];
    struct lnk_store *s;
    int64_t url_id, user_id;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char url[128], err[256];
    snprintf(f->dir, sizeof(f->dir), "/tmp/lnk-events-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(url, sizeof(url), "sqlite://%s/t.db", f->dir);
    struct lnk_store_config cfg = {url, 0, 0};
    if (lnk_store_open(&cfg, &f->s, err, sizeof(err)) != LNK_OK)
        return -1;
    struct lnk_op_user *u = LNK_OP_AS(lnk_store_op_new(LNK_OP_USER_CREATE), user);
    u->in = (struct lnk_user){.username = "ada", .email = "ada@example.com"};
    lnk_store_run(f->s, &u->op);
    f->user_id = u->out.id;
    lnk_store_op_free(&u->op);
    struct lnk_op_url *l = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_CREATE), url);
    l->in = (struct lnk_url){
        .user_id = f->user_id, .original_url = "https://a.example/", .is_active = true};
    lnk_store_run(f->s, &l->op);
    f->url_id = l->out.id;
    lnk_store_op_free(&l->op);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[128];
    lnk_store_close(f->s);
    const char *names[] = {"t.db", "t.db-wal", "t.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static int64_t clicks_in_store(struct fixture *f)
{
    struct lnk_op_list *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_EVENT_LIST), list);
    op->q.event_type = "click";
    lnk_store_run(f->s, &op->op);
    int64_t n = (int64_t)op->n_rows;
    lnk_store_op_free(&op->op);
    return n;
}

static void push_n(struct lnk_events *ev, struct fixture *f, int n, const char *ua)
{
    for (int i = 0; i < n; i++) {
        struct lnk_click_src c = {
            f->url_id,  f->user_id, 1700000000 + i, LNK_STR("abcdef"), lnk_str_from_cstr(ua),
            LNK_STR("")};
        lnk_events_push(ev, 0, &c);
    }
}

/* Clicks of push_n's shape that fill one ring: 32-byte header, "abcdef",
 * "curl/8" and "" with their NULs, rounded up to 32 bytes = 64 bytes each. */
#define RING_CLICKS ((int)(LNK_EVENTS_RING_BYTES / 64))

static void test_full_backlog_drops_and_counts(void **state)
{
    struct fixture *f = *state;
    struct lnk_events *ev;
    struct lnk_events_stats st;
    /* no flush before lnk_events_free: the ring only fills */
    CHECK(lnk_events_new(f->s, 1, 600000, 5, &ev) == LNK_OK, "events started");
    push_n(ev, f, RING_CLICKS + 20, "curl/8");
    lnk_events_get_stats(ev, &st);
    CHECK(st.overflow == 5, "five clicks took the overflow list");
    CHECK(st.dropped == 15, "the rest past the backlog were dropped and counted");
    lnk_events_free(ev);
    CHECK(clicks_in_store(f) == RING_CLICKS + 5, "every click not dropped is written");
}

static void test_every_click_is_written_on_free(void **state)
{
    struct fixture *f = *state;
    struct lnk_events *ev;
    struct lnk_events_stats st;
    CHECK(lnk_events_new(f->s, 2, 600000, 1000000, &ev) == LNK_OK, "events started");
    push_n(ev, f, RING_CLICKS * 2 + 7, "curl/8");
    lnk_events_get_stats(ev, &st);
    CHECK(st.overflow == RING_CLICKS + 7 && st.dropped == 0,
          "a full ring spills to the overflow list without dropping");
    lnk_events_free(ev);
    CHECK(clicks_in_store(f) == RING_CLICKS * 2 + 7, "all clicks written on free");
}

static void test_invalid_utf8_and_long_headers_are_cleaned(void **state)
{
    struct fixture *f = *state;
    struct lnk_events *ev;
    char ua[1000];
    memset(ua, 'a', sizeof(ua) - 1);
    ua[sizeof(ua) - 1] = '\0';
    ua[0] = (char)0xff; /* not UTF-8 */
    lnk_events_new(f->s, 1, 10, 1000, &ev);
    push_n(ev, f, 1, ua);
    lnk_events_free(ev);
    struct lnk_op_list *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_EVENT_LIST), list);
    op->q.event_type = "click";
    lnk_store_run(f->s, &op->op);
    CHECK(op->n_rows == 1, "the click was written");
    CHECK(strstr(op->events[0].details, "\"user_agent\":\"?aaa") != NULL,
          "the invalid byte was replaced");
    CHECK(strlen(op->events[0].details) < LNK_CLICK_UA_MAX + 100, "the user agent was truncated");
    lnk_store_op_free(&op->op);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_backlog_drops_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_click_is_written_on_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8_and_long_headers_are_cleaned, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
