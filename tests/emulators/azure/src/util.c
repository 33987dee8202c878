/*
 * util.c - helpers of `azure-emu init` (see util.h).
 */
#include "util.h"

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
