/* SPDX-License-Identifier: MIT */
/* Link passwords: Argon2id through libsodium's crypto_pwhash_str_alg, with
 * the parameters of policy.h (docs/adr/0023-link-policy.md). Slow on
 * purpose: callers run these off the event loop. Thread-safe (sodium_init
 * may be called from any thread, any number of times). */
#include <sodium.h>
#include <string.h>

#include "linkd/err.h"
#include "linkd/policy.h"

_Static_assert(LNK_POLICY_HASH_MAX == crypto_pwhash_STRBYTES, "hash buffer size");

int lnk_policy_hash_password(const char *pw, size_t n, char out[LNK_POLICY_HASH_MAX])
{
    if (n == 0 || n > LNK_POLICY_PASSWORD_MAX)
        return LNK_EINVAL;
    if (sodium_init() < 0)
        return LNK_ENOMEM;
    /* Fails only when the memory limit cannot be allocated. */
    if (crypto_pwhash_str_alg(out, pw, n, LNK_POLICY_PWHASH_OPS, LNK_POLICY_PWHASH_MEM_BYTES,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return LNK_ENOMEM;
    return LNK_OK;
}

bool lnk_policy_check_password(const char *hash, const char *pw, size_t n)
{
    if (!hash || strnlen(hash, LNK_POLICY_HASH_MAX) >= LNK_POLICY_HASH_MAX || n == 0 ||
        n > LNK_POLICY_PASSWORD_MAX || sodium_init() < 0)
        return false;
    /* crypto_pwhash_str_verify reads the algorithm and its parameters from the
     * hash, so hashes made with older parameters still verify. */
    return crypto_pwhash_str_verify(hash, pw, n) == 0;
}
