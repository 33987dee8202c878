/*
 * instance_info_fuzz.c - fuzz target for the DER codec of Google's GCE instance-identity
 * extension (tests/emulators/gcp/src/tpm_instance.c), which the verifier reads from AK
 * certificates.
 *
 * Target Functions: gemu_instance_info_decode, gemu_instance_info_encode,
 *                   gemu_instance_info_equal
 *
 * Input: the extension value (DER).
 * Properties checked:
 *   - decode fails only with SHD_ERR_INPUT, SHD_ERR_TRUNCATED or, above the codec's 2 KiB
 *     bound (which tpm_akcert.h does not mention), SHD_ERR_TOO_LARGE, and leaves the output
 *     untouched;
 *   - a decoded value obeys the documented limits: positive project number and instance id,
 *     NUL-terminated strings of at most GEMU_GCE_NAME_MAX bytes, optional members only under
 *     securityProperties;
 *   - the decoder is strict DER, so encode(decode(x)) == x byte for byte, except that a
 *     PrintableString (which the decoder accepts as Go writes it) comes back as UTF8String:
 *     the two encodings have the same length and differ only in such tag bytes (0x13 in x,
 *     0x0c in the re-encoding); and decode(encode(v)) equals v.
 */
#include <string.h>

#include "../shared/fuzz_common.h"
#include "shd/mem.h"
#include "tpm_akcert.h"

static bool name_ok(const char *s, size_t cap)
{
    return strnlen(s, cap) < cap;
}

#define TAG_UTF8STRING 0x0cu
#define TAG_PRINTABLESTRING 0x13u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    struct gemu_instance_info info;
    shd_memzero(&info, sizeof(info));
    info.project_number = -7;
    shd_result r = gemu_instance_info_decode(data, size, &info);
    FUZZ_OK_OR(r, SHD_ERR_INPUT, SHD_ERR_TRUNCATED, SHD_ERR_TOO_LARGE);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(info.project_number == -7 && info.zone[0] == '\0');
        fuzz_error_reset();
        return 0;
    }
    FUZZ_ASSERT(info.project_number > 0 && info.instance_id > 0);
    FUZZ_ASSERT(name_ok(info.zone, sizeof(info.zone)));
    FUZZ_ASSERT(name_ok(info.project_id, sizeof(info.project_id)));
    FUZZ_ASSERT(name_ok(info.instance_name, sizeof(info.instance_name)));
    FUZZ_ASSERT(info.has_security_properties ||
                (!info.has_security_version && !info.has_is_production));
    FUZZ_ASSERT(gemu_instance_info_equal(&info, &info));

    uint8_t *der = NULL;
    size_t len = 0;
    FUZZ_ASSERT(shd_is_ok(gemu_instance_info_encode(&info, &der, &len)));
    FUZZ_ASSERT(len == size);
    for (size_t i = 0; i < size; i++) {
        FUZZ_ASSERT(der[i] == data[i] ||
                    (data[i] == TAG_PRINTABLESTRING && der[i] == TAG_UTF8STRING));
    }
    struct gemu_instance_info back;
    shd_memzero(&back, sizeof(back));
    FUZZ_ASSERT(shd_is_ok(gemu_instance_info_decode(der, len, &back)));
    FUZZ_ASSERT(gemu_instance_info_equal(&back, &info));
    shd_free(der);
    fuzz_error_reset();
    return 0;
}
