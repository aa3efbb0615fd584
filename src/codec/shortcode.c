/* SPDX-License-Identifier: MIT */
/* Short codes (DESIGN.md §5): a keyed balanced Feistel network over 36 bits
 * (two 18-bit halves, 8 rounds) restricted to [0, 62^6) by cycle walking,
 * then 6 base62 digits. Also the reserved-word and code-syntax checks that
 * every path (create, custom code, redirect lookup) shares. Pure functions
 * over a read-only struct lnk_codegen, thread-safe. */
#include "linkd/shortcode.h"

#include "linkd/base62.h"
#include "linkd/err.h"
#include "linkd/model.h"
#include "linkd/str.h"

#define HALF_BITS 18
#define HALF_MASK ((UINT32_C(1) << HALF_BITS) - 1)
#define ROUNDS    8

_Static_assert(LNK_CODE_LEN == 6, "the Feistel domain is sized for 6 base62 digits");
_Static_assert(sizeof(((struct lnk_codegen *)0)->round_keys) / sizeof(uint32_t) == ROUNDS,
               "one round key per round");

/* Route names and words that would read as part of the API or the site; a
 * code equal to one of them (ignoring case) would shadow or confuse a route. */
static const char *const RESERVED[] = {
    "health", "healthz",  "readyz",    "livez",       "metrics",    "users",   "urls",
    "events", "api",      "admin",     "static",      "assets",     "docs",    "login",
    "logout", "signup",   "dashboard", "favicon.ico", "robots.txt", "shorten", "stats",
    "status", "redirect", "bulk",      "s",           "r",
};

/* splitmix64 finaliser (Steele, Lea, Flood 2014): a full-avalanche 64-bit mix. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void lnk_codegen_init(struct lnk_codegen *g, const uint8_t key[LNK_CODEGEN_KEY_BYTES])
{
    /* A splitmix64 stream seeded from both key words; every round key
     * depends on all 128 key bits. */
    uint64_t state = load_le64(key) ^ mix64(load_le64(key + 8));
    for (int i = 0; i < ROUNDS; i++) {
        state += UINT64_C(0x9e3779b97f4a7c15);
        g->round_keys[i] = (uint32_t)(mix64(state) >> 32);
    }
    g->domain = lnk_base62_pow(LNK_CODE_LEN);
}

/* The round function: 18 bits of a full 64-bit mix of (half, round key). */
static uint32_t round_fn(uint32_t half, uint32_t key)
{
    return (uint32_t)mix64(((uint64_t)key << 32) | half) & HALF_MASK;
}

static uint64_t feistel_forward(const struct lnk_codegen *g, uint64_t x)
{
    uint32_t l = (uint32_t)(x >> HALF_BITS) & HALF_MASK;
    uint32_t r = (uint32_t)x & HALF_MASK;
    for (int i = 0; i < ROUNDS; i++) {
        uint32_t t = l ^ round_fn(r, g->round_keys[i]);
        l = r;
        r = t;
    }
    return ((uint64_t)l << HALF_BITS) | r;
}

static uint64_t feistel_backward(const struct lnk_codegen *g, uint64_t y)
{
    uint32_t l = (uint32_t)(y >> HALF_BITS) & HALF_MASK;
    uint32_t r = (uint32_t)y & HALF_MASK;
    for (int i = ROUNDS - 1; i >= 0; i--) {
        uint32_t t = r ^ round_fn(l, g->round_keys[i]);
        r = l;
        l = t;
    }
    return ((uint64_t)l << HALF_BITS) | r;
}

/* Cycle walking (Black & Rogaway): apply the 36-bit permutation until the
 * value lands back in [0, domain). The domain covers 83% of 2^36, so the walk
 * is short, and it terminates because x itself lies on the cycle. */
int lnk_codegen_permute(const struct lnk_codegen *g, uint64_t x, uint64_t *out)
{
    if (x >= g->domain)
        return LNK_ERANGE;
    uint64_t y = x;
    do
        y = feistel_forward(g, y);
    while (y >= g->domain);
    *out = y;
    return LNK_OK;
}

int lnk_codegen_unpermute(const struct lnk_codegen *g, uint64_t y, uint64_t *out)
{
    if (y >= g->domain)
        return LNK_ERANGE;
    uint64_t x = y;
    do
        x = feistel_backward(g, x);
    while (x >= g->domain);
    *out = x;
    return LNK_OK;
}

int lnk_codegen_code(const struct lnk_codegen *g, uint64_t seq, char out[7])
{
    uint64_t v;
    int rc = lnk_codegen_permute(g, seq, &v);
    if (rc != LNK_OK)
        return rc;
    return lnk_base62_encode(v, LNK_CODE_LEN, out);
}

bool lnk_code_is_reserved(const char *s, size_t len)
{
    struct lnk_str code = lnk_str_make(s, len);
    for (size_t i = 0; i < sizeof(RESERVED) / sizeof(RESERVED[0]); i++)
        if (lnk_str_eq_nocase(code, lnk_str_from_cstr(RESERVED[i])))
            return true;
    return false;
}

static bool is_code_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           c == '-';
}

static bool all_code_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_code_char((unsigned char)s[i]))
            return false;
    return true;
}

bool lnk_code_is_valid_custom(const char *s, size_t len)
{
    if (len < LNK_CUSTOM_CODE_MIN || len > LNK_CUSTOM_CODE_MAX)
        return false;
    return all_code_chars(s, len) && !lnk_code_is_reserved(s, len);
}

bool lnk_code_is_plausible(const char *s, size_t len)
{
    if (len == 0 || len > LNK_CODE_MAX)
        return false;
    return all_code_chars(s, len);
}
