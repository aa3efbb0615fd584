/* SPDX-License-Identifier: MIT */
/* Fixed-width base62 (0-9A-Za-z, most significant digit first), the text form
 * of generated short codes. Leaf of the codec layer: depends on nothing but
 * err.h. Pure functions, thread-safe. */
#include "linkd/base62.h"

#include "linkd/err.h"

static const char ALPHABET[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

_Static_assert(sizeof(ALPHABET) == 62 + 1, "base62 alphabet has 62 digits");

/* Digit value of c, or -1 when c is outside the alphabet. */
static int digit_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 36;
    return -1;
}

uint64_t lnk_base62_pow(unsigned width)
{
    uint64_t p = 1;
    if (width > LNK_BASE62_WIDTH_MAX)
        width = LNK_BASE62_WIDTH_MAX;
    for (unsigned i = 0; i < width; i++)
        p *= 62;
    return p;
}

int lnk_base62_encode(uint64_t v, unsigned width, char *out)
{
    if (width == 0 || width > LNK_BASE62_WIDTH_MAX)
        return LNK_EINVAL;
    if (v >= lnk_base62_pow(width))
        return LNK_ERANGE;
    for (unsigned i = width; i > 0; i--) {
        out[i - 1] = ALPHABET[v % 62];
        v /= 62;
    }
    out[width] = '\0';
    return LNK_OK;
}

int lnk_base62_decode(const char *s, size_t len, uint64_t *out)
{
    /* Ten digits stay below 62^10 < 2^64, so the sum cannot overflow. */
    if (len == 0 || len > LNK_BASE62_WIDTH_MAX)
        return LNK_EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int d = digit_value((unsigned char)s[i]);
        if (d < 0)
            return LNK_EINVAL;
        v = v * 62 + (uint64_t)d;
    }
    *out = v;
    return LNK_OK;
}
