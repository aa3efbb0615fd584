/* SPDX-License-Identifier: MIT */
/* A thin layer over cmocka: CHECK(cond, "expected behaviour") reads as the
 * sentence it tests and prints it when it fails. */
#ifndef LNK_TEST_CHECK_H
#define LNK_TEST_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("expected: %s\n", (what));                                                 \
            fail_msg("%s", #cond);                                                                 \
        }                                                                                          \
    } while (0)

#endif
