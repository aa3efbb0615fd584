/* SPDX-License-Identifier: MIT */
/* JSON-lines logger. Each line is formatted into a thread-local buffer and
 * written with one write(2) to stdout; a short or failed write (a full pipe
 * when stdout is non-blocking, a closed reader) drops the line and counts it,
 * so a slow log consumer never stalls a worker. */
#include "linkd/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "linkd/err.h"
#include "linkd/str.h"

#define LINE_MAX_BYTES 8192

enum lnk_log_level lnk_log_min_level = LNK_LOG_INFO;
static _Atomic uint64_t dropped;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

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

/* JSON string escaping; invalid UTF-8 bytes become U+FFFD so the line stays
 * valid JSON whatever a client sent. */
static void put_escaped(struct line *l, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(l, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(l, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(l, e, 6);
        } else if (c < 0x80) {
            put(l, (const char *)&c, 1);
        } else {
            size_t k = 1;
            while (k < 4 && i + k < n && ((unsigned char)s[i + k] & 0xC0) == 0x80)
                k++;
            if (lnk_utf8_valid(s + i, k)) {
                put(l, s + i, k);
                i += k - 1;
            } else {
                put(l, "\xEF\xBF\xBD", 3);
            }
        }
    }
    put(l, "\"", 1);
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

static void put_field(struct line *l, const struct lnk_log_field *f)
{
    put_key(l, f->key);
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
    case LNK_LF_INT:
        put_fmt(l, "%lld", (long long)f->v.i);
        break;
    case LNK_LF_DBL:
        put_fmt(l, "%.6g", f->v.d);
        break;
    case LNK_LF_BOOL:
        put(l, f->v.b ? "true" : "false", f->v.b ? 4 : 5);
        break;
    case LNK_LF_END:
        put(l, "null", 4);
        break;
    }
}

static void put_ts(struct line *l)
{
    struct timespec ts;
    struct tm tm;
    char tmp[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
    put(l, "{\"ts\":\"", 7);
    put(l, tmp, n);
    put_fmt(l, ".%03ldZ\"", ts.tv_nsec / 1000000);
}

void lnk_log_write(enum lnk_log_level level, const char *request_id, const char *component,
                   const char *event, const struct lnk_log_field *fields, size_t n)
{
    static _Thread_local char buf[LINE_MAX_BYTES];
    struct line l = {buf, 0, sizeof(buf) - 2, false};
    put_ts(&l);
    put_key(&l, "level");
    put_escaped(&l, lnk_log_level_name(level), strlen(lnk_log_level_name(level)));
    put_key(&l, "component");
    put_escaped(&l, component, strlen(component));
    put_key(&l, "event");
    put_escaped(&l, event, strlen(event));
    if (request_id) {
        put_key(&l, "request_id");
        put_escaped(&l, request_id, strlen(request_id));
    }
    for (size_t i = 0; i < n; i++)
        put_field(&l, &fields[i]);
    if (l.truncated) {
        /* A truncated line is no longer JSON; replace it with a marker. */
        l.len = 0;
        l.truncated = false;
        put_ts(&l);
        static const char marker[] =
            ",\"level\":\"warn\",\"component\":\"log\",\"event\":\"line_truncated\"";
        put(&l, marker, sizeof(marker) - 1);
    }
    buf[l.len++] = '}';
    buf[l.len++] = '\n';
    ssize_t w = write(STDOUT_FILENO, buf, l.len);
    if (w != (ssize_t)l.len)
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
}
