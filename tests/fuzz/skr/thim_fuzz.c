/*
 * thim_fuzz.c - fuzz target for skr's THIM certificate document parser (skr/src/config.c:
 * host-amd-cert-base64 of the UVM security context and the THIM/certcache answers).
 *
 * Target Functions: skr_thim_parse, skr_certs_copy, skr_certs_clear
 *
 * Input: first byte = mode (bit 0 set: the payload is base64 text, decoded as Go's
 * StdEncoding; clear: the payload is the JSON itself), then the payload.
 * Properties checked:
 *   - parse fails only with SHD_ERR_ENCODING (base64 mode only), SHD_ERR_JSON, SHD_ERR_CONFIG
 *     (a non-string member), SHD_ERR_INPUT (missing certificate, bad tcbm) or
 *     SHD_ERR_TOO_LARGE, and leaves the output untouched;
 *   - a parsed document has a non-empty VCEK and chain, and tcbm is the value of tcbm_str read
 *     as hexadecimal by an independent reader (either case, leading zeros allowed, 64 bits);
 *   - skr_certs_copy gives an equal deep copy; clear leaves a zeroed struct.
 */
#include <string.h>

#include "../shared/fuzz_common.h"
#include "config.h"
#include "shd/json.h"
#include "shd/mem.h"

#define UNTOUCHED ((char *)(uintptr_t)0x5a5a)

/* Hex digits only, at least one, value below 2^64. */
static bool hex_u64(const char *s, uint64_t *ret)
{
    uint64_t v = 0;
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        unsigned d = 0;
        if (*s >= '0' && *s <= '9') {
            d = (unsigned)(*s - '0');
        } else if (*s >= 'a' && *s <= 'f') {
            d = (unsigned)(*s - 'a' + 10);
        } else if (*s >= 'A' && *s <= 'F') {
            d = (unsigned)(*s - 'A' + 10);
        } else {
            return false;
        }
        if (v > (UINT64_MAX >> 4)) {
            return false;
        }
        v = (v << 4) | d;
    }
    *ret = v;
    return true;
}

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();
    bool b64 = (data[0] & 1u) != 0;
    struct skr_certs c;
    shd_memzero(&c, sizeof(c));
    c.vcek_pem = UNTOUCHED;
    shd_result r = skr_thim_parse((const char *)data + 1, size - 1, b64, &c);
    FUZZ_OK_OR(r, SHD_ERR_ENCODING, SHD_ERR_JSON, SHD_ERR_CONFIG, SHD_ERR_INPUT,
               SHD_ERR_TOO_LARGE);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(c.vcek_pem == UNTOUCHED && c.chain_pem == NULL && c.tcbm == 0);
        FUZZ_ASSERT(b64 || r.err != SHD_ERR_ENCODING);
        fuzz_error_reset();
        return 0;
    }
    FUZZ_ASSERT(c.vcek_pem != NULL && c.vcek_pem[0] != '\0');
    FUZZ_ASSERT(c.chain_pem != NULL && c.chain_pem[0] != '\0');
    uint64_t tcbm = 0;
    FUZZ_ASSERT(c.tcbm_str != NULL && hex_u64(c.tcbm_str, &tcbm) && tcbm == c.tcbm);

    struct skr_certs copy;
    shd_memzero(&copy, sizeof(copy));
    FUZZ_ASSERT(shd_is_ok(skr_certs_copy(&c, &copy)));
    FUZZ_ASSERT(copy.vcek_pem != c.vcek_pem && str_eq(copy.vcek_pem, c.vcek_pem));
    FUZZ_ASSERT(str_eq(copy.chain_pem, c.chain_pem) && str_eq(copy.tcbm_str, c.tcbm_str));
    FUZZ_ASSERT(copy.tcbm == c.tcbm);
    skr_certs_clear(&copy);
    skr_certs_clear(&c);
    FUZZ_ASSERT(c.vcek_pem == NULL && c.chain_pem == NULL && c.tcbm_str == NULL && c.tcbm == 0);
    skr_certs_clear(&c);
    fuzz_error_reset();
    return 0;
}
