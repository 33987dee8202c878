/*
 * quote.c - TPM2_Quote verification (quote.h).
 */
#include <string.h>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "eventlog_int.h"
#include "quote.h"

#include "shd/crypto.h"
#include "shd/crypto_ecdsa.h"
#include "shd/crypto_rsa.h"
#include "shd/mem.h"
#include "shd/safety.h"

static shd_result sig_hash(TPMI_ALG_HASH alg, enum shd_crypto_hash *ret)
{
    switch (alg) {
    case TPM2_ALG_SHA256:
        *ret = SHD_CRYPTO_HASH_SHA256;
        return SHD_OK;
    case TPM2_ALG_SHA384:
        *ret = SHD_CRYPTO_HASH_SHA384;
        return SHD_OK;
    case TPM2_ALG_SHA512:
        *ret = SHD_CRYPTO_HASH_SHA512;
        return SHD_OK;
    default:
        SHD_BAIL_MSG(SHD_ERR_INPUT, "quote signature hash 0x%04x not accepted", alg);
    }
}

/* Big-endian unsigned TPM2B value left-padded to the field size. */
static shd_result pad_component(const uint8_t *v, size_t len, size_t field, uint8_t *out)
{
    /* Leading zero octets beyond the field size are tolerated, anything else is not. */
    while (len > field && v[0] == 0) {
        v++;
        len--;
    }
    SHD_ENSURE_MSG(len <= field, SHD_ERR_BAD_SIGNATURE, "ECDSA component too long");
    shd_memzero(out, field - len);
    shd_memcpy(out + field - len, v, len);
    return SHD_OK;
}

static shd_result verify_signature(const struct gemu_quote *q, const TPMT_SIGNATURE *sig,
                                   EVP_PKEY *ak, enum shd_crypto_hash *ret_hash)
{
    enum shd_crypto_key_kind kind = shd_crypto_key_kind(ak);
    enum shd_crypto_hash h;

    switch (sig->sigAlg) {
    case TPM2_ALG_RSASSA:
        SHD_ENSURE_MSG(kind == SHD_CRYPTO_KEY_RSA, SHD_ERR_BAD_KEY,
                       "RSASSA quote signature but the AK is not RSA");
        SHD_GUARD(sig_hash(sig->signature.rsassa.hash, &h));
        SHD_GUARD_CTX(shd_crypto_rsa_pkcs1_verify(h, q->raw_quote, q->raw_quote_len,
                                                  sig->signature.rsassa.sig.buffer,
                                                  sig->signature.rsassa.sig.size, ak),
                      "quote signature");
        break;
    case TPM2_ALG_ECDSA: {
        uint8_t rs[2 * SHD_CRYPTO_EC_COORD_MAX];
        size_t field;

        if (kind == SHD_CRYPTO_KEY_EC_P256) {
            field = 32;
        } else if (kind == SHD_CRYPTO_KEY_EC_P384) {
            field = 48;
        } else {
            SHD_BAIL_MSG(SHD_ERR_BAD_KEY, "ECDSA quote signature but the AK is not P-256/384");
        }
        SHD_GUARD(sig_hash(sig->signature.ecdsa.hash, &h));
        SHD_GUARD(pad_component(sig->signature.ecdsa.signatureR.buffer,
                                sig->signature.ecdsa.signatureR.size, field, rs));
        SHD_GUARD(pad_component(sig->signature.ecdsa.signatureS.buffer,
                                sig->signature.ecdsa.signatureS.size, field, rs + field));
        SHD_GUARD_CTX(
            shd_crypto_ecdsa_verify_raw(h, q->raw_quote, q->raw_quote_len, rs, 2 * field, ak),
            "quote signature");
        break;
    }
    default:
        SHD_BAIL_MSG(SHD_ERR_INPUT, "quote signature algorithm 0x%04x not accepted", sig->sigAlg);
    }
    *ret_hash = h;
    return SHD_OK;
}

/* The PCR set of the quote's selection, which must be the single bank alg. */
static shd_result selection_mask(const TPML_PCR_SELECTION *sel, uint16_t alg, uint32_t *ret_mask)
{
    const TPMS_PCR_SELECTION *s;
    uint32_t mask = 0;

    SHD_ENSURE_MSG(sel->count == 1, SHD_ERR_POLICY, "quote selects %u PCR banks, want 1",
                   sel->count);
    s = &sel->pcrSelections[0];
    SHD_ENSURE_MSG(s->hash == alg, SHD_ERR_POLICY,
                   "quote covers bank 0x%04x, the PCR values are for 0x%04x", s->hash, alg);
    for (size_t byte = 0; byte < s->sizeofSelect && byte < sizeof(s->pcrSelect); byte++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            if ((s->pcrSelect[byte] & (1u << bit)) == 0) {
                continue;
            }
            SHD_ENSURE_MSG(byte * 8 + bit < GEMU_PCR_COUNT, SHD_ERR_INPUT, "quote selects PCR %zu",
                           byte * 8 + bit);
            mask |= 1u << (byte * 8 + bit);
        }
    }
    *ret_mask = mask;
    return SHD_OK;
}

static shd_result check_pcr_digest(const struct gemu_quote *q, enum shd_crypto_hash h,
                                   const TPM2B_DIGEST *want)
{
    size_t dlen = gemu_alg_digest_len(q->hash_alg);
    uint8_t cat[GEMU_PCR_COUNT * GEMU_DIGEST_MAX];
    uint8_t got[SHD_CRYPTO_HASH_MAX_LEN];
    size_t n = 0, got_len = 0;

    for (uint32_t i = 0; i < GEMU_PCR_COUNT; i++) {
        if ((q->pcr_mask & (1u << i)) == 0) {
            continue;
        }
        SHD_ENSURE_MSG(q->pcr[i] != NULL && q->pcr_len[i] == dlen, SHD_ERR_INPUT,
                       "PCR %u value has %zu bytes, bank digest %zu", i, q->pcr_len[i], dlen);
        shd_memcpy(cat + n, q->pcr[i], dlen);
        n += dlen;
    }
    SHD_GUARD(shd_crypto_digest(h, cat, n, got, sizeof(got), &got_len));
    SHD_ENSURE_MSG(want->size == got_len && shd_ct_equal(want->buffer, got, got_len),
                   SHD_ERR_POLICY, "PCR values do not match the quote's PCR digest");
    return SHD_OK;
}

shd_result gemu_quote_verify(const struct gemu_quote *q, EVP_PKEY *ak, const uint8_t *nonce,
                             size_t nonce_len)
{
    TPMS_ATTEST attest;
    TPMT_SIGNATURE sig;
    size_t off = 0;
    uint32_t mask = 0;
    enum shd_crypto_hash h = SHD_CRYPTO_HASH_SHA256; /* set below; gcc -O2 cannot tell */

    SHD_ENSURE_REF(q);
    SHD_ENSURE_REF(ak);
    SHD_ENSURE_REF(q->raw_quote);
    SHD_ENSURE_REF(q->raw_sig);
    SHD_ENSURE(nonce != NULL || nonce_len == 0, SHD_ERR_NULL);
    SHD_ENSURE_MSG(gemu_alg_digest_len(q->hash_alg) != 0, SHD_ERR_INPUT,
                   "PCR bank 0x%04x not supported", q->hash_alg);
    SHD_ENSURE_MSG(q->raw_quote_len <= GEMU_QUOTE_MAX_ATTEST, SHD_ERR_TOO_LARGE, "quote too large");
    SHD_ENSURE_MSG(q->raw_sig_len <= GEMU_QUOTE_MAX_SIG, SHD_ERR_TOO_LARGE,
                   "quote signature too large");

    shd_memzero(&attest, sizeof(attest));
    if (Tss2_MU_TPMS_ATTEST_Unmarshal(q->raw_quote, q->raw_quote_len, &off, &attest) !=
            TSS2_RC_SUCCESS ||
        off != q->raw_quote_len) {
        SHD_BAIL_MSG(SHD_ERR_INPUT, "malformed TPMS_ATTEST");
    }
    SHD_ENSURE_MSG(attest.magic == TPM2_GENERATED_VALUE, SHD_ERR_INPUT,
                   "quote not generated by a TPM (magic 0x%08x)", attest.magic);
    SHD_ENSURE_MSG(attest.type == TPM2_ST_ATTEST_QUOTE, SHD_ERR_INPUT,
                   "attestation type 0x%04x is not a quote", attest.type);

    off = 0;
    shd_memzero(&sig, sizeof(sig));
    if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(q->raw_sig, q->raw_sig_len, &off, &sig) !=
            TSS2_RC_SUCCESS ||
        off != q->raw_sig_len) {
        SHD_BAIL_MSG(SHD_ERR_INPUT, "malformed TPMT_SIGNATURE");
    }
    /* Signature first: nothing else in the quote is trusted before it verifies. */
    SHD_GUARD(verify_signature(q, &sig, ak, &h));
    SHD_ENSURE_MSG(attest.extraData.size == nonce_len &&
                       shd_ct_equal(attest.extraData.buffer, nonce, nonce_len),
                   SHD_ERR_POLICY, "quote nonce does not match the challenge");
    SHD_GUARD(selection_mask(&attest.attested.quote.pcrSelect, q->hash_alg, &mask));
    SHD_ENSURE_MSG(mask == q->pcr_mask, SHD_ERR_POLICY,
                   "quote selects PCRs 0x%06x, the request gives 0x%06x", mask, q->pcr_mask);
    SHD_GUARD(check_pcr_digest(q, h, &attest.attested.quote.pcrDigest));
    return SHD_OK;
}
