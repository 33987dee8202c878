/*
 * keysrc_gcpwif_test.c - the `gcp-wif` key source against a fake broker on a Unix socket: the
 * exact /key/release body, the released key reaching the keystore, the broker's error shape,
 * malformed and non-RSA replies, and configuration errors (names, paths, TCP refused).
 */
#include <string.h>

#include <openssl/evp.h>

#include "keysrc.h"
#include "keysrc_fake.h"
#include "keystore.h"
#include "shd/crypto.h"
#include "shd/crypto_rsa.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"

#define KMS_KEY "projects/p/locations/global/keyRings/r/cryptoKeys/sym"

static EVP_PKEY *g_key;
static struct fake_service g_fake;

static int setup(void **state)
{
    (void)state;
    shd_json_allocator_install();
    if (shd_is_err(shd_crypto_rsa_generate(2048, &g_key))) {
        return -1;
    }
    fake_start(&g_fake, false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_stop(&g_fake);
    EVP_PKEY_free(g_key);
    return 0;
}

static void env_set(const char *kms_key, const char *file)
{
    static const char *env[9];
    env[0] = PROXY_KEYSRC_ENV_WIF_SOCKET;
    env[1] = g_fake.sock;
    env[2] = PROXY_KEYSRC_ENV_KMS_KEY;
    env[3] = kms_key;
    env[4] = PROXY_KEYSRC_ENV_WRAPPED_FILE;
    env[5] = file;
    env[6] = NULL;
    g_env = env;
}

static void test_release(void **state)
{
    (void)state;
    env_set(KMS_KEY, "/run/keys/proxy.blob");
    char *reply = fake_jwk_reply(g_key);
    fake_answer(&g_fake, 200, reply);
    /* The source itself, in this process: the key process around it is keystore_test.c's (a
     * child forked while the fake service's threads run would have their memory counted as
     * lost by valgrind). */
    const struct proxy_keystore_options o = {.source = proxy_key_source_find("gcp-wif"),
                                             .getenv = fake_getenv,
                                             .max_attempts = 1,
                                             .in_process = true};
    struct proxy_keystore *ks = NULL;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    EXPECT_OK(proxy_keystore_obtain(ks));
    assert_string_equal(g_fake.method, "POST");
    assert_string_equal(g_fake.path, "/key/release");
    assert_string_equal(g_fake.body, "{\"kms_key\":\"" KMS_KEY "\","
                                     "\"wrapped_key_file\":\"/run/keys/proxy.blob\"}");
    uint8_t *w = NULL;
    size_t w_len = 0;
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, (const uint8_t *)"iv", 2, g_key,
                                          &w, &w_len));
    uint8_t out[64];
    size_t n = 0;
    EXPECT_OK(proxy_keystore_unwrap(ks, w, w_len, out, sizeof(out), &n));
    assert_int_equal(n, 2);
    assert_memory_equal(out, "iv", 2);
    shd_free(w);
    proxy_keystore_free(ks);
    fake_free_text(reply);
}

static void expect_obtain_fails(unsigned status, const char *reply, int err, const char *needle)
{
    env_set(KMS_KEY, "/k.blob");
    fake_answer(&g_fake, status, reply);
    void *st = NULL;
    EXPECT_OK(proxy_keysrc_gcpwif_configure(fake_getenv, &st));
    struct proxy_key_material m = {0};
    EXPECT_ERR(proxy_keysrc_gcpwif_obtain(st, &m), err);
    assert_null(m.private_key);
    char chain[SHD_ERROR_FRAME_LEN * 2];
    (void)shd_error_render(chain, sizeof(chain));
    if (strstr(chain, needle) == NULL) {
        fail_msg("chain '%s' lacks '%s'", chain, needle);
    }
    proxy_keysrc_gcpwif_free(st);
}

static void test_errors(void **state)
{
    (void)state;
    expect_obtain_fails(502, "{\"error\":\"KMS: decrypt: 400 Decryption failed\"}",
                        SHD_ERR_HTTP_STATUS,
                        "key service (gcp-wif) answered 502: KMS: decrypt: 400 Decryption failed");
    expect_obtain_fails(403, "{\"error\":\"credentials: STS token exchange: invalid_grant\"}",
                        SHD_ERR_PERMISSION, "answered 403: credentials: STS");
    expect_obtain_fails(200, "{\"key\":\"{\\\"k\\\":\\\"AAAA\\\",\\\"kty\\\":\\\"oct\\\"}\"}",
                        SHD_ERR_UNSUPPORTED, "not RSA");
    expect_obtain_fails(200, "[\"key\"]", SHD_ERR_INPUT, "not a JSON object");
    expect_obtain_fails(200, "{\"key\":\"{\\\"kty\\\":\\\"RSA\\\",\\\"n\\\":\\\"AQAB\\\"}\"}",
                        SHD_ERR_INPUT, "the released JWK");
}

static void test_config(void **state)
{
    (void)state;
    void *st = NULL;
    const char *bad_names[] = {"", "projects/p/locations/global/keyRings/r",
                               KMS_KEY "/cryptoKeyVersions/1", "projects/p/../r"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        env_set(bad_names[i], "/k.blob");
        EXPECT_ERR(proxy_keysrc_gcpwif_configure(fake_getenv, &st), SHD_ERR_CONFIG);
    }
    env_set(KMS_KEY, "relative.blob");
    EXPECT_ERR(proxy_keysrc_gcpwif_configure(fake_getenv, &st), SHD_ERR_CONFIG);
    env_set(KMS_KEY, "");
    EXPECT_ERR(proxy_keysrc_gcpwif_configure(fake_getenv, &st), SHD_ERR_CONFIG);
    const char *tcp[] = {PROXY_KEYSRC_ENV_WIF_SOCKET,
                         "http://127.0.0.1:8080",
                         PROXY_KEYSRC_ENV_KMS_KEY,
                         KMS_KEY,
                         PROXY_KEYSRC_ENV_WRAPPED_FILE,
                         "/k.blob",
                         NULL};
    g_env = tcp;
    EXPECT_ERR(proxy_keysrc_gcpwif_configure(fake_getenv, &st), SHD_ERR_CONFIG);
    assert_null(st);
    /* Default socket. */
    const char *dflt[] = {PROXY_KEYSRC_ENV_KMS_KEY, KMS_KEY, PROXY_KEYSRC_ENV_WRAPPED_FILE,
                          "/k.blob", NULL};
    g_env = dflt;
    EXPECT_OK(proxy_keysrc_gcpwif_configure(fake_getenv, &st));
    proxy_keysrc_gcpwif_free(st);
    proxy_keysrc_gcpwif_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
