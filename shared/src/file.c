/*
 * file.c - bounded whole-file reads and atomic file replacement (shd/file.h).
 */
#include "shd/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

static void file_fd_close(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

/* A read buffer that is wiped and freed when it leaves scope still owned. */
struct file_buf {
    uint8_t *p;
    size_t cap;
};

static void file_buf_wipe(struct file_buf *b)
{
    shd_free_wipe(b->p, b->cap);
    b->p = NULL;
}

/* Errno of a failed call as code, wrapped in "<what> <path>". */
static shd_result file_errno(int code, int e, const char *what, const char *path)
{
    shd_result r = shd_error_set_errno(code, e, __FILE__, __LINE__);
    shd_error_wrap("%s %s", what, path);
    return r;
}

/* Reads fd to its end into b, growing b up to max + 2 bytes; *ret_len gets the byte count. */
static shd_result file_read_all(int fd, const char *path, size_t max, struct file_buf *b,
                                size_t *ret_len)
{
    size_t len = 0;
    for (;;) {
        if (len + 1 >= b->cap) {
            /* The file grew since fstat: read on up to max + 1 bytes to see the excess. */
            SHD_ENSURE_MSG(b->cap < max + 2, SHD_ERR_TOO_LARGE, "%s is larger than %zu bytes", path,
                           max);
            size_t ncap = b->cap > (max + 2) / 2 ? max + 2 : b->cap * 2;
            uint8_t *n = shd_realloc_wipe(b->p, b->cap, ncap);
            SHD_ENSURE(n != NULL, SHD_ERR_NOMEM);
            b->p = n;
            b->cap = ncap;
        }
        ssize_t got = read(fd, b->p + len, b->cap - 1 - len);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            return file_errno(SHD_ERR_IO, errno, "read", path);
        }
        if (got == 0) {
            break;
        }
        len += (size_t)got;
    }
    SHD_ENSURE_MSG(len <= max, SHD_ERR_TOO_LARGE, "%s is larger than %zu bytes", path, max);
    *ret_len = len;
    return SHD_OK;
}

shd_result shd_file_read(const char *path, size_t max, unsigned flags, uint8_t **ret,
                         size_t *ret_len)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE(max < SIZE_MAX - 2, SHD_ERR_USAGE);
    SHD_ENSURE((flags & ~(unsigned)SHD_FILE_NOFOLLOW) == 0, SHD_ERR_USAGE);
    /* O_NONBLOCK: opening a FIFO without a writer would block; regular files ignore it. */
    int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    if ((flags & SHD_FILE_NOFOLLOW) != 0) {
        oflags |= O_NOFOLLOW;
    }
    SHD_CLEANUP(file_fd_close) int fd = open(path, oflags);
    if (fd < 0) {
        int e = errno;
        return file_errno(e == ENOENT ? SHD_ERR_NOT_FOUND : SHD_ERR_IO, e, "open", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return file_errno(SHD_ERR_IO, errno, "stat", path);
    }
    SHD_ENSURE_MSG(S_ISREG(st.st_mode), SHD_ERR_IO, "%s is not a regular file", path);
    SHD_ENSURE_MSG(st.st_size >= 0 && (uint64_t)st.st_size <= max, SHD_ERR_TOO_LARGE,
                   "%s is larger than %zu bytes", path, max);
    /* One byte beyond the size fstat gave, so that the read that meets EOF has room (and growth
     * is noticed), and one for the NUL. */
    SHD_CLEANUP(file_buf_wipe) struct file_buf b = {.cap = (size_t)st.st_size + 2};
    b.p = shd_alloc(b.cap);
    SHD_ENSURE(b.p != NULL, SHD_ERR_NOMEM);
    size_t len = 0;
    SHD_GUARD(file_read_all(fd, path, max, &b, &len));
    b.p[len] = '\0';
    *ret_len = len;
    *ret = SHD_TAKE_PTR(b.p);
    return SHD_OK;
}

static shd_result file_write_fd(int fd, const uint8_t *p, size_t len, mode_t mode)
{
    SHD_GUARD_POSIX(fchmod(fd, mode));
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        SHD_GUARD_POSIX(w);
        p += (size_t)w;
        len -= (size_t)w;
    }
    SHD_GUARD_POSIX(fsync(fd));
    return SHD_OK;
}

/* Creates tmp (which must not exist), writes, fsyncs and closes it. */
static shd_result file_write_tmp(const char *tmp, const void *data, size_t len, mode_t mode)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        return file_errno(SHD_ERR_IO, errno, "create", tmp);
    }
    shd_result r = file_write_fd(fd, data, len, mode);
    /* close(2) may report a deferred write error (NFS); the file is not trusted then. */
    if (close(fd) != 0 && shd_is_ok(r)) {
        r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    }
    return r;
}

shd_result shd_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE(data != NULL || len == 0, SHD_ERR_NULL);
    SHD_ENSURE_MSG((mode & ~(mode_t)0777) == 0, SHD_ERR_USAGE, "bad file mode %o", (unsigned)mode);
    SHD_ENSURE_MSG(strnlen(path, PATH_MAX) < PATH_MAX, SHD_ERR_TOO_LARGE, "path too long");
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash != NULL ? (size_t)(slash - path) + 1 : 0;
    const char *name = path + dir_len;
    SHD_ENSURE_MSG(*name != '\0', SHD_ERR_USAGE, "%s names a directory", path);
    /* A hidden name next to the target: same file system (rename is atomic only there), and
     * out of the way of readers that list the directory. */
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp.%ld", (int)dir_len, path, name, (long)getpid());
    SHD_ENSURE_MSG(n > 0 && (size_t)n < sizeof(tmp), SHD_ERR_TOO_LARGE, "path too long: %s", path);
    /* A leftover of a crashed process with our pid would make O_EXCL fail. */
    (void)unlink(tmp);
    shd_result r = file_write_tmp(tmp, data, len, mode);
    if (shd_is_ok(r) && rename(tmp, path) != 0) {
        r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    }
    if (shd_is_err(r)) {
        (void)unlink(tmp);
        shd_error_wrap("write %s", path);
    }
    return r;
}
