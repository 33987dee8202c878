/*
 * safety.h - the eight control-flow macros of STYLE.md rule 16.
 *
 * Each macro returns an error result from the enclosing function (which must return
 * shd_result) and records the error with file:line in the thread's error state. None relies on a
 * caller's local variable; every one is a single statement.
 */
#pragma once

#include <errno.h>

#include "shd/errors.h"
#include "shd/result.h"

/* Propagates a failed result unchanged (the callee already recorded it). */
#define SHD_GUARD(call)                                                                         \
    do {                                                                                        \
        shd_result shd_guard_r_ = (call);                                                       \
        if (shd_guard_r_.err != 0) {                                                            \
            return shd_guard_r_;                                                                \
        }                                                                                       \
    } while (0)

/* Propagates a failed result after adding an outer context frame (printf format). */
#define SHD_GUARD_CTX(call, ...)                                                                \
    do {                                                                                        \
        shd_result shd_guard_r_ = (call);                                                       \
        if (shd_guard_r_.err != 0) {                                                            \
            shd_error_wrap(__VA_ARGS__);                                                        \
            return shd_guard_r_;                                                                \
        }                                                                                       \
    } while (0)

/* Returns error code err. */
#define SHD_BAIL(err)                                                                           \
    do {                                                                                        \
        return shd_error_set((err), __FILE__, __LINE__);                                        \
    } while (0)

/* Returns error code err with a root cause message (printf format). */
#define SHD_BAIL_MSG(err, ...)                                                                  \
    do {                                                                                        \
        return shd_error_setf((err), __FILE__, __LINE__, __VA_ARGS__);                          \
    } while (0)

/* Returns error code err unless cond holds. */
#define SHD_ENSURE(cond, err)                                                                   \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            return shd_error_set((err), __FILE__, __LINE__);                                    \
        }                                                                                       \
    } while (0)

/* Like SHD_ENSURE with a root cause message. */
#define SHD_ENSURE_MSG(cond, err, ...)                                                          \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            return shd_error_setf((err), __FILE__, __LINE__, __VA_ARGS__);                      \
        }                                                                                       \
    } while (0)

/* Returns SHD_ERR_NULL when a required pointer is NULL. */
#define SHD_ENSURE_REF(p) SHD_ENSURE((p) != NULL, SHD_ERR_NULL)

/* OpenSSL convention: 1 (or > 0 where documented) is success. Records the OpenSSL error queue. */
#define SHD_GUARD_OSSL(call, err)                                                               \
    do {                                                                                        \
        if ((call) != 1) {                                                                      \
            return shd_error_set_ossl((err), __FILE__, __LINE__);                               \
        }                                                                                       \
    } while (0)

/* POSIX convention: -1 and errno. Records errno as the foreign code and root cause. */
#define SHD_GUARD_POSIX(call)                                                                   \
    do {                                                                                        \
        if ((call) == -1) {                                                                     \
            return shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);                  \
        }                                                                                       \
    } while (0)

/* libcurl convention: CURLE_OK (0) is success. */
#define SHD_GUARD_CURL(call, err)                                                               \
    do {                                                                                        \
        int shd_guard_cc_ = (int)(call);                                                        \
        if (shd_guard_cc_ != 0) {                                                               \
            return shd_error_set_curl((err), shd_guard_cc_, __FILE__, __LINE__);                \
        }                                                                                       \
    } while (0)

/* tpm2-tss convention: TSS2_RC_SUCCESS (0) is success. */
#define SHD_GUARD_TSS(call, err)                                                                \
    do {                                                                                        \
        unsigned long shd_guard_rc_ = (unsigned long)(call);                                    \
        if (shd_guard_rc_ != 0) {                                                               \
            return shd_error_set_tss((err), shd_guard_rc_, __FILE__, __LINE__);                 \
        }                                                                                       \
    } while (0)

/* Adapters used by the macros above: each records the foreign code and a root cause text. */
shd_result shd_error_set_ossl(int code, const char *file, int line);
shd_result shd_error_set_errno(int code, int errnum, const char *file, int line);
shd_result shd_error_set_curl(int code, int curl_code, const char *file, int line);
shd_result shd_error_set_tss(int code, unsigned long rc, const char *file, int line);
