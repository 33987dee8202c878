/*
 * util.c - helpers of `azure-emu init` (see util.h).
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

void aemu_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * n] = '\0';
}

shd_result aemu_b64_encode(const uint8_t *in, size_t n, char **ret, size_t *ret_len)
{
    return shd_b64_encode(in, n, SHD_B64_STD_PAD, ret, ret_len);
}

shd_result aemu_json_dump(const json_t *v, size_t flags, char **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(v);
    SHD_ENSURE_REF(ret);
    size_t need = json_dumpb(v, NULL, 0, flags);
    SHD_ENSURE(need > 0, SHD_ERR_JSON);
    char *out = shd_alloc(need + 1);
    SHD_ENSURE(out != NULL, SHD_ERR_NOMEM);
    if (json_dumpb(v, out, need, flags) != need) {
        shd_free(out);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    out[need] = '\0';
    *ret = out;
    if (ret_len != NULL) {
        *ret_len = need;
    }
    return SHD_OK;
}

shd_result aemu_path(const char *dir, const char *name, char *out, size_t cap)
{
    SHD_ENSURE_REF(dir);
    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(out);
    int n = snprintf(out, cap, "%s/%s", dir, name);
    SHD_ENSURE_MSG(n > 0 && (size_t)n < cap, SHD_ERR_CONFIG, "path too long: %s/%s", dir, name);
    return SHD_OK;
}

shd_result aemu_read_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        shd_result r = shd_error_set_errno(errno == ENOENT ? SHD_ERR_NOT_FOUND : SHD_ERR_IO, errno,
                                           __FILE__, __LINE__);
        shd_error_wrap("open %s", path);
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (uint64_t)st.st_size > max) {
        close(fd);
        SHD_BAIL_MSG(SHD_ERR_TOO_LARGE, "%s: not a regular file of at most %zu bytes", path, max);
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = shd_alloc(len + 1);
    if (buf == NULL) {
        close(fd);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    size_t got = 0;
    while (got < len) {
        ssize_t k = read(fd, buf + got, len - got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            int e = k == 0 ? EIO : errno;
            close(fd);
            shd_free(buf);
            return shd_error_set_errno(SHD_ERR_IO, e, __FILE__, __LINE__);
        }
        got += (size_t)k;
    }
    close(fd);
    *ret = buf;
    *ret_len = len;
    return SHD_OK;
}
