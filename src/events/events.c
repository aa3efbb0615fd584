/* SPDX-License-Identifier: MIT */
/* Per-worker SPSC rings of fixed-size click slots, an overflow list, and the
 * writer thread that batches them into the store. Ring indices are free-
 * running 64-bit counters: the producer owns `head`, the writer owns `tail`;
 * acquire/release ordering publishes slot contents. A failed store write is
 * retried on the next flush (the batch is kept), so no click is lost while the
 * store is briefly unwritable. */
#include "linkd/events.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linkd/arena.h"
#include "linkd/err.h"
#include "linkd/log.h"
#include "linkd/str.h"

#define RING_SLOTS   LNK_EVENTS_RING_SLOTS
#define BATCH_MAX    8192
#define RETRY_MAX_MS 1000

struct slot {
    int64_t url_id, user_id, timestamp;
    char code[LNK_CODE_MAX + 1];
    char ua[LNK_CLICK_UA_MAX + 1];
    char ref[LNK_CLICK_REF_MAX + 1];
};

struct ring {
    _Alignas(64) _Atomic uint64_t head; /* written by the producer */
    _Alignas(64) _Atomic uint64_t tail; /* written by the writer */
    struct slot *slots;
};

/* A click that found its ring full, stored compactly: code, user agent and
 * referrer back to back, each NUL-terminated. */
struct overflow {
    struct overflow *next;
    int64_t url_id, user_id, timestamp;
    char data[];
};

struct lnk_events {
    struct lnk_store *store;
    unsigned n_rings;
    struct ring *rings;
    unsigned flush_ms;

    pthread_mutex_t lock; /* guards the fields below */
    pthread_cond_t cond;
    struct overflow *ov_head, **ov_tail;
    size_t n_overflow; /* clicks on the overflow list */
    size_t backlog_max;
    bool stop, kicked;

    _Atomic uint64_t pushed, written, overflowed, failed, dropped;

    /* Writer-thread only. */
    struct slot *batch;
    size_t n_batch;
    pthread_t thread;
    bool started;
};

/* Copies at most max bytes of s into dst, cut at a UTF-8 boundary, with
 * invalid bytes replaced by '?', so the stored details are valid JSON text. */
static void copy_clean(char *dst, size_t max, const char *s)
{
    size_t n = s ? strlen(s) : 0, o = 0;
    for (size_t i = 0; i < n && o < max;) {
        size_t k = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (i + k > n || !lnk_utf8_valid(s + i, k)) {
                dst[o++] = '?';
                i++;
                continue;
            }
            if (o + k > max)
                break;
        }
        memcpy(dst + o, s + i, k);
        o += k;
        i += k;
    }
    dst[o] = '\0';
}

static void fill_slot(struct slot *s, const struct lnk_click *c)
{
    s->url_id = c->url_id;
    s->user_id = c->user_id;
    s->timestamp = c->timestamp;
    copy_clean(s->code, LNK_CODE_MAX, c->short_code);
    copy_clean(s->ua, LNK_CLICK_UA_MAX, c->user_agent);
    copy_clean(s->ref, LNK_CLICK_REF_MAX, c->referrer);
}

/* The slow path: the overflow list, bounded by backlog_max clicks; past it
 * the click is dropped and counted (docs/adr/0003). */
static void push_overflow(struct lnk_events *ev, const struct lnk_click *c)
{
    struct slot s;
    fill_slot(&s, c); /* cleans and truncates like the ring does */
    size_t cl = strlen(s.code) + 1, ul = strlen(s.ua) + 1, rl = strlen(s.ref) + 1;
    pthread_mutex_lock(&ev->lock);
    if (ev->n_overflow >= ev->backlog_max) {
        pthread_mutex_unlock(&ev->lock);
        atomic_fetch_add_explicit(&ev->dropped, 1, memory_order_relaxed);
        return;
    }
    pthread_mutex_unlock(&ev->lock);
    struct overflow *o = lnk_xmalloc(sizeof(*o) + cl + ul + rl);
    o->next = NULL;
    o->url_id = s.url_id;
    o->user_id = s.user_id;
    o->timestamp = s.timestamp;
    memcpy(o->data, s.code, cl);
    memcpy(o->data + cl, s.ua, ul);
    memcpy(o->data + cl + ul, s.ref, rl);
    atomic_fetch_add_explicit(&ev->overflowed, 1, memory_order_relaxed);
    pthread_mutex_lock(&ev->lock);
    *ev->ov_tail = o;
    ev->ov_tail = &o->next;
    ev->n_overflow++;
    pthread_mutex_unlock(&ev->lock);
}

static void slot_from_overflow(struct slot *s, const struct overflow *o)
{
    const char *code = o->data, *ua = code + strlen(code) + 1, *ref = ua + strlen(ua) + 1;
    s->url_id = o->url_id;
    s->user_id = o->user_id;
    s->timestamp = o->timestamp;
    memcpy(s->code, code, strlen(code) + 1);
    memcpy(s->ua, ua, strlen(ua) + 1);
    memcpy(s->ref, ref, strlen(ref) + 1);
}

void lnk_events_push(struct lnk_events *ev, unsigned producer, const struct lnk_click *c)
{
    struct ring *r = &ev->rings[producer % ev->n_rings];
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    atomic_fetch_add_explicit(&ev->pushed, 1, memory_order_relaxed);
    if (head - tail < RING_SLOTS) {
        fill_slot(&r->slots[head & (RING_SLOTS - 1)], c);
        atomic_store_explicit(&r->head, head + 1, memory_order_release);
        return;
    }
    push_overflow(ev, c);
}

/* Moves queued clicks into the writer's batch, up to BATCH_MAX. */
static void collect(struct lnk_events *ev)
{
    for (unsigned i = 0; i < ev->n_rings && ev->n_batch < BATCH_MAX; i++) {
        struct ring *r = &ev->rings[i];
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
        uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
        while (tail != head && ev->n_batch < BATCH_MAX)
            ev->batch[ev->n_batch++] = r->slots[tail++ & (RING_SLOTS - 1)];
        atomic_store_explicit(&r->tail, tail, memory_order_release);
    }
    pthread_mutex_lock(&ev->lock);
    while (ev->ov_head && ev->n_batch < BATCH_MAX) {
        struct overflow *o = ev->ov_head;
        ev->ov_head = o->next;
        if (!ev->ov_head)
            ev->ov_tail = &ev->ov_head;
        ev->n_overflow--;
        slot_from_overflow(&ev->batch[ev->n_batch++], o);
        free(o);
    }
    pthread_mutex_unlock(&ev->lock);
}

static int write_batch(struct lnk_events *ev)
{
    if (ev->n_batch == 0)
        return LNK_OK;
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_CLICKS_APPEND);
    struct lnk_click *clicks = lnk_arena_alloc(&op->arena, sizeof(*clicks) * ev->n_batch);
    for (size_t i = 0; i < ev->n_batch; i++) {
        const struct slot *s = &ev->batch[i];
        clicks[i] = (struct lnk_click){s->url_id, s->user_id, s->timestamp, s->code, s->ua, s->ref};
    }
    op->clicks = clicks;
    op->n_clicks = ev->n_batch;
    int rc = lnk_store_run(ev->store, op);
    lnk_store_op_free(op);
    if (rc == LNK_OK) {
        atomic_fetch_add_explicit(&ev->written, ev->n_batch, memory_order_relaxed);
        ev->n_batch = 0;
    } else {
        atomic_fetch_add_explicit(&ev->failed, ev->n_batch, memory_order_relaxed);
        LNK_LOG(WARN, NULL, "events", "click_write_failed", LNK_F_STR("error", lnk_strerror(rc)),
                LNK_F_INT("clicks", (int64_t)ev->n_batch));
    }
    return rc;
}

static bool queues_empty(struct lnk_events *ev)
{
    for (unsigned i = 0; i < ev->n_rings; i++)
        if (atomic_load_explicit(&ev->rings[i].head, memory_order_acquire) !=
            atomic_load_explicit(&ev->rings[i].tail, memory_order_relaxed))
            return false;
    pthread_mutex_lock(&ev->lock);
    bool empty = ev->ov_head == NULL;
    pthread_mutex_unlock(&ev->lock);
    return empty;
}

static void wait_for_work(struct lnk_events *ev, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ev->lock);
    while (!ev->stop && !ev->kicked)
        if (pthread_cond_timedwait(&ev->cond, &ev->lock, &ts) != 0)
            break;
    ev->kicked = false;
    pthread_mutex_unlock(&ev->lock);
}

static bool should_stop(struct lnk_events *ev)
{
    pthread_mutex_lock(&ev->lock);
    bool stop = ev->stop;
    pthread_mutex_unlock(&ev->lock);
    return stop;
}

static void *writer_main(void *arg)
{
    struct lnk_events *ev = arg;
    unsigned backoff_ms = 0;
    for (;;) {
        wait_for_work(ev, backoff_ms ? backoff_ms : ev->flush_ms);
        bool stopping = should_stop(ev);
        int rc;
        do {
            collect(ev);
            rc = write_batch(ev);
        } while (rc == LNK_OK && ev->n_batch == 0 && !queues_empty(ev));
        if (rc != LNK_OK)
            backoff_ms = backoff_ms
                             ? (backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff_ms * 2)
                             : ev->flush_ms;
        else
            backoff_ms = 0;
        /* On stop, keep going until everything is written; a store that stays
         * unwritable gives up after the retries of one drain window. */
        if (stopping && (rc != LNK_OK ? backoff_ms >= RETRY_MAX_MS : queues_empty(ev)))
            break;
    }
    return NULL;
}

int lnk_events_new(struct lnk_store *store, unsigned n_producers, unsigned flush_ms,
                   size_t backlog_max, struct lnk_events **out)
{
    struct lnk_events *ev = lnk_xcalloc(1, sizeof(*ev));
    ev->backlog_max = backlog_max;
    ev->store = store;
    ev->n_rings = n_producers ? n_producers : 1;
    ev->flush_ms = flush_ms ? flush_ms : 100;
    if (posix_memalign((void **)&ev->rings, 64, sizeof(*ev->rings) * ev->n_rings) != 0)
        abort();
    for (unsigned i = 0; i < ev->n_rings; i++) {
        atomic_init(&ev->rings[i].head, 0);
        atomic_init(&ev->rings[i].tail, 0);
        ev->rings[i].slots = lnk_xcalloc(RING_SLOTS, sizeof(struct slot));
    }
    ev->batch = lnk_xmalloc(sizeof(struct slot) * BATCH_MAX);
    ev->ov_tail = &ev->ov_head;
    pthread_mutex_init(&ev->lock, NULL);
    pthread_cond_init(&ev->cond, NULL);
    if (pthread_create(&ev->thread, NULL, writer_main, ev) != 0) {
        lnk_events_free(ev);
        return LNK_ENOMEM;
    }
    ev->started = true;
    *out = ev;
    return LNK_OK;
}

void lnk_events_kick(struct lnk_events *ev)
{
    pthread_mutex_lock(&ev->lock);
    ev->kicked = true;
    pthread_cond_signal(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
}

void lnk_events_free(struct lnk_events *ev)
{
    if (!ev)
        return;
    if (ev->started) {
        pthread_mutex_lock(&ev->lock);
        ev->stop = true;
        pthread_cond_signal(&ev->cond);
        pthread_mutex_unlock(&ev->lock);
        pthread_join(ev->thread, NULL);
    }
    if (!queues_empty(ev) || ev->n_batch)
        LNK_LOG(
            ERROR, NULL, "events", "clicks_lost_on_stop",
            LNK_F_INT("clicks", (int64_t)(atomic_load(&ev->pushed) - atomic_load(&ev->written))));
    while (ev->ov_head) {
        struct overflow *o = ev->ov_head;
        ev->ov_head = o->next;
        free(o);
    }
    for (unsigned i = 0; i < ev->n_rings; i++)
        free(ev->rings[i].slots);
    free(ev->rings);
    free(ev->batch);
    pthread_cond_destroy(&ev->cond);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}

void lnk_events_get_stats(struct lnk_events *ev, struct lnk_events_stats *out)
{
    uint64_t pushed = atomic_load_explicit(&ev->pushed, memory_order_relaxed);
    out->written = atomic_load_explicit(&ev->written, memory_order_relaxed);
    out->overflow = atomic_load_explicit(&ev->overflowed, memory_order_relaxed);
    out->failed = atomic_load_explicit(&ev->failed, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&ev->dropped, memory_order_relaxed);
    uint64_t done = out->written + out->dropped;
    out->queued = pushed > done ? pushed - done : 0;
}
