/*
 * keysrc_gcpkms_test.c - the `gcp-kms` key source against a fake broker on a Unix socket: the
 * public-key request (name from PROXY_KEY_GCP_KMS_KEY_VERSION or built from Polaris's
 * variables with version 1), the algorithm check, each unwrap as one asymmetricDecrypt with the
 * exact body, and every per-request failure (broker errors, malformed or oversized plaintext,
 * a missing broker) ending as SHD_ERR_DECRYPT with the output wiped.
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "keysrc.h"
#include "keysrc_fake.h"
#include "keystore.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"

#define VERSION "projects/p/locations/global/keyRings/r/cryptoKeys/rsa/cryptoKeyVersions/3"
#define ENV_FED "POLARIS_CONTAINER_GOOGLE_FEDERATED_KEY_"

static EVP_PKEY *g_key;
static char *g_pub_reply; /* {"pem":..,"algorithm":"RSA_DECRYPT_OAEP_2048_SHA256"} */
static struct fake_service g_fake;

static char *pub_reply(EVP_PKEY *k, const char *alg)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    const struct shd_json_go_field f[] = {{"pem", p, (size_t)n}, {"algorithm", alg, strlen(alg)}};
    char *out = NULL;
    size_t len = 0;
    EXPECT_OK(shd_json_go_dump_strings(f, 2, &out, &len));
    BIO_free(b);
    return out;
}

static int setup(void **state)
{
    (void)state;
    shd_json_allocator_install();
    if (shd_is_err(shd_crypto_rsa_generate(2048, &g_key))) {
        return -1;
    }
    g_pub_reply = pub_reply(g_key, "RSA_DECRYPT_OAEP_2048_SHA256");
    fake_start(&g_fake, false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_stop(&g_fake);
    shd_free(g_pub_reply);
    EVP_PKEY_free(g_key);
    return 0;
}

static const char *g_env_version[5];

static void env_version(const char *version)
{
    g_env_version[0] = PROXY_KEYSRC_ENV_WIF_SOCKET;
    g_env_version[1] = g_fake.sock;
    g_env_version[2] = PROXY_KEYSRC_ENV_KMS_VERSION;
    g_env_version[3] = version;
    g_env_version[4] = NULL;
    g_env = g_env_version;
}

static struct proxy_keystore *ready_keystore(void)
{
    fake_answer(&g_fake, 200, g_pub_reply);
    /* The source itself, in this process: the key process around it is keystore_test.c's (a
     * child forked while the fake service's threads run would have their memory counted as
     * lost by valgrind). */
    const struct proxy_keystore_options o = {.source = proxy_key_source_find("google-federated"),
                                             .getenv = fake_getenv,
                                             .max_attempts = 1,
                                             .in_process = true};
    assert_non_null(o.source);
    assert_string_equal(o.source->name, "gcp-kms");
    struct proxy_keystore *ks = NULL;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    EXPECT_OK(proxy_keystore_obtain(ks));
    return ks;
}

static void test_public_key_and_decrypt(void **state)
{
    (void)state;
    env_version(VERSION);
    struct proxy_keystore *ks = ready_keystore();
    assert_string_equal(g_fake.method, "GET");
    assert_string_equal(g_fake.path, "/kms/publicKey");
    assert_string_equal(g_fake.name, VERSION);
    const char *pem = NULL;
    EXPECT_OK(proxy_keystore_public_pem(ks, &pem, NULL));
    EVP_PKEY *pub = NULL;
    EXPECT_OK(shd_crypto_pubkey_load((const uint8_t *)pem, strlen(pem), &pub));
    assert_int_equal(EVP_PKEY_eq(pub, g_key), 1);
    EVP_PKEY_free(pub);

    /* An unwrap is one asymmetricDecrypt; the broker's plaintext comes back. */
    fake_answer(&g_fake, 200, "{\"plaintext\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}");
    const uint8_t ct[4] = {0xde, 0xad, 0xbe, 0xef};
    uint8_t out[64];
    size_t n = 0;
    unsigned before = g_fake.requests;
    EXPECT_OK(proxy_keystore_unwrap(ks, ct, sizeof(ct), out, sizeof(out), &n));
    assert_int_equal(g_fake.requests, before + 1);
    assert_string_equal(g_fake.method, "POST");
    assert_string_equal(g_fake.path, "/kms/asymmetricDecrypt");
    assert_string_equal(g_fake.body, "{\"name\":\"" VERSION "\",\"ciphertext\":\"3q2+7w==\"}");
    assert_int_equal(n, 32);
    for (size_t i = 0; i < 32; i++) {
        assert_int_equal(out[i], i);
    }

    /* Every failure is the envelope's one decrypt error, with out wiped. */
    const struct {
        unsigned status;
        const char *reply;
    } bad[] = {
        {400, "{\"error\":\"KMS: 400 Decryption failed\"}"},
        {502, "{\"error\":\"KMS: unavailable\"}"},
        {200, "{\"plaintext\":7}"},
        {200, "{\"plaintext\":\"!!!\"}"},
        {200, "{}"},
        {200, "{\"plaintext\":\"AAEC"},
        /* 75 bytes: more than the envelope's 64-byte unwrap buffer. */
        {200, "{\"plaintext\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fake_answer(&g_fake, bad[i].status, bad[i].reply);
        memset(out, 0x5a, sizeof(out));
        EXPECT_ERR(proxy_keystore_unwrap(ks, ct, sizeof(ct), out, sizeof(out), &n),
                   SHD_ERR_DECRYPT);
        for (size_t j = 0; j < sizeof(out); j++) {
            assert_int_equal(out[j], 0);
        }
    }
    /* A ciphertext larger than any RSA key is refused before any request. */
    uint8_t big[1100] = {0};
    before = g_fake.requests;
    EXPECT_ERR(proxy_keystore_unwrap(ks, big, sizeof(big), out, sizeof(out), &n), SHD_ERR_DECRYPT);
    assert_int_equal(g_fake.requests, before);
    proxy_keystore_free(ks);
}

static void test_polaris_names(void **state)
{
    (void)state;
    const char *env[] = {PROXY_KEYSRC_ENV_WIF_SOCKET,
                         g_fake.sock,
                         ENV_FED "PROJECT_ID",
                         "proj",
                         ENV_FED "LOCATION",
                         "us-east1",
                         ENV_FED "RING_ID",
                         "ring",
                         ENV_FED "KEY_ID",
                         "key",
                         ENV_FED "AUDIENCE",
                         "ignored",
                         NULL};
    g_env = env;
    struct proxy_keystore *ks = ready_keystore();
    assert_string_equal(g_fake.name, "projects/proj/locations/us-east1/keyRings/ring/cryptoKeys/"
                                     "key/cryptoKeyVersions/1");
    proxy_keystore_free(ks);
    const char *missing[] = {
        ENV_FED "PROJECT_ID", "proj", ENV_FED "LOCATION", "l", ENV_FED "RING_ID", "r", NULL};
    g_env = missing;
    void *st = NULL;
    EXPECT_ERR(proxy_keysrc_gcpkms_configure(fake_getenv, &st), SHD_ERR_CONFIG);
    const char *bad[] = {ENV_FED "PROJECT_ID",
                         "p/x",
                         ENV_FED "LOCATION",
                         "l",
                         ENV_FED "RING_ID",
                         "r",
                         ENV_FED "KEY_ID",
                         "k",
                         NULL};
    g_env = bad;
    EXPECT_ERR(proxy_keysrc_gcpkms_configure(fake_getenv, &st), SHD_ERR_CONFIG);
    env_version("projects/p/locations/l/keyRings/r/cryptoKeys/k");
    EXPECT_ERR(proxy_keysrc_gcpkms_configure(fake_getenv, &st), SHD_ERR_CONFIG);
    assert_null(st);
    proxy_keysrc_gcpkms_free(NULL);
}

static void expect_obtain_fails(unsigned status, const char *reply, int err)
{
    env_version(VERSION);
    fake_answer(&g_fake, status, reply);
    void *st = NULL;
    EXPECT_OK(proxy_keysrc_gcpkms_configure(fake_getenv, &st));
    struct proxy_key_material m = {0};
    EXPECT_ERR(proxy_keysrc_gcpkms_obtain(st, &m), err);
    assert_null(m.public_key);
    assert_null(m.remote_ctx);
    proxy_keysrc_gcpkms_free(st);
}

static void test_public_key_errors(void **state)
{
    (void)state;
    char *sha1 = pub_reply(g_key, "RSA_DECRYPT_OAEP_2048_SHA1");
    expect_obtain_fails(200, sha1, SHD_ERR_UNSUPPORTED);
    shd_free(sha1);
    EVP_PKEY *ec = NULL;
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &ec));
    char *ec_reply = pub_reply(ec, "RSA_DECRYPT_OAEP_2048_SHA256");
    expect_obtain_fails(200, ec_reply, SHD_ERR_BAD_KEY);
    shd_free(ec_reply);
    EVP_PKEY_free(ec);
    expect_obtain_fails(200, "{\"pem\":\"x\",\"algorithm\":\"RSA_DECRYPT_OAEP_2048_SHA256\"}",
                        SHD_ERR_BAD_KEY);
    expect_obtain_fails(200, "{\"pem\":\"x\"}", SHD_ERR_INPUT);
    expect_obtain_fails(200, "nope", SHD_ERR_JSON);
    expect_obtain_fails(403, "{\"error\":\"KMS: permission denied\"}", SHD_ERR_PERMISSION);
    expect_obtain_fails(404, "{\"error\":\"not found\"}", SHD_ERR_HTTP_STATUS);
}

static void test_broker_gone(void **state)
{
    (void)state;
    env_version(VERSION);
    struct proxy_keystore *ks = ready_keystore();
    /* The broker stops: unwraps fail as decrypt errors (after the client's second attempt). */
    fake_stop(&g_fake);
    uint8_t out[64];
    size_t n = 0;
    const uint8_t ct[1] = {1};
    EXPECT_ERR(proxy_keystore_unwrap(ks, ct, sizeof(ct), out, sizeof(out), &n), SHD_ERR_DECRYPT);
    proxy_keystore_free(ks);
    fake_start(&g_fake, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_key_and_decrypt),
        cmocka_unit_test(test_polaris_names),
        cmocka_unit_test(test_public_key_errors),
        cmocka_unit_test(test_broker_gone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
