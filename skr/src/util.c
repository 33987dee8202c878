/*
 * util.c - checked number parsing and bounded file reading.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

static int digit_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

shd_result skr_parse_uint(const char *s, unsigned base, uint64_t max, uint64_t *ret)
{
    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(base == 8 || base == 10 || base == 16, SHD_ERR_USAGE);
    SHD_ENSURE_MSG(*s != '\0', SHD_ERR_INPUT, "empty number");
    uint64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        int d = digit_value(*p);
        SHD_ENSURE_MSG(d >= 0 && (unsigned)d < base, SHD_ERR_INPUT, "invalid digit in number");
        SHD_ENSURE_MSG(v <= (max - (uint64_t)d) / base, SHD_ERR_INPUT, "number out of range");
        v = v * base + (uint64_t)d;
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

/* A read buffer that is wiped when it goes out of scope still owned. */
struct file_buf {
    char *p;
    size_t cap;
};

static void file_buf_wipe(struct file_buf *fb)
{
    shd_free_wipe(fb->p, fb->cap);
    fb->p = NULL;
}

shd_result skr_file_read(const char *path, size_t max, char **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(ret);
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
    /* One spare byte beyond the data so that the read reaching EOF fits, one for the NUL. The
     * file may hold a credential (the federated token): every copy is wiped, on every path. */
    SHD_CLEANUP(file_buf_wipe) struct file_buf fb = {.cap = (size_t)st.st_size + 2};
    fb.p = shd_alloc(fb.cap);
    SHD_ENSURE(fb.p != NULL, SHD_ERR_NOMEM);
    size_t len = 0;
    for (;;) {
        if (len + 1 >= fb.cap) {
            /* The file grew since fstat: read on, up to max + 1 bytes to detect the excess. */
            SHD_ENSURE_MSG(fb.cap < max + 2, SHD_ERR_TOO_LARGE, "%s is larger than %zu bytes",
                           path, max);
            size_t ncap = fb.cap > (max + 2) / 2 ? max + 2 : fb.cap * 2;
            char *n = shd_realloc_wipe(fb.p, fb.cap, ncap);
            SHD_ENSURE(n != NULL, SHD_ERR_NOMEM);
            fb.p = n;
            fb.cap = ncap;
        }
        ssize_t got = read(fd, fb.p + len, fb.cap - 1 - len);
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
    fb.p[len] = '\0';
    if (ret_len != NULL) {
        *ret_len = len;
    }
    *ret = SHD_TAKE_PTR(fb.p);
    return SHD_OK;
}

shd_result skr_b64_go_std_decode(const char *in, size_t n, uint8_t **ret, size_t *ret_len)
{
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP_FREE char *packed = shd_alloc(n + 1);
    SHD_ENSURE(packed != NULL, SHD_ERR_NOMEM);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '\r' && in[i] != '\n') {
            packed[m++] = in[i];
        }
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    shd_result r = shd_b64_decode(packed, m, SHD_B64_STD_PAD, &out, &out_len);
    if (shd_is_err(r)) {
        if (r.err != SHD_ERR_ENCODING || m == n) {
            return r;
        }
        /* Map the offset in the packed text back to the input, as Go counts skipped bytes. */
        char msg[SHD_ERROR_FRAME_LEN];
        (void)shd_error_render(msg, sizeof(msg));
        static const char prefix[] = "illegal base64 data at input byte ";
        if (strncmp(msg, prefix, sizeof(prefix) - 1) != 0) {
            return r;
        }
        uint64_t off = 0;
        if (shd_is_err(skr_parse_uint(msg + sizeof(prefix) - 1, 10, SIZE_MAX, &off))) {
            return r;
        }
        size_t seen = 0;
        size_t orig = n;
        for (size_t i = 0; i < n; i++) {
            if (in[i] == '\r' || in[i] == '\n') {
                continue;
            }
            if (seen == off) {
                orig = i;
                break;
            }
            seen++;
        }
        SHD_BAIL_MSG(SHD_ERR_ENCODING, "illegal base64 data at input byte %zu", orig);
    }
    if (ret_len != NULL) {
        *ret_len = out_len;
    }
    *ret = out;
    return SHD_OK;
}
