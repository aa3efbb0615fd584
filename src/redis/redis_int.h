/* SPDX-License-Identifier: MIT */
/* Private to src/redis/: what the client thread (redis.c) asks of the
 * commands (redis_ops.c): the Lua scripts, each op's command line, reading
 * its reply, and the pure encodings of a cached link and of an
 * invalidation message (unit-tested through this header). */
#ifndef LNK_REDIS_INT_H
#define LNK_REDIS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/arena.h"
#include "linkd/redis.h"
#include "linkd/str.h"

struct redisReply; /* hiredis */

/* Key and channel names: every key starts with this prefix. */
#define LNK_REDIS_PREFIX "linkd:"

enum lnk_redis_script { LNK_SCRIPT_LINK_PUT, LNK_SCRIPT_FORGET, LNK_SCRIPT_RATE, LNK_SCRIPTS };

/* The scripts' text and SHA1 (hex): EVALSHA names them; each connection
 * loads them first (SCRIPT LOAD), so a restarted Redis has them again. */
const char *lnk_redis_script_text(enum lnk_redis_script s);
const char *lnk_redis_script_sha(enum lnk_redis_script s);

/* What a command needs besides its op. */
struct lnk_redis_env {
    const char *channel; /* the invalidation channel of this db */
    uint32_t link_ttl_ms;
};

/* The invalidation channel for a db: Redis pub/sub ignores SELECT, so the
 * channel names the db, and nodes on different dbs never hear each other. */
void lnk_redis_channel_name(unsigned db, char *out, size_t cap);

/* A command line for op: argc arguments in arena memory. */
struct lnk_redis_argv {
    int argc;
    const char **argv;
    size_t *len;
};
void lnk_redis_build(const struct lnk_redis_op *op, const struct lnk_redis_env *env,
                     struct lnk_arena *a, struct lnk_redis_argv *out);

/* Reads op's reply into its outputs and returns its rc (LNK_OK,
 * LNK_ENOTFOUND, LNK_EBACKEND). *noscript: Redis had lost a script. */
int lnk_redis_read_reply(struct lnk_redis_op *op, const struct redisReply *reply, bool *noscript);

/* A link as the tier stores it: "<id> <owner> <0|1> <url>" (a url has no
 * white space). Written with lnk_arena memory; read strictly: LNK_EINVAL
 * for anything else. The url of a read points into `v`. */
struct lnk_str lnk_redis_link_encode(const struct lnk_redis_link *l, struct lnk_arena *a);
int lnk_redis_link_decode(struct lnk_str v, struct lnk_redis_link *out);

/* An invalidation message: one "<id> <code>\n" line per link (id 0, or an
 * empty code, when unknown). build writes the lines of n links in `a`;
 * each calls fn for every well-formed line and returns how many it did. */
struct lnk_str lnk_redis_message_build(const struct lnk_redis_changed *links, size_t n,
                                       struct lnk_arena *a);
size_t lnk_redis_message_each(struct lnk_str msg, lnk_redis_forget_fn fn, void *udata);

#endif
