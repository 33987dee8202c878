/*
 * emu_files.c - file helpers of the emulators (emu_files.h).
 */
#include "emu_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shd/errors.h"
#include "shd/file.h"
#include "shd/safety.h"

shd_result emu_path_join(const char *dir, const char *rel, char *out, size_t cap)
{
    SHD_ENSURE_REF(dir);
    SHD_ENSURE_REF(rel);
    SHD_ENSURE_REF(out);
    int n = snprintf(out, cap, "%s/%s", dir, rel);
    SHD_ENSURE_MSG(n > 0 && (size_t)n < cap, SHD_ERR_TOO_LARGE, "path too long: %s/%s", dir, rel);
    return SHD_OK;
}

shd_result emu_file_read(const char *path, size_t max, unsigned flags, uint8_t **ret,
                         size_t *ret_len)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(ret);
    size_t len = 0;
    SHD_GUARD(shd_file_read(path, max, (flags & EMU_FILE_NOFOLLOW) != 0 ? SHD_FILE_NOFOLLOW : 0,
                            ret, &len));
    if (ret_len != NULL) {
        *ret_len = len;
    }
    return SHD_OK;
}

static shd_result files_write_fd(int fd, const uint8_t *p, size_t len, unsigned mode)
{
    SHD_GUARD_POSIX(fchmod(fd, (mode_t)mode));
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, p + done, len - done);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return shd_error_set_errno(SHD_ERR_IO, k == 0 ? EIO : errno, __FILE__, __LINE__);
        }
        done += (size_t)k;
    }
    return SHD_OK;
}

/* Opens (creating with mode, or truncating), writes and closes one file in place. */
static shd_result files_write_in_place(const char *path, const void *data, size_t len,
                                       unsigned mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        shd_result r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
        shd_error_wrap("create %s", path);
        return r;
    }
    shd_result r = files_write_fd(fd, data, len, mode);
    if (close(fd) != 0 && shd_is_ok(r)) {
        r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    }
    return r;
}

shd_result emu_file_write(const char *path, const void *data, size_t len, unsigned mode,
                          unsigned flags)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE(data != NULL || len == 0, SHD_ERR_NULL);
    SHD_ENSURE(mode <= 0777u, SHD_ERR_USAGE);
    if ((flags & EMU_FILE_ATOMIC) != 0) {
        return shd_file_write_atomic(path, data, len, (mode_t)mode);
    }
    shd_result r = files_write_in_place(path, data, len, mode);
    if (shd_is_err(r)) {
        shd_error_wrap("write %s", path);
    }
    return r;
}

shd_result emu_file_check_private(const char *path)
{
    SHD_ENSURE_REF(path);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        shd_result r = shd_error_set_errno(SHD_ERR_CONFIG, errno, __FILE__, __LINE__);
        shd_error_wrap("%s", path);
        return r;
    }
    SHD_ENSURE_MSG((sb.st_mode & 077) == 0, SHD_ERR_PERMISSION,
                   "%s is accessible by group or others (mode %03o)", path,
                   (unsigned)(sb.st_mode & 0777));
    return SHD_OK;
}

shd_result emu_dir_make(const char *path, unsigned mode, unsigned flags)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE(mode <= 0777u, SHD_ERR_USAGE);
    if (mkdir(path, (mode_t)mode) != 0 && errno != EEXIST) {
        shd_result r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
        shd_error_wrap("mkdir %s", path);
        return r;
    }
    struct stat sb;
    SHD_GUARD_POSIX(lstat(path, &sb));
    SHD_ENSURE_MSG(S_ISDIR(sb.st_mode), SHD_ERR_CONFIG, "%s is not a directory", path);
    if ((flags & EMU_DIR_CHMOD) != 0) {
        SHD_GUARD_POSIX(chmod(path, (mode_t)mode));
    }
    return SHD_OK;
}

static shd_result files_dir_is_empty(const char *path, bool *ret_empty)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        shd_result r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
        shd_error_wrap("opendir %s", path);
        return r;
    }
    bool empty = true;
    const struct dirent *e = NULL;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = false;
            break;
        }
    }
    (void)closedir(d);
    *ret_empty = empty;
    return SHD_OK;
}

shd_result emu_dir_prepare(const char *path, bool force, unsigned flags)
{
    SHD_ENSURE_REF(path);
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        SHD_ENSURE_MSG(S_ISDIR(sb.st_mode), SHD_ERR_CONFIG, "%s exists and is not a directory",
                       path);
        bool empty = false;
        SHD_GUARD(files_dir_is_empty(path, &empty));
        SHD_ENSURE_MSG(empty || force, SHD_ERR_CONFIG,
                       "state directory %s is not empty (use --force to overwrite)", path);
    }
    return emu_dir_make(path, 0700, flags);
}
