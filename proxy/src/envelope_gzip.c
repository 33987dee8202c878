/*
 * envelope_gzip.c - bounded gzip over zlib.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "envelope_gzip.h"

#define GZIP_WINDOW (15 + 16) /* zlib: gzip wrapper only */
#define CHUNK ((size_t)64 * 1024)

static shd_result inflate_all(z_stream *zs, const uint8_t *in, size_t n, struct shd_buf *out)
{
    uint8_t chunk[CHUNK];

    zs->next_in = (Bytef *)(uintptr_t)in;
    zs->avail_in = (uInt)n;
    for (;;) {
        zs->next_out = chunk;
        zs->avail_out = (uInt)sizeof(chunk);
        int rc = inflate(zs, Z_NO_FLUSH);
        size_t got = sizeof(chunk) - zs->avail_out;
        shd_result r = shd_buf_append(chunk, got, out);
        shd_memzero(chunk, got);
        SHD_GUARD_CTX(r, "gunzip");
        if (rc == Z_STREAM_END) {
            if (zs->avail_in == 0) {
                return SHD_OK;
            }
            /* Another member follows (zlib.gunzip accepts concatenated members). */
            SHD_ENSURE_MSG(inflateReset(zs) == Z_OK, SHD_ERR_INTERNAL, "inflateReset failed");
            continue;
        }
        SHD_ENSURE_MSG(rc == Z_OK || (rc == Z_BUF_ERROR && zs->avail_out == 0), SHD_ERR_INPUT,
                       "gunzip: corrupt or truncated data");
    }
}

shd_result proxy_gzip_inflate(const uint8_t *in, size_t n, size_t max_out, uint8_t **ret,
                              size_t *ret_len)
{
    SHD_ENSURE(ret != NULL && ret_len != NULL && (in != NULL || n == 0), SHD_ERR_NULL);
    SHD_ENSURE_MSG(n <= UINT_MAX, SHD_ERR_TOO_LARGE, "gzip input too large");
    SHD_ENSURE_MSG(n > 0, SHD_ERR_INPUT, "gunzip: empty input");
    z_stream zs = {0};
    SHD_ENSURE_MSG(inflateInit2(&zs, GZIP_WINDOW) == Z_OK, SHD_ERR_NOMEM, "inflateInit2 failed");
    struct shd_buf out;
    shd_buf_init(max_out > 0 ? max_out : 1, SHD_BUF_SECRET, &out);
    shd_result r = inflate_all(&zs, in, n, &out);
    (void)inflateEnd(&zs);
    if (shd_is_ok(r)) {
        r = shd_buf_take(&out, ret, ret_len);
    }
    shd_buf_free(&out);
    return r;
}

shd_result proxy_gzip_deflate(const uint8_t *in, size_t n, uint8_t **ret, size_t *ret_len)
{
    SHD_ENSURE(ret != NULL && ret_len != NULL && (in != NULL || n == 0), SHD_ERR_NULL);
    SHD_ENSURE_MSG(n <= UINT_MAX / 2u, SHD_ERR_TOO_LARGE, "gzip input too large");
    z_stream zs = {0};
    SHD_ENSURE_MSG(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, GZIP_WINDOW, 8,
                                Z_DEFAULT_STRATEGY) == Z_OK,
                   SHD_ERR_NOMEM, "deflateInit2 failed");
    uLong bound = deflateBound(&zs, (uLong)n);
    uint8_t *out = shd_alloc((size_t)bound);
    if (out == NULL) {
        (void)deflateEnd(&zs);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    size_t len = (size_t)zs.total_out;
    (void)deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        shd_free(out);
        SHD_BAIL_MSG(SHD_ERR_INTERNAL, "gzip: deflate did not finish");
    }
    *ret = out;
    *ret_len = len;
    return SHD_OK;
}
