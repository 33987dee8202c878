/*
 * keysrc_skr_test.c - the `skr` key source against a fake key service on a Unix socket and on
 * loopback TCP: the exact /key/release body (Polaris's fields and order, access_token only when
 * set), the released key reaching the keystore and unwrapping, the Microsoft sidecar's error
 * shape, malformed and non-RSA replies, a missing service, and configuration errors.
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

#define ENV_SKR "POLARIS_CONTAINER_AZURE_SKR_"

static EVP_PKEY *g_key;
static struct fake_service g_fake;
static char g_endpoint[160];

static int setup(void **state)
{
    (void)state;
    shd_json_allocator_install();
    if (shd_is_err(shd_crypto_rsa_generate(2048, &g_key))) {
        return -1;
    }
    fake_start(&g_fake, true);
    (void)snprintf(g_endpoint, sizeof(g_endpoint), "unix:%s", g_fake.sock);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_stop(&g_fake);
    EVP_PKEY_free(g_key);
    return 0;
}

static bool no_wait(void *ctx, uint32_t ms)
{
    (void)ctx;
    (void)ms;
    return false;
}

/* A keystore on the `azure-skr` row with the test environment; attempts 1 or 2. */
static struct proxy_keystore *keystore_new(unsigned attempts)
{
    /* The source itself, in this process: the key process around it is keystore_test.c's (a
     * child forked while the fake service's threads run would have their memory counted as
     * lost by valgrind). */
    const struct proxy_keystore_options o = {.source = proxy_key_source_find("azure-skr"),
                                             .getenv = fake_getenv,
                                             .max_attempts = attempts,
                                             .wait = no_wait,
                                             .in_process = true};
    assert_non_null(o.source);
    assert_string_equal(o.source->name, "skr");
    struct proxy_keystore *ks = NULL;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    return ks;
}

static void test_release(void **state)
{
    (void)state;
    const char *env[] = {ENV_SKR "KEY_RELEASE_ENDPOINT",
                         g_endpoint,
                         ENV_SKR "MAA_ENDPOINT",
                         "sharedeus.eus.attest.azure.net",
                         ENV_SKR "AKV_ENDPOINT",
                         "v.vault.azure.net",
                         ENV_SKR "KID",
                         "demo-key",
                         NULL};
    g_env = env;
    char *reply = fake_jwk_reply(g_key);
    fake_answer(&g_fake, 200, reply);
    struct proxy_keystore *ks = keystore_new(1);
    unsigned before = g_fake.requests;
    EXPECT_OK(proxy_keystore_obtain(ks));
    assert_int_equal(g_fake.requests, before + 1);
    assert_string_equal(g_fake.method, "POST");
    assert_string_equal(g_fake.path, "/key/release");
    assert_string_equal(g_fake.body, "{\"maa_endpoint\":\"sharedeus.eus.attest.azure.net\","
                                     "\"akv_endpoint\":\"v.vault.azure.net\","
                                     "\"kid\":\"demo-key\"}");
    /* The released key unwraps what is wrapped to its public key. */
    uint8_t *w = NULL;
    size_t w_len = 0;
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, (const uint8_t *)"k", 1, g_key,
                                          &w, &w_len));
    uint8_t out[64];
    size_t n = 0;
    EXPECT_OK(proxy_keystore_unwrap(ks, w, w_len, out, sizeof(out), &n));
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 'k');
    shd_free(w);
    proxy_keystore_free(ks);
    fake_free_text(reply);
}

static void test_access_token_and_tcp(void **state)
{
    (void)state;
    char tcp[64];
    (void)snprintf(tcp, sizeof(tcp), "http://127.0.0.1:%u", (unsigned)g_fake.port);
    const char *env[] = {ENV_SKR "KEY_RELEASE_ENDPOINT",
                         tcp,
                         ENV_SKR "MAA_ENDPOINT",
                         "m",
                         ENV_SKR "AKV_ENDPOINT",
                         "a",
                         ENV_SKR "KID",
                         "k/v1",
                         ENV_SKR "ACCESS_TOKEN",
                         "eyJ.tok.en",
                         NULL};
    g_env = env;
    char *reply = fake_jwk_reply(g_key);
    fake_answer(&g_fake, 200, reply);
    struct proxy_keystore *ks = keystore_new(1);
    EXPECT_OK(proxy_keystore_obtain(ks));
    assert_string_equal(g_fake.body, "{\"maa_endpoint\":\"m\",\"akv_endpoint\":\"a\",\"kid\":\"k/"
                                     "v1\",\"access_token\":\"eyJ.tok.en\"}");
    proxy_keystore_free(ks);
    fake_free_text(reply);
}

/* One failing obtain of the source itself: the exact error code, and the rendered chain must
 * contain `needle`. */
static void expect_obtain_fails(unsigned status, const char *reply, int err, const char *needle)
{
    const char *env[] = {ENV_SKR "KEY_RELEASE_ENDPOINT",
                         g_endpoint,
                         ENV_SKR "MAA_ENDPOINT",
                         "m",
                         ENV_SKR "AKV_ENDPOINT",
                         "a",
                         ENV_SKR "KID",
                         "k",
                         NULL};
    g_env = env;
    fake_answer(&g_fake, status, reply);
    void *st = NULL;
    EXPECT_OK(proxy_keysrc_skr_configure(fake_getenv, &st));
    struct proxy_key_material m = {0};
    EXPECT_ERR(proxy_keysrc_skr_obtain(st, &m), err);
    assert_null(m.private_key);
    char chain[SHD_ERROR_FRAME_LEN * 2];
    (void)shd_error_render(chain, sizeof(chain));
    if (strstr(chain, needle) == NULL) {
        fail_msg("chain '%s' lacks '%s'", chain, needle);
    }
    proxy_keysrc_skr_free(st);
}

static void test_errors(void **state)
{
    (void)state;
    /* The sidecar's 403 with its multi-line message (control characters replaced). */
    expect_obtain_fails(403, "{\"error\":\"secure key release failed\\nERROR: x\"}",
                        SHD_ERR_PERMISSION,
                        "key service (skr) answered 403: secure key release failed ERROR: x");
    expect_obtain_fails(400, "{\"error\":{}}", SHD_ERR_HTTP_STATUS,
                        "answered 400: (no error message)");
    expect_obtain_fails(500, "", SHD_ERR_HTTP_STATUS, "answered 500");
    expect_obtain_fails(200, "{\"key\":\"{\\\"kty\\\":\\\"RSA\\\"}\"}", SHD_ERR_INPUT,
                        "the released JWK");
    expect_obtain_fails(200, "{\"key\":", SHD_ERR_JSON, "key reply");
    expect_obtain_fails(200, "{\"status\":\"ok\"}", SHD_ERR_INPUT, "privateKey");
    /* A secret in a reply never reaches the error text. */
    expect_obtain_fails(200, "{\"key\":\"{\\\"kty\\\":\\\"oct\\\",\\\"k\\\":\\\"U0VDUkVU\\\"}\"}",
                        SHD_ERR_UNSUPPORTED, "not RSA");
    char chain[SHD_ERROR_FRAME_LEN * 2];
    (void)shd_error_render(chain, sizeof(chain));
    assert_null(strstr(chain, "U0VDUkVU"));
}

static void test_no_service(void **state)
{
    (void)state;
    const char *env[] = {ENV_SKR "KEY_RELEASE_ENDPOINT",
                         "unix:/nonexistent/skr.sock",
                         ENV_SKR "MAA_ENDPOINT",
                         "m",
                         ENV_SKR "AKV_ENDPOINT",
                         "a",
                         ENV_SKR "KID",
                         "k",
                         NULL};
    g_env = env;
    struct proxy_keystore *ks = keystore_new(2);
    EXPECT_ERR(proxy_keystore_obtain(ks), SHD_ERR_RETRY_EXHAUSTED);
    char chain[SHD_ERROR_FRAME_LEN * 2];
    (void)shd_error_render(chain, sizeof(chain));
    assert_non_null(strstr(chain, "giving up after 2 attempts: key source skr"));
    assert_non_null(strstr(chain, "key service (skr)"));
    proxy_keystore_free(ks);
}

static void expect_config_error(const char *const *env, const char *needle)
{
    g_env = env;
    const struct proxy_keystore_options o = {.source = proxy_key_source_find("skr"),
                                             .getenv = fake_getenv};
    struct proxy_keystore *ks = NULL;
    EXPECT_ERR(proxy_keystore_create(&o, &ks), SHD_ERR_CONFIG);
    assert_null(ks);
    char chain[SHD_ERROR_FRAME_LEN * 2];
    (void)shd_error_render(chain, sizeof(chain));
    if (strstr(chain, needle) == NULL) {
        fail_msg("chain '%s' lacks '%s'", chain, needle);
    }
}

static void test_config(void **state)
{
    (void)state;
    const char *none[] = {NULL};
    expect_config_error(none, ENV_SKR "MAA_ENDPOINT is not set");
    const char *no_akv[] = {ENV_SKR "MAA_ENDPOINT", "m", NULL};
    expect_config_error(no_akv, ENV_SKR "AKV_ENDPOINT is not set");
    const char *no_kid[] = {ENV_SKR "MAA_ENDPOINT", "m", ENV_SKR "AKV_ENDPOINT", "a", NULL};
    expect_config_error(no_kid, ENV_SKR "KID is not set");
    const char *remote[] = {ENV_SKR "KEY_RELEASE_ENDPOINT",
                            "http://10.1.2.3:8080",
                            ENV_SKR "MAA_ENDPOINT",
                            "m",
                            ENV_SKR "AKV_ENDPOINT",
                            "a",
                            ENV_SKR "KID",
                            "k",
                            NULL};
    expect_config_error(remote, "loopback only");
    const char *bad_token[] = {ENV_SKR "MAA_ENDPOINT",
                               "m",
                               ENV_SKR "AKV_ENDPOINT",
                               "a",
                               ENV_SKR "KID",
                               "k",
                               ENV_SKR "ACCESS_TOKEN",
                               "a b",
                               NULL};
    expect_config_error(bad_token, ENV_SKR "ACCESS_TOKEN has a byte outside visible ASCII");
    const char *bad_timeout[] = {ENV_SKR "MAA_ENDPOINT",
                                 "m",
                                 ENV_SKR "AKV_ENDPOINT",
                                 "a",
                                 ENV_SKR "KID",
                                 "k",
                                 PROXY_KEYSRC_ENV_TIMEOUT,
                                 "5s",
                                 NULL};
    expect_config_error(bad_timeout, PROXY_KEYSRC_ENV_TIMEOUT);
    /* The default address is our skr's socket. */
    const char *dflt[] = {
        ENV_SKR "MAA_ENDPOINT", "m", ENV_SKR "AKV_ENDPOINT", "a", ENV_SKR "KID", "k", NULL};
    g_env = dflt;
    void *st = NULL;
    EXPECT_OK(proxy_keysrc_skr_configure(fake_getenv, &st));
    proxy_keysrc_skr_free(st);
    proxy_keysrc_skr_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release), cmocka_unit_test(test_access_token_and_tcp),
        cmocka_unit_test(test_errors),  cmocka_unit_test(test_no_service),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
