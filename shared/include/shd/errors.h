/*
 * errors.h - error codes, categories and the per-thread error state with its cause chain.
 *
 * Every code belongs to one category (STYLE.md rule 15); callers branch on the category, never on
 * the text. The thread-local error state records where the error arose (file:line), an optional
 * foreign code (OpenSSL, libcurl, errno, TSS2) and a cause chain of short messages that renders
 * outermost first as "outer: inner: root", the form the SKR sidecar's wire errors use.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "shd/result.h"

enum shd_error_type {
    SHD_ERR_T_OK = 0,
    SHD_ERR_T_USAGE,    /* the caller broke an API contract or gave a bad option */
    SHD_ERR_T_IO,       /* files, sockets, devices */
    SHD_ERR_T_RETRY,    /* transient: worth retrying (timeouts, 429, 5xx) */
    SHD_ERR_T_INPUT,    /* malformed or hostile input from a peer */
    SHD_ERR_T_CRYPTO,   /* signature, MAC, certificate or key failures */
    SHD_ERR_T_TPM,      /* TPM and TSS2 failures */
    SHD_ERR_T_INTERNAL, /* out of memory, broken invariants reported as results */
};

#define SHD_ERR_TYPE_SHIFT 16
#define SHD_ERR_CODE(type, n) (((int)(type) << SHD_ERR_TYPE_SHIFT) | (n))

/* X-macro table: name, category, text. One row per code; texts are lower case, no period. */
#define SHD_ERROR_TABLE(X)                                                                      \
    X(SHD_ERR_USAGE, SHD_ERR_T_USAGE, 1, "invalid usage")                                       \
    X(SHD_ERR_NULL, SHD_ERR_T_USAGE, 2, "null pointer argument")                                \
    X(SHD_ERR_CONFIG, SHD_ERR_T_USAGE, 3, "invalid configuration")                              \
    X(SHD_ERR_IO, SHD_ERR_T_IO, 1, "i/o error")                                                 \
    X(SHD_ERR_NOT_FOUND, SHD_ERR_T_IO, 2, "not found")                                          \
    X(SHD_ERR_CONNECT, SHD_ERR_T_IO, 3, "connection failed")                                    \
    X(SHD_ERR_HTTP_STATUS, SHD_ERR_T_IO, 4, "unexpected http status")                           \
    X(SHD_ERR_PERMISSION, SHD_ERR_T_IO, 5, "permission denied")                                 \
    X(SHD_ERR_TIMEOUT, SHD_ERR_T_RETRY, 1, "timed out")                                         \
    X(SHD_ERR_UNAVAILABLE, SHD_ERR_T_RETRY, 2, "service unavailable")                           \
    X(SHD_ERR_RATE_LIMITED, SHD_ERR_T_RETRY, 3, "rate limited")                                 \
    X(SHD_ERR_RETRY_EXHAUSTED, SHD_ERR_T_RETRY, 4, "retries exhausted")                         \
    X(SHD_ERR_INPUT, SHD_ERR_T_INPUT, 1, "malformed input")                                     \
    X(SHD_ERR_TRUNCATED, SHD_ERR_T_INPUT, 2, "truncated input")                                 \
    X(SHD_ERR_TOO_LARGE, SHD_ERR_T_INPUT, 3, "input too large")                                 \
    X(SHD_ERR_ENCODING, SHD_ERR_T_INPUT, 4, "invalid encoding")                                 \
    X(SHD_ERR_JSON, SHD_ERR_T_INPUT, 5, "invalid json")                                         \
    X(SHD_ERR_UNSUPPORTED, SHD_ERR_T_INPUT, 6, "unsupported")                                   \
    X(SHD_ERR_POLICY, SHD_ERR_T_INPUT, 7, "policy not satisfied")                               \
    X(SHD_ERR_CRYPTO, SHD_ERR_T_CRYPTO, 1, "cryptographic operation failed")                    \
    X(SHD_ERR_BAD_SIGNATURE, SHD_ERR_T_CRYPTO, 2, "signature verification failed")              \
    X(SHD_ERR_BAD_CERT, SHD_ERR_T_CRYPTO, 3, "certificate verification failed")                 \
    X(SHD_ERR_BAD_KEY, SHD_ERR_T_CRYPTO, 4, "invalid key")                                      \
    X(SHD_ERR_DECRYPT, SHD_ERR_T_CRYPTO, 5, "decryption failed")                                \
    X(SHD_ERR_TOKEN, SHD_ERR_T_CRYPTO, 6, "token rejected")                                     \
    X(SHD_ERR_TPM, SHD_ERR_T_TPM, 1, "tpm error")                                               \
    X(SHD_ERR_NOMEM, SHD_ERR_T_INTERNAL, 1, "out of memory")                                    \
    X(SHD_ERR_OVERFLOW, SHD_ERR_T_INTERNAL, 2, "size arithmetic overflow")                      \
    X(SHD_ERR_INTERNAL, SHD_ERR_T_INTERNAL, 3, "internal error")

#define SHD_ERROR_ENUM_ROW(name, type, n, text) name = SHD_ERR_CODE(type, n),
enum shd_error_code {
    SHD_ERR_NONE = 0,
    SHD_ERROR_TABLE(SHD_ERROR_ENUM_ROW)
};
#undef SHD_ERROR_ENUM_ROW

/* What kind of foreign code, if any, is attached to the current error. */
enum shd_foreign_kind {
    SHD_FOREIGN_NONE = 0,
    SHD_FOREIGN_ERRNO,
    SHD_FOREIGN_OPENSSL,
    SHD_FOREIGN_CURL,
    SHD_FOREIGN_TSS2,
    SHD_FOREIGN_HTTP,
};

/* Bounds of the cause chain: frames beyond SHD_ERROR_MAX_FRAMES are dropped (the root is kept),
 * each frame is truncated to SHD_ERROR_FRAME_LEN - 1 bytes. */
#define SHD_ERROR_MAX_FRAMES 8
#define SHD_ERROR_FRAME_LEN 512

/* Category of a code; SHD_ERR_T_INTERNAL for unknown codes. */
enum shd_error_type shd_error_type_of(int code);

/* Static text of a code ("unknown error" for unknown codes). Never NULL. */
const char *shd_error_str(int code);

/* Static name of a category ("INPUT", ...). Never NULL. */
const char *shd_error_type_str(enum shd_error_type type);

/*
 * Records a new error in this thread's state: clears the previous chain, stores code and
 * location. Returns the code as a result so it can be returned directly. Used by SHD_BAIL.
 */
shd_result shd_error_set(int code, const char *file, int line);

/* Like shd_error_set, and sets the root cause message (printf format). */
shd_result shd_error_setf(int code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Attaches a foreign code (errno, OpenSSL packed error, CURLcode, TSS2_RC, HTTP status). */
void shd_error_set_foreign(enum shd_foreign_kind kind, unsigned long code);

/*
 * Adds an outer context frame to the current error ("releasing the key k failed"), so the
 * rendering becomes "<fmt>: <previous chain>". Frames past the bound are dropped silently: the
 * root cause, which says the most, is always kept.
 */
void shd_error_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void shd_error_wrapv(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Current error code of this thread (SHD_ERR_NONE if none recorded). */
int shd_error_code(void);

/* "file:line" of where the current error arose, or "" if none. Valid until the next set. */
const char *shd_error_location(void);

/* The foreign code attached to the current error and its kind. */
enum shd_foreign_kind shd_error_foreign(unsigned long *ret_code);

/*
 * Renders the cause chain "outer: inner: root" into buf (always NUL-terminated when n > 0,
 * truncated to fit). The root is the message given to shd_error_setf, or the code's text.
 * Returns the length the full rendering needs, like snprintf.
 */
size_t shd_error_render(char *buf, size_t n);

/* Forgets the current error. */
void shd_error_clear(void);

/*
 * Aborts after logging "file:line: misuse: msg" to stderr. For programmer errors only
 * (STYLE.md rule 19): a broken invariant, an API misused by our own code.
 */
__attribute__((noreturn)) void shd_misuse_at(const char *file, int line, const char *msg);
#define shd_misuse(msg) shd_misuse_at(__FILE__, __LINE__, (msg))
