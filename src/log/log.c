/* SPDX-License-Identifier: MIT */
/* Log lines, JSON or text. Each line is formatted into a thread-local buffer.
 * Before lnk_log_start (and after lnk_log_stop) it is written at once with
 * one write(2). While started, it is copied into the calling thread's own
 * ring (single producer, no lock) and a log thread writes the rings out every
 * few milliseconds, so a request never waits for stdout; a full ring drops
 * the line and counts it. */
#include "linkd/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "linkd/arena.h"
#include "linkd/clock.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/str.h"

#define LINE_MAX_BYTES 8192
/* Per logging thread; a power of two. About 300 ms of access lines for a
 * worker at 70,000 requests/s, so that a log thread kept off a busy CPU for
 * tens of milliseconds drops none (with 1 MiB, a benchmark at 140,000 req/s
 * on two cores dropped 5,790 lines in a minute). Pages are touched only as
 * lines come. */
#define RING_BYTES (4u << 20)
#define FLUSH_MS   20

/* One thread's lines: bytes [tail, head) are pending. The producer owns head,
 * the log thread owns tail. Rings live until lnk_log_stop. */
struct ring {
    struct ring *next;
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    char bytes[RING_BYTES];
};

static struct {
    pthread_mutex_t lock; /* guards rings and running */
    pthread_cond_t cond;
    struct ring *rings;
    _Atomic bool started;
    bool stop;
    pthread_t thread;
} async = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, false, false, 0};

static _Thread_local struct ring *my_ring;

enum lnk_log_level lnk_log_min_level = LNK_LOG_INFO;
enum lnk_log_format lnk_log_line_format = LNK_LOG_JSON;
static _Atomic uint64_t dropped;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int lnk_log_parse_format(const char *s, enum lnk_log_format *out)
{
    struct lnk_str v = lnk_str_from_cstr(s);
    if (lnk_str_eq_nocase(v, LNK_STR("json")))
        *out = LNK_LOG_JSON;
    else if (lnk_str_eq_nocase(v, LNK_STR("text")))
        *out = LNK_LOG_TEXT;
    else
        return LNK_EINVAL;
    return LNK_OK;
}

const char *lnk_log_level_name(enum lnk_log_level level)
{
    return (unsigned)level <= LNK_LOG_ERROR ? level_names[level] : "info";
}

int lnk_log_parse_level(const char *s, enum lnk_log_level *out)
{
    struct lnk_str v = lnk_str_from_cstr(s);
    for (int i = LNK_LOG_DEBUG; i <= LNK_LOG_ERROR; i++)
        if (lnk_str_eq_nocase(v, lnk_str_from_cstr(level_names[i]))) {
            *out = (enum lnk_log_level)i;
            return LNK_OK;
        }
    if (lnk_str_eq_nocase(v, LNK_STR("warning"))) {
        *out = LNK_LOG_WARN;
        return LNK_OK;
    }
    return LNK_EINVAL;
}

uint64_t lnk_log_dropped(void)
{
    return atomic_load_explicit(&dropped, memory_order_relaxed);
}

struct line {
    char *p;
    size_t len, cap;
    bool truncated;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (l->len + n > l->cap) {
        n = l->cap - l->len;
        l->truncated = true;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

/* JSON string escaping (lnk_json_escape): whatever a client sent, the line
 * stays valid JSON. */
static void put_escaped(struct line *l, const char *s, size_t n)
{
    l->len += lnk_json_escape(l->p + l->len, l->cap - l->len, s, n, &l->truncated);
}

static void put_key(struct line *l, const char *key)
{
    put(l, ",", 1);
    put_escaped(l, key, strlen(key));
    put(l, ":", 1);
}

static void put_fmt(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(struct line *l, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Decimal without printf: the access line is written for every request. */
static void put_int(struct line *l, int64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    put(l, tmp + i, sizeof(tmp) - i);
}

/* A number or a boolean, written alike in both formats; false for any
 * other type. */
static bool put_scalar(struct line *l, const struct lnk_log_field *f)
{
    switch (f->type) {
    case LNK_LF_INT:
        put_int(l, f->v.i);
        return true;
    case LNK_LF_DBL:
        put_fmt(l, "%.6g", f->v.d);
        return true;
    case LNK_LF_BOOL:
        put(l, f->v.b ? "true" : "false", f->v.b ? 4 : 5);
        return true;
    default:
        return false;
    }
}

static void put_json_field(struct line *l, const struct lnk_log_field *f)
{
    put_key(l, f->key);
    if (put_scalar(l, f))
        return;
    switch (f->type) {
    case LNK_LF_STR:
        if (f->v.s)
            put_escaped(l, f->v.s, strlen(f->v.s));
        else
            put(l, "null", 4);
        break;
    case LNK_LF_SLICE:
        put_escaped(l, f->v.s ? f->v.s : "", f->v.s ? f->len : 0);
        break;
    default: /* LNK_LF_END */
        put(l, "null", 4);
        break;
    }
}

/* A text value is written as it is unless a reader could not tell where it
 * ends or what it holds: then as a JSON string. */
static bool needs_quotes(const char *s, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\')
            return true;
    }
    return false;
}

static void put_text_value(struct line *l, const char *s, size_t n)
{
    if (needs_quotes(s, n))
        put_escaped(l, s, n);
    else
        put(l, s, n);
}

static void put_text_field(struct line *l, const struct lnk_log_field *f)
{
    put(l, " ", 1);
    put(l, f->key, strlen(f->key));
    put(l, "=", 1);
    if (put_scalar(l, f))
        return;
    if (f->type == LNK_LF_STR && f->v.s)
        put_text_value(l, f->v.s, strlen(f->v.s));
    else if (f->type == LNK_LF_SLICE)
        put_text_value(l, f->v.s ? f->v.s : "", f->v.s ? f->len : 0);
    /* a NULL string or LNK_LF_END: nothing after '=' */
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ"; the seconds part is formatted once a second per
 * thread. */
static void put_time(struct line *l)
{
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[32];
    static _Thread_local size_t cached_len;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = ts.tv_sec;
    }
    long ms = ts.tv_nsec / 1000000;
    char frac[5] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10),
                    'Z'};
    put(l, cached, cached_len);
    put(l, frac, sizeof(frac));
}

/* {"ts":"YYYY-MM-DDTHH:MM:SS.mmmZ" */
static void put_ts(struct line *l)
{
    put(l, "{\"ts\":\"", 7);
    put_time(l);
    put(l, "\"", 1);
}

/* The record without its line end; the caller's buffer keeps two bytes for
 * that. */
static void format_json(struct line *l, const char *level, const char *request_id,
                        const char *component, const char *event,
                        const struct lnk_log_field *fields, size_t n)
{
    put_ts(l);
    put_key(l, "level");
    put_escaped(l, level, strlen(level));
    put_key(l, "component");
    put_escaped(l, component, strlen(component));
    put_key(l, "event");
    put_escaped(l, event, strlen(event));
    if (request_id) {
        put_key(l, "request_id");
        put_escaped(l, request_id, strlen(request_id));
    }
    for (size_t i = 0; i < n; i++)
        put_json_field(l, &fields[i]);
}

static void format_text(struct line *l, const char *level, const char *request_id,
                        const char *component, const char *event,
                        const struct lnk_log_field *fields, size_t n)
{
    put_time(l);
    put(l, " ", 1);
    put(l, level, strlen(level));
    put(l, " ", 1);
    put_text_value(l, component, strlen(component));
    put(l, " ", 1);
    put_text_value(l, event, strlen(event));
    if (request_id)
        put_text_field(l, &LNK_F_STR("request_id", request_id));
    for (size_t i = 0; i < n; i++)
        put_text_field(l, &fields[i]);
}

static void format_line(struct line *l, enum lnk_log_level level, const char *request_id,
                        const char *component, const char *event,
                        const struct lnk_log_field *fields, size_t n)
{
    const char *name = lnk_log_level_name(level);
    if (lnk_log_line_format == LNK_LOG_TEXT)
        format_text(l, name, request_id, component, event, fields, n);
    else
        format_json(l, name, request_id, component, event, fields, n);
}

/* Closes the line in the two bytes its buffer keeps. */
static void end_line(struct line *l, bool json)
{
    if (json)
        l->p[l->len++] = '}';
    l->p[l->len++] = '\n';
}

static void emit(const char *p, size_t len);

void lnk_log_write(enum lnk_log_level level, const char *request_id, const char *component,
                   const char *event, const struct lnk_log_field *fields, size_t n)
{
    static _Thread_local char buf[LINE_MAX_BYTES];
    struct line l = {buf, 0, sizeof(buf) - 2, false};
    format_line(&l, level, request_id, component, event, fields, n);
    if (l.truncated) {
        /* A truncated line no longer says what it holds; replace it with a marker. */
        l.len = 0;
        l.truncated = false;
        format_line(&l, LNK_LOG_WARN, NULL, "log", "line_truncated", NULL, 0);
    }
    end_line(&l, lnk_log_line_format == LNK_LOG_JSON);
    emit(buf, l.len);
}

/* The access line through the generic writer. */
static void write_request_fields(const char *request_id, const char *method, const char *path,
                                 size_t path_len, const char *route, int64_t status,
                                 int64_t duration_us)
{
    lnk_log_write(LNK_LOG_INFO, request_id, "http", "request",
                  (const struct lnk_log_field[]){
                      LNK_F_STR("method", method), LNK_F_SLICE("path", path, path_len),
                      LNK_F_STR("route", route), LNK_F_INT("status", status),
                      LNK_F_INT("duration_us", duration_us)},
                  5);
}

/* The JSON access line, formatted in one pass: the constant parts are copied
 * as they are, and only the path (the client's bytes) is escaped. The bytes
 * are those lnk_log_write would write for the same fields (test_log.c). A
 * text line, for a person at a terminal, takes the generic path. */
void lnk_log_request(const char *request_id, const char *method, const char *path, size_t path_len,
                     const char *route, int64_t status, int64_t duration_us)
{
    if (LNK_LOG_INFO < lnk_log_min_level)
        return;
    if (lnk_log_line_format == LNK_LOG_TEXT) {
        write_request_fields(request_id, method, path, path_len, route, status, duration_us);
        return;
    }
    static _Thread_local char buf[LINE_MAX_BYTES];
    struct line l = {buf, 0, sizeof(buf) - 2, false};
    static const char head[] = ",\"level\":\"info\",\"component\":\"http\",\"event\":\"request\"";
    put_ts(&l);
    put(&l, head, sizeof(head) - 1);
    if (request_id) {
        put(&l, ",\"request_id\":", 14);
        put_escaped(&l, request_id, strlen(request_id));
    }
    put(&l, ",\"method\":", 10);
    put_escaped(&l, method, strlen(method));
    put(&l, ",\"path\":", 8);
    put_escaped(&l, path ? path : "", path ? path_len : 0);
    put(&l, ",\"route\":", 9);
    put_escaped(&l, route, strlen(route));
    put(&l, ",\"status\":", 10);
    put_int(&l, status);
    put(&l, ",\"duration_us\":", 15);
    put_int(&l, duration_us);
    if (l.truncated) { /* a path near the line's size: the generic writer says how */
        write_request_fields(request_id, method, path, path_len, route, status, duration_us);
        return;
    }
    end_line(&l, true);
    emit(buf, l.len);
}

static void write_now(const char *p, size_t len)
{
    ssize_t w = write(STDOUT_FILENO, p, len);
    if (w != (ssize_t)len)
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
}

static struct ring *ring_of_this_thread(void)
{
    if (!my_ring) {
        struct ring *r = lnk_xcalloc(1, sizeof(*r));
        pthread_mutex_lock(&async.lock);
        r->next = async.rings;
        async.rings = r;
        pthread_mutex_unlock(&async.lock);
        my_ring = r;
    }
    return my_ring;
}

static void emit(const char *p, size_t len)
{
    if (!atomic_load_explicit(&async.started, memory_order_acquire)) {
        write_now(p, len);
        return;
    }
    struct ring *r = ring_of_this_thread();
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (RING_BYTES - (head - tail) < len) {
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
        return;
    }
    size_t at = head & (RING_BYTES - 1), first = RING_BYTES - at < len ? RING_BYTES - at : len;
    memcpy(r->bytes + at, p, first);
    memcpy(r->bytes, p + first, len - first);
    atomic_store_explicit(&r->head, head + len, memory_order_release);
}

/* Writes out whatever each ring holds. Log thread (or lnk_log_stop) only. */
static void drain_rings(void)
{
    pthread_mutex_lock(&async.lock);
    struct ring *rings = async.rings;
    pthread_mutex_unlock(&async.lock);
    for (struct ring *r = rings; r; r = r->next) {
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
        uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
        while (tail != head) {
            size_t at = tail & (RING_BYTES - 1);
            size_t n = head - tail < RING_BYTES - at ? head - tail : RING_BYTES - at;
            ssize_t w = write(STDOUT_FILENO, r->bytes + at, n);
            if (w <= 0)
                break; /* stdout is gone; lines stay queued and count as dropped at stop */
            tail += (uint64_t)w;
        }
        atomic_store_explicit(&r->tail, tail, memory_order_release);
    }
}

static void *log_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&async.lock);
    while (!async.stop) {
        struct timespec ts = lnk_clock_deadline(CLOCK_REALTIME, FLUSH_MS);
        pthread_cond_timedwait(&async.cond, &async.lock, &ts);
        pthread_mutex_unlock(&async.lock);
        drain_rings();
        pthread_mutex_lock(&async.lock);
    }
    pthread_mutex_unlock(&async.lock);
    return NULL;
}

int lnk_log_start(void)
{
    if (atomic_load(&async.started))
        return LNK_OK;
    async.stop = false;
    if (pthread_create(&async.thread, NULL, log_main, NULL) != 0)
        return LNK_ENOMEM;
    atomic_store_explicit(&async.started, true, memory_order_release);
    return LNK_OK;
}

void lnk_log_stop(void)
{
    if (!atomic_load(&async.started))
        return;
    /* From here on lines are written at once; rings get no new lines once
     * every producer has seen the flag, which the final drain covers. */
    atomic_store_explicit(&async.started, false, memory_order_release);
    pthread_mutex_lock(&async.lock);
    async.stop = true;
    pthread_cond_signal(&async.cond);
    pthread_mutex_unlock(&async.lock);
    pthread_join(async.thread, NULL);
    drain_rings();
    pthread_mutex_lock(&async.lock);
    struct ring *r = async.rings;
    async.rings = NULL;
    pthread_mutex_unlock(&async.lock);
    while (r) {
        struct ring *next = r->next;
        free(r);
        r = next;
    }
    my_ring = NULL;
}
