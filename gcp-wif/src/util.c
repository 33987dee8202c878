/*
 * util.c - checked number parsing, bounded file reading, atomic writes, RFC 3339.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define PATH_MAX_LEN 4096

shd_result wif_parse_uint(const char *s, unsigned base, uint64_t max, uint64_t *ret)
{
    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(base == 8 || base == 10, SHD_ERR_USAGE);
    SHD_ENSURE_MSG(*s != '\0', SHD_ERR_INPUT, "empty number");
    uint64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        SHD_ENSURE_MSG(*p >= '0' && *p < (char)('0' + base), SHD_ERR_INPUT,
                       "invalid digit in number");
        uint64_t d = (uint64_t)(*p - '0');
        SHD_ENSURE_MSG(v <= (max - d) / base, SHD_ERR_INPUT, "number out of range");
        v = v * base + d;
    }
    *ret = v;
    return SHD_OK;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

struct read_buf {
    uint8_t *p;
    size_t cap;
};

static void read_buf_wipe(struct read_buf *b)
{
    shd_free_wipe(b->p, b->cap);
    b->p = NULL;
}

shd_result wif_file_read(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE(max < SIZE_MAX - 2, SHD_ERR_USAGE);
    SHD_CLEANUP(close_fd) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        shd_result r = shd_error_set_errno(e == ENOENT ? SHD_ERR_NOT_FOUND : SHD_ERR_IO, e,
                                           __FILE__, __LINE__);
        shd_error_wrap("open %s", path);
        return r;
    }
    struct stat st;
    SHD_GUARD_POSIX(fstat(fd, &st));
    SHD_ENSURE_MSG(S_ISREG(st.st_mode), SHD_ERR_IO, "%s is not a regular file", path);
    SHD_ENSURE_MSG((uint64_t)st.st_size <= max, SHD_ERR_TOO_LARGE, "%s is larger than %zu bytes",
                   path, max);
    /* Room for one byte more than the file so that growth is noticed, and the NUL. */
    SHD_CLEANUP(read_buf_wipe) struct read_buf b = {.cap = (size_t)st.st_size + 2};
    b.p = shd_alloc(b.cap);
    SHD_ENSURE(b.p != NULL, SHD_ERR_NOMEM);
    size_t len = 0;
    for (;;) {
        if (len + 1 >= b.cap) {
            SHD_ENSURE_MSG(b.cap < max + 2, SHD_ERR_TOO_LARGE, "%s is larger than %zu bytes", path,
                           max);
            size_t ncap = b.cap > (max + 2) / 2 ? max + 2 : b.cap * 2;
            uint8_t *n = shd_realloc_wipe(b.p, b.cap, ncap);
            SHD_ENSURE(n != NULL, SHD_ERR_NOMEM);
            b.p = n;
            b.cap = ncap;
        }
        ssize_t got = read(fd, b.p + len, b.cap - 1 - len);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        SHD_GUARD_POSIX(got);
        if (got == 0) {
            break;
        }
        len += (size_t)got;
    }
    SHD_ENSURE_MSG(len <= max, SHD_ERR_TOO_LARGE, "%s is larger than %zu bytes", path, max);
    b.p[len] = '\0';
    *ret_len = len;
    *ret = SHD_TAKE_PTR(b.p);
    return SHD_OK;
}

static shd_result write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        SHD_GUARD_POSIX(w);
        p += (size_t)w;
        len -= (size_t)w;
    }
    return SHD_OK;
}

shd_result wif_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE(data != NULL || len == 0, SHD_ERR_NULL);
    SHD_ENSURE_MSG((mode & ~(mode_t)0777) == 0, SHD_ERR_USAGE, "bad file mode");
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash != NULL ? (size_t)(slash - path) + 1 : 0;
    const char *name = path + dir_len;
    SHD_ENSURE_MSG(*name != '\0', SHD_ERR_USAGE, "%s names a directory", path);
    char tmp[PATH_MAX_LEN];
    int n = snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp.%ld", (int)dir_len, path, name, (long)getpid());
    SHD_ENSURE_MSG(n > 0 && (size_t)n < sizeof(tmp), SHD_ERR_TOO_LARGE, "path too long");
    (void)unlink(tmp); /* a leftover of a crashed run with our pid */
    SHD_CLEANUP(close_fd)
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        shd_result r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
        shd_error_wrap("create %s", tmp);
        return r;
    }
    shd_result r = SHD_OK;
    if (fchmod(fd, mode) != 0) {
        r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    }
    if (shd_is_ok(r)) {
        r = write_all(fd, data, len);
    }
    if (shd_is_ok(r) && fsync(fd) != 0) {
        r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    }
    if (shd_is_ok(r)) {
        int c = close(fd);
        fd = -1;
        if (c != 0) {
            r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
        }
    }
    if (shd_is_ok(r) && rename(tmp, path) != 0) {
        r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    }
    if (shd_is_err(r)) {
        (void)unlink(tmp);
        shd_error_wrap("write %s", path);
    }
    return r;
}

/* n decimal digits at s into *ret. */
static bool digits(const char *s, size_t n, int64_t *ret)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2 ? 1 : 0;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

shd_result wif_rfc3339_parse(const char *s, int64_t *ret)
{
    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret);
    /* YYYY-MM-DDTHH:MM:SS */
    size_t len = strlen(s);
    SHD_ENSURE_MSG(len >= 20 && len <= 40, SHD_ERR_INPUT, "malformed RFC 3339 time");
    int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    bool ok = digits(s, 4, &y) && s[4] == '-' && digits(s + 5, 2, &mo) && s[7] == '-' &&
              digits(s + 8, 2, &d) && (s[10] == 'T' || s[10] == 't') && digits(s + 11, 2, &h) &&
              s[13] == ':' && digits(s + 14, 2, &mi) && s[16] == ':' && digits(s + 17, 2, &sec);
    SHD_ENSURE_MSG(ok, SHD_ERR_INPUT, "malformed RFC 3339 time");
    static const int8_t mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    SHD_ENSURE_MSG(mo >= 1 && mo <= 12 && d >= 1 && d <= mdays[mo - 1] && h <= 23 && mi <= 59 &&
                       sec <= 60,
                   SHD_ERR_INPUT, "RFC 3339 time out of range");
    size_t i = 19;
    if (s[i] == '.') {
        i++;
        size_t start = i;
        while (s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        SHD_ENSURE_MSG(i > start, SHD_ERR_INPUT, "malformed RFC 3339 time");
    }
    SHD_ENSURE_MSG((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0', SHD_ERR_INPUT,
                   "RFC 3339 time must be UTC (Z)");
    *ret = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return SHD_OK;
}
