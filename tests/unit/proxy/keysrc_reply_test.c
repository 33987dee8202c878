/*
 * keysrc_reply_test.c - the key-release reply parser (both reply forms) and the shared helpers
 * of the key-service sources: addresses, settings, KMS resource names. Negative cases: not JSON,
 * wrong shapes, truncated and oversized replies, non-RSA and forged keys, a public key that
 * belongs to another private key, remote and non-loopback addresses.
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "keysrc.h"
#include "keysrc_fake.h"
#include "shd/crypto.h"
#include "shd/json.h"
#include "shd/mem.h"

static EVP_PKEY *g_key;   /* RSA-2048 */
static EVP_PKEY *g_other; /* another RSA-2048 */

static int setup(void **state)
{
    (void)state;
    shd_json_allocator_install();
    return shd_is_ok(shd_crypto_rsa_generate(2048, &g_key)) &&
                   shd_is_ok(shd_crypto_rsa_generate(2048, &g_other))
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(g_key);
    EVP_PKEY_free(g_other);
    return 0;
}

static void expect_reply(const char *reply, int err)
{
    EVP_PKEY *k = NULL;
    shd_result r = proxy_keysrc_reply_key((const uint8_t *)reply, strlen(reply), &k);
    assert_int_equal(r.err, err);
    assert_null(k);
}

static char *pem_of(EVP_PKEY *k, bool private_part)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    int ok = private_part ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)
                          : PEM_write_bio_PUBKEY(b, k);
    assert_int_equal(ok, 1);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *out = shd_strndup(p, (size_t)n);
    BIO_free(b);
    return out;
}

/* {"privateKey":..,"publicKey":..} (publicKey left out when pub is NULL). */
static char *pem_reply(const char *priv, const char *pub)
{
    const struct shd_json_go_field f[] = {
        {"privateKey", priv, strlen(priv)},
        {"publicKey", pub != NULL ? pub : "", pub != NULL ? strlen(pub) : 0},
    };
    char *out = NULL;
    size_t n = 0;
    EXPECT_OK(shd_json_go_dump_strings(f, pub != NULL ? 2u : 1u, &out, &n));
    return out;
}

static void test_jwk_reply(void **state)
{
    (void)state;
    char *reply = fake_jwk_reply(g_key);
    EVP_PKEY *k = NULL;
    EXPECT_OK(proxy_keysrc_reply_key((const uint8_t *)reply, strlen(reply), &k));
    assert_int_equal(EVP_PKEY_eq(k, g_key), 1);
    assert_true(shd_crypto_key_is_private(k));
    EVP_PKEY_free(k);
    /* Extra members are ignored; "key" wins over a PEM pair. */
    char *priv = pem_of(g_other, true);
    size_t n = strlen(reply);
    char *both = shd_alloc(n + strlen(priv) * 2 + 64);
    (void)snprintf(both, n + strlen(priv) * 2 + 64, "{\"extra\":1,\"privateKey\":\"x\",%s",
                   reply + 1);
    EXPECT_OK(proxy_keysrc_reply_key((const uint8_t *)both, strlen(both), &k));
    assert_int_equal(EVP_PKEY_eq(k, g_key), 1);
    EVP_PKEY_free(k);
    /* Truncated: every proper prefix fails. */
    for (size_t cut = 0; cut < n; cut += 97) {
        EVP_PKEY *t = NULL;
        assert_true(shd_is_err(proxy_keysrc_reply_key((const uint8_t *)reply, cut, &t)));
        assert_null(t);
    }
    shd_free_wipe(both, strlen(both) + 1);
    fake_free_text(priv);
    fake_free_text(reply);
}

static void test_pem_reply(void **state)
{
    (void)state;
    char *priv = pem_of(g_key, true);
    char *pub = pem_of(g_key, false);
    char *other_pub = pem_of(g_other, false);
    EVP_PKEY *k = NULL;
    char *reply = pem_reply(priv, pub);
    EXPECT_OK(proxy_keysrc_reply_key((const uint8_t *)reply, strlen(reply), &k));
    assert_int_equal(EVP_PKEY_eq(k, g_key), 1);
    EVP_PKEY_free(k);
    fake_free_text(reply);
    reply = pem_reply(priv, NULL);
    EXPECT_OK(proxy_keysrc_reply_key((const uint8_t *)reply, strlen(reply), &k));
    assert_int_equal(EVP_PKEY_eq(k, g_key), 1);
    EVP_PKEY_free(k);
    fake_free_text(reply);
    /* Forged: the public key of another key pair. */
    reply = pem_reply(priv, other_pub);
    expect_reply(reply, SHD_ERR_BAD_KEY);
    fake_free_text(reply);
    reply = pem_reply("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", NULL);
    expect_reply(reply, SHD_ERR_BAD_KEY);
    fake_free_text(reply);
    reply = pem_reply(priv, "not a pem");
    expect_reply(reply, SHD_ERR_BAD_KEY);
    fake_free_text(reply);
    /* An EC key is refused: the envelope is RSA-OAEP. */
    EVP_PKEY *ec = NULL;
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &ec));
    char *ec_pem = pem_of(ec, true);
    reply = pem_reply(ec_pem, NULL);
    expect_reply(reply, SHD_ERR_UNSUPPORTED);
    fake_free_text(reply);
    fake_free_text(ec_pem);
    char *ec_jwk = fake_jwk_reply(ec);
    expect_reply(ec_jwk, SHD_ERR_UNSUPPORTED);
    fake_free_text(ec_jwk);
    EVP_PKEY_free(ec);
    fake_free_text(priv);
    fake_free_text(pub);
    fake_free_text(other_pub);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_reply("", SHD_ERR_JSON);
    expect_reply("not json", SHD_ERR_JSON);
    expect_reply("[]", SHD_ERR_INPUT);
    expect_reply("{}", SHD_ERR_INPUT);
    expect_reply("{\"key\":5}", SHD_ERR_INPUT);
    expect_reply("{\"key\":null}", SHD_ERR_INPUT);
    expect_reply("{\"key\":\"not json\"}", SHD_ERR_JSON);
    expect_reply("{\"key\":\"[1]\"}", SHD_ERR_INPUT);
    expect_reply("{\"key\":\"{}\"}", SHD_ERR_INPUT);
    expect_reply("{\"key\":\"{\\\"kty\\\":\\\"oct\\\",\\\"k\\\":\\\"AAAA\\\"}\"}",
                 SHD_ERR_UNSUPPORTED);
    expect_reply("{\"key\":\"{\\\"kty\\\":\\\"XYZ\\\"}\"}", SHD_ERR_UNSUPPORTED);
    expect_reply("{\"privateKey\":7}", SHD_ERR_INPUT);
    expect_reply("{\"key\":\"x\"} trailing", SHD_ERR_JSON);
    /* Oversized: beyond PROXY_KEYSRC_MAX_REPLY before parsing. */
    size_t n = PROXY_KEYSRC_MAX_REPLY + 16;
    char *big = shd_alloc(n + 1);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    expect_reply(big, SHD_ERR_TOO_LARGE);
    shd_free(big);
    /* A public-only JWK, and a JWK whose d was altered (pairwise check). */
    json_t *pub = NULL;
    EXPECT_OK(shd_jwk_export_public(g_key, &pub));
    char *pub_text = NULL;
    size_t pub_len = 0;
    EXPECT_OK(shd_json_go_dump(pub, SHD_JSON_SORT_KEYS, &pub_text, &pub_len));
    json_decref(pub);
    const struct shd_json_go_field f = {"key", pub_text, strlen(pub_text)};
    char *reply = NULL;
    size_t len = 0;
    EXPECT_OK(shd_json_go_dump_strings(&f, 1, &reply, &len));
    expect_reply(reply, SHD_ERR_INPUT);
    shd_free(reply);
    shd_free(pub_text);
    reply = fake_jwk_reply(g_key);
    char *d = strstr(reply, "\\\"d\\\":\\\"");
    assert_non_null(d);
    d += 8;
    *d = *d == 'A' ? 'B' : 'A';
    expect_reply(reply, SHD_ERR_BAD_KEY);
    fake_free_text(reply);
}

static void test_endpoint(void **state)
{
    (void)state;
    struct proxy_keysrc_endpoint ep = {0};
    EXPECT_OK(proxy_keysrc_endpoint_parse("unix:/run/skr/skr.sock", false, &ep));
    assert_string_equal(ep.unix_path, "/run/skr/skr.sock");
    assert_null(ep.tcp_base);
    proxy_keysrc_endpoint_clear(&ep);
    EXPECT_OK(proxy_keysrc_endpoint_parse("/a/b.sock", false, &ep));
    assert_string_equal(ep.unix_path, "/a/b.sock");
    proxy_keysrc_endpoint_clear(&ep);
    const char *tcp_ok[][2] = {
        {"http://localhost:8080", "http://localhost:8080"},
        {"http://127.0.0.1:8080/", "http://127.0.0.1:8080"},
        {"http://[::1]:1", "http://[::1]:1"},
    };
    for (size_t i = 0; i < sizeof(tcp_ok) / sizeof(tcp_ok[0]); i++) {
        EXPECT_OK(proxy_keysrc_endpoint_parse(tcp_ok[i][0], true, &ep));
        assert_null(ep.unix_path);
        assert_string_equal(ep.tcp_base, tcp_ok[i][1]);
        proxy_keysrc_endpoint_clear(&ep);
    }
    const char *bad[] = {"",
                         "unix:",
                         "unix:relative",
                         "relative/x",
                         "https://127.0.0.1:8080",
                         "http://10.0.0.1:8080",
                         "http://localhost",
                         "http://localhost:",
                         "http://localhost:0",
                         "http://localhost:65536",
                         "http://localhost:80/x",
                         "http://localhost.evil:80",
                         "http://127.0.0.1:8080//",
                         "ftp://localhost:21"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(proxy_keysrc_endpoint_parse(bad[i], true, &ep), SHD_ERR_CONFIG);
    }
    EXPECT_ERR(proxy_keysrc_endpoint_parse("http://127.0.0.1:8080", false, &ep), SHD_ERR_CONFIG);
    char longp[200];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    EXPECT_ERR(proxy_keysrc_endpoint_parse(longp, false, &ep), SHD_ERR_CONFIG);
    assert_null(ep.unix_path);
    proxy_keysrc_endpoint_clear(NULL);
}

static void test_env(void **state)
{
    (void)state;
    static const char *const env[] = {
        "A",   "value", "EMPTY", "", "SPACE", "a b", "CTL", "a\tb", PROXY_KEYSRC_ENV_TIMEOUT,
        "999", NULL};
    g_env = env;
    const char *v = NULL;
    EXPECT_OK(proxy_keysrc_env(fake_getenv, "A", &v));
    assert_string_equal(v, "value");
    EXPECT_OK(proxy_keysrc_env(fake_getenv, "EMPTY", &v));
    assert_null(v);
    EXPECT_OK(proxy_keysrc_env(fake_getenv, "UNSET", &v));
    assert_null(v);
    EXPECT_ERR(proxy_keysrc_env_required(fake_getenv, "UNSET", &v), SHD_ERR_CONFIG);
    EXPECT_ERR(proxy_keysrc_env(fake_getenv, "SPACE", &v), SHD_ERR_CONFIG);
    EXPECT_ERR(proxy_keysrc_env(fake_getenv, "CTL", &v), SHD_ERR_CONFIG);
    uint32_t ms = 0;
    EXPECT_ERR(proxy_keysrc_env_timeout(fake_getenv, &ms), SHD_ERR_CONFIG);
    g_env = NULL;
    EXPECT_OK(proxy_keysrc_env_timeout(fake_getenv, &ms));
    assert_int_equal(ms, PROXY_KEYSRC_DEFAULT_TIMEOUT_MS);
}

static void test_kms_names(void **state)
{
    (void)state;
    const char *key = "projects/p-1/locations/global/keyRings/r_1/cryptoKeys/k.1";
    EXPECT_OK(proxy_keysrc_kms_name_check(key, false, "X"));
    EXPECT_ERR(proxy_keysrc_kms_name_check(key, true, "X"), SHD_ERR_CONFIG);
    EXPECT_OK(proxy_keysrc_kms_name_check(
        "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/12", true, "X"));
    const char *bad[] = {
        "",
        "projects/p/locations/l/keyRings/r/cryptoKeys/",
        "projects//locations/l/keyRings/r/cryptoKeys/k",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k/",
        "projects/p/locations/l/keyrings/r/cryptoKeys/k",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k?x=1",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k\"",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(proxy_keysrc_kms_name_check(bad[i], false, "X"), SHD_ERR_CONFIG);
    }
    EXPECT_ERR(proxy_keysrc_kms_name_check(
                   "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/x", true, "X"),
               SHD_ERR_CONFIG);
    char longid[160] = "projects/";
    memset(longid + 9, 'a', 101);
    (void)snprintf(longid + 110, sizeof(longid) - 110, "/locations/l/keyRings/r/cryptoKeys/k");
    EXPECT_ERR(proxy_keysrc_kms_name_check(longid, false, "X"), SHD_ERR_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwk_reply), cmocka_unit_test(test_pem_reply),
        cmocka_unit_test(test_malformed), cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_env),       cmocka_unit_test(test_kms_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
