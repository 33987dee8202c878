/*
 * fuzz_common.h - small helpers shared by the fuzz targets (header only; the fuzz CMake builds
 * each tests/fuzz/<component>/<parser>_fuzz.c on its own).
 *
 * Targets assert properties with FUZZ_ASSERT, which aborts: libFuzzer then records the input
 * as a crash, and the replay runner (replay_main.c) dies with SIGABRT, failing the unit test.
 * The message goes to stderr only on that path; a passing input prints nothing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "shd/errors.h"
#include "shd/result.h"

/* Largest input a target looks at: bounds the work per input (STYLE.md rule 40). */
#define FUZZ_MAX_INPUT ((size_t)64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline _Noreturn void fuzz_fail(const char *what, const char *file, int line)
{
    (void)fprintf(stderr, "%s:%d: fuzz property violated: %s\n", file, line, what);
    abort();
}

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fuzz_fail(#cond, __FILE__, __LINE__);                                                  \
        }                                                                                          \
    } while (0)

/* True when r failed with one of the n codes in codes[] (a documented failure). */
static inline bool fuzz_err_in(shd_result r, const int *codes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r.err == codes[i]) {
            return true;
        }
    }
    return false;
}

/* Asserts that r is SHD_OK or one of the listed error codes. */
#define FUZZ_OK_OR(r, ...)                                                                         \
    do {                                                                                           \
        static const int fuzz_codes_[] = {__VA_ARGS__};                                            \
        shd_result fuzz_r_ = (r);                                                                  \
        FUZZ_ASSERT(shd_is_ok(fuzz_r_) ||                                                          \
                    fuzz_err_in(fuzz_r_, fuzz_codes_, sizeof(fuzz_codes_) / sizeof(int)));         \
    } while (0)

/*
 * Renders the thread's error chain (exercising the cause-chain code on every failure path),
 * checks that it is terminated, and forgets it so that the next input starts clean.
 */
static inline void fuzz_error_reset(void)
{
    char buf[256];
    size_t need = shd_error_render(buf, sizeof(buf));
    FUZZ_ASSERT(need < sizeof(buf) ? buf[need] == '\0' : buf[sizeof(buf) - 1] == '\0');
    shd_error_clear();
}
