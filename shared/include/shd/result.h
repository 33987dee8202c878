/*
 * result.h - the one result type of the project (STYLE.md rule 14).
 *
 * A fallible function returns shd_result: SHD_OK, or an error whose code (errors.h) is carried in
 * .err and whose details (location, foreign code, cause chain) live in the calling thread's error
 * state. Data comes back through ret_* parameters, written only on success.
 */
#pragma once

#include <stdbool.h>

typedef struct {
    int err;
} shd_result;

/* Declares a function returning shd_result whose result must be checked. */
#define SHD_RESULT shd_result __attribute__((warn_unused_result))

#define SHD_OK ((shd_result){.err = 0})

static inline bool shd_is_ok(shd_result r)
{
    return r.err == 0;
}

static inline bool shd_is_err(shd_result r)
{
    return r.err != 0;
}
