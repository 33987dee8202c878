/*
 * log.c - logfmt lines, the per-module level table and the sink: the one global of the project
 * (STYLE.md rule 31), guarded by an rwlock. Formatting happens on the caller's stack; each line is
 * handed to the kernel with one write(2) (lines are at most SHD_LOG_LINE_MAX = PIPE_BUF bytes, so
 * writes to a pipe or an O_APPEND file do not interleave).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

struct shd_log_module_level {
    char name[SHD_LOG_MODULE_MAX];
    enum shd_log_level level;
};

struct shd_log_levels {
    enum shd_log_level all;
    size_t n;
    struct shd_log_module_level mods[SHD_LOG_SPEC_MAX_MODULES];
};

struct shd_log_config {
    struct shd_log_levels levels;
    int fd;
    bool fd_owned;
    int (*now)(clockid_t id, struct timespec *ret);
};

/* The allowed global (STYLE.md rule 31): read under the read lock, replaced under the write
 * lock. */
static struct shd_log_config shd_log_cfg = {
    .levels = {.all = SHD_LOG_DEFAULT_LEVEL, .n = 0},
    .fd = STDERR_FILENO,
    .fd_owned = false,
    .now = clock_gettime,
};
static pthread_rwlock_t shd_log_lock = PTHREAD_RWLOCK_INITIALIZER;
/* Rate-limit buckets live in callers' statics; this lock serialises their updates. */
static pthread_mutex_t shd_log_rl_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const shd_log_level_names[] = {
    [SHD_LOG_LEVEL_NONE] = "none",   [SHD_LOG_LEVEL_FATAL] = "fatal",
    [SHD_LOG_LEVEL_ERROR] = "error", [SHD_LOG_LEVEL_WARNING] = "warning",
    [SHD_LOG_LEVEL_INFO] = "info",   [SHD_LOG_LEVEL_DEBUG] = "debug",
    [SHD_LOG_LEVEL_TRACE] = "trace",
};

static void shd_log_rdlock(void)
{
    if (pthread_rwlock_rdlock(&shd_log_lock) != 0) {
        shd_misuse("log lock");
    }
}

static void shd_log_wrlock(void)
{
    if (pthread_rwlock_wrlock(&shd_log_lock) != 0) {
        shd_misuse("log lock");
    }
}

static void shd_log_unlock(void)
{
    (void)pthread_rwlock_unlock(&shd_log_lock);
}

/* ---- levels and the spec parser ---- */

static char shd_log_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive equality of a NUL-terminated string and n bytes. */
static bool shd_log_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] == '\0' || shd_log_lower(a[i]) != shd_log_lower(b[i])) {
            return false;
        }
    }
    return a[n] == '\0';
}

static bool shd_log_level_lookup(const char *s, size_t n, enum shd_log_level *ret)
{
    for (size_t i = 0; i < sizeof(shd_log_level_names) / sizeof(shd_log_level_names[0]); i++) {
        if (shd_log_ieq(shd_log_level_names[i], s, n)) {
            *ret = (enum shd_log_level)i;
            return true;
        }
    }
    /* Aliases that logrus accepts, so -loglevel values of the Go sidecar keep working. */
    if (shd_log_ieq("warn", s, n)) {
        *ret = SHD_LOG_LEVEL_WARNING;
        return true;
    }
    if (shd_log_ieq("panic", s, n)) {
        *ret = SHD_LOG_LEVEL_FATAL;
        return true;
    }
    return false;
}

shd_result shd_log_level_parse(const char *name, enum shd_log_level *ret_level)
{
    enum shd_log_level level;

    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(ret_level);
    size_t n = strnlen(name, 16);
    SHD_ENSURE_MSG(n < 16 && shd_log_level_lookup(name, n, &level), SHD_ERR_CONFIG,
                   "unknown log level (expected none, fatal, error, warning, info, debug, trace)");
    *ret_level = level;
    return SHD_OK;
}

const char *shd_log_level_name(enum shd_log_level level)
{
    if ((unsigned)level > (unsigned)SHD_LOG_LEVEL_TRACE) {
        return "unknown";
    }
    return shd_log_level_names[level];
}

static bool shd_log_module_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Applies one "<module>+<level>" item of n bytes (item number idx, for messages) to lv. */
static shd_result shd_log_spec_item(const char *item, size_t n, size_t idx,
                                    struct shd_log_levels *lv)
{
    size_t plus = 0;
    enum shd_log_level level;
    char name[SHD_LOG_MODULE_MAX];

    while (plus < n && item[plus] != '+') {
        plus++;
    }
    SHD_ENSURE_MSG(n > 0, SHD_ERR_CONFIG, "log spec item %zu is empty", idx);
    SHD_ENSURE_MSG(plus < n, SHD_ERR_CONFIG,
                   "log spec item %zu: expected <module>+<level>, e.g. all+info", idx);
    SHD_ENSURE_MSG(plus > 0 && plus < SHD_LOG_MODULE_MAX, SHD_ERR_CONFIG,
                   "log spec item %zu: module name must be 1 to %d characters", idx,
                   SHD_LOG_MODULE_MAX - 1);
    for (size_t i = 0; i < plus; i++) {
        name[i] = shd_log_lower(item[i]);
        SHD_ENSURE_MSG(shd_log_module_char_ok(name[i]), SHD_ERR_CONFIG,
                       "log spec item %zu: module name may hold only a-z, 0-9, '_' and '-'", idx);
    }
    name[plus] = '\0';
    SHD_ENSURE_MSG(shd_log_level_lookup(item + plus + 1, n - plus - 1, &level), SHD_ERR_CONFIG,
                   "log spec item %zu (module %s): unknown level (expected none, fatal, error, "
                   "warning, info, debug or trace)",
                   idx, name);
    if (shd_log_ieq("all", name, plus)) {
        /* "all" overrides everything named before it (items apply left to right). */
        lv->all = level;
        lv->n = 0;
        return SHD_OK;
    }
    for (size_t i = 0; i < lv->n; i++) {
        if (strcmp(lv->mods[i].name, name) == 0) {
            lv->mods[i].level = level;
            return SHD_OK;
        }
    }
    SHD_ENSURE_MSG(lv->n < SHD_LOG_SPEC_MAX_MODULES, SHD_ERR_CONFIG,
                   "log spec names more than %d modules", SHD_LOG_SPEC_MAX_MODULES);
    shd_memcpy(lv->mods[lv->n].name, name, plus + 1);
    lv->mods[lv->n].level = level;
    lv->n++;
    return SHD_OK;
}

static bool shd_log_is_space(char c)
{
    return c == ' ' || c == '\t';
}

shd_result shd_log_levels_set(const char *spec)
{
    struct shd_log_levels lv = {.all = SHD_LOG_DEFAULT_LEVEL, .n = 0};
    size_t len;
    size_t start = 0;
    size_t idx = 1;

    SHD_ENSURE_REF(spec);
    len = strnlen(spec, 4096);
    SHD_ENSURE_MSG(len < 4096, SHD_ERR_CONFIG, "log spec longer than 4095 bytes");
    while (len > 0) {
        size_t end = start;
        while (end < len && spec[end] != ',') {
            end++;
        }
        size_t a = start;
        size_t b = end;
        while (a < b && shd_log_is_space(spec[a])) {
            a++;
        }
        while (b > a && shd_log_is_space(spec[b - 1])) {
            b--;
        }
        SHD_GUARD(shd_log_spec_item(spec + a, b - a, idx, &lv));
        if (end >= len) {
            break;
        }
        start = end + 1;
        idx++;
    }
    shd_log_wrlock();
    shd_log_cfg.levels = lv;
    shd_log_unlock();
    return SHD_OK;
}

void shd_log_level_set_all(enum shd_log_level level)
{
    if ((unsigned)level > (unsigned)SHD_LOG_LEVEL_TRACE) {
        shd_misuse("shd_log_level_set_all: level out of range");
    }
    shd_log_wrlock();
    shd_log_cfg.levels.all = level;
    shd_log_cfg.levels.n = 0;
    shd_log_unlock();
}

/* Caller holds the lock. */
static enum shd_log_level shd_log_level_locked(const char *module)
{
    const struct shd_log_levels *lv = &shd_log_cfg.levels;

    if (module != NULL) {
        for (size_t i = 0; i < lv->n; i++) {
            if (strncmp(lv->mods[i].name, module, SHD_LOG_MODULE_MAX) == 0) {
                return lv->mods[i].level;
            }
        }
    }
    return lv->all;
}

enum shd_log_level shd_log_level_get(const char *module)
{
    shd_log_rdlock();
    enum shd_log_level level = shd_log_level_locked(module);
    shd_log_unlock();
    return level;
}

bool shd_log_enabled(enum shd_log_level level, const char *module)
{
    if (level == SHD_LOG_LEVEL_NONE || (unsigned)level > (unsigned)SHD_LOG_LEVEL_TRACE) {
        return false;
    }
    return level <= shd_log_level_get(module);
}

/* ---- sinks ---- */

/* Swaps in a new fd; closes the old one when the log module owned it. */
static void shd_log_sink_swap(int fd, bool owned)
{
    shd_log_wrlock();
    int old = shd_log_cfg.fd;
    bool old_owned = shd_log_cfg.fd_owned;
    shd_log_cfg.fd = fd;
    shd_log_cfg.fd_owned = owned;
    shd_log_unlock();
    if (old_owned && old != fd) {
        (void)close(old);
    }
}

static shd_result shd_log_file_check(int fd, const char *path)
{
    struct stat st;

    SHD_GUARD_POSIX(fstat(fd, &st));
    SHD_ENSURE_MSG(S_ISREG(st.st_mode), SHD_ERR_PERMISSION, "log file %s is not a regular file",
                   path);
    /* Anyone who can write the file can forge lines. */
    SHD_ENSURE_MSG((st.st_mode & (S_IWGRP | S_IWOTH)) == 0, SHD_ERR_PERMISSION,
                   "log file %s is writable by group or others (mode %04o); chmod 600 it", path,
                   (unsigned)(st.st_mode & 07777));
    if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0 && st.st_uid == geteuid()) {
        SHD_GUARD_POSIX(fchmod(fd, S_IRUSR | S_IWUSR));
    }
    return SHD_OK;
}

shd_result shd_log_sink_file(const char *path)
{
    SHD_ENSURE_REF(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                  S_IRUSR | S_IWUSR);
    if (fd < 0) {
        shd_result r = shd_error_set_errno(errno == EACCES ? SHD_ERR_PERMISSION : SHD_ERR_IO, errno,
                                           __FILE__, __LINE__);
        shd_error_wrap("opening log file %s", path);
        return r;
    }
    shd_result r = shd_log_file_check(fd, path);
    if (shd_is_err(r)) {
        (void)close(fd);
        return r;
    }
    shd_log_sink_swap(fd, true);
    return SHD_OK;
}

void shd_log_sink_stderr(void)
{
    shd_log_sink_swap(STDERR_FILENO, false);
}

void shd_log_sink_fd(int fd)
{
    if (fd < 0) {
        shd_misuse("shd_log_sink_fd: negative fd");
    }
    shd_log_sink_swap(fd, false);
}

void shd_log_clock_set(int (*now)(clockid_t id, struct timespec *ret))
{
    shd_log_wrlock();
    shd_log_cfg.now = now != NULL ? now : clock_gettime;
    shd_log_unlock();
}

void shd_log_reset(void)
{
    shd_log_sink_stderr();
    shd_log_wrlock();
    shd_log_cfg.levels.all = SHD_LOG_DEFAULT_LEVEL;
    shd_log_cfg.levels.n = 0;
    shd_log_cfg.now = clock_gettime;
    shd_log_unlock();
}

static struct timespec shd_log_now(clockid_t id)
{
    struct timespec ts = {0, 0};

    shd_log_rdlock();
    int (*now)(clockid_t, struct timespec *) = shd_log_cfg.now;
    shd_log_unlock();
    if (now(id, &ts) != 0) {
        ts.tv_sec = 0;
        ts.tv_nsec = 0;
    }
    return ts;
}

/* ---- line building ---- */

/* Room kept at the end of every line for a closing quote, " truncated=true" and "\n". */
#define SHD_LOG_RESERVE 24

struct shd_log_line {
    char b[SHD_LOG_LINE_MAX];
    size_t len;
    bool cut;
};

/* Appends n bytes as a unit if they fit before the reserve; otherwise marks the line cut. */
static bool shd_log_put(struct shd_log_line *l, const char *s, size_t n)
{
    if (l->cut || n > SHD_LOG_LINE_MAX - SHD_LOG_RESERVE - l->len) {
        l->cut = true;
        return false;
    }
    shd_memcpy(l->b + l->len, s, n);
    l->len += n;
    return true;
}

/* Appends into the reserve; only for the closing bytes of a line. */
static void shd_log_force(struct shd_log_line *l, const char *s, size_t n)
{
    if (n > SHD_LOG_LINE_MAX - l->len) {
        shd_misuse("log line reserve exceeded");
    }
    shd_memcpy(l->b + l->len, s, n);
    l->len += n;
}

static bool shd_log_bare_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '/' || c == '@' || c == '+' || c == '-';
}

/* Escape of one byte into e (at most 4 bytes + NUL); returns its length. */
static size_t shd_log_escape_byte(unsigned char c, char e[5])
{
    static const char hex[] = "0123456789abcdef";

    switch (c) {
    case '"':
    case '\\':
        e[0] = '\\';
        e[1] = (char)c;
        return 2;
    case '\n':
        e[0] = '\\';
        e[1] = 'n';
        return 2;
    case '\r':
        e[0] = '\\';
        e[1] = 'r';
        return 2;
    case '\t':
        e[0] = '\\';
        e[1] = 't';
        return 2;
    default:
        break;
    }
    if (c >= 0x20 && c < 0x7f) {
        e[0] = (char)c;
        return 1;
    }
    e[0] = '\\';
    e[1] = 'x';
    e[2] = hex[c >> 4];
    e[3] = hex[c & 0xf];
    return 4;
}

/* Writes a value: bare when every byte is safe and n > 0, otherwise quoted and escaped. */
static void shd_log_put_value(struct shd_log_line *l, const char *s, size_t n, bool force_quote)
{
    bool bare = !force_quote && n > 0;

    for (size_t i = 0; bare && i < n; i++) {
        bare = shd_log_bare_ok((unsigned char)s[i]);
    }
    if (bare) {
        for (size_t i = 0; i < n && shd_log_put(l, s + i, 1); i++) {
        }
        return;
    }
    if (!shd_log_put(l, "\"", 1)) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char e[5];
        if (!shd_log_put(l, e, shd_log_escape_byte((unsigned char)s[i], e))) {
            break;
        }
    }
    /* The opening quote was written, so the closing one always is (from the reserve). */
    shd_log_force(l, "\"", 1);
}

/* Writes " key=" with the key reduced to [a-z0-9_]. */
static bool shd_log_put_key(struct shd_log_line *l, const char *key)
{
    char k[SHD_LOG_MODULE_MAX + 2];
    size_t n = 0;

    k[n++] = ' ';
    for (size_t i = 0; key != NULL && key[i] != '\0' && n < SHD_LOG_MODULE_MAX; i++) {
        char c = shd_log_lower(key[i]);
        k[n++] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c : '_';
    }
    if (n == 1) {
        k[n++] = '_';
    }
    k[n++] = '=';
    return shd_log_put(l, k, n);
}

static void shd_log_put_str_field(struct shd_log_line *l, const char *key, const char *v)
{
    if (shd_log_put_key(l, key)) {
        const char *s = v != NULL ? v : "<null>";
        shd_log_put_value(l, s, strnlen(s, SHD_LOG_LINE_MAX), false);
    }
}

static void shd_log_put_field(struct shd_log_line *l, const struct shd_log_field *f)
{
    char num[32];
    int w;

    switch (f->kind) {
    case SHD_LOG_FIELD_STR:
        shd_log_put_str_field(l, f->key, f->str);
        return;
    case SHD_LOG_FIELD_INT:
        w = snprintf(num, sizeof(num), "%lld", f->i);
        break;
    case SHD_LOG_FIELD_UINT:
        w = snprintf(num, sizeof(num), "%llu", f->u);
        break;
    case SHD_LOG_FIELD_BOOL:
        w = snprintf(num, sizeof(num), "%s", f->u != 0 ? "true" : "false");
        break;
    default:
        w = snprintf(num, sizeof(num), "%s", "<bad-field>");
        break;
    }
    if (w > 0 && shd_log_put_key(l, f->key)) {
        shd_log_put_value(l, num, (size_t)w, false);
    }
}

/* "ts=... level=... module=... func=... src=file.c:123" */
static void shd_log_put_head(struct shd_log_line *l, enum shd_log_level level, const char *module,
                             const char *func, const char *file, int line)
{
    struct timespec ts = shd_log_now(CLOCK_REALTIME);
    struct tm tm;
    char buf[96];
    int w;

    if (gmtime_r(&ts.tv_sec, &tm) == NULL) {
        shd_memzero(&tm, sizeof(tm));
    }
    w = snprintf(buf, sizeof(buf), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000L, shd_log_level_name(level));
    if (w > 0) {
        (void)shd_log_put(l, buf, (size_t)w < sizeof(buf) ? (size_t)w : sizeof(buf) - 1);
    }
    shd_log_put_str_field(l, "module", module != NULL ? module : "-");
    shd_log_put_str_field(l, "func", func != NULL ? func : "-");
    /* The base name is enough to find the line and keeps build paths out of the logs. */
    const char *base = file != NULL ? file : "-";
    const char *slash = strrchr(base, '/');
    if (slash != NULL) {
        base = slash + 1;
    }
    w = snprintf(buf, sizeof(buf), "%.64s:%d", base, line);
    if (w > 0 && shd_log_put_key(l, "src")) {
        shd_log_put_value(l, buf, (size_t)w < sizeof(buf) ? (size_t)w : sizeof(buf) - 1, false);
    }
}

static void shd_log_emit(struct shd_log_line *l)
{
    const char *p = l->b;
    size_t left;

    if (l->cut) {
        shd_log_force(l, " truncated=true", 15);
    }
    shd_log_force(l, "\n", 1);
    left = l->len;
    shd_log_rdlock();
    int fd = shd_log_cfg.fd;
    /* Held across the write so a concurrent sink change cannot close fd under us. */
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break; /* nowhere to report a failing log sink */
        }
        p += w;
        left -= (size_t)w;
    }
    shd_log_unlock();
}

void shd_log_writev(enum shd_log_level level, const char *module, const char *func,
                    const char *file, int line, const struct shd_log_field *fields, size_t nfields,
                    const char *fmt, va_list ap)
{
    struct shd_log_line l;
    char msg[SHD_LOG_LINE_MAX];
    int saved_errno = errno;

    if (!shd_log_enabled(level, module)) {
        return;
    }
    l.len = 0;
    l.cut = false;
    shd_log_put_head(&l, level, module, func, file, line);
    int w = fmt != NULL ? vsnprintf(msg, sizeof(msg), fmt, ap) : 0;
    size_t mlen = w < 0 ? 0 : (size_t)w;
    bool msg_cut = mlen >= sizeof(msg);
    if (msg_cut) {
        mlen = sizeof(msg) - 1;
    }
    if (shd_log_put_key(&l, "msg")) {
        shd_log_put_value(&l, msg, mlen, true);
    }
    l.cut = l.cut || msg_cut;
    for (size_t i = 0; fields != NULL && i < nfields; i++) {
        shd_log_put_field(&l, &fields[i]);
    }
    shd_log_emit(&l);
    errno = saved_errno;
}

void shd_log_write(enum shd_log_level level, const char *module, const char *func, const char *file,
                   int line, const struct shd_log_field *fields, size_t nfields, const char *fmt,
                   ...)
{
    va_list ap;

    va_start(ap, fmt);
    shd_log_writev(level, module, func, file, line, fields, nfields, fmt, ap);
    va_end(ap);
}

/* ---- rate limiting ---- */

/* Bounds that keep the refill arithmetic inside 64 bits. */
#define SHD_LOG_RL_MAX_INTERVAL_MS 3600000u
#define SHD_LOG_RL_MAX_BURST 1000u

bool shd_log_ratelimit_take(struct shd_log_ratelimit *rl, uint64_t *ret_suppressed)
{
    struct timespec ts = shd_log_now(CLOCK_MONOTONIC);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    bool ok = false;

    if (rl == NULL || ret_suppressed == NULL) {
        shd_misuse("shd_log_ratelimit_take: NULL argument");
    }
    if (now == 0) {
        now = 1; /* 0 marks a bucket that was never used */
    }
    if (pthread_mutex_lock(&shd_log_rl_lock) != 0) {
        shd_misuse("log rate-limit lock");
    }
    uint64_t burst = rl->burst == 0 ? 1 : rl->burst;
    uint64_t interval = rl->interval_ms == 0 ? 1 : rl->interval_ms;
    burst = burst > SHD_LOG_RL_MAX_BURST ? SHD_LOG_RL_MAX_BURST : burst;
    interval = interval > SHD_LOG_RL_MAX_INTERVAL_MS ? SHD_LOG_RL_MAX_INTERVAL_MS : interval;
    uint64_t full = burst * 1000u;
    if (rl->last_ns == 0 || now < rl->last_ns) {
        rl->tokens_milli = full;
        rl->last_ns = now;
    } else {
        uint64_t elapsed = now - rl->last_ns;
        uint64_t window = interval * 1000000u;
        /* milli-tokens = elapsed_ns * burst * 1000 / (interval_ms * 1e6) */
        uint64_t refill = elapsed >= window ? full : elapsed * burst / (interval * 1000u);
        /* Keep the clock where it was while the refill rounds to zero, so that a flood of
         * calls closer together than one milli-token still refills the bucket. */
        if (refill > 0) {
            rl->tokens_milli = rl->tokens_milli + refill > full ? full : rl->tokens_milli + refill;
            rl->last_ns = now;
        }
    }
    if (rl->tokens_milli >= 1000u) {
        rl->tokens_milli -= 1000u;
        *ret_suppressed = rl->suppressed;
        rl->suppressed = 0;
        ok = true;
    } else {
        rl->suppressed++;
    }
    (void)pthread_mutex_unlock(&shd_log_rl_lock);
    return ok;
}
