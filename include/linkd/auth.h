/* SPDX-License-Identifier: MIT */
/* API keys and the access decision (DESIGN.md §6). A key is "lnk_" followed
 * by 40 base62 characters from the kernel's CSPRNG; only its SHA-256 is
 * stored. The decision is a pure function of what the request brought and
 * what the store said, so every row of the access matrix is unit-tested. */
#ifndef LNK_AUTH_H
#define LNK_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/str.h"

#define LNK_AUTH_KEY_LEN    44 /* "lnk_" + 40 */
#define LNK_AUTH_PREFIX_LEN 12 /* shown in listings */
#define LNK_AUTH_HASH_LEN   64 /* hex SHA-256 */

/* A new random key, NUL-terminated. LNK_EUNAVAIL if no randomness. */
int lnk_auth_key_generate(char out[LNK_AUTH_KEY_LEN + 1]);

/* A new key with its hash and the prefix listings show (the key's first
 * LNK_AUTH_PREFIX_LEN characters). LNK_EUNAVAIL if no randomness. */
int lnk_auth_key_new(char key[LNK_AUTH_KEY_LEN + 1], char hash[LNK_AUTH_HASH_LEN + 1],
                     char prefix[LNK_AUTH_PREFIX_LEN + 1]);

/* Hex SHA-256 of key, NUL-terminated. */
void lnk_auth_key_hash(struct lnk_str key, char out[LNK_AUTH_HASH_LEN + 1]);

/* The key a request presents: "Authorization: Bearer <key>" (scheme in any
 * case), else "X-API-Key: <key>". LNK_STR_NULL when neither is present;
 * an Authorization header of another scheme counts as a bad key (returned
 * as is, so it fails the lookup). */
struct lnk_str lnk_auth_key_of(struct lnk_str authorization, struct lnk_str x_api_key);

/* Scopes: what a key may do within its role (docs/security.md#scopes). A
 * key without scopes may do all its role allows; an admin scope on a user
 * key is refused when the key is made. */
enum {
    LNK_SCOPE_LINKS_READ = 1,     /* "links:read": read links (urls) and users' links */
    LNK_SCOPE_LINKS_WRITE = 2,    /* "links:write": create, change, delete links; post events */
    LNK_SCOPE_ANALYTICS_READ = 4, /* "analytics:read": events, stats, clicks */
    LNK_SCOPE_ADMIN = 8,          /* "admin": users, metrics, everything of an admin key */
    LNK_SCOPE_ALL = 15
};
#define LNK_SCOPES_TEXT_MAX 64 /* the longest canonical text, NUL included */

/* "links:read,analytics:read" (comma-separated, spaces around names
 * allowed) into bits. LNK_EINVAL for an empty list or an unknown name. */
int lnk_auth_scopes_parse(struct lnk_str text, unsigned *out);
/* Whether a key of that role may hold these scopes: the admin scope is an
 * admin key's only. LNK_EINVAL otherwise. */
int lnk_auth_scopes_check(unsigned bits, bool admin);
/* The canonical text of bits (names in the order above, comma-separated). */
void lnk_auth_scopes_format(unsigned bits, char out[LNK_SCOPES_TEXT_MAX]);
/* The name of one scope bit. */
const char *lnk_auth_scope_name(unsigned bit);

struct lnk_auth_facts {
    bool auth_off;        /* LINKD_AUTH=off */
    bool client_loopback; /* the client address (after trusted proxies) */
    bool key_presented;
    bool key_valid;      /* presented and active */
    bool key_admin;      /* of the valid key */
    bool key_expired;    /* of the valid key: its expiry has passed */
    unsigned key_scopes; /* of the valid key: LNK_SCOPE_* bits (LNK_SCOPE_ALL: no scopes set) */
    unsigned need_scope; /* the one scope the request needs */
    int64_t active_keys; /* how many keys exist and are not revoked */
};

enum lnk_auth_verdict {
    LNK_AUTH_ADMIN,     /* full access */
    LNK_AUTH_USER,      /* only the key's user's urls and events */
    LNK_AUTH_NEED_KEY,  /* 401: keys exist and none was presented */
    LNK_AUTH_BAD_KEY,   /* 401: unknown or revoked key */
    LNK_AUTH_EXPIRED,   /* 401: the key's expiry has passed */
    LNK_AUTH_SCOPE,     /* 403: the key lacks the scope the request needs */
    LNK_AUTH_PROTECTED, /* 403: no key exists yet and the client is not local */
};

enum lnk_auth_verdict lnk_auth_decide(const struct lnk_auth_facts *f);

#endif
