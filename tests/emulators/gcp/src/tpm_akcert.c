/*
 * tpm_akcert.c - issuing the vTPM's AK and EK certificates (tpm_akcert.h) and reading the
 * instance-identity extension back from an AK certificate.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "tpm_akcert.h"

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/mem.h"
#include "shd/safety.h"

SHD_DEFINE_CLEANUP(X509_NAME, X509_NAME_free, gemu_x509_name_free_p)
SHD_DEFINE_CLEANUP(X509_EXTENSION, X509_EXTENSION_free, gemu_x509_ext_free_p)
SHD_DEFINE_CLEANUP(ASN1_OBJECT, ASN1_OBJECT_free, gemu_asn1_object_free_p)
SHD_DEFINE_CLEANUP(ASN1_OCTET_STRING, ASN1_OCTET_STRING_free, gemu_asn1_octet_free_p)
SHD_DEFINE_CLEANUP(GENERAL_NAMES, GENERAL_NAMES_free, gemu_general_names_free_p)

#define AK_CERT_DAYS 3650

shd_result gemu_akcert_instance_info(X509 *cert, struct gemu_instance_info *ret)
{
    const uint8_t *der = NULL;
    size_t len = 0;

    SHD_ENSURE_REF(cert);
    SHD_ENSURE_REF(ret);
    SHD_GUARD(shd_crypto_x509_ext_value(cert, GEMU_GCE_INSTANCE_INFO_OID, &der, &len));
    SHD_GUARD_CTX(gemu_instance_info_decode(der, len, ret), "GCE instance info extension");
    return SHD_OK;
}

/* Common skeleton: v3, random positive 128-bit serial, issuer, validity, public key. */
static shd_result cert_skeleton(EVP_PKEY *pub, X509 *ca_cert, X509 **ret)
{
    SHD_CLEANUP(X509_free_p) X509 *cert = X509_new();
    SHD_CLEANUP(BN_clear_free_p) BIGNUM *bn = NULL;
    uint8_t serial[16];
    ASN1_INTEGER *sn = NULL;

    SHD_ENSURE(cert != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(shd_crypto_random(serial, sizeof(serial)));
    serial[0] &= 0x7fu;
    serial[0] |= 0x40u;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    SHD_ENSURE(bn != NULL, SHD_ERR_NOMEM);
    sn = X509_get_serialNumber(cert);
    SHD_ENSURE(BN_to_ASN1_INTEGER(bn, sn) != NULL, SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(X509_set_version(cert, X509_VERSION_3), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(X509_set_issuer_name(cert, X509_get_subject_name(ca_cert)), SHD_ERR_CRYPTO);
    SHD_ENSURE(X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != NULL, SHD_ERR_CRYPTO);
    SHD_ENSURE(X509_time_adj_ex(X509_getm_notAfter(cert), AK_CERT_DAYS, 0, NULL) != NULL,
               SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(X509_set_pubkey(cert, pub), SHD_ERR_BAD_KEY);
    *ret = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

/* Adds an extension from OpenSSL's config syntax (X509V3_EXT_conf_nid). */
static shd_result add_conf_ext(X509 *ca_cert, int nid, const char *value, X509 *cert)
{
    X509V3_CTX ctx;
    SHD_CLEANUP(gemu_x509_ext_free_p) X509_EXTENSION *ext = NULL;

    X509V3_set_ctx(&ctx, ca_cert, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    SHD_ENSURE_MSG(ext != NULL, SHD_ERR_CRYPTO, "extension %s", OBJ_nid2sn(nid));
    SHD_GUARD_OSSL(X509_add_ext(cert, ext, -1), SHD_ERR_CRYPTO);
    return SHD_OK;
}

/* authorityKeyIdentifier from the CA's subjectKeyIdentifier (RFC 5280 §4.2.1.1), when it has
 * one; OpenSSL cannot derive it otherwise. */
static shd_result add_akid(X509 *ca_cert, X509 *cert)
{
    if (X509_get0_subject_key_id(ca_cert) == NULL) {
        return SHD_OK;
    }
    return add_conf_ext(ca_cert, NID_authority_key_identifier, "keyid:always", cert);
}

static shd_result add_raw_ext(const char *oid, bool critical, const uint8_t *der, size_t len,
                              X509 *cert)
{
    SHD_CLEANUP(gemu_asn1_object_free_p) ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    SHD_CLEANUP(gemu_asn1_octet_free_p) ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    SHD_CLEANUP(gemu_x509_ext_free_p) X509_EXTENSION *ext = NULL;

    SHD_ENSURE(obj != NULL && os != NULL, SHD_ERR_NOMEM);
    SHD_ENSURE(len <= INT32_MAX, SHD_ERR_TOO_LARGE);
    SHD_GUARD_OSSL(ASN1_OCTET_STRING_set(os, der, (int)len), SHD_ERR_NOMEM);
    ext = X509_EXTENSION_create_by_OBJ(NULL, obj, critical ? 1 : 0, os);
    SHD_ENSURE(ext != NULL, SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(X509_add_ext(cert, ext, -1), SHD_ERR_CRYPTO);
    return SHD_OK;
}

static shd_result add_aia(X509 *ca_cert, const char *aia_url, X509 *cert)
{
    char value[512];
    int n;

    SHD_ENSURE_REF(aia_url);
    n = snprintf(value, sizeof(value), "caIssuers;URI:%s", aia_url);
    SHD_ENSURE_MSG(n > 0 && (size_t)n < sizeof(value), SHD_ERR_TOO_LARGE, "AIA URL too long");
    return add_conf_ext(ca_cert, NID_info_access, value, cert);
}

static shd_result sign_cert(EVP_PKEY *ca_key, X509 *cert)
{
    SHD_ENSURE(X509_sign(cert, ca_key, EVP_sha256()) > 0, SHD_ERR_CRYPTO);
    return SHD_OK;
}

static shd_result ak_subject(const struct gemu_instance_info *info, X509 *cert)
{
    SHD_CLEANUP(gemu_x509_name_free_p) X509_NAME *name = X509_NAME_new();
    static const char *const fields[][2] = {
        {"C", "US"},         {"ST", "California"}, {"L", "Mountain View"},
        {"O", "Google LLC"}, {"OU", "Cloud"},
    };
    char cn[32];
    int n = snprintf(cn, sizeof(cn), "%lld", (long long)info->instance_id);

    SHD_ENSURE(name != NULL, SHD_ERR_NOMEM);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(cn), SHD_ERR_INTERNAL);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        SHD_GUARD_OSSL(X509_NAME_add_entry_by_txt(name, fields[i][0], MBSTRING_UTF8,
                                                  (const unsigned char *)fields[i][1], -1, -1, 0),
                       SHD_ERR_CRYPTO);
    }
    SHD_GUARD_OSSL(
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0),
        SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(X509_set_subject_name(cert, name), SHD_ERR_CRYPTO);
    return SHD_OK;
}

shd_result gemu_akcert_issue(EVP_PKEY *ak_pub, const struct gemu_instance_info *info, X509 *ca_cert,
                             EVP_PKEY *ca_key, const char *aia_url, X509 **ret)
{
    SHD_CLEANUP(X509_free_p) X509 *cert = NULL;
    SHD_CLEANUP_FREE uint8_t *ext = NULL;
    size_t ext_len = 0;

    SHD_ENSURE_REF(ak_pub);
    SHD_ENSURE_REF(info);
    SHD_ENSURE_REF(ca_cert);
    SHD_ENSURE_REF(ca_key);
    SHD_ENSURE_REF(ret);
    SHD_GUARD(cert_skeleton(ak_pub, ca_cert, &cert));
    SHD_GUARD(ak_subject(info, cert));
    SHD_GUARD(add_conf_ext(ca_cert, NID_basic_constraints, "critical,CA:FALSE", cert));
    SHD_GUARD(add_conf_ext(ca_cert, NID_key_usage, "critical,digitalSignature", cert));
    SHD_GUARD(add_conf_ext(ca_cert, NID_subject_key_identifier, "hash", cert));
    SHD_GUARD(add_akid(ca_cert, cert));
    SHD_GUARD(add_aia(ca_cert, aia_url, cert));
    SHD_GUARD(gemu_instance_info_encode(info, &ext, &ext_len));
    SHD_GUARD(add_raw_ext(GEMU_GCE_INSTANCE_INFO_OID, false, ext, ext_len, cert));
    SHD_GUARD(sign_cert(ca_key, cert));
    *ret = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

/* TCG EK Credential Profile §3.2.9: the TPM's identity as a directoryName in the SAN. */
static shd_result add_tpm_san(X509 *cert)
{
    static const char *const attrs[][2] = {
        {"2.23.133.2.1", "id:49424D00"}, /* tcg-at-tpmManufacturer */
        {"2.23.133.2.2", "swtpm"},       /* tcg-at-tpmModel */
        {"2.23.133.2.3", "id:20191023"}, /* tcg-at-tpmVersion */
    };
    SHD_CLEANUP(gemu_general_names_free_p) GENERAL_NAMES *gens = GENERAL_NAMES_new();
    SHD_CLEANUP(gemu_x509_name_free_p) X509_NAME *dn = X509_NAME_new();
    GENERAL_NAME *gen = NULL;

    SHD_ENSURE(gens != NULL && dn != NULL, SHD_ERR_NOMEM);
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        SHD_CLEANUP(gemu_asn1_object_free_p) ASN1_OBJECT *obj = OBJ_txt2obj(attrs[i][0], 1);

        SHD_ENSURE(obj != NULL, SHD_ERR_NOMEM);
        /* Each attribute in its own RDN, as the profile's examples show. */
        SHD_GUARD_OSSL(X509_NAME_add_entry_by_OBJ(dn, obj, MBSTRING_UTF8,
                                                  (const unsigned char *)attrs[i][1], -1, -1, 0),
                       SHD_ERR_CRYPTO);
    }
    gen = GENERAL_NAME_new();
    SHD_ENSURE(gen != NULL, SHD_ERR_NOMEM);
    GENERAL_NAME_set0_value(gen, GEN_DIRNAME, SHD_TAKE_PTR(dn));
    if (sk_GENERAL_NAME_push(gens, gen) <= 0) {
        GENERAL_NAME_free(gen);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    /* Critical because the subject is empty (RFC 5280 §4.2.1.6). */
    SHD_GUARD_OSSL(X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 1, X509V3_ADD_DEFAULT),
                   SHD_ERR_CRYPTO);
    return SHD_OK;
}

shd_result gemu_ekcert_issue(EVP_PKEY *ek_pub, X509 *ca_cert, EVP_PKEY *ca_key, const char *aia_url,
                             X509 **ret)
{
    SHD_CLEANUP(X509_free_p) X509 *cert = NULL;

    SHD_ENSURE_REF(ek_pub);
    SHD_ENSURE_REF(ca_cert);
    SHD_ENSURE_REF(ca_key);
    SHD_ENSURE_REF(ret);
    SHD_GUARD(cert_skeleton(ek_pub, ca_cert, &cert));
    SHD_GUARD(add_tpm_san(cert));
    SHD_GUARD(add_conf_ext(ca_cert, NID_basic_constraints, "critical,CA:FALSE", cert));
    SHD_GUARD(add_conf_ext(ca_cert, NID_key_usage, "critical,keyEncipherment", cert));
    SHD_GUARD(add_conf_ext(ca_cert, NID_ext_key_usage, "2.23.133.8.1", cert));
    SHD_GUARD(add_akid(ca_cert, cert));
    SHD_GUARD(add_aia(ca_cert, aia_url, cert));
    SHD_GUARD(sign_cert(ca_key, cert));
    *ret = SHD_TAKE_PTR(cert);
    return SHD_OK;
}
