/*
 * refinfo.c - COSE_Sign1 UVM endorsement stand-in (see refinfo.h), with a minimal CBOR writer
 * (RFC 8949 §3: definite lengths only, which is all COSE needs).
 */
#include "refinfo.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "util.h"

#define CBOR_MAX (64u * 1024u)

SHD_DEFINE_CLEANUP(EVP_MD_CTX, EVP_MD_CTX_free, refinfo_md_freep)
SHD_DEFINE_CLEANUP(ECDSA_SIG, ECDSA_SIG_free, refinfo_sig_freep)

struct cbor {
    uint8_t *p;
    size_t len;
    size_t cap;
};

static void cbor_clear(struct cbor *c)
{
    shd_free(c->p);
    *c = (struct cbor){0};
}

static shd_result cbor_put(struct cbor *c, const void *data, size_t n)
{
    size_t need = 0;
    SHD_GUARD(shd_add_overflow(c->len, n, &need));
    SHD_ENSURE(need <= CBOR_MAX, SHD_ERR_TOO_LARGE);
    if (need > c->cap) {
        uint8_t *grown = shd_realloc(c->p, CBOR_MAX);
        SHD_ENSURE(grown != NULL, SHD_ERR_NOMEM);
        c->p = grown;
        c->cap = CBOR_MAX;
    }
    shd_memcpy(c->p + c->len, data, n);
    c->len = need;
    return SHD_OK;
}

/* Initial byte and argument of a data item (RFC 8949 §3, shortest form). */
static shd_result cbor_head(struct cbor *c, uint8_t major, uint64_t v)
{
    uint8_t b[9];
    size_t n = 0;
    if (v < 24) {
        b[n++] = (uint8_t)(((uint64_t)major << 5) | v);
    } else if (v <= 0xff) {
        b[n++] = (uint8_t)((major << 5) | 24);
        b[n++] = (uint8_t)v;
    } else if (v <= 0xffff) {
        b[n++] = (uint8_t)((major << 5) | 25);
        b[n++] = (uint8_t)(v >> 8);
        b[n++] = (uint8_t)v;
    } else {
        b[n++] = (uint8_t)((major << 5) | 26);
        for (int s = 24; s >= 0; s -= 8) {
            b[n++] = (uint8_t)(v >> s);
        }
        SHD_ENSURE(v <= 0xffffffffu, SHD_ERR_TOO_LARGE);
    }
    return cbor_put(c, b, n);
}

static shd_result cbor_int(struct cbor *c, int64_t v)
{
    if (v >= 0) {
        return cbor_head(c, 0, (uint64_t)v);
    }
    return cbor_head(c, 1, (uint64_t)(-(v + 1)));
}

static shd_result cbor_bstr(struct cbor *c, const uint8_t *p, size_t n)
{
    SHD_GUARD(cbor_head(c, 2, n));
    return cbor_put(c, p, n);
}

static shd_result cbor_tstr(struct cbor *c, const char *s)
{
    size_t n = strlen(s);
    SHD_GUARD(cbor_head(c, 3, n));
    return cbor_put(c, s, n);
}

/* ------------------------------------------------------------------------------------------ */

static shd_result refinfo_leaf(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, X509 **ret)
{
    SHD_CLEANUP(aemu_x509_name_freep) X509_NAME *name = NULL;
    SHD_GUARD(aemu_pki_simple_name("azure-emu", "azure-emu UVM endorsement", &name));
    SHD_CLEANUP(aemu_x509_freep) X509 *cert = NULL;
    SHD_GUARD(aemu_pki_cert_new(name, X509_get_subject_name(ca), key, 2, 3650, &cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_basic_constraints, "critical,CA:FALSE", ca, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_key_usage, "critical,digitalSignature", ca, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_ext_key_usage, AEMU_REFINFO_EKU, ca, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_authority_key_identifier, "keyid:always", ca, cert));
    SHD_GUARD(aemu_pki_cert_sign(ca_key, AEMU_SIG_DEFAULT, cert));
    *ret = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

static shd_result refinfo_der(X509 *cert, uint8_t **ret, size_t *ret_len)
{
    int n = i2d_X509(cert, NULL);
    SHD_ENSURE(n > 0, SHD_ERR_CRYPTO);
    uint8_t *buf = shd_alloc((size_t)n);
    SHD_ENSURE(buf != NULL, SHD_ERR_NOMEM);
    uint8_t *p = buf;
    if (i2d_X509(cert, &p) != n) {
        shd_free(buf);
        SHD_BAIL(SHD_ERR_CRYPTO);
    }
    *ret = buf;
    *ret_len = (size_t)n;
    return SHD_OK;
}

/* did:x509 (DIF did:x509 method) naming the CA by the SHA-256 of its DER and the EKU. */
static shd_result refinfo_did(const uint8_t *ca_der, size_t ca_len, char *out, size_t cap)
{
    uint8_t fp[32];
    unsigned fp_len = 0;
    SHD_GUARD_OSSL(EVP_Digest(ca_der, ca_len, fp, &fp_len, EVP_sha256(), NULL), SHD_ERR_CRYPTO);
    SHD_CLEANUP_FREE char *b64 = NULL;
    size_t b64_len = 0;
    SHD_GUARD(aemu_b64_encode(fp, sizeof(fp), &b64, &b64_len));
    /* standard -> URL-safe alphabet without padding */
    for (size_t i = 0; i < b64_len; i++) {
        b64[i] = b64[i] == '+' ? '-' : (b64[i] == '/' ? '_' : b64[i]);
    }
    while (b64_len > 0 && b64[b64_len - 1] == '=') {
        b64[--b64_len] = '\0';
    }
    int n = snprintf(out, cap, "did:x509:0:sha256:%s::eku:%s", b64, AEMU_REFINFO_EKU);
    SHD_ENSURE(n > 0 && (size_t)n < cap, SHD_ERR_INTERNAL);
    return SHD_OK;
}

static shd_result refinfo_protected(const uint8_t *leaf, size_t leaf_len, const uint8_t *ca,
                                    size_t ca_len, struct cbor *out)
{
    char did[160];
    SHD_GUARD(refinfo_did(ca, ca_len, did, sizeof(did)));
    SHD_GUARD(cbor_head(out, 5, 5)); /* map(5) */
    SHD_GUARD(cbor_int(out, 1));     /* alg */
    SHD_GUARD(cbor_int(out, -35));   /* ES384 */
    SHD_GUARD(cbor_int(out, 3));     /* content type */
    SHD_GUARD(cbor_tstr(out, "application/json"));
    SHD_GUARD(cbor_int(out, 33)); /* x5chain, leaf first (RFC 9360) */
    SHD_GUARD(cbor_head(out, 4, 2));
    SHD_GUARD(cbor_bstr(out, leaf, leaf_len));
    SHD_GUARD(cbor_bstr(out, ca, ca_len));
    SHD_GUARD(cbor_tstr(out, "iss"));
    SHD_GUARD(cbor_tstr(out, did));
    SHD_GUARD(cbor_tstr(out, "feed"));
    SHD_GUARD(cbor_tstr(out, AEMU_REFINFO_FEED));
    return SHD_OK;
}

/* ES384 over the Sig_structure, as raw r || s (RFC 9053 §2.1). */
static shd_result refinfo_sign(EVP_PKEY *key, const struct cbor *prot, const char *payload,
                               uint8_t sig[static 96])
{
    struct cbor tbs = {0};
    shd_result r = cbor_head(&tbs, 4, 4);
    if (shd_is_ok(r)) {
        r = cbor_tstr(&tbs, "Signature1");
    }
    if (shd_is_ok(r)) {
        r = cbor_bstr(&tbs, prot->p, prot->len);
    }
    if (shd_is_ok(r)) {
        r = cbor_bstr(&tbs, NULL, 0);
    }
    if (shd_is_ok(r)) {
        r = cbor_bstr(&tbs, (const uint8_t *)payload, strlen(payload));
    }
    uint8_t der[128];
    size_t der_len = sizeof(der);
    EVP_MD_CTX *md = shd_is_ok(r) ? EVP_MD_CTX_new() : NULL;
    if (shd_is_ok(r) &&
        (md == NULL || EVP_DigestSignInit_ex(md, NULL, "SHA384", NULL, NULL, key, NULL) != 1 ||
         EVP_DigestSign(md, der, &der_len, tbs.p, tbs.len) != 1)) {
        r = shd_error_set_ossl(SHD_ERR_CRYPTO, __FILE__, __LINE__);
    }
    EVP_MD_CTX_free(md);
    cbor_clear(&tbs);
    SHD_GUARD(r);
    const uint8_t *p = der;
    SHD_CLEANUP(refinfo_sig_freep) ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    SHD_ENSURE(es != NULL, SHD_ERR_CRYPTO);
    SHD_ENSURE(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 48) == 48, SHD_ERR_CRYPTO);
    SHD_ENSURE(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 48, 48) == 48, SHD_ERR_CRYPTO);
    return SHD_OK;
}

static shd_result refinfo_assemble(const struct cbor *prot, const char *payload,
                                   const uint8_t sig[static 96], struct cbor *out)
{
    SHD_GUARD(cbor_head(out, 6, 18)); /* tag 18: COSE_Sign1 */
    SHD_GUARD(cbor_head(out, 4, 4));
    SHD_GUARD(cbor_bstr(out, prot->p, prot->len));
    SHD_GUARD(cbor_head(out, 5, 0)); /* unprotected: {} */
    SHD_GUARD(cbor_bstr(out, (const uint8_t *)payload, strlen(payload)));
    SHD_GUARD(cbor_bstr(out, sig, 96));
    return SHD_OK;
}

static shd_result refinfo_build_with(const uint8_t *leaf, size_t leaf_len, const uint8_t *ca,
                                     size_t ca_len, const char *payload, EVP_PKEY *key,
                                     struct cbor *out)
{
    struct cbor prot = {0};
    uint8_t sig[96];
    shd_result r = refinfo_protected(leaf, leaf_len, ca, ca_len, &prot);
    if (shd_is_ok(r)) {
        r = refinfo_sign(key, &prot, payload, sig);
    }
    if (shd_is_ok(r)) {
        r = refinfo_assemble(&prot, payload, sig, out);
    }
    cbor_clear(&prot);
    return r;
}

shd_result aemu_refinfo_build(const uint8_t measurement[static 48], uint32_t guest_svn, X509 *ca,
                              EVP_PKEY *ca_key, uint8_t **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(measurement);
    SHD_ENSURE_REF(ca);
    SHD_ENSURE_REF(ca_key);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    char meas_hex[97];
    aemu_hex_encode(measurement, 48, meas_hex);
    char payload[256];
    int n = snprintf(payload, sizeof(payload),
                     "{\"x-ms-sevsnpvm-guestsvn\":\"%u\","
                     "\"x-ms-sevsnpvm-launchmeasurement\":\"%s\"}",
                     guest_svn, meas_hex);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(payload), SHD_ERR_INTERNAL);

    SHD_CLEANUP(aemu_pkey_freep) EVP_PKEY *key = NULL;
    SHD_GUARD(aemu_pki_ec_new("P-384", &key));
    SHD_CLEANUP(aemu_x509_freep) X509 *leaf = NULL;
    SHD_GUARD(refinfo_leaf(ca, ca_key, key, &leaf));
    SHD_CLEANUP_FREE uint8_t *leaf_der = NULL;
    SHD_CLEANUP_FREE uint8_t *ca_der = NULL;
    size_t leaf_len = 0;
    size_t ca_len = 0;
    SHD_GUARD(refinfo_der(leaf, &leaf_der, &leaf_len));
    SHD_GUARD(refinfo_der(ca, &ca_der, &ca_len));

    struct cbor out = {0};
    shd_result r = refinfo_build_with(leaf_der, leaf_len, ca_der, ca_len, payload, key, &out);
    if (shd_is_err(r)) {
        cbor_clear(&out);
        return r;
    }
    *ret = out.p;
    *ret_len = out.len;
    return SHD_OK;
}
