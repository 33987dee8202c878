/*
 * maa_cose_fuzz.c - fuzz target for the COSE_Sign1 UVM endorsement verifier of the Azure
 * emulator (tests/emulators/azure/src/maa_cose.c: strict CBOR reader, protected header,
 * x5chain, Sig_structure, ES384/PS384 check, payload).
 *
 * Target Functions: aemu_cose_uvm_verify
 *
 * Input: COSE_Sign1 bytes (tagged or not), verified against FUZZ_ROOT below. The private key of
 * that root and of the one leaf it ever issued were discarded when the certificates were made
 * (tests/fuzz/corpus/gen_seeds2.py embeds the public leaf), so no input can carry a valid
 * signature: the seeds reach the signature check with the genuine chain and a signature by an
 * unrelated key.
 * Properties checked:
 *   - verification never succeeds (forging ES384 or PS384 is out of reach);
 *   - it fails only with the documented codes (SHD_ERR_INPUT, SHD_ERR_UNSUPPORTED,
 *     SHD_ERR_BAD_CERT, SHD_ERR_BAD_SIGNATURE, SHD_ERR_POLICY, SHD_ERR_TOO_LARGE, and
 *     SHD_ERR_BAD_KEY, which maa_cose.h does not list: PS384 named with an EC leaf key fails
 *     in shd_crypto_rsa_pss_verify with it) and writes no output;
 *   - the verdict is a function of the bytes: a second call fails with the same code.
 */
#include <string.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "../shared/fuzz_common.h"
#include "maa_cose.h"
#include "shd/crypto_x509.h"
#include "shd/json.h"

/* CN=fuzz-uvm-root, EC P-384, valid 2026-11-26 .. 2126-11-01; private key discarded. */
static const char FUZZ_ROOT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBtDCCATmgAwIBAgIUHSqRN0esmpZAdSgv0jBpyzW/6OYwCgYIKoZIzj0EAwMw\n"
    "GDEWMBQGA1UEAwwNZnV6ei11dm0tcm9vdDAgFw0yNjExMjYwMDAwMDBaGA8yMTI2\n"
    "MTEwMTAwMDAwMFowGDEWMBQGA1UEAwwNZnV6ei11dm0tcm9vdDB2MBAGByqGSM49\n"
    "AgEGBSuBBAAiA2IABIILHUiZCExjEcGAZ5CHrXP42je7uoc7ZQ06KnKHKMAcdW9+\n"
    "yKLSToPJ0gUZz74DW2NrwDp99snqlZQ9HNC98ouEoLeIT1l5hu0IYShCLlh3vwjh\n"
    "56nz5mukYc85XblWfKNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMC\n"
    "AQYwHQYDVR0OBBYEFF/toDy3aDKMgbKCjpFnLZySOI5hMAoGCCqGSM49BAMDA2kA\n"
    "MGYCMQDJA5gyj6DpH30MlILPOoY1bbR1AN7DroGzKYGmfBkjf1w8GfuBnrJYDPzf\n"
    "uhheL6cCMQCFkVELcWHBz/ZlUp5kjrdAGrHSpvzHgpAFYa1LV9JXARSnJTqNozwR\n"
    "2z38rThGFrU=\n"
    "-----END CERTIFICATE-----\n";

/* Sentinel that a failed verification must leave in place. */
#define UNTOUCHED ((json_t *)(uintptr_t)0x5a5a)

static shd_result verify_once(const uint8_t *data, size_t size, X509 *root)
{
    json_t *payload = UNTOUCHED;
    json_t *headers = UNTOUCHED;
    shd_result r = aemu_cose_uvm_verify(data, size, root, &payload, &headers);
    FUZZ_ASSERT(shd_is_err(r));
    FUZZ_OK_OR(r, SHD_ERR_INPUT, SHD_ERR_UNSUPPORTED, SHD_ERR_BAD_CERT, SHD_ERR_BAD_SIGNATURE,
               SHD_ERR_POLICY, SHD_ERR_TOO_LARGE, SHD_ERR_BAD_KEY);
    FUZZ_ASSERT(payload == UNTOUCHED && headers == UNTOUCHED);
    fuzz_error_reset();
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();
    X509 *root = NULL;
    FUZZ_ASSERT(shd_is_ok(
        shd_crypto_x509_load((const uint8_t *)FUZZ_ROOT, sizeof(FUZZ_ROOT) - 1, &root)));
    shd_result first = verify_once(data, size, root);
    shd_result second = verify_once(data, size, root);
    FUZZ_ASSERT(first.err == second.err);
    X509_free(root);
    return 0;
}
