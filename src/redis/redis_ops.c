/* SPDX-License-Identifier: MIT */
/* The commands behind each operation and how their replies are read:
 *   link get   HMGET linkd:link:<code> v g          one round trip
 *   link put   EVALSHA put: set v only if g is unchanged since the get
 *   forget     EVALSHA forget: drop v, bump g, PUBLISH, for many links at once
 *   rate       EVALSHA rate: GCRA on Redis's own clock, one round trip
 * A link's hash holds its value (v) and its invalidation count (g); g is
 * what keeps a read that raced with a change from putting the old value
 * back (the local cache's epoch rule, per key). */
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "linkd/err.h"
#include "redis/redis_int.h"

/* KEYS[1] link hash; ARGV gen, value, ttl_ms. */
static const char SCRIPT_LINK_PUT[] =
    "if (redis.call('HGET', KEYS[1], 'g') or '') ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'v', ARGV[2])\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
    "return 1\n";

/* KEYS link hashes; ARGV channel, message, ttl_ms. The count outlives the
 * value by ttl_ms, longer than any read that could still put it back. */
static const char SCRIPT_FORGET[] = "for i = 1, #KEYS do\n"
                                    "  redis.call('HDEL', KEYS[i], 'v')\n"
                                    "  redis.call('HINCRBY', KEYS[i], 'g', 1)\n"
                                    "  redis.call('PEXPIRE', KEYS[i], ARGV[3])\n"
                                    "end\n"
                                    "return redis.call('PUBLISH', ARGV[1], ARGV[2])\n";

/* GCRA as src/ratelimit/ratelimit.c does it, in microseconds of Redis's
 * clock (every node sees the same time). KEYS[1] the budget; ARGV interval
 * and tolerance. Returns {allowed, tat - now}. Numbers stay below 2^53. */
static const char SCRIPT_RATE[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local interval, tau = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "if tat < now then tat = now end\n"
    "if tat - now > tau then return {0, tat - now} end\n"
    "local new = tat + interval\n"
    "redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX',\n"
    "           math.ceil((new - now) / 1000) + 1)\n"
    "return {1, new - now}\n";

static const char *const scripts[LNK_SCRIPTS] = {SCRIPT_LINK_PUT, SCRIPT_FORGET, SCRIPT_RATE};
static char shas[LNK_SCRIPTS][41];
static pthread_once_t shas_once = PTHREAD_ONCE_INIT;

static void compute_shas(void)
{
    for (int i = 0; i < LNK_SCRIPTS; i++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_Digest(scripts[i], strlen(scripts[i]), md, &len, EVP_sha1(), NULL);
        for (unsigned k = 0; k < len && k < 20; k++)
            snprintf(shas[i] + 2 * k, 3, "%02x", md[k]);
    }
}

const char *lnk_redis_script_text(enum lnk_redis_script s)
{
    return scripts[s];
}

const char *lnk_redis_script_sha(enum lnk_redis_script s)
{
    pthread_once(&shas_once, compute_shas);
    return shas[s];
}

void lnk_redis_channel_name(unsigned db, char *out, size_t cap)
{
    snprintf(out, cap, LNK_REDIS_PREFIX "invalidate:%u", db);
}

/* ---- encodings ------------------------------------------------------------ */

struct lnk_str lnk_redis_link_encode(const struct lnk_redis_link *l, struct lnk_arena *a)
{
    size_t cap = 3 * 21 + l->url_len + 1 + (l->opts ? l->opts_len + 1 : 0);
    char *buf = lnk_arena_alloc(a, cap);
    int n = snprintf(buf, cap, "%" PRId64 " %" PRId64 " %d %.*s%s%.*s", l->id, l->owner,
                     l->active ? 1 : 0, (int)l->url_len, l->url, l->opts ? " " : "",
                     l->opts ? (int)l->opts_len : 0, l->opts ? l->opts : "");
    return lnk_str_make(buf, n < 0 ? 0 : (size_t)n);
}

/* A decimal int64 from *p up to the next space; moves *p past the space. */
static int take_number(const char **p, const char *end, int64_t *out)
{
    const char *sp = memchr(*p, ' ', (size_t)(end - *p));
    long long n;
    if (!sp || lnk_str_to_i64(lnk_str_make(*p, (size_t)(sp - *p)), &n) != LNK_OK)
        return LNK_EINVAL;
    *out = n;
    *p = sp + 1;
    return LNK_OK;
}

int lnk_redis_link_decode(struct lnk_str v, struct lnk_redis_link *out)
{
    const char *p = v.ptr, *end = v.ptr + v.len;
    int64_t active;
    if (!v.ptr || take_number(&p, end, &out->id) != LNK_OK || out->id <= 0 ||
        take_number(&p, end, &out->owner) != LNK_OK || take_number(&p, end, &active) != LNK_OK ||
        (active != 0 && active != 1) || p == end)
        return LNK_EINVAL;
    /* a destination holds no space: one after it starts the options */
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    out->active = active == 1;
    out->url = p;
    out->url_len = (size_t)((sp ? sp : end) - p);
    out->opts = sp ? sp + 1 : NULL;
    out->opts_len = sp ? (size_t)(end - sp - 1) : 0;
    if (out->url_len == 0 || (sp && (out->opts_len == 0 || *out->opts != '{')))
        return LNK_EINVAL;
    return LNK_OK;
}

struct lnk_str lnk_redis_message_build(const struct lnk_redis_changed *links, size_t n,
                                       struct lnk_arena *a)
{
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += 22 + (links[i].code ? strlen(links[i].code) : 0) + 1;
    char *buf = lnk_arena_alloc(a, cap);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + len, cap - len, "%" PRId64 " %s\n", links[i].id,
                         links[i].code ? links[i].code : "");
        len += w > 0 ? (size_t)w : 0;
    }
    return lnk_str_make(buf, len);
}

size_t lnk_redis_message_each(struct lnk_str msg, lnk_redis_forget_fn fn, void *udata)
{
    size_t done = 0;
    const char *p = msg.ptr, *end = msg.ptr + msg.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *sp = memchr(p, ' ', (size_t)(line_end - p));
        long long id;
        if (sp && lnk_str_to_i64(lnk_str_make(p, (size_t)(sp - p)), &id) == LNK_OK && id >= 0 &&
            !memchr(sp + 1, ' ', (size_t)(line_end - sp - 1))) {
            struct lnk_str code = lnk_str_make(sp + 1, (size_t)(line_end - sp - 1));
            fn(udata, id, code.len ? code : LNK_STR_NULL);
            done++;
        }
        p = nl ? nl + 1 : end;
    }
    return done;
}

/* ---- commands ------------------------------------------------------------- */

static void arg(struct lnk_redis_argv *out, const char *s, size_t len)
{
    out->argv[out->argc] = s;
    out->len[out->argc++] = len;
}

static void arg_str(struct lnk_redis_argv *out, const char *s)
{
    arg(out, s, strlen(s));
}

static void arg_fmt(struct lnk_redis_argv *out, struct lnk_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void arg_fmt(struct lnk_redis_argv *out, struct lnk_arena *a, const char *fmt, ...)
{
    char tmp[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1;
    arg(out, lnk_arena_strndup(a, tmp, len), len);
}

static void arg_link_key(struct lnk_redis_argv *out, struct lnk_arena *a, struct lnk_str code)
{
    arg_fmt(out, a, LNK_REDIS_PREFIX "link:%.*s", (int)code.len, code.ptr);
}

static void arg_evalsha(struct lnk_redis_argv *out, enum lnk_redis_script s, size_t n_keys,
                        struct lnk_arena *a)
{
    arg_str(out, "EVALSHA");
    arg_str(out, lnk_redis_script_sha(s));
    arg_fmt(out, a, "%zu", n_keys);
}

void lnk_redis_build(const struct lnk_redis_op *op, const struct lnk_redis_env *env,
                     struct lnk_arena *a, struct lnk_redis_argv *out)
{
    size_t max = 8 + op->n_forget_;
    out->argc = 0;
    out->argv = lnk_arena_alloc(a, max * sizeof(*out->argv));
    out->len = lnk_arena_alloc(a, max * sizeof(*out->len));
    switch (op->kind) {
    case LNK_REDIS_LINK_GET:
        arg_str(out, "HMGET");
        arg_link_key(out, a, op->code);
        arg_str(out, "v");
        arg_str(out, "g");
        break;
    case LNK_REDIS_LINK_PUT: {
        struct lnk_str v = lnk_redis_link_encode(&op->link, a);
        arg_evalsha(out, LNK_SCRIPT_LINK_PUT, 1, a);
        arg_link_key(out, a, op->code);
        arg_str(out, op->gen);
        arg(out, v.ptr, v.len);
        arg_fmt(out, a, "%" PRIu32, env->link_ttl_ms);
        break;
    }
    case LNK_REDIS_FORGET: {
        size_t n_keys = 0;
        for (size_t i = 0; i < op->n_forget_; i++)
            n_keys += op->forget_codes_[i].len > 0;
        arg_evalsha(out, LNK_SCRIPT_FORGET, n_keys, a);
        for (size_t i = 0; i < op->n_forget_; i++)
            if (op->forget_codes_[i].len)
                arg_link_key(out, a, op->forget_codes_[i]);
        arg_str(out, env->channel);
        arg(out, op->forget_message_.ptr, op->forget_message_.len);
        arg_fmt(out, a, "%" PRIu32, env->link_ttl_ms);
        break;
    }
    case LNK_REDIS_RATE:
        arg_evalsha(out, LNK_SCRIPT_RATE, 1, a);
        arg_fmt(out, a, LNK_REDIS_PREFIX "rate:%.*s", (int)op->key.len, op->key.ptr);
        arg_fmt(out, a, "%" PRIu64, op->interval_us);
        arg_fmt(out, a, "%" PRIu64, op->tau_us);
        break;
    case LNK_REDIS_PING:
    case LNK_REDIS_OP_KINDS:
        arg_str(out, "PING");
        break;
    }
}

/* ---- replies -------------------------------------------------------------- */

static int read_link(struct lnk_redis_op *op, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return LNK_EBACKEND;
    const redisReply *v = r->element[0], *g = r->element[1];
    if (g->type == REDIS_REPLY_STRING && g->len <= LNK_REDIS_GEN_MAX)
        memcpy(op->gen, g->str, g->len + 1);
    else if (g->type != REDIS_REPLY_NIL)
        return LNK_EBACKEND;
    if (v->type == REDIS_REPLY_NIL)
        return LNK_ENOTFOUND;
    if (v->type != REDIS_REPLY_STRING)
        return LNK_EBACKEND;
    /* decode a copy: the reply dies after the callback */
    char *copy = lnk_arena_strndup(&op->arena, v->str, v->len);
    if (lnk_redis_link_decode(lnk_str_make(copy, v->len), &op->link) != LNK_OK)
        return LNK_EBACKEND;
    copy[op->link.url + op->link.url_len - copy] = '\0'; /* the url ends where the options begin */
    return LNK_OK;
}

static int read_rate(struct lnk_redis_op *op, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->integer < 0)
        return LNK_EBACKEND;
    op->allowed = r->element[0]->integer == 1;
    op->ahead_us = (uint64_t)r->element[1]->integer;
    return LNK_OK;
}

int lnk_redis_read_reply(struct lnk_redis_op *op, const struct redisReply *reply, bool *noscript)
{
    *noscript = false;
    if (reply->type == REDIS_REPLY_ERROR) {
        *noscript = strncmp(reply->str, "NOSCRIPT", 8) == 0;
        return LNK_EBACKEND;
    }
    switch (op->kind) {
    case LNK_REDIS_LINK_GET:
        return read_link(op, reply);
    case LNK_REDIS_RATE:
        return read_rate(op, reply);
    case LNK_REDIS_LINK_PUT:
    case LNK_REDIS_FORGET:
        return reply->type == REDIS_REPLY_INTEGER ? LNK_OK : LNK_EBACKEND;
    case LNK_REDIS_PING:
    case LNK_REDIS_OP_KINDS:
        break;
    }
    return reply->type == REDIS_REPLY_STATUS ? LNK_OK : LNK_EBACKEND;
}
