/*
 * util.c - Go-compatible base64 decoding (util.h).
 */
#include "util.h"

#include <string.h>

#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/parse.h"
#include "shd/safety.h"

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
        if (shd_is_err(shd_parse_uint(msg + sizeof(prefix) - 1, 10, SIZE_MAX, &off))) {
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
