/* SPDX-License-Identifier: MIT */
/* Structured logs: one line per record on stdout with ts (UTC, ms), level,
 * component, event, request_id, then typed fields (STYLE.md §7); a JSON
 * object by default, or a human-readable text line (lnk_log_line_format,
 * docs/logging.md). The
 * macro checks the level before evaluating its fields. Lines never
 * interleave. Once started, a background thread writes them, so logging never
 * stalls a worker; a thread whose queue is full drops the line and counts it.
 * Thread-safe. */
#ifndef LNK_LOG_H
#define LNK_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lnk_log_level { LNK_LOG_DEBUG, LNK_LOG_INFO, LNK_LOG_WARN, LNK_LOG_ERROR };

/* JSON: {"ts":"...","level":"info",...}. TEXT: `TS LEVEL COMPONENT EVENT
 * key=value ...`, a value written as a JSON string when it is empty or holds
 * a space, '=', '"', '\\' or a byte outside printable ASCII; a NULL string
 * as `key=` with nothing after it. */
enum lnk_log_format { LNK_LOG_JSON, LNK_LOG_TEXT };

enum lnk_log_type { LNK_LF_END, LNK_LF_STR, LNK_LF_SLICE, LNK_LF_INT, LNK_LF_DBL, LNK_LF_BOOL };

struct lnk_log_field {
    const char *key;
    enum lnk_log_type type;
    union {
        const char *s;
        int64_t i;
        double d;
        bool b;
    } v;
    size_t len; /* LNK_LF_SLICE */
};

#define LNK_F_STR(k, x)      ((struct lnk_log_field){(k), LNK_LF_STR, {.s = (x)}, 0})
#define LNK_F_SLICE(k, p, n) ((struct lnk_log_field){(k), LNK_LF_SLICE, {.s = (p)}, (n)})
#define LNK_F_INT(k, x)      ((struct lnk_log_field){(k), LNK_LF_INT, {.i = (int64_t)(x)}, 0})
#define LNK_F_DBL(k, x)      ((struct lnk_log_field){(k), LNK_LF_DBL, {.d = (x)}, 0})
#define LNK_F_BOOL(k, x)     ((struct lnk_log_field){(k), LNK_LF_BOOL, {.b = (x)}, 0})

/* The minimum level written; set once at start-up, read everywhere. */
extern enum lnk_log_level lnk_log_min_level;

/* How lines are written; set once at start-up, read everywhere. */
extern enum lnk_log_format lnk_log_line_format;

/* "json" or "text" (case-insensitive). */
int lnk_log_parse_format(const char *s, enum lnk_log_format *out);

/* "debug", "info", "warn"/"warning", "error" (case-insensitive). */
int lnk_log_parse_level(const char *s, enum lnk_log_level *out);
const char *lnk_log_level_name(enum lnk_log_level level);

/* Writes one line; `fields` holds n entries. request_id may be NULL. */
void lnk_log_write(enum lnk_log_level level, const char *request_id, const char *component,
                   const char *event, const struct lnk_log_field *fields, size_t n);

/* The access line of one request at info: what lnk_log_write writes for
 * component "http", event "request" and the fields method, path, route,
 * status and duration_us; in JSON formatted without the generic field walk
 * (it is written for every request). request_id may be NULL. */
void lnk_log_request(const char *request_id, const char *method, const char *path, size_t path_len,
                     const char *route, int64_t status, int64_t duration_us);

/* Starts the log thread: from then on lines are queued per thread and written
 * in the background. Without it, lines are written at once (CLI, tests). */
int lnk_log_start(void);
/* Writes every queued line and stops the log thread. Call after every other
 * thread that logs has stopped. */
void lnk_log_stop(void);

/* Lines dropped because a thread's queue was full or stdout failed. */
uint64_t lnk_log_dropped(void);

/* LNK_LOG(INFO, rid, "http", "listening", LNK_F_INT("port", port)); fields optional. */
#define LNK_LOG(lvl, rid, component, event, ...)                                                   \
    do {                                                                                           \
        if (LNK_LOG_##lvl >= lnk_log_min_level) {                                                  \
            const struct lnk_log_field lnk_f_[] = {{NULL, LNK_LF_END, {0}, 0}, __VA_ARGS__};       \
            lnk_log_write(LNK_LOG_##lvl, (rid), (component), (event), lnk_f_ + 1,                  \
                          sizeof(lnk_f_) / sizeof(lnk_f_[0]) - 1);                                 \
        }                                                                                          \
    } while (0)

#endif
