/* SPDX-License-Identifier: MIT */
/* Short codes: base62 decode/encode round trips both ways, the code syntax
 * predicates against a reference, and the keyed permutation's inverse. The
 * whole input is tried as a code; its first bytes also give a value and width
 * for lnk_base62_encode, and a key and sequence number for lnk_codegen_*. */
#include <string.h>

#include "../fuzz.h"
#include "linkd/base62.h"
#include "linkd/err.h"
#include "linkd/model.h"
#include "linkd/shortcode.h"

static bool in_alphabet(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool code_chars(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!in_alphabet(s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* The input as a code: decode, re-encode, and the syntax predicates. */
static void check_as_code(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    bool alnum = size >= 1 && size <= LNK_BASE62_WIDTH_MAX;
    for (size_t i = 0; i < size && alnum; i++)
        alnum = in_alphabet(data[i]);

    uint64_t v = UINT64_MAX;
    int rc = lnk_base62_decode(s, size, &v);
    FUZZ_CHECK(rc == (alnum ? LNK_OK : LNK_EINVAL), "decode takes 1..10 base62 digits only");
    if (rc == LNK_OK) {
        char enc[LNK_BASE62_WIDTH_MAX + 1];
        FUZZ_CHECK(v < lnk_base62_pow((unsigned)size), "decoded value below 62^len");
        FUZZ_CHECK(lnk_base62_encode(v, (unsigned)size, enc) == LNK_OK, "decoded value encodes");
        FUZZ_CHECK(memcmp(enc, s, size) == 0 && enc[size] == '\0', "encode(decode(s)) == s");
    }

    bool chars = code_chars(data, size);
    FUZZ_CHECK(lnk_code_is_plausible(s, size) == (size >= 1 && size <= LNK_CODE_MAX && chars),
               "plausible: 1..64 of [A-Za-z0-9_-]");
    bool custom_shape = size >= LNK_CUSTOM_CODE_MIN && size <= LNK_CUSTOM_CODE_MAX && chars;
    bool reserved = lnk_code_is_reserved(s, size);
    FUZZ_CHECK(lnk_code_is_valid_custom(s, size) == (custom_shape && !reserved),
               "valid custom: [A-Za-z0-9_-]{3,32} and not reserved");
    if (lnk_code_is_valid_custom(s, size))
        FUZZ_CHECK(lnk_code_is_plausible(s, size), "a valid custom code is plausible");

    /* Reserved words compare case-insensitively: flipping letter case keeps
     * the verdict. */
    if (size <= 64) {
        char flipped[64];
        for (size_t i = 0; i < size; i++) {
            uint8_t c = data[i];
            flipped[i] = (char)(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ? c ^ 0x20 : c);
        }
        FUZZ_CHECK(lnk_code_is_reserved(flipped, size) == reserved, "reserved ignores case");
    }
}

/* A value and width from the input: encode, then decode back. */
static void check_encode(uint64_t v, unsigned width)
{
    char out[LNK_BASE62_WIDTH_MAX + 2];
    memset(out, 'X', sizeof(out));
    int rc = lnk_base62_encode(v, width, out);
    if (width == 0 || width > LNK_BASE62_WIDTH_MAX) {
        FUZZ_CHECK(rc == LNK_EINVAL, "width 0 or > 10 is EINVAL");
        return;
    }
    if (v >= lnk_base62_pow(width)) {
        FUZZ_CHECK(rc == LNK_ERANGE, "v >= 62^width is ERANGE");
        v %= lnk_base62_pow(width);
        rc = lnk_base62_encode(v, width, out);
    }
    FUZZ_CHECK(rc == LNK_OK, "v < 62^width encodes");
    FUZZ_CHECK(strlen(out) == width && out[width + 1] == 'X', "exactly width digits and a NUL");
    for (unsigned i = 0; i < width; i++)
        FUZZ_CHECK(in_alphabet((uint8_t)out[i]), "digits from the alphabet");
    uint64_t back = UINT64_MAX;
    FUZZ_CHECK(lnk_base62_decode(out, width, &back) == LNK_OK && back == v,
               "decode(encode(v)) == v");
}

/* The Feistel permutation under a key from the input. */
static void check_codegen(const uint8_t key[LNK_CODEGEN_KEY_BYTES], uint64_t seq)
{
    struct lnk_codegen g;
    lnk_codegen_init(&g, key);
    FUZZ_CHECK(g.domain == lnk_base62_pow(LNK_CODE_LEN), "the domain is 62^6");
    uint64_t y = UINT64_MAX, x = UINT64_MAX;
    FUZZ_CHECK(lnk_codegen_permute(&g, g.domain + seq % 1024, &y) == LNK_ERANGE,
               "permute refuses values outside the domain");
    FUZZ_CHECK(lnk_codegen_unpermute(&g, g.domain + seq % 1024, &x) == LNK_ERANGE,
               "unpermute refuses values outside the domain");
    seq %= g.domain;
    FUZZ_CHECK(lnk_codegen_permute(&g, seq, &y) == LNK_OK && y < g.domain, "permute stays inside");
    FUZZ_CHECK(lnk_codegen_unpermute(&g, y, &x) == LNK_OK && x == seq, "unpermute inverts");
    FUZZ_CHECK(lnk_codegen_unpermute(&g, seq, &x) == LNK_OK &&
                   lnk_codegen_permute(&g, x, &y) == LNK_OK && y == seq,
               "permute inverts unpermute");

    char code[LNK_CODE_LEN + 1];
    uint64_t back = UINT64_MAX;
    FUZZ_CHECK(lnk_codegen_code(&g, seq, code) == LNK_OK && strlen(code) == LNK_CODE_LEN,
               "six-character codes");
    FUZZ_CHECK(lnk_code_is_plausible(code, LNK_CODE_LEN), "generated codes are plausible");
    FUZZ_CHECK(lnk_base62_decode(code, LNK_CODE_LEN, &back) == LNK_OK &&
                   lnk_codegen_unpermute(&g, back, &x) == LNK_OK && x == seq,
               "a generated code decodes to its sequence number");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_as_code(data, size);
    if (size >= 9)
        check_encode(load_le64(data), data[8] % (LNK_BASE62_WIDTH_MAX + 2));
    if (size >= LNK_CODEGEN_KEY_BYTES + 8)
        check_codegen(data, load_le64(data + LNK_CODEGEN_KEY_BYTES));
    return 0;
}
