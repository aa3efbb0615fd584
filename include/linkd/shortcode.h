/* SPDX-License-Identifier: MIT */
/* Short codes (DESIGN.md §5). Generated codes are a keyed bijection of a
 * sequence number: a balanced Feistel network over [0, 2^36) with cycle
 * walking into [0, 62^6), then fixed-width base62. Distinct sequence numbers
 * give distinct codes, so there is no collision-retry loop, and without the
 * key the codes are not enumerable. Pure functions, thread-safe. */
#ifndef LNK_SHORTCODE_H
#define LNK_SHORTCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LNK_CODEGEN_KEY_BYTES 16
#define LNK_CUSTOM_CODE_MIN   3
#define LNK_CUSTOM_CODE_MAX   32

struct lnk_codegen {
    uint32_t round_keys[8];
    uint64_t domain; /* 62^6 */
};

/* Derives round keys from a 16-byte secret. */
void lnk_codegen_init(struct lnk_codegen *g, const uint8_t key[LNK_CODEGEN_KEY_BYTES]);

/* The permutation and its inverse on [0, domain). LNK_ERANGE if x >= domain. */
int lnk_codegen_permute(const struct lnk_codegen *g, uint64_t x, uint64_t *out);
int lnk_codegen_unpermute(const struct lnk_codegen *g, uint64_t y, uint64_t *out);

/* The 6-character code of sequence number seq (out: 7 bytes). LNK_ERANGE if
 * seq >= domain. */
int lnk_codegen_code(const struct lnk_codegen *g, uint64_t seq, char out[7]);

/* Route names and words a code may not be (health, metrics, users, urls,
 * events, api, ...), compared case-insensitively. */
bool lnk_code_is_reserved(const char *s, size_t len);

/* A custom code: [A-Za-z0-9_-]{3,32} and not reserved. */
bool lnk_code_is_valid_custom(const char *s, size_t len);

/* Could s name a link at all: 1..64 bytes of [A-Za-z0-9_-]. Checked before
 * any lookup so that impossible codes never reach the store. */
bool lnk_code_is_plausible(const char *s, size_t len);

#endif
