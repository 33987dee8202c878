/*
 * pki.c - the names of azure-emu's certificates (pki.h); everything else of the test PKI is
 * the common emu_pki.c.
 */
#include "pki.h"

#include "shd/safety.h"

shd_result aemu_pki_amd_name(const char *cn, X509_NAME **ret)
{
    SHD_ENSURE_REF(cn);
    /* RDN order exactly as in AMD's certificates. */
    const struct emu_pki_rdn rdns[] = {
        {"OU", "Engineering"},           {"C", "US"}, {"L", "Santa Clara"}, {"ST", "CA"},
        {"O", "Advanced Micro Devices"}, {"CN", cn},
    };
    return emu_pki_name(rdns, sizeof(rdns) / sizeof(rdns[0]), ret);
}

shd_result aemu_pki_simple_name(const char *org, const char *cn, X509_NAME **ret)
{
    SHD_ENSURE_REF(org);
    SHD_ENSURE_REF(cn);
    const struct emu_pki_rdn rdns[] = {{"O", org}, {"CN", cn}};
    return emu_pki_name(rdns, sizeof(rdns) / sizeof(rdns[0]), ret);
}
