/* SPDX-License-Identifier: MIT */
/* Shared by every libFuzzer harness in tests/fuzz/<target>/: the entry point
 * prototype (so -Wmissing-prototypes holds) and FUZZ_CHECK, which aborts on a
 * broken property so that libFuzzer and the corpus replay both see a crash. */
#ifndef LNK_FUZZ_H
#define LNK_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, what)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: expected: %s (%s)\n", __FILE__, __LINE__, (what), #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
