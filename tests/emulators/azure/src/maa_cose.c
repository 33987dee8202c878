/*
 * maa_cose.c - COSE_Sign1 UVM endorsement verification with a minimal strict CBOR reader
 * (RFC 8949 §3; see maa_cose.h).
 */
#include "maa_cose.h"

#include <stdio.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_ecdsa.h"
#include "shd/crypto_rsa.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define COSE_MAX_DEPTH 8u
#define COSE_MAX_CHAIN 4u
#define COSE_ALG_ES384 (-35)
#define COSE_ALG_PS384 (-37)
#define COSE_HDR_ALG 1
#define COSE_HDR_X5CHAIN 33
#define COSE_TAG_SIGN1 18u

enum cbor_major {
    CBOR_UINT = 0,
    CBOR_NINT = 1,
    CBOR_BSTR = 2,
    CBOR_TSTR = 3,
    CBOR_ARRAY = 4,
    CBOR_MAP = 5,
    CBOR_TAG = 6,
    CBOR_SIMPLE = 7,
};

struct cbor_rd {
    const uint8_t *p;
    size_t n;
    size_t pos;
};

/* One item head: major type and argument. Indefinite lengths (ai 31) and ai 28..30 refused. */
static shd_result cbor_head(struct cbor_rd *rd, unsigned *ret_major, uint64_t *ret_arg)
{
    SHD_ENSURE_MSG(rd->pos < rd->n, SHD_ERR_INPUT, "CBOR truncated");
    uint8_t ib = rd->p[rd->pos++];
    unsigned ai = ib & 0x1fu;
    uint64_t arg = ai;
    if (ai >= 24) {
        SHD_ENSURE_MSG(ai <= 27, SHD_ERR_INPUT, "CBOR indefinite or reserved length");
        size_t len = (size_t)1 << (ai - 24);
        SHD_ENSURE_MSG(rd->n - rd->pos >= len, SHD_ERR_INPUT, "CBOR truncated");
        arg = 0;
        for (size_t i = 0; i < len; i++) {
            arg = (arg << 8) | rd->p[rd->pos++];
        }
    }
    *ret_major = ib >> 5;
    *ret_arg = arg;
    return SHD_OK;
}

/* A byte or text string of the given major type; the bytes are borrowed from the input. */
static shd_result cbor_string(struct cbor_rd *rd, unsigned want, const uint8_t **ret,
                              size_t *ret_len)
{
    unsigned major = 0;
    uint64_t len = 0;
    SHD_GUARD(cbor_head(rd, &major, &len));
    SHD_ENSURE_MSG(major == want, SHD_ERR_INPUT, "CBOR: expected a %s string",
                   want == CBOR_BSTR ? "byte" : "text");
    SHD_ENSURE_MSG(len <= rd->n - rd->pos, SHD_ERR_INPUT, "CBOR truncated");
    *ret = rd->p + rd->pos;
    *ret_len = (size_t)len;
    rd->pos += (size_t)len;
    return SHD_OK;
}

static shd_result cbor_skip(struct cbor_rd *rd, unsigned depth)
{
    SHD_ENSURE_MSG(depth < COSE_MAX_DEPTH, SHD_ERR_INPUT, "CBOR nested too deeply");
    unsigned major = 0;
    uint64_t arg = 0;
    SHD_GUARD(cbor_head(rd, &major, &arg));
    switch (major) {
    case CBOR_BSTR:
    case CBOR_TSTR:
        SHD_ENSURE_MSG(arg <= rd->n - rd->pos, SHD_ERR_INPUT, "CBOR truncated");
        rd->pos += (size_t)arg;
        return SHD_OK;
    case CBOR_ARRAY:
    case CBOR_MAP: {
        /* Every item takes at least one byte: a count beyond the input is a lie. */
        SHD_ENSURE_MSG(arg <= rd->n - rd->pos, SHD_ERR_INPUT, "CBOR truncated");
        uint64_t items = major == CBOR_MAP ? 2 * arg : arg;
        for (uint64_t i = 0; i < items; i++) {
            SHD_GUARD(cbor_skip(rd, depth + 1));
        }
        return SHD_OK;
    }
    case CBOR_TAG:
        return cbor_skip(rd, depth + 1);
    case CBOR_UINT:
    case CBOR_NINT:
    case CBOR_SIMPLE:
    default:
        return SHD_OK;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Protected header                                                                            */

struct cose_hdr {
    bool has_alg;
    int64_t alg;
    const uint8_t *x5[COSE_MAX_CHAIN];
    size_t x5_len[COSE_MAX_CHAIN];
    size_t nx5;
    const uint8_t *iss;
    size_t iss_len;
    const uint8_t *feed;
    size_t feed_len;
};

static shd_result cose_x5chain(struct cbor_rd *rd, struct cose_hdr *h)
{
    SHD_ENSURE_MSG(h->nx5 == 0, SHD_ERR_INPUT, "COSE: duplicate x5chain");
    size_t save = rd->pos;
    unsigned major = 0;
    uint64_t n = 0;
    SHD_GUARD(cbor_head(rd, &major, &n));
    if (major == CBOR_BSTR) {
        rd->pos = save;
        SHD_GUARD(cbor_string(rd, CBOR_BSTR, &h->x5[0], &h->x5_len[0]));
        h->nx5 = 1;
        return SHD_OK;
    }
    SHD_ENSURE_MSG(major == CBOR_ARRAY && n >= 1 && n <= COSE_MAX_CHAIN, SHD_ERR_INPUT,
                   "COSE: x5chain must hold 1..%u certificates", COSE_MAX_CHAIN);
    for (size_t i = 0; i < (size_t)n; i++) {
        SHD_GUARD(cbor_string(rd, CBOR_BSTR, &h->x5[i], &h->x5_len[i]));
    }
    h->nx5 = (size_t)n;
    return SHD_OK;
}

static shd_result cose_text_member(struct cbor_rd *rd, const uint8_t **out, size_t *out_len)
{
    SHD_ENSURE_MSG(*out == NULL, SHD_ERR_INPUT, "COSE: duplicate header member");
    return cbor_string(rd, CBOR_TSTR, out, out_len);
}

static shd_result cose_int_key(struct cbor_rd *rd, unsigned major, uint64_t arg, struct cose_hdr *h)
{
    if (major == CBOR_UINT && arg == COSE_HDR_ALG) {
        SHD_ENSURE_MSG(!h->has_alg, SHD_ERR_INPUT, "COSE: duplicate alg");
        unsigned vm = 0;
        uint64_t v = 0;
        SHD_GUARD(cbor_head(rd, &vm, &v));
        SHD_ENSURE_MSG(vm == CBOR_NINT && v < 1000, SHD_ERR_UNSUPPORTED, "COSE: unsupported alg");
        h->alg = -1 - (int64_t)v;
        h->has_alg = true;
        return SHD_OK;
    }
    if (major == CBOR_UINT && arg == COSE_HDR_X5CHAIN) {
        return cose_x5chain(rd, h);
    }
    return cbor_skip(rd, 1);
}

static shd_result cose_protected(const uint8_t *p, size_t n, struct cose_hdr *h)
{
    struct cbor_rd rd = {.p = p, .n = n};
    unsigned major = 0;
    uint64_t count = 0;
    SHD_GUARD(cbor_head(&rd, &major, &count));
    SHD_ENSURE_MSG(major == CBOR_MAP && count <= n, SHD_ERR_INPUT,
                   "COSE: protected header is not a map");
    for (uint64_t i = 0; i < count; i++) {
        size_t key_at = rd.pos;
        unsigned km = 0;
        uint64_t karg = 0;
        SHD_GUARD(cbor_head(&rd, &km, &karg));
        if (km == CBOR_TSTR) {
            rd.pos = key_at;
            const uint8_t *k = NULL;
            size_t kl = 0;
            SHD_GUARD(cbor_string(&rd, CBOR_TSTR, &k, &kl));
            if (kl == 3 && shd_memcmp(k, "iss", 3) == 0) {
                SHD_GUARD(cose_text_member(&rd, &h->iss, &h->iss_len));
            } else if (kl == 4 && shd_memcmp(k, "feed", 4) == 0) {
                SHD_GUARD(cose_text_member(&rd, &h->feed, &h->feed_len));
            } else {
                SHD_GUARD(cbor_skip(&rd, 1));
            }
        } else {
            SHD_ENSURE_MSG(km == CBOR_UINT || km == CBOR_NINT, SHD_ERR_INPUT,
                           "COSE: header label is not an int or text");
            SHD_GUARD(cose_int_key(&rd, km, karg, h));
        }
    }
    SHD_ENSURE_MSG(rd.pos == rd.n, SHD_ERR_INPUT, "COSE: trailing bytes in protected header");
    SHD_ENSURE_MSG(h->has_alg && h->nx5 > 0, SHD_ERR_INPUT,
                   "COSE: protected header needs alg and x5chain");
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Signature and chain                                                                         */

static shd_result cose_put_head(struct shd_buf *b, unsigned major, uint64_t v)
{
    uint8_t h[9];
    size_t n = 0;
    if (v < 24) {
        h[n++] = (uint8_t)((major << 5) | (unsigned)v);
    } else if (v <= 0xff) {
        h[n++] = (uint8_t)((major << 5) | 24u);
        h[n++] = (uint8_t)v;
    } else if (v <= 0xffff) {
        h[n++] = (uint8_t)((major << 5) | 25u);
        h[n++] = (uint8_t)(v >> 8);
        h[n++] = (uint8_t)v;
    } else {
        h[n++] = (uint8_t)((major << 5) | 26u);
        for (int s = 24; s >= 0; s -= 8) {
            h[n++] = (uint8_t)(v >> s);
        }
    }
    return shd_buf_append(h, n, b);
}

/* Sig_structure = ["Signature1", body_protected, external_aad h'', payload] (RFC 9052 §4.4). */
static shd_result cose_tbs(const uint8_t *prot, size_t prot_len, const uint8_t *payload,
                           size_t payload_len, struct shd_buf *b)
{
    SHD_GUARD(cose_put_head(b, CBOR_ARRAY, 4));
    SHD_GUARD(cose_put_head(b, CBOR_TSTR, 10));
    SHD_GUARD(shd_buf_append("Signature1", 10, b));
    SHD_GUARD(cose_put_head(b, CBOR_BSTR, prot_len));
    SHD_GUARD(shd_buf_append(prot, prot_len, b));
    SHD_GUARD(cose_put_head(b, CBOR_BSTR, 0));
    SHD_GUARD(cose_put_head(b, CBOR_BSTR, payload_len));
    return shd_buf_append(payload, payload_len, b);
}

static bool cose_has_eku(X509 *cert, const char *oid)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
    bool found = false;
    for (int i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++) {
        char txt[80];
        int n = OBJ_obj2txt(txt, sizeof(txt), sk_ASN1_OBJECT_value(eku, i), 1);
        found = found || (n > 0 && (size_t)n < sizeof(txt) && strcmp(txt, oid) == 0);
    }
    EXTENDED_KEY_USAGE_free(eku);
    return found;
}

static void cose_borrowed_free(STACK_OF(X509) * *p)
{
    if (*p != NULL) {
        sk_X509_free(*p);
        *p = NULL;
    }
}

/* did:x509:0:sha256:<b64url SHA-256 of the root DER>::eku:<EKU> (refinfo.h). */
static shd_result cose_check_did(const struct cose_hdr *h, X509 *root)
{
    if (h->iss == NULL) {
        return SHD_OK;
    }
    SHD_CLEANUP_FREE uint8_t *der = NULL;
    size_t der_len = 0;
    SHD_GUARD(shd_crypto_x509_export_der(root, &der, &der_len));
    uint8_t fp[SHD_CRYPTO_SHA256_LEN];
    SHD_GUARD(shd_crypto_sha256(der, der_len, fp));
    SHD_CLEANUP_FREE char *b64 = NULL;
    SHD_GUARD(shd_b64_encode(fp, sizeof(fp), SHD_B64_URL_NOPAD, &b64, NULL));
    char did[160];
    int n = snprintf(did, sizeof(did), "did:x509:0:sha256:%s::eku:%s", b64, AEMU_UVM_EKU);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(did), SHD_ERR_INTERNAL);
    SHD_ENSURE_MSG(h->iss_len == (size_t)n && shd_memcmp(h->iss, did, (size_t)n) == 0,
                   SHD_ERR_POLICY, "COSE: iss does not name the trusted signing root");
    return SHD_OK;
}

static shd_result cose_chain(const struct cose_hdr *h, X509 *root, EVP_PKEY **ret_key)
{
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *certs = sk_X509_new_null();
    SHD_ENSURE(certs != NULL, SHD_ERR_NOMEM);
    for (size_t i = 0; i < h->nx5; i++) {
        X509 *c = NULL;
        SHD_GUARD_CTX(shd_crypto_x509_load(h->x5[i], h->x5_len[i], &c), "COSE x5chain[%zu]", i);
        if (sk_X509_push(certs, c) <= 0) {
            X509_free(c);
            SHD_BAIL(SHD_ERR_NOMEM);
        }
    }
    X509 *leaf = sk_X509_value(certs, 0);
    SHD_CLEANUP(cose_borrowed_free) STACK_OF(X509) *untrusted = sk_X509_new_null();
    SHD_CLEANUP(cose_borrowed_free) STACK_OF(X509) *roots = sk_X509_new_null();
    SHD_ENSURE(untrusted != NULL && roots != NULL && sk_X509_push(roots, root) > 0, SHD_ERR_NOMEM);
    for (int i = 1; i < sk_X509_num(certs); i++) {
        SHD_ENSURE(sk_X509_push(untrusted, sk_X509_value(certs, i)) > 0, SHD_ERR_NOMEM);
    }
    SHD_GUARD_CTX(shd_crypto_x509_verify(leaf, untrusted, roots, NULL), "COSE signer");
    SHD_ENSURE_MSG(cose_has_eku(leaf, AEMU_UVM_EKU), SHD_ERR_BAD_CERT,
                   "COSE signer lacks the UVM endorsement EKU");
    SHD_GUARD(cose_check_did(h, root));
    return shd_crypto_x509_pubkey(leaf, ret_key);
}

static shd_result cose_check_sig(const struct cose_hdr *h, EVP_PKEY *key, const uint8_t *tbs,
                                 size_t tbs_len, const uint8_t *sig, size_t sig_len)
{
    if (h->alg == COSE_ALG_ES384) {
        return shd_crypto_ecdsa_verify_raw(SHD_CRYPTO_HASH_SHA384, tbs, tbs_len, sig, sig_len, key);
    }
    if (h->alg == COSE_ALG_PS384) {
        return shd_crypto_rsa_pss_verify(SHD_CRYPTO_HASH_SHA384, tbs, tbs_len, sig, sig_len, key);
    }
    SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "COSE: unsupported alg %lld", (long long)h->alg);
}

static shd_result cose_headers_json(const struct cose_hdr *h, json_t **ret)
{
    SHD_CLEANUP_JSON json_t *o = json_object();
    SHD_ENSURE(o != NULL, SHD_ERR_NOMEM);
    SHD_ENSURE(json_object_set_new(o, "feed", json_stringn((const char *)h->feed, h->feed_len)) ==
                   0,
               SHD_ERR_INPUT);
    if (h->iss != NULL) {
        SHD_ENSURE(json_object_set_new(o, "iss", json_stringn((const char *)h->iss, h->iss_len)) ==
                       0,
                   SHD_ERR_INPUT);
    }
    *ret = SHD_TAKE_PTR(o);
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */

shd_result aemu_cose_uvm_verify(const uint8_t *cose, size_t len, X509 *root, json_t **ret_payload,
                                json_t **ret_headers)
{
    SHD_ENSURE_REF(cose);
    SHD_ENSURE_REF(root);
    SHD_ENSURE_REF(ret_payload);
    SHD_ENSURE_REF(ret_headers);
    SHD_ENSURE_MSG(len <= AEMU_COSE_MAX, SHD_ERR_TOO_LARGE, "COSE document too large");
    struct cbor_rd rd = {.p = cose, .n = len};
    unsigned major = 0;
    uint64_t arg = 0;
    SHD_GUARD(cbor_head(&rd, &major, &arg));
    if (major == CBOR_TAG) {
        SHD_ENSURE_MSG(arg == COSE_TAG_SIGN1, SHD_ERR_INPUT, "COSE: not a COSE_Sign1 tag");
        SHD_GUARD(cbor_head(&rd, &major, &arg));
    }
    SHD_ENSURE_MSG(major == CBOR_ARRAY && arg == 4, SHD_ERR_INPUT,
                   "COSE: COSE_Sign1 is not an array of 4");
    const uint8_t *prot = NULL;
    const uint8_t *payload = NULL;
    const uint8_t *sig = NULL;
    size_t prot_len = 0;
    size_t payload_len = 0;
    size_t sig_len = 0;
    SHD_GUARD(cbor_string(&rd, CBOR_BSTR, &prot, &prot_len));
    size_t unprot_at = rd.pos;
    SHD_GUARD(cbor_skip(&rd, 1));
    SHD_ENSURE_MSG(cose[unprot_at] >> 5 == CBOR_MAP, SHD_ERR_INPUT,
                   "COSE: unprotected header is not a map");
    SHD_GUARD(cbor_string(&rd, CBOR_BSTR, &payload, &payload_len));
    SHD_GUARD(cbor_string(&rd, CBOR_BSTR, &sig, &sig_len));
    SHD_ENSURE_MSG(rd.pos == rd.n, SHD_ERR_INPUT, "COSE: trailing bytes");

    struct cose_hdr h = {0};
    SHD_GUARD(cose_protected(prot, prot_len, &h));
    SHD_ENSURE_MSG(h.feed != NULL && h.feed_len == strlen(AEMU_UVM_FEED) &&
                       shd_memcmp(h.feed, AEMU_UVM_FEED, h.feed_len) == 0,
                   SHD_ERR_POLICY, "COSE: feed is not %s", AEMU_UVM_FEED);
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    SHD_GUARD(cose_chain(&h, root, &key));

    struct shd_buf tbs;
    shd_buf_init(AEMU_COSE_MAX + 64u, 0, &tbs);
    shd_result r = cose_tbs(prot, prot_len, payload, payload_len, &tbs);
    if (shd_is_ok(r)) {
        r = cose_check_sig(&h, key, shd_buf_ptr(&tbs), shd_buf_len(&tbs), sig, sig_len);
    }
    shd_buf_free(&tbs);
    SHD_GUARD_CTX(r, "COSE signature");

    SHD_CLEANUP_JSON json_t *pj = NULL;
    SHD_GUARD_CTX(shd_json_parse((const char *)payload, payload_len, NULL, &pj), "COSE payload");
    SHD_ENSURE_MSG(json_is_object(pj), SHD_ERR_INPUT, "COSE payload is not a JSON object");
    const char *svn = NULL;
    SHD_GUARD_CTX(shd_json_get_string(pj, "x-ms-sevsnpvm-guestsvn", &svn), "COSE payload");
    SHD_CLEANUP_JSON json_t *hj = NULL;
    SHD_GUARD(cose_headers_json(&h, &hj));
    *ret_payload = SHD_TAKE_PTR(pj);
    *ret_headers = SHD_TAKE_PTR(hj);
    return SHD_OK;
}
