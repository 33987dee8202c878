/*
 * akv_jws_fuzz.c - fuzz target for skr's validation of the Key Vault release JWS
 * (skr/src/akv.c: compact form, header, x5c leaf, chain to the trust anchors and the vault host,
 * RSA signature, payload and key_hsm).
 *
 * Target Functions: skr_akv_jws_open, skr_akv_released_clear
 *
 * Input: the JWS text as the vault would return it in "value". Trust anchors: FUZZ_ROOT below
 * alone, vault host HOST. The private keys of that root and of the one leaf it issued (for
 * HOST; tests/fuzz/corpus/gen_seeds2.py embeds it) were discarded when the certificates were
 * made, so no input can verify: the seeds carry either that genuine leaf with a signature by
 * the fixture RSA key, or a leaf for the fixture key issued by an untrusted CA.
 * Properties checked:
 *   - opening never succeeds (that would need an RS/PS signature by a discarded key);
 *   - it fails only with SHD_ERR_INPUT, SHD_ERR_ENCODING, SHD_ERR_JSON, SHD_ERR_TOO_LARGE,
 *     SHD_ERR_UNSUPPORTED, SHD_ERR_TOKEN, SHD_ERR_BAD_KEY, SHD_ERR_BAD_CERT or
 *     SHD_ERR_BAD_SIGNATURE, with one of the original's leading texts, and writes no output.
 */
#include <string.h>

#include <openssl/x509.h>

#include "../shared/fuzz_common.h"
#include "akv.h"
#include "shd/crypto_x509.h"
#include "shd/json.h"
#include "shd/mem.h"

#define HOST "fuzz.vault.azure.net"
#define UNTOUCHED ((char *)(uintptr_t)0x5a5a)

/* CN=fuzz-akv-root, EC P-256, valid 2026-11-26 .. 2126-11-01; private key discarded. */
static const char FUZZ_ROOT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBdjCCARygAwIBAgIUDWKJerjBXCx55Kzv01GjhSRjlWAwCgYIKoZIzj0EAwIw\n"
    "GDEWMBQGA1UEAwwNZnV6ei1ha3Ytcm9vdDAgFw0yNjExMjYwMDAwMDBaGA8yMTI2\n"
    "MTEwMTAwMDAwMFowGDEWMBQGA1UEAwwNZnV6ei1ha3Ytcm9vdDBZMBMGByqGSM49\n"
    "AgEGCCqGSM49AwEHA0IABHFfRDjpPyahdO/HGzTNZRQpQlYg9XRF0GiBiCU7JhzN\n"
    "lD8aNMckMcpzm6V41CuY/XSHnQNNS+dRvtzauqc1HP6jQjBAMA8GA1UdEwEB/wQF\n"
    "MAMBAf8wDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBSTFAeA5/80KNOzbJHzdhtt\n"
    "eR1NYzAKBggqhkjOPQQDAgNIADBFAiEAuAceskCe9AOeYM+ltGq2xZ6NV6f1Lit4\n"
    "kweDArS71eICIFHJ7UmqR3cixRm1czuBodqZhWY0ZPelHdYEzbmEB3wT\n"
    "-----END CERTIFICATE-----\n";

static const char *const LEADING[] = {
    "jws token validation failed",
    "decoding header failed: ",
    "unmarshalling header failed: ",
    "parsing certificate X5C",
    "jws token verification failed: ",
    "verification of leaf's certificate chain failed: x509: ",
};

static void check_text(void)
{
    char msg[2048];
    (void)shd_error_render(msg, sizeof(msg));
    bool known = false;
    for (size_t i = 0; i < sizeof(LEADING) / sizeof(LEADING[0]); i++) {
        known = known || strncmp(msg, LEADING[i], strlen(LEADING[i])) == 0;
    }
    FUZZ_ASSERT(known);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();
    STACK_OF(X509) *roots = NULL;
    FUZZ_ASSERT(shd_is_ok(shd_crypto_x509_chain_load((const uint8_t *)FUZZ_ROOT,
                                                     sizeof(FUZZ_ROOT) - 1, &roots)));
    struct skr_akv_released rel;
    shd_memzero(&rel, sizeof(rel));
    rel.enc = UNTOUCHED;
    shd_result r = skr_akv_jws_open((const char *)data, size, roots, HOST, &rel);
    FUZZ_ASSERT(shd_is_err(r));
    FUZZ_OK_OR(r, SHD_ERR_INPUT, SHD_ERR_ENCODING, SHD_ERR_JSON, SHD_ERR_TOO_LARGE,
               SHD_ERR_UNSUPPORTED, SHD_ERR_TOKEN, SHD_ERR_BAD_KEY, SHD_ERR_BAD_CERT,
               SHD_ERR_BAD_SIGNATURE);
    FUZZ_ASSERT(rel.enc == UNTOUCHED && rel.ciphertext == NULL && rel.key_ops == NULL);
    check_text();
    fuzz_error_reset();
    shd_crypto_x509_chain_free(roots);
    return 0;
}
