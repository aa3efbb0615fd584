/* SPDX-License-Identifier: MIT */
/* Per-worker SPSC byte rings of variable-size click records, an overflow
 * list, and the writer thread that batches them into the store.
 *
 * Ring positions are free-running 64-bit byte counters: the producer owns
 * `head`, the writer owns `tail`; acquire/release ordering publishes record
 * contents. Records are 32-byte aligned and never wrap: a record that does not
 * fit before the end of the buffer is preceded by a skip record filling the
 * rest. The writer builds its batch with pointers into the rings (no copy) and
 * moves `tail` only after the store committed the batch, so a failed write is
 * simply retried with the same records and no click is lost while the store is
 * briefly unwritable. */
#include "linkd/events.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linkd/arena.h"
#include "linkd/clock.h"
#include "linkd/err.h"
#include "linkd/log.h"
#include "linkd/str.h"

#define RING_BYTES   LNK_EVENTS_RING_BYTES
#define REC_ALIGN    32
#define BATCH_MAX    65536 /* clicks per store operation */
#define RETRY_MAX_MS 1000

/* A record: this header, then code, user agent and referrer, each
 * NUL-terminated. url_id < 0 marks a skip record. */
struct rec {
    uint32_t len; /* whole record, a multiple of REC_ALIGN */
    uint32_t pad_;
    int64_t url_id, user_id, timestamp;
};
_Static_assert(sizeof(struct rec) == REC_ALIGN, "a skip record fits any tail of the ring");
_Static_assert(RING_BYTES % REC_ALIGN == 0, "records tile the ring");

struct ring {
    _Alignas(64) _Atomic uint64_t head; /* written by the producer */
    _Atomic uint64_t pushed;            /* producer: clicks handed over, ring or not */
    _Alignas(64) _Atomic uint64_t tail; /* written by the writer */
    uint64_t batch_end;                 /* writer: where the current batch ends */
    char *bytes;
};

/* A click that found its ring full: the same record, on its own. */
struct overflow {
    struct overflow *next;
    struct rec r; /* followed by its strings */
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

    _Atomic uint64_t written, overflowed, failed, dropped;

    /* Writer-thread only: the batch being written, pointing into the rings
     * and into `ov_batch`, overflow records taken off the list. */
    struct lnk_click *batch;
    size_t n_batch;
    struct overflow *ov_batch;
    pthread_t thread;
    bool started;
};

/* Bytes of s a record keeps: at most max (copy_clean cuts at a UTF-8
 * boundary). */
static size_t kept_len(struct lnk_str s, size_t max)
{
    return s.ptr && s.len < max ? s.len : (s.ptr ? max : 0);
}

/* Copies the kept bytes of s (len from kept_len) to dst with a NUL, NUL
 * bytes and invalid UTF-8 replaced by '?' and a sequence cut by the limit
 * dropped, so the stored details are valid JSON text. */
static void copy_clean(char *dst, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (c == 0) { /* the record's strings are NUL-separated */
            dst[o++] = '?';
            i++;
            continue;
        }
        if (k > 1 && (i + k > len || !lnk_utf8_valid(s + i, k))) {
            if (i + k > len && c >= 0xC0)
                break; /* a character cut by the limit */
            dst[o++] = '?';
            i++;
            continue;
        }
        memcpy(dst + o, s + i, k);
        o += k;
        i += k;
    }
    memset(dst + o, 0, len + 1 - o);
}

struct lens {
    size_t code, ua, ref, total;
};

static struct lens measure(const struct lnk_click_src *c)
{
    struct lens l = {kept_len(c->short_code, LNK_CODE_MAX),
                     kept_len(c->user_agent, LNK_CLICK_UA_MAX),
                     kept_len(c->referrer, LNK_CLICK_REF_MAX), 0};
    size_t n = sizeof(struct rec) + l.code + l.ua + l.ref + 3;
    l.total = (n + REC_ALIGN - 1) / REC_ALIGN * REC_ALIGN;
    return l;
}

static void write_rec(struct rec *r, const struct lnk_click_src *c, const struct lens *l)
{
    char *p = (char *)(r + 1);
    r->len = (uint32_t)l->total;
    r->pad_ = 0;
    r->url_id = c->url_id;
    r->user_id = c->user_id;
    r->timestamp = c->timestamp;
    copy_clean(p, c->short_code.ptr, l->code);
    copy_clean(p + l->code + 1, c->user_agent.ptr, l->ua);
    copy_clean(p + l->code + l->ua + 2, c->referrer.ptr, l->ref);
}

static struct lnk_click click_of(const struct rec *r)
{
    const char *code = (const char *)(r + 1);
    const char *ua = code + strlen(code) + 1;
    const char *ref = ua + strlen(ua) + 1;
    return (struct lnk_click){r->url_id, r->user_id, r->timestamp, code, ua, ref};
}

/* The slow path: the overflow list, bounded by backlog_max clicks; past it
 * the click is dropped and counted (docs/adr/0003). */
static void push_overflow(struct lnk_events *ev, const struct lnk_click_src *c,
                          const struct lens *l)
{
    pthread_mutex_lock(&ev->lock);
    bool full = ev->n_overflow >= ev->backlog_max;
    pthread_mutex_unlock(&ev->lock);
    if (full) {
        atomic_fetch_add_explicit(&ev->dropped, 1, memory_order_relaxed);
        return;
    }
    struct overflow *o = lnk_xmalloc(sizeof(*o) - sizeof(o->r) + l->total);
    o->next = NULL;
    write_rec(&o->r, c, l);
    atomic_fetch_add_explicit(&ev->overflowed, 1, memory_order_relaxed);
    pthread_mutex_lock(&ev->lock);
    *ev->ov_tail = o;
    ev->ov_tail = &o->next;
    ev->n_overflow++;
    pthread_mutex_unlock(&ev->lock);
}

void lnk_events_push(struct lnk_events *ev, unsigned producer, const struct lnk_click_src *c)
{
    struct ring *r = &ev->rings[producer % ev->n_rings];
    struct lens l = measure(c);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t at = (size_t)(head % RING_BYTES), room_to_end = RING_BYTES - at;
    size_t skip = l.total > room_to_end ? room_to_end : 0;
    /* the ring's own producer is the only writer: no read-modify-write */
    atomic_store_explicit(&r->pushed, atomic_load_explicit(&r->pushed, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (RING_BYTES - (head - tail) < skip + l.total) {
        push_overflow(ev, c, &l);
        return;
    }
    if (skip) {
        struct rec *s = (struct rec *)(r->bytes + at);
        *s = (struct rec){(uint32_t)skip, 0, -1, 0, 0};
        head += skip;
        at = 0;
    }
    write_rec((struct rec *)(r->bytes + at), c, &l);
    atomic_store_explicit(&r->head, head + l.total, memory_order_release);
}

/* Adds queued clicks to the writer's batch, up to BATCH_MAX: records from
 * each ring after the part already in the batch, then overflow records. */
static void collect(struct lnk_events *ev)
{
    for (unsigned i = 0; i < ev->n_rings && ev->n_batch < BATCH_MAX; i++) {
        struct ring *r = &ev->rings[i];
        uint64_t pos = r->batch_end;
        uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
        while (pos != head && ev->n_batch < BATCH_MAX) {
            const struct rec *rec = (const struct rec *)(r->bytes + pos % RING_BYTES);
            if (rec->url_id >= 0)
                ev->batch[ev->n_batch++] = click_of(rec);
            pos += rec->len;
        }
        r->batch_end = pos;
    }
    pthread_mutex_lock(&ev->lock);
    while (ev->ov_head && ev->n_batch < BATCH_MAX) {
        struct overflow *o = ev->ov_head;
        ev->ov_head = o->next;
        if (!ev->ov_head)
            ev->ov_tail = &ev->ov_head;
        ev->n_overflow--;
        o->next = ev->ov_batch;
        ev->ov_batch = o;
        ev->batch[ev->n_batch++] = click_of(&o->r);
    }
    pthread_mutex_unlock(&ev->lock);
}

/* After a committed batch: give the ring space back, free overflow records. */
static void release_batch(struct lnk_events *ev)
{
    for (unsigned i = 0; i < ev->n_rings; i++)
        atomic_store_explicit(&ev->rings[i].tail, ev->rings[i].batch_end, memory_order_release);
    while (ev->ov_batch) {
        struct overflow *o = ev->ov_batch;
        ev->ov_batch = o->next;
        free(o);
    }
    ev->n_batch = 0;
}

static int write_batch(struct lnk_events *ev)
{
    if (ev->n_batch == 0) {
        release_batch(ev); /* skip records only */
        return LNK_OK;
    }
    struct lnk_op_clicks *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_CLICKS_APPEND), clicks);
    op->clicks = ev->batch;
    op->n = ev->n_batch;
    int rc = lnk_store_run(ev->store, &op->op);
    lnk_store_op_free(&op->op);
    if (rc == LNK_OK) {
        atomic_fetch_add_explicit(&ev->written, ev->n_batch, memory_order_relaxed);
        release_batch(ev);
    } else {
        atomic_fetch_add_explicit(&ev->failed, ev->n_batch, memory_order_relaxed);
        LNK_LOG(WARN, NULL, "events", "click_write_failed", LNK_F_STR("error", lnk_strerror(rc)),
                LNK_F_INT("clicks", (int64_t)ev->n_batch));
    }
    return rc;
}

static uint64_t pushed(struct lnk_events *ev)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < ev->n_rings; i++)
        n += atomic_load_explicit(&ev->rings[i].pushed, memory_order_relaxed);
    return n;
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
    struct timespec ts = lnk_clock_deadline(CLOCK_REALTIME, ms);
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
        atomic_init(&ev->rings[i].pushed, 0);
        ev->rings[i].batch_end = 0;
        /* pages are touched as clicks arrive: an idle worker costs no memory */
        ev->rings[i].bytes = lnk_xmalloc(RING_BYTES);
    }
    ev->batch = lnk_xmalloc(sizeof(*ev->batch) * BATCH_MAX);
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
        LNK_LOG(ERROR, NULL, "events", "clicks_lost_on_stop",
                LNK_F_INT("clicks", (int64_t)(pushed(ev) - atomic_load(&ev->written))));
    while (ev->ov_head) {
        struct overflow *o = ev->ov_head;
        ev->ov_head = o->next;
        free(o);
    }
    while (ev->ov_batch) {
        struct overflow *o = ev->ov_batch;
        ev->ov_batch = o->next;
        free(o);
    }
    for (unsigned i = 0; i < ev->n_rings; i++)
        free(ev->rings[i].bytes);
    free(ev->rings);
    free(ev->batch);
    pthread_cond_destroy(&ev->cond);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}

void lnk_events_get_stats(struct lnk_events *ev, struct lnk_events_stats *out)
{
    uint64_t in = pushed(ev);
    out->written = atomic_load_explicit(&ev->written, memory_order_relaxed);
    out->overflow = atomic_load_explicit(&ev->overflowed, memory_order_relaxed);
    out->failed = atomic_load_explicit(&ev->failed, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&ev->dropped, memory_order_relaxed);
    uint64_t done = out->written + out->dropped;
    out->queued = in > done ? in - done : 0;
    pthread_mutex_lock(&ev->lock);
    out->overflow_queued = ev->n_overflow;
    pthread_mutex_unlock(&ev->lock);
}
