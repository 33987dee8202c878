/*
 * akv_aad_test.c - Key Vault's bearer challenge (exact bytes) and the AAD token check: valid
 * tokens (audience with and without '/', in an array), missing or non-Bearer headers, forged
 * signatures, a different key, wrong audience, wrong issuer, expired and not-yet-valid tokens,
 * and the HS256 confusion (a MAC keyed with the public key).
 */
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "aad.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/jose.h"
#include "shd/mem.h"
#include "shd_test.h"

#define TENANT "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define ISS "https://sts.windows.net/" TENANT "/"

static EVP_PKEY *g_key;
static EVP_PKEY *g_other;

static int setup(void **state)
{
    (void)state;
    EXPECT_OK(shd_crypto_rsa_generate(2048, &g_key));
    EXPECT_OK(shd_crypto_rsa_generate(2048, &g_other));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(g_key);
    EVP_PKEY_free(g_other);
    return 0;
}

/* "Bearer <RS256 token>" with the given claims (JSON text), signed by key. */
static char *bearer(EVP_PKEY *key, const char *claims)
{
    char *tok = NULL;
    struct shd_jws_sign_header hdr = {.typ = "JWT", .kid = "k1"};
    EXPECT_OK(shd_jws_sign(&hdr, (const uint8_t *)claims, strlen(claims), key, SHD_JWS_RS256, &tok,
                           NULL));
    size_t n = strlen(tok) + 8;
    char *out = shd_alloc(n);
    assert_non_null(out);
    assert_int_equal(snprintf(out, n, "Bearer %s", tok), (int)n - 1);
    shd_free(tok);
    return out;
}

static char *claims_with(const char *aud, const char *iss, long long exp_off, long long nbf_off)
{
    long long now = (long long)time(NULL);
    char *out = shd_alloc(1024);
    assert_non_null(out);
    snprintf(out, 1024, "{\"aud\":%s,\"iss\":\"%s\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}", aud,
             iss, now, now + nbf_off, now + exp_off);
    return out;
}

static enum aemu_aad_outcome check(const char *authz, const char *resource, char *msg, size_t cap)
{
    struct aemu_aad_verifier ver = {.issuer_key = g_key, .issuer = ISS, .resource = resource};
    enum aemu_aad_outcome out = AEMU_AAD_OK;
    EXPECT_OK(aemu_aad_check(&ver, authz, &out, msg, cap));
    return out;
}

static void expect_outcome(EVP_PKEY *key, const char *aud, const char *iss, long long exp_off,
                           long long nbf_off, const char *resource, enum aemu_aad_outcome want,
                           const char *msg_part)
{
    SHD_CLEANUP_FREE char *claims = claims_with(aud, iss, exp_off, nbf_off);
    SHD_CLEANUP_FREE char *authz = bearer(key, claims);
    char msg[AEMU_AAD_MSG_MAX];
    assert_int_equal(check(authz, resource, msg, sizeof(msg)), want);
    if (msg_part != NULL) {
        if (strstr(msg, msg_part) == NULL) {
            fail_msg("message '%s' lacks '%s'", msg, msg_part);
        }
    }
}

static void test_challenge_bytes(void **state)
{
    (void)state;
    char out[AEMU_AAD_CHALLENGE_MAX];
    EXPECT_OK(aemu_aad_challenge(false, TENANT, out, sizeof(out)));
    assert_string_equal(out, "Bearer authorization=\"https://login.windows.net/" TENANT
                             "\", resource=\"https://vault.azure.net\"");
    EXPECT_OK(aemu_aad_challenge(true, TENANT, out, sizeof(out)));
    assert_string_equal(out, "Bearer authorization=\"https://login.microsoftonline.com/" TENANT
                             "\", resource=\"https://managedhsm.azure.net\"");
    /* A tenant that could break the header, and a buffer that is too small. */
    EXPECT_ERR(aemu_aad_challenge(false, "a\"b", out, sizeof(out)), SHD_ERR_CONFIG);
    EXPECT_ERR(aemu_aad_challenge(false, "a\r\nX: y", out, sizeof(out)), SHD_ERR_CONFIG);
    EXPECT_ERR(aemu_aad_challenge(false, "", out, sizeof(out)), SHD_ERR_CONFIG);
    EXPECT_ERR(aemu_aad_challenge(false, TENANT, out, 40), SHD_ERR_TOO_LARGE);
    assert_string_equal(out, "");
}

static void test_valid_tokens(void **state)
{
    (void)state;
    expect_outcome(g_key, "\"https://vault.azure.net\"", ISS, 3600, 0, AEMU_AAD_RESOURCE_VAULT,
                   AEMU_AAD_OK, NULL);
    expect_outcome(g_key, "\"https://vault.azure.net/\"", ISS, 3600, 0, AEMU_AAD_RESOURCE_VAULT,
                   AEMU_AAD_OK, NULL);
    expect_outcome(g_key, "[\"x\",\"https://managedhsm.azure.net\"]", ISS, 3600, 0,
                   AEMU_AAD_RESOURCE_MHSM, AEMU_AAD_OK, NULL);
    /* Within the clock skew. */
    expect_outcome(g_key, "\"https://vault.azure.net\"", ISS, -30, 30, AEMU_AAD_RESOURCE_VAULT,
                   AEMU_AAD_OK, NULL);
}

static void test_missing(void **state)
{
    (void)state;
    char msg[AEMU_AAD_MSG_MAX];
    static const char *const cases[] = {"Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Bearerx y",
                                        "", "  "};
    assert_int_equal(check(NULL, AEMU_AAD_RESOURCE_VAULT, msg, sizeof(msg)), AEMU_AAD_MISSING);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(check(cases[i], AEMU_AAD_RESOURCE_VAULT, msg, sizeof(msg)),
                         AEMU_AAD_MISSING);
    }
    /* Scheme is case-insensitive; a garbage token is invalid, not missing. */
    assert_int_equal(check("bearer abc", AEMU_AAD_RESOURCE_VAULT, msg, sizeof(msg)),
                     AEMU_AAD_INVALID);
    assert_non_null(strstr(msg, "malformed token"));
}

static void test_wrong_audience(void **state)
{
    (void)state;
    expect_outcome(g_key, "\"https://management.azure.com/\"", ISS, 3600, 0,
                   AEMU_AAD_RESOURCE_VAULT, AEMU_AAD_INVALID,
                   "AKV10022: Invalid audience. Expected https://vault.azure.net, found: "
                   "https://management.azure.com/.");
    /* The vault-specific URL is not the resource; nor is the other service's. */
    expect_outcome(g_key, "\"https://myvault.vault.azure.net/\"", ISS, 3600, 0,
                   AEMU_AAD_RESOURCE_VAULT, AEMU_AAD_INVALID, "AKV10022");
    expect_outcome(g_key, "\"https://vault.azure.net\"", ISS, 3600, 0, AEMU_AAD_RESOURCE_MHSM,
                   AEMU_AAD_INVALID, "AKV10022");
    expect_outcome(g_key, "\"https://vault.azure.net//\"", ISS, 3600, 0, AEMU_AAD_RESOURCE_VAULT,
                   AEMU_AAD_INVALID, "AKV10022");
    expect_outcome(g_key, "42", ISS, 3600, 0, AEMU_AAD_RESOURCE_VAULT, AEMU_AAD_INVALID,
                   "AKV10022");
}

static void test_wrong_issuer_and_time(void **state)
{
    (void)state;
    expect_outcome(g_key, "\"https://vault.azure.net\"", "https://sts.windows.net/other/", 3600, 0,
                   AEMU_AAD_RESOURCE_VAULT, AEMU_AAD_INVALID, "AKV10032: Invalid issuer");
    expect_outcome(g_key, "\"https://vault.azure.net\"", ISS, -3600, -7200,
                   AEMU_AAD_RESOURCE_VAULT, AEMU_AAD_INVALID, "expired");
    expect_outcome(g_key, "\"https://vault.azure.net\"", ISS, 7200, 3600, AEMU_AAD_RESOURCE_VAULT,
                   AEMU_AAD_INVALID, "lifetime");
}

static void test_forged(void **state)
{
    (void)state;
    /* Signed by another key. */
    expect_outcome(g_other, "\"https://vault.azure.net\"", ISS, 3600, 0, AEMU_AAD_RESOURCE_VAULT,
                   AEMU_AAD_INVALID, "signature");
    /* One flipped signature byte. */
    SHD_CLEANUP_FREE char *claims = claims_with("\"https://vault.azure.net\"", ISS, 3600, 0);
    SHD_CLEANUP_FREE char *authz = bearer(g_key, claims);
    char msg[AEMU_AAD_MSG_MAX];
    size_t n = strlen(authz);
    authz[n - 3] = authz[n - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(check(authz, AEMU_AAD_RESOURCE_VAULT, msg, sizeof(msg)), AEMU_AAD_INVALID);
    /* A payload swapped under a valid signature. */
    SHD_CLEANUP_FREE char *good = bearer(g_key, claims);
    SHD_CLEANUP_FREE char *evil_claims =
        claims_with("\"https://vault.azure.net\"", ISS, 999999, 0);
    SHD_CLEANUP_FREE char *evil = bearer(g_key, evil_claims);
    char *dot_good = strchr(good, '.');
    char *dot_evil = strchr(evil, '.');
    char *end_evil = strchr(dot_evil + 1, '.');
    size_t plen = (size_t)(end_evil - dot_evil);
    char *sig_good = strrchr(good, '.');
    char spliced[4096];
    snprintf(spliced, sizeof(spliced), "%.*s%.*s%s", (int)(dot_good - good), good, (int)plen,
             dot_evil, sig_good);
    assert_int_equal(check(spliced, AEMU_AAD_RESOURCE_VAULT, msg, sizeof(msg)), AEMU_AAD_INVALID);
}

/* HS256 with the RSA public key (PEM) as the MAC key: pinned RS256 must refuse it. */
static void test_hs256_confusion(void **state)
{
    (void)state;
    SHD_CLEANUP_FREE char *pem = NULL;
    size_t pem_len = 0;
    EXPECT_OK(shd_crypto_pubkey_export_spki_pem(g_key, &pem, &pem_len));
    const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    SHD_CLEANUP_FREE char *claims = claims_with("\"https://vault.azure.net\"", ISS, 3600, 0);
    SHD_CLEANUP_FREE char *h64 = NULL;
    SHD_CLEANUP_FREE char *p64 = NULL;
    EXPECT_OK(shd_b64_encode((const uint8_t *)hdr, strlen(hdr), SHD_B64_URL_NOPAD, &h64, NULL));
    EXPECT_OK(shd_b64_encode((const uint8_t *)claims, strlen(claims), SHD_B64_URL_NOPAD, &p64,
                             NULL));
    char input[2048];
    int in_len = snprintf(input, sizeof(input), "%s.%s", h64, p64);
    uint8_t mac[32];
    unsigned mac_len = 0;
    assert_non_null(HMAC(EVP_sha256(), pem, (int)pem_len, (const uint8_t *)input, (size_t)in_len,
                         mac, &mac_len));
    SHD_CLEANUP_FREE char *m64 = NULL;
    EXPECT_OK(shd_b64_encode(mac, mac_len, SHD_B64_URL_NOPAD, &m64, NULL));
    char authz[4096];
    snprintf(authz, sizeof(authz), "Bearer %s.%s", input, m64);
    char msg[AEMU_AAD_MSG_MAX];
    assert_int_equal(check(authz, AEMU_AAD_RESOURCE_VAULT, msg, sizeof(msg)), AEMU_AAD_INVALID);
    assert_non_null(strstr(msg, "signature"));
    /* alg none as well. */
    const char *none_hdr = "{\"alg\":\"none\"}";
    SHD_CLEANUP_FREE char *n64 = NULL;
    EXPECT_OK(shd_b64_encode((const uint8_t *)none_hdr, strlen(none_hdr), SHD_B64_URL_NOPAD, &n64,
                             NULL));
    snprintf(authz, sizeof(authz), "Bearer %s.%s.", n64, p64);
    assert_int_equal(check(authz, AEMU_AAD_RESOURCE_VAULT, msg, sizeof(msg)), AEMU_AAD_INVALID);
}

static void test_api_contract(void **state)
{
    (void)state;
    char msg[8];
    enum aemu_aad_outcome out;
    struct aemu_aad_verifier ver = {.issuer_key = g_key, .issuer = ISS, .resource = NULL};
    EXPECT_ERR(aemu_aad_check(&ver, "Bearer x", &out, msg, sizeof(msg)), SHD_ERR_NULL);
    ver.resource = AEMU_AAD_RESOURCE_VAULT;
    EXPECT_ERR(aemu_aad_check(&ver, "Bearer x", &out, msg, 0), SHD_ERR_NULL);
    EXPECT_ERR(aemu_aad_check(NULL, "Bearer x", &out, msg, sizeof(msg)), SHD_ERR_NULL);
    /* A tiny message buffer truncates, never overflows. */
    assert_int_equal(check("Bearer a.b.c", AEMU_AAD_RESOURCE_VAULT, msg, sizeof(msg)),
                     AEMU_AAD_INVALID);
    assert_int_equal(strlen(msg), sizeof(msg) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_challenge_bytes),  cmocka_unit_test(test_valid_tokens),
        cmocka_unit_test(test_missing),          cmocka_unit_test(test_wrong_audience),
        cmocka_unit_test(test_wrong_issuer_and_time), cmocka_unit_test(test_forged),
        cmocka_unit_test(test_hs256_confusion),  cmocka_unit_test(test_api_contract),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
