/* SPDX-License-Identifier: MIT */
/* Key generation (getrandom + rejection sampling into base62), hashing
 * (OpenSSL's SHA-256) and the access decision. */
#include "linkd/auth.h"

#include <openssl/evp.h>
#include <string.h>
#include <sys/random.h>

#include "linkd/err.h"

static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

int lnk_auth_key_generate(char out[LNK_AUTH_KEY_LEN + 1])
{
    memcpy(out, "lnk_", 4);
    size_t n = 4;
    while (n < LNK_AUTH_KEY_LEN) {
        unsigned char rnd[64];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            return LNK_EUNAVAIL;
        /* 248 = 4 * 62: bytes above it are dropped so every digit is uniform */
        for (size_t i = 0; i < sizeof(rnd) && n < LNK_AUTH_KEY_LEN; i++)
            if (rnd[i] < 248)
                out[n++] = alphabet[rnd[i] % 62];
    }
    out[n] = '\0';
    return LNK_OK;
}

void lnk_auth_key_hash(struct lnk_str key, char out[LNK_AUTH_HASH_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(key.ptr ? key.ptr : "", key.len, md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[LNK_AUTH_HASH_LEN] = '\0';
}

struct lnk_str lnk_auth_key_of(struct lnk_str authorization, struct lnk_str x_api_key)
{
    struct lnk_str a = lnk_str_trim(authorization);
    if (a.ptr && a.len > 0) {
        if (a.len > 7 && lnk_str_eq_nocase(lnk_str_make(a.ptr, 7), LNK_STR("Bearer ")))
            return lnk_str_trim(lnk_str_make(a.ptr + 7, a.len - 7));
        return a;
    }
    struct lnk_str k = lnk_str_trim(x_api_key);
    return k.ptr && k.len > 0 ? k : LNK_STR_NULL;
}

static const char *const scope_names[] = {"links:read", "links:write", "analytics:read", "admin"};
#define N_SCOPES (sizeof(scope_names) / sizeof(scope_names[0]))

int lnk_auth_key_new(char key[LNK_AUTH_KEY_LEN + 1], char hash[LNK_AUTH_HASH_LEN + 1],
                     char prefix[LNK_AUTH_PREFIX_LEN + 1])
{
    int rc = lnk_auth_key_generate(key);
    if (rc != LNK_OK)
        return rc;
    lnk_auth_key_hash(lnk_str_from_cstr(key), hash);
    memcpy(prefix, key, LNK_AUTH_PREFIX_LEN);
    prefix[LNK_AUTH_PREFIX_LEN] = '\0';
    return LNK_OK;
}

int lnk_auth_scopes_check(unsigned bits, bool admin)
{
    return (bits & LNK_SCOPE_ADMIN) && !admin ? LNK_EINVAL : LNK_OK;
}

const char *lnk_auth_scope_name(unsigned bit)
{
    for (size_t i = 0; i < N_SCOPES; i++)
        if (bit == 1u << i)
            return scope_names[i];
    return "unknown";
}

int lnk_auth_scopes_parse(struct lnk_str text, unsigned *out)
{
    unsigned bits = 0;
    const char *p = text.ptr, *end = text.ptr ? text.ptr + text.len : NULL;
    if (!p || text.len == 0)
        return LNK_EINVAL;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        struct lnk_str name = lnk_str_trim(lnk_str_make(p, (size_t)((comma ? comma : end) - p)));
        size_t i = 0;
        while (i < N_SCOPES && !lnk_str_eq_cstr(name, scope_names[i]))
            i++;
        if (i == N_SCOPES)
            return LNK_EINVAL;
        bits |= 1u << i;
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = bits;
    return LNK_OK;
}

void lnk_auth_scopes_format(unsigned bits, char out[LNK_SCOPES_TEXT_MAX])
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < N_SCOPES; i++)
        if (bits & (1u << i))
            len += (size_t)snprintf(out + len, LNK_SCOPES_TEXT_MAX - len, "%s%s", len ? "," : "",
                                    scope_names[i]);
}

enum lnk_auth_verdict lnk_auth_decide(const struct lnk_auth_facts *f)
{
    if (f->auth_off)
        return LNK_AUTH_ADMIN;
    if (f->key_presented) {
        if (!f->key_valid)
            return LNK_AUTH_BAD_KEY;
        if (f->key_expired)
            return LNK_AUTH_EXPIRED;
        if (f->need_scope && !(f->key_scopes & f->need_scope))
            return LNK_AUTH_SCOPE;
        return f->key_admin ? LNK_AUTH_ADMIN : LNK_AUTH_USER;
    }
    if (f->active_keys > 0)
        return LNK_AUTH_NEED_KEY;
    return f->client_loopback ? LNK_AUTH_ADMIN : LNK_AUTH_PROTECTED;
}
