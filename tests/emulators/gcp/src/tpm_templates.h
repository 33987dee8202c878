/*
 * tpm_templates.h - the key templates of a GCE vTPM and the bridge from a TPM public area to an
 * OpenSSL key.
 *
 * GCE AK templates (gcp-identity.md §2.1, google/go-tpm-tools cmd GCEAKTemplateRSA/ECC): type
 * RSA-2048 (RSASSA-SHA256) or ECC NIST P-256 (ECDSA-SHA256), nameAlg SHA-256, attributes
 * sign|restricted|fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth (0x00050072), empty
 * authPolicy, symmetric NULL, empty unique. They are stored marshalled as TPMT_PUBLIC (no size
 * prefix) at NV 0x01C10001 (RSA) and 0x01C10003 (ECC).
 *
 * TCG default EK template (TCG EK Credential Profile 2.0 §B.3.3, template L-1): RSA-2048,
 * AES-128-CFB, nameAlg SHA-256, attributes fixedTPM|fixedParent|sensitiveDataOrigin|
 * adminWithPolicy|restricted|decrypt (0x000300B2), authPolicy PolicySecret(TPM_RH_ENDORSEMENT),
 * unique 256 zero bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "shd/result.h"

/* GCE NV indices (gcp-identity.md §2.1) and the TCG EK certificate index. */
#define GEMU_NV_AK_CERT_RSA 0x01C10000u
#define GEMU_NV_AK_TEMPLATE_RSA 0x01C10001u
#define GEMU_NV_AK_CERT_ECC 0x01C10002u
#define GEMU_NV_AK_TEMPLATE_ECC 0x01C10003u
#define GEMU_NV_EK_CERT_RSA 0x01C00002u

/* "signer default" object attributes of the GCE AK templates. */
#define GEMU_AK_ATTRIBUTES 0x00050072u

/* Fills *ret with the GCE AK template (ecc: P-256/ECDSA, else RSA-2048/RSASSA). */
void gemu_tpm_template_ak(bool ecc, TPMT_PUBLIC *ret);

/* Fills *ret with the TCG default RSA-2048 EK template. */
void gemu_tpm_template_ek_rsa(TPMT_PUBLIC *ret);

/*
 * Marshals a TPMT_PUBLIC (Tss2_MU_TPMT_PUBLIC_Marshal) into out[0..cap). *ret_len = bytes
 * written. SHD_ERR_TPM when it does not fit or does not marshal.
 */
SHD_RESULT gemu_tpm_public_marshal(const TPMT_PUBLIC *pub, uint8_t *out, size_t cap,
                                   size_t *ret_len);

/*
 * Unmarshals a TPMT_PUBLIC that must span all of in[0..len) (no trailing bytes).
 * SHD_ERR_INPUT otherwise.
 */
SHD_RESULT gemu_tpm_public_unmarshal(const uint8_t *in, size_t len, TPMT_PUBLIC *ret);

/*
 * The OpenSSL public key of an RSA (exponent 0 means 65537, TPM 2.0 Part 2 §12.2.3.5) or ECC
 * NIST P-256/P-384 public area. SHD_ERR_BAD_KEY otherwise. *ret: EVP_PKEY_free.
 */
SHD_RESULT gemu_tpm_public_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret);
