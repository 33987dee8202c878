/*
 * quote_test.c - gemu_quote_verify on quotes built and signed in software (the real-TPM path is
 * verifier_test.c): every check fires with its own code, malformed structures are refused.
 */
#include <string.h>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "shd_test.h"

#include "quote.h"

#include "shd/crypto.h"
#include "shd/crypto_ecdsa.h"
#include "shd/crypto_rsa.h"
#include "shd/mem.h"

static const uint8_t nonce[] = "GoogAttestV1abcdefghijklmnopqrstuv";

struct q {
    uint8_t attest[1024];
    size_t attest_len;
    uint8_t sig[1024];
    size_t sig_len;
    uint8_t pcrs[GEMU_PCR_COUNT][32];
    struct gemu_quote quote;
};

struct keys {
    EVP_PKEY *rsa, *ec;
};

static int setup(void **state)
{
    struct keys *k = shd_alloc(sizeof(*k));

    assert_non_null(k);
    EXPECT_OK(shd_crypto_rsa_generate(2048, &k->rsa));
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &k->ec));
    *state = k;
    return 0;
}

static int teardown(void **state)
{
    struct keys *k = *state;

    EVP_PKEY_free(k->rsa);
    EVP_PKEY_free(k->ec);
    shd_free(k);
    return 0;
}

/* Marshals a TPMS_ATTEST quoting PCRs 0..23 of SHA-256 (values pcrs) and signs it. */
static void make(EVP_PKEY *key, uint32_t magic, uint16_t type, TPMI_ALG_HASH sig_hash, struct q *q)
{
    TPMS_ATTEST a;
    TPMT_SIGNATURE s;
    uint8_t cat[GEMU_PCR_COUNT * 32];
    size_t off = 0;

    shd_memzero(&a, sizeof(a));
    shd_memzero(&s, sizeof(s));
    for (size_t i = 0; i < GEMU_PCR_COUNT; i++) {
        shd_memzero(q->pcrs[i], 32);
        q->pcrs[i][0] = (uint8_t)i;
        shd_memcpy(cat + 32 * i, q->pcrs[i], 32);
    }
    a.magic = magic;
    a.type = type;
    a.extraData.size = sizeof(nonce) - 1;
    shd_memcpy(a.extraData.buffer, nonce, sizeof(nonce) - 1);
    a.attested.quote.pcrSelect.count = 1;
    a.attested.quote.pcrSelect.pcrSelections[0].hash = TPM2_ALG_SHA256;
    a.attested.quote.pcrSelect.pcrSelections[0].sizeofSelect = 3;
    a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[0] = 0xff;
    a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[1] = 0xff;
    a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[2] = 0xff;
    a.attested.quote.pcrDigest.size = 32;
    EXPECT_OK(shd_crypto_sha256(cat, sizeof(cat), a.attested.quote.pcrDigest.buffer));
    assert_int_equal(Tss2_MU_TPMS_ATTEST_Marshal(&a, q->attest, sizeof(q->attest), &off), 0);
    q->attest_len = off;
    if (shd_crypto_key_kind(key) == SHD_CRYPTO_KEY_RSA) {
        uint8_t *sig = NULL;
        size_t n = 0;

        EXPECT_OK(shd_crypto_rsa_pkcs1_sign(SHD_CRYPTO_HASH_SHA256, q->attest, q->attest_len, key,
                                            &sig, &n));
        s.sigAlg = TPM2_ALG_RSASSA;
        s.signature.rsassa.hash = sig_hash;
        s.signature.rsassa.sig.size = (UINT16)n;
        shd_memcpy(s.signature.rsassa.sig.buffer, sig, n);
        shd_free(sig);
    } else {
        uint8_t rs[64];
        size_t n = 0;

        EXPECT_OK(shd_crypto_ecdsa_sign_raw(SHD_CRYPTO_HASH_SHA256, q->attest, q->attest_len, key,
                                            rs, sizeof(rs), &n));
        s.sigAlg = TPM2_ALG_ECDSA;
        s.signature.ecdsa.hash = sig_hash;
        s.signature.ecdsa.signatureR.size = 32;
        shd_memcpy(s.signature.ecdsa.signatureR.buffer, rs, 32);
        s.signature.ecdsa.signatureS.size = 32;
        shd_memcpy(s.signature.ecdsa.signatureS.buffer, rs + 32, 32);
    }
    off = 0;
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, q->sig, sizeof(q->sig), &off), 0);
    q->sig_len = off;
    shd_memzero(&q->quote, sizeof(q->quote));
    q->quote.hash_alg = GEMU_ALG_SHA256;
    q->quote.pcr_mask = 0xffffff;
    for (size_t i = 0; i < GEMU_PCR_COUNT; i++) {
        q->quote.pcr[i] = q->pcrs[i];
        q->quote.pcr_len[i] = 32;
    }
    q->quote.raw_quote = q->attest;
    q->quote.raw_quote_len = q->attest_len;
    q->quote.raw_sig = q->sig;
    q->quote.raw_sig_len = q->sig_len;
}

static void good(EVP_PKEY *key, struct q *q)
{
    make(key, TPM2_GENERATED_VALUE, TPM2_ST_ATTEST_QUOTE, TPM2_ALG_SHA256, q);
}

static shd_result verify(const struct q *q, EVP_PKEY *key)
{
    return gemu_quote_verify(&q->quote, key, nonce, sizeof(nonce) - 1);
}

static void test_valid_rsa_and_ecdsa(void **state)
{
    struct keys *k = *state;
    struct q q;

    good(k->rsa, &q);
    EXPECT_OK(verify(&q, k->rsa));
    good(k->ec, &q);
    EXPECT_OK(verify(&q, k->ec));
}

static void test_nonce_mismatch(void **state)
{
    struct keys *k = *state;
    struct q q;
    uint8_t other[sizeof(nonce) - 1];

    good(k->rsa, &q);
    shd_memcpy(other, nonce, sizeof(other));
    other[0] ^= 1;
    EXPECT_ERR(gemu_quote_verify(&q.quote, k->rsa, other, sizeof(other)), SHD_ERR_POLICY);
    EXPECT_ERR(gemu_quote_verify(&q.quote, k->rsa, nonce, sizeof(nonce) - 2), SHD_ERR_POLICY);
    EXPECT_ERR(gemu_quote_verify(&q.quote, k->rsa, NULL, 0), SHD_ERR_POLICY);
}

static void test_pcr_mismatches(void **state)
{
    struct keys *k = *state;
    struct q q;
    uint8_t short_value[20] = {0};

    good(k->ec, &q);
    q.pcrs[7][31] ^= 1;
    EXPECT_ERR(verify(&q, k->ec), SHD_ERR_POLICY); /* digest */
    good(k->ec, &q);
    q.quote.pcr_mask = 0x7fffff;
    EXPECT_ERR(verify(&q, k->ec), SHD_ERR_POLICY); /* PCR 23 quoted but not given */
    good(k->ec, &q);
    q.quote.hash_alg = GEMU_ALG_SHA1;
    EXPECT_ERR(verify(&q, k->ec), SHD_ERR_POLICY); /* another bank */
    good(k->ec, &q);
    q.quote.pcr[3] = short_value;
    q.quote.pcr_len[3] = sizeof(short_value);
    EXPECT_ERR(verify(&q, k->ec), SHD_ERR_INPUT);
    good(k->ec, &q);
    q.quote.hash_alg = 0x0012;
    EXPECT_ERR(verify(&q, k->ec), SHD_ERR_INPUT);
}

static void test_signature_failures(void **state)
{
    struct keys *k = *state;
    struct q q;
    EVP_PKEY *other = NULL;

    good(k->rsa, &q);
    q.sig[q.sig_len - 1] ^= 1;
    EXPECT_ERR(verify(&q, k->rsa), SHD_ERR_BAD_SIGNATURE);
    good(k->rsa, &q);
    q.attest[q.attest_len - 1] ^= 1; /* signed bytes changed */
    EXPECT_ERR(verify(&q, k->rsa), SHD_ERR_BAD_SIGNATURE);
    good(k->rsa, &q);
    EXPECT_ERR(verify(&q, k->ec), SHD_ERR_BAD_KEY);
    good(k->ec, &q);
    EXPECT_ERR(verify(&q, k->rsa), SHD_ERR_BAD_KEY);
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &other));
    EXPECT_ERR(verify(&q, other), SHD_ERR_BAD_SIGNATURE);
    EVP_PKEY_free(other);
    make(k->rsa, TPM2_GENERATED_VALUE, TPM2_ST_ATTEST_QUOTE, TPM2_ALG_SHA1, &q);
    EXPECT_ERR(verify(&q, k->rsa), SHD_ERR_INPUT);
}

static void test_not_a_quote(void **state)
{
    struct keys *k = *state;
    struct q q;

    make(k->rsa, 0x12345678, TPM2_ST_ATTEST_QUOTE, TPM2_ALG_SHA256, &q);
    EXPECT_ERR(verify(&q, k->rsa), SHD_ERR_INPUT);
    make(k->rsa, TPM2_GENERATED_VALUE, TPM2_ST_ATTEST_CERTIFY, TPM2_ALG_SHA256, &q);
    EXPECT_ERR(verify(&q, k->rsa), SHD_ERR_INPUT);
}

static void test_malformed_structures(void **state)
{
    struct keys *k = *state;
    struct q q;

    good(k->ec, &q);
    for (size_t n = 0; n < q.attest_len; n++) {
        q.quote.raw_quote_len = n;
        EXPECT_ERR(verify(&q, k->ec), SHD_ERR_INPUT);
    }
    q.quote.raw_quote_len = q.attest_len + 1; /* trailing byte */
    EXPECT_ERR(verify(&q, k->ec), SHD_ERR_INPUT);
    q.quote.raw_quote_len = q.attest_len;
    for (size_t n = 0; n < q.sig_len; n++) {
        q.quote.raw_sig_len = n;
        EXPECT_ERR(verify(&q, k->ec), SHD_ERR_INPUT);
    }
    q.quote.raw_sig_len = q.sig_len + 1;
    EXPECT_ERR(verify(&q, k->ec), SHD_ERR_INPUT);
    q.quote.raw_sig_len = GEMU_QUOTE_MAX_SIG + 1;
    EXPECT_ERR(verify(&q, k->ec), SHD_ERR_TOO_LARGE);
    q.quote.raw_sig_len = q.sig_len;
    q.quote.raw_quote_len = GEMU_QUOTE_MAX_ATTEST + 1;
    EXPECT_ERR(verify(&q, k->ec), SHD_ERR_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_rsa_and_ecdsa), cmocka_unit_test(test_nonce_mismatch),
        cmocka_unit_test(test_pcr_mismatches),      cmocka_unit_test(test_signature_failures),
        cmocka_unit_test(test_not_a_quote),         cmocka_unit_test(test_malformed_structures),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
