/*
 * tpm_akcert.h - GCE-style vTPM certificates: the AK certificate with Google's instance-identity
 * extension (OID 1.3.6.1.4.1.11129.2.1.21, gcp-identity.md §2.2) and a TCG-profile EK
 * certificate, both issued by the "EK/AK CA Intermediate" of the state directory; and the
 * strict DER codec of the extension, which the verifier uses to read the instance back.
 *
 * Extension value (DER):
 *   SEQUENCE { zone UTF8String, projectNumber INTEGER, projectId UTF8String,
 *              instanceId INTEGER, instanceName UTF8String,
 *              securityProperties [0] EXPLICIT SEQUENCE {
 *                  securityVersion [0] EXPLICIT INTEGER OPTIONAL,
 *                  isProduction    [1] EXPLICIT BOOLEAN OPTIONAL } OPTIONAL }
 * The decoder also accepts PrintableString for the strings (Go's asn1.Marshal default).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "shd/result.h"

#define GEMU_GCE_INSTANCE_INFO_OID "1.3.6.1.4.1.11129.2.1.21"
/* Longest zone, project id and instance name we carry (GCE: 63-character names). */
#define GEMU_GCE_NAME_MAX 127u

/* The instance identity of a GCE vTPM's AK certificate. */
struct gemu_instance_info {
    char zone[GEMU_GCE_NAME_MAX + 1];
    char project_id[GEMU_GCE_NAME_MAX + 1];
    char instance_name[GEMU_GCE_NAME_MAX + 1];
    int64_t project_number; /* > 0 */
    int64_t instance_id;    /* > 0 */
    bool has_security_properties;
    bool has_security_version;
    int64_t security_version;
    bool has_is_production;
    bool is_production;
};

/*
 * Fills *ret from text fields (gemu_identity uses decimal strings for the numbers).
 * SHD_ERR_CONFIG when a string is empty or longer than GEMU_GCE_NAME_MAX or a number is not a
 * positive decimal int64. The result carries securityProperties {securityVersion 1,
 * isProduction true}: the verifier trusts only production certificates (gcp-identity.md §2.2).
 */
SHD_RESULT gemu_instance_info_from_text(const char *zone, const char *project_id,
                                        const char *project_number, const char *instance_id,
                                        const char *instance_name, struct gemu_instance_info *ret);

/* True when a and b carry the same identity (every field, including the optional ones). */
bool gemu_instance_info_equal(const struct gemu_instance_info *a,
                              const struct gemu_instance_info *b);

/* DER of the extension value. *ret_der: shd_free. */
SHD_RESULT gemu_instance_info_encode(const struct gemu_instance_info *info, uint8_t **ret_der,
                                     size_t *ret_len);

/*
 * Strict DER decode of the extension value: definite minimal lengths, minimal positive
 * INTEGERs that fit int64, DER booleans (0x00/0xFF), strings without NUL of at most
 * GEMU_GCE_NAME_MAX bytes, no trailing bytes at any level. SHD_ERR_INPUT (or
 * SHD_ERR_TRUNCATED) otherwise.
 */
SHD_RESULT gemu_instance_info_decode(const uint8_t *der, size_t len,
                                     struct gemu_instance_info *ret);

/*
 * Reads and decodes the extension of an AK certificate. SHD_ERR_NOT_FOUND when absent; errors
 * of gemu_instance_info_decode otherwise.
 */
SHD_RESULT gemu_akcert_instance_info(X509 *cert, struct gemu_instance_info *ret);

/*
 * Issues the AK certificate for ak_pub (RSA-2048 or EC P-256 public key, borrowed): subject
 * "C=US, ST=California, L=Mountain View, O=Google LLC, OU=Cloud, CN=<instance id>", issuer
 * ca_cert's subject, a random 128-bit serial, validity now - 1 h .. now + 10 years,
 * basicConstraints CA:FALSE and keyUsage digitalSignature (both critical), subject and
 * authority key identifiers, AIA caIssuers aia_url, and the instance-info extension. Signed by
 * ca_key with SHA-256. *ret: X509_free.
 */
SHD_RESULT gemu_akcert_issue(EVP_PKEY *ak_pub, const struct gemu_instance_info *info, X509 *ca_cert,
                             EVP_PKEY *ca_key, const char *aia_url, X509 **ret);

/*
 * Issues a TCG EK Credential Profile certificate for ek_pub: empty subject, a critical
 * subjectAltName directoryName with tcg-at-tpmManufacturer "id:49424D00" (IBM, as swtpm
 * reports), tcg-at-tpmModel "swtpm", tcg-at-tpmVersion "id:20191023", keyUsage
 * keyEncipherment, basicConstraints CA:FALSE, extendedKeyUsage tcg-kp-EKCertificate
 * (2.23.133.8.1), AIA caIssuers aia_url. *ret: X509_free.
 */
SHD_RESULT gemu_ekcert_issue(EVP_PKEY *ek_pub, X509 *ca_cert, EVP_PKEY *ca_key, const char *aia_url,
                             X509 **ret);

/* Parses a positive decimal int64 (no sign, no spaces, no leading zeros except "0"). */
SHD_RESULT gemu_parse_dec_i64(const char *s, int64_t *ret);
