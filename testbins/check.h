/* check.h: the testbins' one assertion. Prints "ok WHAT" on success; on failure prints
 * the condition and errno to stderr and exits 1. Output is flushed each time so that
 * lines from forked processes interleave as they happen. */
#ifndef TESTBINS_CHECK_H
#define TESTBINS_CHECK_H
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (cond) {                                                            \
            printf("ok %s\n", what);                                           \
            fflush(stdout);                                                    \
        } else {                                                               \
            int e_ = errno;                                                    \
            fflush(stdout);                                                    \
            fprintf(stderr, "FAIL %s: %s (errno %d %s)\n", what, #cond, e_,    \
                    strerror(e_));                                             \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

#endif
