/*
 * log.h - structured logging (logfmt) with per-module levels, safe quoting and redaction helpers.
 *
 * One line per event, written with one write(2):
 *
 *   ts=2026-11-26T23:59:59.123Z level=info module=maa func=maa_fetch src=maa.c:123 msg="..." k=v
 *
 * - Levels are set per module at run time from a spec such as "all+info,maa+debug" (STYLE.md
 *   rule 35: SKR_LOG, WIF_LOG, PROXY_LOG); a compile-time ceiling SHD_LOG_MAX_LEVEL removes the
 *   calls above it (release builds define it to SHD_LOG_LEVEL_INFO).
 * - Every value that may carry untrusted text is escaped: control characters, '"', '\\' and
 *   every byte >= 0x7f become \n, \t, \r, \", \\ or \xNN, so a peer cannot forge a line or a
 *   field. msg is always quoted; other values are quoted when they contain anything but
 *   [A-Za-z0-9._:/@+-].
 * - Secrets are never logged (STYLE.md rule 36): shd_log_token_fingerprint replaces a token by a
 *   short hash, shd_log_header_redact hides credential headers, SHD_LOG_HEXDUMP refuses a
 *   struct shd_secret at compile time.
 * - The sink (stderr, a file opened O_APPEND|O_CLOEXEC mode 0600, or a caller fd) and the level
 *   table are the one piece of global mutable state the project allows (STYLE.md rule 31); they
 *   are protected by a lock, so logging is thread-safe.
 * - shared/ itself logs at debug or trace only (STYLE.md rule 34); components log each error once
 *   at their boundary with SHD_LOG_RESULT.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shd/result.h"

struct shd_secret;

/* Severity; a larger value is more verbose. A module at level L prints events with level <= L. */
enum shd_log_level {
    SHD_LOG_LEVEL_NONE = 0,  /* only as a configured level: nothing is printed */
    SHD_LOG_LEVEL_FATAL = 1, /* the process is about to exit (main decides; logging never exits) */
    SHD_LOG_LEVEL_ERROR = 2,
    SHD_LOG_LEVEL_WARNING = 3,
    SHD_LOG_LEVEL_INFO = 4,
    SHD_LOG_LEVEL_DEBUG = 5,
    SHD_LOG_LEVEL_TRACE = 6,
};

/* Compile-time ceiling: calls above it compile to nothing (the condition is a constant). */
#ifndef SHD_LOG_MAX_LEVEL
#define SHD_LOG_MAX_LEVEL SHD_LOG_LEVEL_TRACE
#endif

/* Level of a module that the spec does not name and that "all" did not set. */
#define SHD_LOG_DEFAULT_LEVEL SHD_LOG_LEVEL_INFO

/* Bounds: a whole line (longer messages are cut and marked truncated=true, the line stays
 * well-formed); a module name; the number of modules a spec may name. */
#define SHD_LOG_LINE_MAX 4096
#define SHD_LOG_MODULE_MAX 32
#define SHD_LOG_SPEC_MAX_MODULES 32

/* "sha256:" + 8 hex digits + NUL. */
#define SHD_LOG_FINGERPRINT_LEN 16

/* Bytes shown by SHD_LOG_HEXDUMP; the rest is cut (truncated=true). */
#define SHD_LOG_HEXDUMP_MAX 256

/* ---- configuration (call from main, before or while other threads log) ---- */

/*
 * Replaces the level table with a spec: comma-separated items "<module>+<level>", where module is
 * "all" or [a-z0-9_-]{1,31} and level one of none, fatal, error, warning (warn), info, debug,
 * trace. Items apply left to right, so "all+info,maa+debug" sets every module to info and maa to
 * debug. An empty spec resets to SHD_LOG_DEFAULT_LEVEL for all. On error (SHD_ERR_CONFIG with a
 * message naming the item) the previous table stays in force.
 */
SHD_RESULT shd_log_levels_set(const char *spec);

/* Sets the level of every module (like the spec "all+<level>"), for flags such as -loglevel. */
void shd_log_level_set_all(enum shd_log_level level);

/*
 * Parses a level name (case-insensitive; also "warn" = warning and "panic" = fatal, as logrus
 * accepts). SHD_ERR_CONFIG on an unknown name; *ret_level written only on success.
 */
SHD_RESULT shd_log_level_parse(const char *name, enum shd_log_level *ret_level);

/* Lower-case name of a level ("warning"); "unknown" for out-of-range values. Never NULL. */
const char *shd_log_level_name(enum shd_log_level level);

/* Current effective level of a module. */
enum shd_log_level shd_log_level_get(const char *module);

/*
 * Sends lines to a file opened O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC|O_NOFOLLOW with mode 0600.
 * Refuses (SHD_ERR_PERMISSION) an existing file that group or others can write (they could forge
 * lines) or that is not a regular file; tightens group/other read bits of an existing file we own.
 * The previous file sink, if any, is closed. The log module owns the fd.
 */
SHD_RESULT shd_log_sink_file(const char *path);

/* Sends lines to stderr (the default). Closes a file sink opened by shd_log_sink_file. */
void shd_log_sink_stderr(void);

/* Sends lines to fd, which the caller keeps owning and must keep open until the sink changes. */
void shd_log_sink_fd(int fd);

/*
 * Test hook: replaces clock_gettime for time stamps (CLOCK_REALTIME) and rate limiting
 * (CLOCK_MONOTONIC). NULL restores clock_gettime. The function must be async-safe and
 * thread-safe.
 */
void shd_log_clock_set(int (*now)(clockid_t id, struct timespec *ret));

/* Restores the defaults: stderr, all modules at SHD_LOG_DEFAULT_LEVEL, the real clock. */
void shd_log_reset(void);

/* ---- emitting ---- */

/* A structured field: SHD_LOG_STR("kid", kid), SHD_LOG_INT("status", 200), SHD_LOG_BOOL(...).
 * Keys are identifiers chosen by the programmer ([a-z0-9_], other bytes become '_'); string
 * values are escaped. A NULL string value prints as "<null>". */
enum shd_log_field_kind {
    SHD_LOG_FIELD_STR = 0,
    SHD_LOG_FIELD_INT,
    SHD_LOG_FIELD_UINT,
    SHD_LOG_FIELD_BOOL,
};

struct shd_log_field {
    const char *key;
    enum shd_log_field_kind kind;
    const char *str;
    long long i;
    unsigned long long u;
};

#define SHD_LOG_STR(k, v)                                                                          \
    {                                                                                              \
        .key = (k), .kind = SHD_LOG_FIELD_STR, .str = (v)                                          \
    }
#define SHD_LOG_INT(k, v)                                                                          \
    {                                                                                              \
        .key = (k), .kind = SHD_LOG_FIELD_INT, .i = (long long)(v)                                 \
    }
#define SHD_LOG_UINT(k, v)                                                                         \
    {                                                                                              \
        .key = (k), .kind = SHD_LOG_FIELD_UINT, .u = (unsigned long long)(v)                       \
    }
#define SHD_LOG_BOOL(k, v)                                                                         \
    {                                                                                              \
        .key = (k), .kind = SHD_LOG_FIELD_BOOL, .u = (v) ? 1u : 0u                                 \
    }

/* True when an event of this level for this module would be printed (runtime table only). */
bool shd_log_enabled(enum shd_log_level level, const char *module);

/*
 * Formats and writes one line if the module's level allows it. fmt is a printf format for msg
 * (its result is escaped); fields (may be NULL when nfields is 0) follow msg. Never fails
 * visibly: a write error is dropped, a long line is cut. Use the macros below rather than this.
 */
void shd_log_write(enum shd_log_level level, const char *module, const char *func, const char *file,
                   int line, const struct shd_log_field *fields, size_t nfields, const char *fmt,
                   ...) __attribute__((format(printf, 8, 9)));
void shd_log_writev(enum shd_log_level level, const char *module, const char *func,
                    const char *file, int line, const struct shd_log_field *fields, size_t nfields,
                    const char *fmt, va_list ap) __attribute__((format(printf, 8, 0)));

#define SHD_LOG(level, module, ...)                                                                \
    do {                                                                                           \
        if ((level) <= SHD_LOG_MAX_LEVEL && shd_log_enabled((level), (module))) {                  \
            shd_log_write((level), (module), __func__, __FILE__, __LINE__, NULL, 0, __VA_ARGS__);  \
        }                                                                                          \
    } while (0)

#define SHD_LOG_FATAL(module, ...) SHD_LOG(SHD_LOG_LEVEL_FATAL, module, __VA_ARGS__)
#define SHD_LOG_ERROR(module, ...) SHD_LOG(SHD_LOG_LEVEL_ERROR, module, __VA_ARGS__)
#define SHD_LOG_WARNING(module, ...) SHD_LOG(SHD_LOG_LEVEL_WARNING, module, __VA_ARGS__)
#define SHD_LOG_INFO(module, ...) SHD_LOG(SHD_LOG_LEVEL_INFO, module, __VA_ARGS__)
#define SHD_LOG_DEBUG(module, ...) SHD_LOG(SHD_LOG_LEVEL_DEBUG, module, __VA_ARGS__)
#define SHD_LOG_TRACE(module, ...) SHD_LOG(SHD_LOG_LEVEL_TRACE, module, __VA_ARGS__)

/*
 * With structured fields after a fixed message (not a format):
 *   SHD_LOG_KV(SHD_LOG_LEVEL_INFO, "akv", "key released", SHD_LOG_STR("kid", kid),
 *              SHD_LOG_INT("status", 200));
 */
#define SHD_LOG_KV(level, module, msg, ...)                                                        \
    do {                                                                                           \
        if ((level) <= SHD_LOG_MAX_LEVEL && shd_log_enabled((level), (module))) {                  \
            const struct shd_log_field shd_log_kv_[] = {__VA_ARGS__};                              \
            shd_log_write((level), (module), __func__, __FILE__, __LINE__, shd_log_kv_,            \
                          sizeof(shd_log_kv_) / sizeof(shd_log_kv_[0]), "%s", (msg));              \
        }                                                                                          \
    } while (0)

/*
 * Log-and-return for a component's boundary (STYLE.md rule 34): writes msg plus the error of the
 * calling thread (err="outer: inner: root" code=<text> category=<INPUT...> errsrc=file:line and
 * the foreign code, e.g. foreign=openssl:0x...), then returns r unchanged so it reads as
 *   return SHD_LOG_RESULT(SHD_LOG_LEVEL_ERROR, "akv", r, "release '%s'", kid);
 * r is returned even when the level is filtered out. Does not clear the error state. Not marked
 * warn_unused_result: the caller already holds r, so logging without returning it is fine.
 */
shd_result shd_log_result_at(enum shd_log_level level, const char *module, const char *func,
                             const char *file, int line, shd_result r, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

#define SHD_LOG_RESULT(level, module, r, ...)                                                      \
    shd_log_result_at((level), (module), __func__, __FILE__, __LINE__, (r), __VA_ARGS__)
#define SHD_LOG_ERR(module, r, ...) SHD_LOG_RESULT(SHD_LOG_LEVEL_ERROR, module, r, __VA_ARGS__)

/* ---- rate limiting of peer-caused messages (OpenSSH log_ratelimit) ---- */

/*
 * A token bucket: up to `burst` events at once, refilled at `burst` per `interval_ms`. When
 * events were dropped, the next admitted line carries suppressed=<count>. One bucket per call
 * site (SHD_LOG_RATELIMITED keeps it in a function-local static, guarded by the log lock).
 */
struct shd_log_ratelimit {
    uint32_t interval_ms;
    uint32_t burst;
    uint64_t tokens_milli; /* tokens * 1000, for sub-token refill precision */
    uint64_t last_ns;      /* CLOCK_MONOTONIC of the last refill; 0 = never used */
    uint64_t suppressed;
};

#define SHD_LOG_RATELIMIT_INIT(interval_ms_, burst_)                                               \
    {                                                                                              \
        .interval_ms = (interval_ms_), .burst = (burst_), .tokens_milli = 0, .last_ns = 0,         \
        .suppressed = 0                                                                            \
    }

/*
 * Takes a token. Returns true when the event may be logged, and then sets *ret_suppressed to the
 * number of events dropped since the last admitted one (and resets that count). Thread-safe.
 */
bool shd_log_ratelimit_take(struct shd_log_ratelimit *rl, uint64_t *ret_suppressed);

#define SHD_LOG_RATELIMITED(level, module, interval_ms, burst, ...)                                \
    do {                                                                                           \
        static struct shd_log_ratelimit shd_log_rl_ = SHD_LOG_RATELIMIT_INIT(interval_ms, burst);  \
        uint64_t shd_log_sup_ = 0;                                                                 \
        if ((level) <= SHD_LOG_MAX_LEVEL && shd_log_enabled((level), (module)) &&                  \
            shd_log_ratelimit_take(&shd_log_rl_, &shd_log_sup_)) {                                 \
            const struct shd_log_field shd_log_rlf_[] = {                                          \
                SHD_LOG_UINT("suppressed", shd_log_sup_)};                                         \
            shd_log_write((level), (module), __func__, __FILE__, __LINE__, shd_log_rlf_,           \
                          shd_log_sup_ > 0 ? 1u : 0u, __VA_ARGS__);                                \
        }                                                                                          \
    } while (0)

/* ---- secrets and credentials (STYLE.md rule 36) ---- */

/*
 * Writes "sha256:" and the first 4 bytes of SHA-256(token) in hex into out: stable, short, and
 * not reversible for high-entropy tokens (it is a dictionary oracle for low-entropy passwords:
 * do not log fingerprints of passwords). On a digest failure writes "sha256:????????".
 */
void shd_log_token_fingerprint(const void *token, size_t len,
                               char out[static SHD_LOG_FINGERPRINT_LEN]);

/*
 * Returns value, or the static string "<redacted>" when the header name (case-insensitive) is
 * Authorization, Proxy-Authorization, Cookie, Set-Cookie, or contains "token", "secret",
 * "password" or "api-key"/"apikey". A NULL value gives "<null>". Never NULL.
 */
const char *shd_log_header_redact(const char *name, const char *value);

/*
 * Hex dump of non-secret bytes at `level` with fields len=<n> hex=<...> (at most
 * SHD_LOG_HEXDUMP_MAX bytes are shown; then hex_cut=true). Returns SHD_OK, also when the level
 * is filtered out; SHD_ERR_NULL for NULL data with len > 0. Passing a struct shd_secret pointer selects the refusing variant at
 * compile time: it writes msg="<secret redacted>" and returns SHD_ERR_USAGE, so a dump of a key
 * cannot be written by accident. (Raw bytes taken out with shd_secret_ptr cannot be recognised:
 * never dump those.)
 */
SHD_RESULT shd_log_hexdump_at(enum shd_log_level level, const char *module, const char *func,
                              const char *file, int line, const char *label, const void *data,
                              size_t len);
SHD_RESULT shd_log_hexdump_secret_at(enum shd_log_level level, const char *module, const char *func,
                                     const char *file, int line, const char *label,
                                     const struct shd_secret *secret, size_t len);

#define SHD_LOG_HEXDUMP_IS_SECRET_(data)                                                           \
    _Generic((data), struct shd_secret * : 1, const struct shd_secret * : 1, default : 0)
#define SHD_LOG_HEXDUMP(level, module, label, data, len)                                           \
    (((level) <= SHD_LOG_MAX_LEVEL || SHD_LOG_HEXDUMP_IS_SECRET_(data))                         \
         ? _Generic((data),                                                                     \
               struct shd_secret *: shd_log_hexdump_secret_at,                                  \
               const struct shd_secret *: shd_log_hexdump_secret_at,                            \
               default: shd_log_hexdump_at)((level), (module), __func__, __FILE__, __LINE__,    \
                                            (label), (data), (len))                             \
         : SHD_OK)
