/*
 * tpm_templates.c - GCE AK and TCG EK templates, TPMT_PUBLIC (un)marshalling, and TPM public
 * areas as OpenSSL keys (tpm_templates.h).
 */
#include <string.h>

#include <tss2/tss2_mu.h>

#include "tpm_templates.h"

#include "shd/crypto.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256 (TCG EK Credential Profile §B.3.2). */
static const uint8_t ek_policy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
    0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA,
};

void gemu_tpm_template_ak(bool ecc, TPMT_PUBLIC *ret)
{
    TPMT_PUBLIC t;

    shd_memzero(&t, sizeof(t));
    t.nameAlg = TPM2_ALG_SHA256;
    t.objectAttributes = GEMU_AK_ATTRIBUTES;
    if (ecc) {
        t.type = TPM2_ALG_ECC;
        t.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        t.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
        t.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        t.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        t.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    } else {
        t.type = TPM2_ALG_RSA;
        t.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        t.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
        t.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
        t.parameters.rsaDetail.keyBits = 2048;
        t.parameters.rsaDetail.exponent = 0;
    }
    *ret = t;
}

void gemu_tpm_template_ek_rsa(TPMT_PUBLIC *ret)
{
    TPMT_PUBLIC t;

    shd_memzero(&t, sizeof(t));
    t.type = TPM2_ALG_RSA;
    t.nameAlg = TPM2_ALG_SHA256;
    t.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                         TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                         TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    t.authPolicy.size = sizeof(ek_policy);
    shd_memcpy(t.authPolicy.buffer, ek_policy, sizeof(ek_policy));
    t.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
    t.parameters.rsaDetail.symmetric.keyBits.aes = 128;
    t.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    t.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    t.parameters.rsaDetail.keyBits = 2048;
    t.parameters.rsaDetail.exponent = 0;
    t.unique.rsa.size = 256;
    *ret = t;
}

shd_result gemu_tpm_public_marshal(const TPMT_PUBLIC *pub, uint8_t *out, size_t cap,
                                   size_t *ret_len)
{
    size_t off = 0;

    SHD_ENSURE_REF(pub);
    SHD_ENSURE_REF(out);
    SHD_ENSURE_REF(ret_len);
    SHD_GUARD_TSS(Tss2_MU_TPMT_PUBLIC_Marshal(pub, out, cap, &off), SHD_ERR_TPM);
    *ret_len = off;
    return SHD_OK;
}

shd_result gemu_tpm_public_unmarshal(const uint8_t *in, size_t len, TPMT_PUBLIC *ret)
{
    TPMT_PUBLIC pub;
    size_t off = 0;

    SHD_ENSURE_REF(in);
    SHD_ENSURE_REF(ret);
    shd_memzero(&pub, sizeof(pub));
    if (Tss2_MU_TPMT_PUBLIC_Unmarshal(in, len, &off, &pub) != TSS2_RC_SUCCESS) {
        SHD_BAIL_MSG(SHD_ERR_INPUT, "malformed TPMT_PUBLIC");
    }
    SHD_ENSURE_MSG(off == len, SHD_ERR_INPUT, "trailing bytes after TPMT_PUBLIC");
    *ret = pub;
    return SHD_OK;
}

shd_result gemu_tpm_public_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret)
{
    SHD_ENSURE_REF(pub);
    SHD_ENSURE_REF(ret);
    if (pub->type == TPM2_ALG_RSA) {
        uint32_t e =
            pub->parameters.rsaDetail.exponent == 0 ? 65537u : pub->parameters.rsaDetail.exponent;
        uint8_t ebuf[4] = {(uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8), (uint8_t)e};

        return shd_crypto_rsa_pubkey_from_ne(pub->unique.rsa.buffer, pub->unique.rsa.size, ebuf,
                                             sizeof(ebuf), ret);
    }
    if (pub->type == TPM2_ALG_ECC) {
        enum shd_crypto_curve curve;
        size_t field;
        const TPMS_ECC_POINT *pt = &pub->unique.ecc;

        switch (pub->parameters.eccDetail.curveID) {
        case TPM2_ECC_NIST_P256:
            curve = SHD_CRYPTO_CURVE_P256;
            field = 32;
            break;
        case TPM2_ECC_NIST_P384:
            curve = SHD_CRYPTO_CURVE_P384;
            field = 48;
            break;
        default:
            SHD_BAIL_MSG(SHD_ERR_BAD_KEY, "TPM curve 0x%04x not supported",
                         pub->parameters.eccDetail.curveID);
        }
        SHD_ENSURE_MSG(pt->x.size == field && pt->y.size == field, SHD_ERR_BAD_KEY,
                       "TPM ECC point of the wrong size");
        return shd_crypto_ec_pubkey_from_xy(curve, pt->x.buffer, pt->y.buffer, field, ret);
    }
    SHD_BAIL_MSG(SHD_ERR_BAD_KEY, "TPM key type 0x%04x not supported", pub->type);
}
