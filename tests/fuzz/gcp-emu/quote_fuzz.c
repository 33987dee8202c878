/*
 * quote_fuzz.c - fuzz target for the TPM2_Quote verification of the GCP emulator
 * (tests/emulators/gcp/src/quote.c): TPMS_ATTEST and TPMT_SIGNATURE unmarshalling, RSASSA and
 * ECDSA checks, nonce, PCR selection and PCR digest.
 *
 * Target Functions: gemu_quote_verify
 *
 * Input: selector byte, u16le attest length, TPMS_ATTEST bytes, [u16le signature length,
 * TPMT_SIGNATURE bytes], u32le PCR mask (24 bits), then the PCR values one after the other,
 * digest-size bytes each (the last ones may come short or be missing).
 *   selector bits 1-2: the PCR bank (SHA-1, SHA-256, SHA-384, SHA-512);
 *   bit 3 clear: the signature comes from the input and is checked with AK_RSA (bit 0 clear)
 *     or AK_EC (bit 0 set), whose private keys were discarded: it must never verify;
 *   bit 3 set: no signature in the input; the target signs the TPMS_ATTEST itself (RSASSA
 *     SHA-256 with SIGNER) so that the checks behind the signature are reached.
 * Properties checked:
 *   - with the input's signature, verification never succeeds and fails only with
 *     SHD_ERR_INPUT, SHD_ERR_TOO_LARGE, SHD_ERR_BAD_KEY or SHD_ERR_BAD_SIGNATURE (never with
 *     SHD_ERR_POLICY, which is only reachable once a signature verified);
 *   - self-signed, it fails only with SHD_ERR_INPUT, SHD_ERR_TOO_LARGE or SHD_ERR_POLICY and
 *     succeeds exactly when an independent check says so: well-formed quote (magic, type, no
 *     trailing bytes), extraData equal to the nonce, one selection of the given bank naming
 *     exactly the given PCRs, each given with the bank's size, and pcrDigest = SHA-256 of their
 *     concatenation.
 */
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "../shared/fuzz_common.h"
#include "quote.h"
#include "shd/crypto.h"
#include "shd/crypto_rsa.h"
#include "shd/mem.h"

static const uint8_t NONCE[16] = "fuzz-quote-nonce";
static const uint16_t BANKS[] = {GEMU_ALG_SHA1, GEMU_ALG_SHA256, GEMU_ALG_SHA384,
                                 GEMU_ALG_SHA512};

/* AK public keys whose private halves were discarded when they were made. */
static const char AK_RSA[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAy0YedDaDsotIlRgj6Hc3\n"
    "XutknvEk8dNFrcmAeLd2G2s6+/wjO9RH32xH5wmCUkECuA77rtQp9bN/zjHXHEUh\n"
    "kd774/BJ79XoTAf1CPK1XVAN/O+dPRarBfEkh89htmS/7QTV+Cj/V+TvKL2GRMz6\n"
    "0Sq1YF8bzV8p56MjtUkafmJsg6pJ8re7erjJ7YbSbJLW7F7V0Q3dOr2B9PZL0Mzs\n"
    "IbdYuWBKoPYHc4jv1qytVaxCVrg06nrNX7l01EvoDbvyRosT+AH3nWdfhd/4U4M6\n"
    "x6BB6oeqZv40Uld83KveFXWZ8hIwk8u5IqEqTHai/imRTKtp7Z6RRo1jtTvsEmpA\n"
    "QQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char AK_EC[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUOs+GlhEIfyWH/3NXPeTfnGPXK1g\n"
    "fFy7nlTz+RjZwKUCc/qiBVc61EwP0yfretsAvmyJ7CY9n641kI3gkcHzoQ==\n"
    "-----END PUBLIC KEY-----\n";

/* tests/unit/shared/fixtures/rsa2048.pem (public test key): signs in the self-signed mode. */
static const char SIGNER[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCubREbCsC0xHua\n"
    "okC29RN+Z5R064hfzs2lH9TWHQOQ6CuPGtbbRk6xOYf1ZjanE3XR57G5h6cxFG6L\n"
    "8Pcbje2Z7G77iMtIx8l1A1srGZ71HahNOqDJoQ2fPXXmU5zmupRD5ueJFz6HSG90\n"
    "pU8tX5z70tZX3Y8M5KZMODyhqSn38YwwYKg2kmE8v1TK7JQtcpunYGgjT/OGIGlE\n"
    "CTOgibWivKjGXq2lW4JjSaOeB6ZRdBdPwTIeyOfVcRPt3i4/X9vXniYaHrpqzGNI\n"
    "a19tZPA28aMyWu19fZAjrr740bGkG7KQ0cdBOybpZ4hcX7ZciTBYMcyZ6RWCKZFL\n"
    "PGycxNW3AgMBAAECggEAKLV00hJi4m2fCXqHzwuIxq4nBFi6Rd4OudShiG1SGT5O\n"
    "eEJD1f5lPFCYjioSZFES5PAF1y61UyuZF1kgWxJ3Wz7Gsjb9dtmGB6TGYNtEcaG/\n"
    "13Jw9036z2j5PM3T5zexhd18uU6u/cTmmltAjO7tRQqykuQ3UEOHGm/fmr1P+blH\n"
    "chr7VzOKitGKLaS4dlVM7RK9qCNb75zCIG2JWqgx8sJCu/NdkavwY2BH46GKE8cv\n"
    "L7uLBS1b1q5QBmwsNt5uLb4bGBakZZdUoQIJs/KGMfwWjc/T0xfhKJLRHuXkEwg6\n"
    "BNlFyL7bhWgQqGSTpxEuJl4vKZbrdV+HbFxKUMTPBQKBgQDt3WCtu+FsjtasirMm\n"
    "Qb7jxL+iAq7/uGwpTDcwuKjuhICSqueCoaZXzs2ue2RpT9OEB0f4n6AoMyjPGhs3\n"
    "Y9zBg10q/FPCVtvKLIBRYElxG8LUJpMDJ4g+6Z3qjzDetUrkwp7YMD95sens6vaG\n"
    "GWX86joHewKTpdR1+OGv/vBEQwKBgQC7uX+KPPvsw93HPHw904EeQCSXHYpdVr40\n"
    "UOZoslgV25wbOapoadHV8cGjLQp1v2czn9yWbu0l5WDRigYNU30PXQ+if9V9DI4W\n"
    "zmXxQWo5h9FQxpnJOz4gjnqcxFvo9+YVh8gf8kBvmGNFQb15nAnh9Aq9psUEDXBZ\n"
    "eeic6m7rfQKBgFkzmOruN1Zfpq/j/9UL+Msv4HGgMgJiJeXC2DukNG3mMNVP1CwP\n"
    "9PKe8lFJotk/f2HW3S2mpwgMT3SDJMu73nCPk+Pn5n1N13TVBXX+9uu87m5i3OTk\n"
    "8Vouf/MTqc8LC8AIIEuQpG09xCz93F9jrPSQ3hwqDEhUev2WzQQURgRDAoGABP1j\n"
    "RHtmft6d8IPNEZ+jmPg/gLzKRrzdhWp5FWNYMAyMU7TusKPPbg5lBT9XPdX+mkKv\n"
    "jFgaeZ1lO2ydyJDljBj/J2Saeh5xUG3gC8+fUTQo/iqpP84RUrA21h/qCYE9Xmkj\n"
    "iqXXzJ+SU+7xaGAbayQffPcH2Zm52McCxdj9ZckCgYEA6nwvgr+TyrkvZeOzjaT3\n"
    "Z+2pch7lnleA6uKKwiZZCvOZW26QTKFVD99GCvSMMnBA26MoyzMfS4Nx/om65nhD\n"
    "0nGIZu/A6NhFYad0/DFmeVTN03i2Oy+xPcWXnxdvJr4maQ+6UivLXHYKJgfvRpg/\n"
    "Qo4V+XNXFbmFkg+5F7ce1ec=\n"
    "-----END PRIVATE KEY-----\n";

struct reader {
    const uint8_t *p;
    size_t n;
};

static bool take(struct reader *rd, size_t n, const uint8_t **ret)
{
    if (rd->n < n) {
        return false;
    }
    *ret = rd->p;
    rd->p += n;
    rd->n -= n;
    return true;
}

static bool take_u16(struct reader *rd, size_t *ret)
{
    const uint8_t *b = NULL;
    if (!take(rd, 2, &b)) {
        return false;
    }
    *ret = (size_t)b[0] | ((size_t)b[1] << 8);
    return true;
}

static EVP_PKEY *pub_key(const char *pem)
{
    EVP_PKEY *k = NULL;
    FUZZ_ASSERT(shd_is_ok(shd_crypto_pubkey_load((const uint8_t *)pem, strlen(pem), &k)));
    return k;
}

/* The PCR values after the mask: each set bit takes up to the bank's digest size. */
static void take_pcrs(struct reader *rd, struct gemu_quote *q)
{
    size_t dlen = gemu_alg_digest_len(q->hash_alg);
    for (size_t i = 0; i < GEMU_PCR_COUNT; i++) {
        if ((q->pcr_mask & (1u << i)) == 0 || rd->n == 0) {
            continue;
        }
        size_t n = rd->n < dlen ? rd->n : dlen;
        q->pcr[i] = rd->p;
        q->pcr_len[i] = n;
        rd->p += n;
        rd->n -= n;
    }
}

/* Independent verdict on a quote whose signature is known good (SHA-256). */
static bool expect_ok(const struct gemu_quote *q)
{
    TPMS_ATTEST a;
    size_t off = 0;
    shd_memzero(&a, sizeof(a));
    if (q->raw_quote_len > GEMU_QUOTE_MAX_ATTEST ||
        Tss2_MU_TPMS_ATTEST_Unmarshal(q->raw_quote, q->raw_quote_len, &off, &a) !=
            TSS2_RC_SUCCESS ||
        off != q->raw_quote_len || a.magic != TPM2_GENERATED_VALUE ||
        a.type != TPM2_ST_ATTEST_QUOTE) {
        return false;
    }
    if (a.extraData.size != sizeof(NONCE) || shd_memcmp(a.extraData.buffer, NONCE, 16) != 0) {
        return false;
    }
    const TPML_PCR_SELECTION *sel = &a.attested.quote.pcrSelect;
    if (sel->count != 1 || sel->pcrSelections[0].hash != q->hash_alg) {
        return false;
    }
    uint64_t mask = 0;
    for (size_t b = 0; b < sel->pcrSelections[0].sizeofSelect && b < 4; b++) {
        mask |= (uint64_t)sel->pcrSelections[0].pcrSelect[b] << (8 * b);
    }
    if (mask != q->pcr_mask) {
        return false;
    }
    size_t dlen = gemu_alg_digest_len(q->hash_alg);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    FUZZ_ASSERT(ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
    bool ok = true;
    for (size_t i = 0; i < GEMU_PCR_COUNT && ok; i++) {
        if ((mask & (1u << i)) != 0) {
            ok = q->pcr[i] != NULL && q->pcr_len[i] == dlen &&
                 EVP_DigestUpdate(ctx, q->pcr[i], dlen) == 1;
        }
    }
    uint8_t h[32];
    unsigned hl = 0;
    FUZZ_ASSERT(EVP_DigestFinal_ex(ctx, h, &hl) == 1 && hl == 32);
    EVP_MD_CTX_free(ctx);
    return ok && a.attested.quote.pcrDigest.size == 32 &&
           shd_memcmp(a.attested.quote.pcrDigest.buffer, h, 32) == 0;
}

static void self_signed(struct gemu_quote *q)
{
    size_t pem_len = sizeof(SIGNER) - 1;
    uint8_t *pem = shd_alloc(pem_len);
    EVP_PKEY *key = NULL;
    FUZZ_ASSERT(pem != NULL);
    shd_memcpy(pem, SIGNER, pem_len);
    FUZZ_ASSERT(shd_is_ok(shd_crypto_privkey_load(pem, pem_len, &key)));
    shd_free(pem);

    uint8_t *s = NULL;
    size_t s_len = 0;
    FUZZ_ASSERT(shd_is_ok(shd_crypto_rsa_pkcs1_sign(SHD_CRYPTO_HASH_SHA256, q->raw_quote,
                                                    q->raw_quote_len, key, &s, &s_len)));
    TPMT_SIGNATURE sig;
    shd_memzero(&sig, sizeof(sig));
    sig.sigAlg = TPM2_ALG_RSASSA;
    sig.signature.rsassa.hash = TPM2_ALG_SHA256;
    FUZZ_ASSERT(s_len <= sizeof(sig.signature.rsassa.sig.buffer));
    sig.signature.rsassa.sig.size = (UINT16)s_len;
    shd_memcpy(sig.signature.rsassa.sig.buffer, s, s_len);
    shd_free(s);
    uint8_t raw[sizeof(TPMT_SIGNATURE)];
    size_t raw_len = 0;
    FUZZ_ASSERT(Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, raw, sizeof(raw), &raw_len) ==
                TSS2_RC_SUCCESS);
    q->raw_sig = raw;
    q->raw_sig_len = raw_len;

    bool want = expect_ok(q);
    shd_result r = gemu_quote_verify(q, key, NONCE, sizeof(NONCE));
    FUZZ_OK_OR(r, SHD_ERR_INPUT, SHD_ERR_TOO_LARGE, SHD_ERR_POLICY);
    FUZZ_ASSERT(shd_is_ok(r) == want);
    EVP_PKEY_free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    struct reader rd = {data, size};
    const uint8_t *sel = NULL;
    const uint8_t *mask = NULL;
    size_t n = 0;
    struct gemu_quote q;
    shd_memzero(&q, sizeof(q));
    if (!take(&rd, 1, &sel) || !take_u16(&rd, &n) || !take(&rd, n, &q.raw_quote)) {
        return 0;
    }
    q.raw_quote_len = n;
    q.hash_alg = BANKS[(sel[0] >> 1) & 3u];
    bool self = (sel[0] & 8u) != 0;
    if (!self && (!take_u16(&rd, &n) || !take(&rd, n, &q.raw_sig))) {
        return 0;
    }
    q.raw_sig_len = self ? 0 : n;
    if (take(&rd, 4, &mask)) {
        q.pcr_mask = ((uint32_t)mask[0] | ((uint32_t)mask[1] << 8) | ((uint32_t)mask[2] << 16)) &
                     ((1u << GEMU_PCR_COUNT) - 1u);
    }
    take_pcrs(&rd, &q);

    if (self) {
        self_signed(&q);
    } else {
        EVP_PKEY *ak = pub_key((sel[0] & 1u) != 0 ? AK_EC : AK_RSA);
        shd_result r = gemu_quote_verify(&q, ak, NONCE, sizeof(NONCE));
        FUZZ_ASSERT(shd_is_err(r));
        FUZZ_OK_OR(r, SHD_ERR_INPUT, SHD_ERR_TOO_LARGE, SHD_ERR_BAD_KEY, SHD_ERR_BAD_SIGNATURE);
        EVP_PKEY_free(ak);
    }
    fuzz_error_reset();
    return 0;
}
