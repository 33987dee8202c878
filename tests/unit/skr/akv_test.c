/*
 * akv_test.c - the release JWS (x5c chain to our anchors, vault host, signature), its payload,
 * the release POST with its error chains, and a whole release over TLS followed by the unwrap
 * (skr/src/akv.c). The JWS chain is the JOSE test chain of tests/unit/shared/fixtures/jose
 * (leaf "jose-test.vault.azure.net").
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "akv.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_aead.h"
#include "shd/crypto_rsa.h"
#include "shd/crypto_x509.h"
#include "shd/http_client.h"
#include "shd/jws.h"
#include "shd/mem.h"
#include "shd/secret.h"
#include "shd_test.h"
#include "skr_fake_upstream.h"
#include "tls_server.h"
#include "unwrap.h"

#define HOST "jose-test.vault.azure.net"

static EVP_PKEY *g_leaf_key;
static X509 *g_leaf, *g_int, *g_client_leaf;
static STACK_OF(X509) * g_roots, *g_other_roots;
static char g_root_path[1024];

/* printf into a fresh shd_alloc'd string (shd_free). */
static char *xfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xfmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    char *s = shd_alloc((size_t)n + 1);
    assert_non_null(s);
    va_start(ap, fmt);
    (void)vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void expect_chain(const char *want)
{
    char buf[4096];
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void expect_chain_prefix(const char *want)
{
    char buf[4096];
    (void)shd_error_render(buf, sizeof(buf));
    if (strncmp(buf, want, strlen(want)) != 0) {
        fail_msg("chain \"%s\" does not start with \"%s\"", buf, want);
    }
}

static uint8_t *jose_fixture(const char *name, size_t *len)
{
    char path[1024];
    (void)snprintf(path, sizeof(path), "%s/tests/unit/shared/fixtures/jose/%s",
                   getenv("SHD_SOURCE_DIR"), name);
    return shd_test_read_file(path, len);
}

static X509 *cert_fixture(const char *name)
{
    size_t len = 0;
    uint8_t *pem = jose_fixture(name, &len);
    X509 *c = NULL;
    EXPECT_OK(shd_crypto_x509_load(pem, len, &c));
    shd_free(pem);
    return c;
}

static int group_setup(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *key = jose_fixture("x5c_leaf.key", &len);
    if (shd_is_err(shd_crypto_privkey_load(key, len, &g_leaf_key))) {
        return -1;
    }
    shd_free(key);
    g_leaf = cert_fixture("x5c_leaf.pem");
    g_int = cert_fixture("x5c_int.pem");
    g_client_leaf = cert_fixture("x5c_client_leaf.pem");
    (void)snprintf(g_root_path, sizeof(g_root_path),
                   "%s/tests/unit/shared/fixtures/jose/x5c_root.pem", getenv("SHD_SOURCE_DIR"));
    EXPECT_OK(skr_akv_roots_load(g_root_path, &g_roots));
    char other[1024];
    (void)snprintf(other, sizeof(other), "%s/tests/unit/shared/fixtures/jose/x5c_other_root.pem",
                   getenv("SHD_SOURCE_DIR"));
    EXPECT_OK(skr_akv_roots_load(other, &g_other_roots));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(g_leaf_key);
    X509_free(g_leaf);
    X509_free(g_int);
    X509_free(g_client_leaf);
    shd_crypto_x509_chain_free(g_roots);
    shd_crypto_x509_chain_free(g_other_roots);
    return 0;
}

static char *b64url(const void *p, size_t n)
{
    char *s = NULL;
    EXPECT_OK(shd_b64_encode(p, n, SHD_B64_URL_NOPAD, &s, NULL));
    return s;
}

/* A release payload (§5.5) around the given ciphertext. */
static char *payload_build(const char *enc, const char *kty, const uint8_t *ct, size_t ct_len)
{
    char *ct64 = b64url(ct, ct_len);
    char *json3 = NULL;
    json3 = xfmt("{\"ciphertext\":\"%s\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":"
                 "\"%s\"},\"schema_version\":\"1.0.0\"}",
                 ct64, enc);
    char *hsm = b64url(json3, strlen(json3));
    char *payload = NULL;
    payload = xfmt("{\"request\":{\"api-version\":\"7.4\",\"enc\":\"%s\",\"kid\":\"https://" HOST
                   "/keys/k\"},\"response\":{\"key\":{\"attributes\":{\"exportable\":"
                   "true},\"key\":{\"key_hsm\":\"%s\",\"kid\":\"https://" HOST
                   "/keys/k/1\",\"kty\":\"%s\",\"key_ops\":[\"encrypt\",\"decrypt\"]},"
                   "\"release_policy\":{\"contentType\":\"application/json\",\"data\":\"e30\"}"
                   "}}}",
                   enc, hsm, kty);
    shd_free(ct64);
    shd_free(json3);
    shd_free(hsm);
    return payload;
}

static char *jws_sign(const char *payload, X509 *leaf, enum shd_jws_alg alg)
{
    X509 *chain[2] = {leaf, g_int};
    const struct shd_jws_sign_header hdr = {.x5c = chain, .x5c_len = 2, .kid = "k"};
    char *tok = NULL;
    EXPECT_OK(
        shd_jws_sign(&hdr, (const uint8_t *)payload, strlen(payload), g_leaf_key, alg, &tok, NULL));
    return tok;
}

static void test_kid_check(void **state)
{
    (void)state;
    EXPECT_OK(skr_akv_kid_check("mykey"));
    EXPECT_OK(skr_akv_kid_check("my-key/0123456789abcdef0123456789abcdef"));
    const char *bad[] = {"",    "/",   "a/", "/a",   "a/b/c", "a?b",
                         "a#b", "a b", "..", "a/..", "%2e",   "a\\b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(skr_akv_kid_check(bad[i]), SHD_ERR_INPUT);
    }
    expect_chain("invalid key identifier \"a\\b\"");
}

static void test_roots_load(void **state)
{
    (void)state;
    STACK_OF(X509) *roots = NULL;
    char path[64];

    assert_int_equal(sk_X509_num(g_roots), 1);
    EXPECT_ERR(skr_akv_roots_load("/nonexistent/ca.pem", &roots), SHD_ERR_NOT_FOUND);
    expect_chain_prefix("could not generate a system cert pool: ");
    (void)snprintf(path, sizeof(path), "/tmp/skr-akv-empty-%d.pem", (int)getpid());
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("no certificates here\n", fp);
    fclose(fp);
    EXPECT_ERR(skr_akv_roots_load(path, &roots), SHD_ERR_INPUT);
    expect_chain_prefix("could not generate a system cert pool: ");
    unlink(path);
    assert_null(roots);
}

static void test_jws_open_ok(void **state)
{
    (void)state;
    const uint8_t ct[300] = {1, 2, 3};
    char *payload = payload_build("RSA_AES_KEY_WRAP_256", "RSA-HSM", ct, sizeof(ct));
    struct skr_akv_released rel = {0};

    const enum shd_jws_alg algs[] = {SHD_JWS_RS256, SHD_JWS_PS256, SHD_JWS_RS384};
    for (size_t i = 0; i < 3; i++) {
        char *jws = jws_sign(payload, g_leaf, algs[i]);
        EXPECT_OK(skr_akv_jws_open(jws, strlen(jws), g_roots, HOST, &rel));
        assert_string_equal(rel.enc, "RSA_AES_KEY_WRAP_256");
        assert_string_equal(rel.kty, "RSA-HSM");
        assert_int_equal(json_array_size(rel.key_ops), 2);
        assert_int_equal(rel.ciphertext_len, sizeof(ct));
        assert_memory_equal(rel.ciphertext, ct, sizeof(ct));
        skr_akv_released_clear(&rel);
        shd_free(jws);
    }
    shd_free(payload);
}

static void jws_expect(const char *jws, STACK_OF(X509) * roots, const char *host, int code,
                       const char *chain, bool prefix)
{
    struct skr_akv_released rel = {0};
    EXPECT_ERR(skr_akv_jws_open(jws, strlen(jws), roots, host, &rel), code);
    assert_null(rel.kty);
    if (prefix) {
        expect_chain_prefix(chain);
    } else {
        expect_chain(chain);
    }
}

static void test_jws_negatives(void **state)
{
    (void)state;
    const uint8_t ct[300] = {0};
    char *payload = payload_build("CKM_RSA_AES_KEY_WRAP", "oct-HSM", ct, sizeof(ct));
    char *jws = jws_sign(payload, g_leaf, SHD_JWS_RS256);

    /* Bad signature. */
    char *forged = shd_strdup(jws);
    size_t n = strlen(forged);
    forged[n - 5] = forged[n - 5] == 'A' ? 'B' : 'A';
    jws_expect(forged, g_roots, HOST, SHD_ERR_BAD_SIGNATURE,
               "jws token verification failed: failed to verify message: ", true);
    shd_free(forged);
    /* A chain for another host, an unknown root, a client-only leaf. */
    jws_expect(jws, g_roots, "other.vault.azure.net", SHD_ERR_BAD_CERT,
               "verification of leaf's certificate chain failed: x509: ", true);
    jws_expect(jws, g_other_roots, HOST, SHD_ERR_BAD_CERT,
               "verification of leaf's certificate chain failed: x509: ", true);
    char *client = jws_sign(payload, g_client_leaf, SHD_JWS_RS256);
    jws_expect(client, g_roots, HOST, SHD_ERR_BAD_CERT,
               "verification of leaf's certificate chain failed: x509: ", true);
    shd_free(client);
    /* Shape errors with the original's texts. */
    jws_expect("a.b", g_roots, HOST, SHD_ERR_INPUT, "jws token validation failed", false);
    jws_expect("a.b.c.d", g_roots, HOST, SHD_ERR_INPUT, "jws token validation failed", false);
    jws_expect("", g_roots, HOST, SHD_ERR_INPUT, "jws token validation failed", false);
    jws_expect("e30=.e30.c2ln", g_roots, HOST, SHD_ERR_ENCODING,
               "decoding header failed: illegal base64 data at input byte 3", false);
    jws_expect("bm90IGpzb24.e30.c2ln", g_roots, HOST, SHD_ERR_JSON,
               "unmarshalling header failed: ", true);
    /* {"alg":"RS256"}: no x5c (the original panics). */
    jws_expect("eyJhbGciOiJSUzI1NiJ9.e30.c2ln", g_roots, HOST, SHD_ERR_INPUT,
               "parsing certificate X5C[0] failed: no x5c in JWS header", false);
    /* {"alg":"RS256","x5c":["!!"]} */
    jws_expect("eyJhbGciOiJSUzI1NiIsIng1YyI6WyIhISJdfQ.e30.c2ln", g_roots, HOST, SHD_ERR_ENCODING,
               "parsing certificate X5C[0] failed: decoding x509 certificate from string failed: "
               "!!: illegal base64 data at input byte 0",
               false);
    /* The same header with alg HS256 / ES256: refused before any verification. */
    uint8_t *der = NULL;
    size_t der_len = 0;
    EXPECT_OK(shd_crypto_x509_export_der(g_leaf, &der, &der_len));
    char *x5c0 = NULL;
    EXPECT_OK(shd_b64_encode(der, der_len, SHD_B64_STD_PAD, &x5c0, NULL));
    const char *algs[] = {"HS256", "ES256", "none"};
    for (size_t i = 0; i < 3; i++) {
        char *hdr = NULL;
        hdr = xfmt("{\"alg\":\"%s\",\"x5c\":[\"%s\"]}", algs[i], x5c0);
        char *h64 = b64url(hdr, strlen(hdr));
        char *tok = NULL;
        tok = xfmt("%s.e30.c2ln", h64);
        jws_expect(tok, g_roots, HOST, i == 1 ? SHD_ERR_UNSUPPORTED : SHD_ERR_UNSUPPORTED,
                   "jws token verification failed: failed to verify message: ", true);
        shd_free(hdr);
        shd_free(h64);
        shd_free(tok);
    }
    shd_free(x5c0);
    shd_free(der);
    shd_free(jws);
    shd_free(payload);
}

static void payload_expect(const char *payload, int code, const char *chain)
{
    char *jws = jws_sign(payload, g_leaf, SHD_JWS_RS256);
    jws_expect(jws, g_roots, HOST, code, chain, true);
    shd_free(jws);
}

static void test_payload_negatives(void **state)
{
    (void)state;
    payload_expect("[]", SHD_ERR_JSON, "unmarshalling jws response payload failed: ");
    payload_expect("{\"response\":{\"key\":{\"key\":{\"key_ops\":\"encrypt\"}}}}", SHD_ERR_JSON,
                   "unmarshalling jws response payload failed: field 'key_ops' is not an array");
    payload_expect("{\"response\":{\"key\":{\"key\":{\"kty\":5}}}}", SHD_ERR_INPUT,
                   "unmarshalling jws response payload failed: ");
    payload_expect("{\"response\":{\"key\":{\"key\":{\"key_hsm\":\"!\"}}}}", SHD_ERR_ENCODING,
                   "decoding keyHSM failed: illegal base64 data at input byte 0");
    /* key_hsm absent: "" is no JSON (the original: unexpected end of JSON input). */
    payload_expect("{\"response\":{\"key\":{\"key\":{}}}}", SHD_ERR_JSON,
                   "unmarshalling keyHSM failed: ");
    /* key_hsm = b64url({"ciphertext":"*"}) */
    payload_expect("{\"response\":{\"key\":{\"key\":{\"key_hsm\":\"eyJjaXBoZXJ0ZXh0IjoiKiJ9\"}}}}",
                   SHD_ERR_ENCODING,
                   "decoding keyHSM's ciphertext failed: illegal base64 data at input byte 0");
}

/* ---- the POST ---- */

static struct shd_http_client *client_new(const char *ca_file, const char *connect_to)
{
    struct shd_http_client *c = NULL;
    const struct shd_http_client_options o = {.ca_file = ca_file,
                                              .connect_to = connect_to,
                                              .connect_timeout_ms = 2000,
                                              .timeout_ms = 5000};
    EXPECT_OK(shd_http_client_create(&o, &c));
    return c;
}

static void test_release_post(void **state)
{
    (void)state;
    struct skr_fake_upstream *f = skr_fake_upstream_start(NULL);
    struct shd_http_client *c = client_new(NULL, NULL);
    char url[128];
    char *jws = NULL;

    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u/keys/mykey/release?api-version=7.4",
                   skr_fake_upstream_port(f));
    skr_fake_upstream_push(f, 200, "{\"value\":\"h.p.s\"}", NULL);
    EXPECT_OK(skr_akv_release_post(c, url, "maa<&>tok", "bearer-1", &jws));
    assert_string_equal(jws, "h.p.s");
    shd_free(jws);
    const struct skr_fake_request *r = skr_fake_upstream_last(f);
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->path, "/keys/mykey/release");
    assert_string_equal(r->api_version, "7.4");
    assert_string_equal(r->content_type, "application/json");
    assert_string_equal(r->authorization, "Bearer bearer-1");
    assert_string_equal(r->body, "{\"target\":\"maa\\u003c\\u0026\\u003etok\"}"); /* Go escaping */

    skr_fake_upstream_push(
        f, 403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"policy not satisfied\"}}", NULL);
    EXPECT_ERR(skr_akv_release_post(c, url, "t", "b", &jws), SHD_ERR_HTTP_STATUS);
    expect_chain("pulling AKV response body failed: {\"error\":{\"code\":\"Forbidden\",\"message\":"
                 "\"policy not satisfied\"}}: http response status equal to 403 Forbidden");
    skr_fake_upstream_push(f, 200, "{\"value\":[]}", NULL);
    EXPECT_ERR(skr_akv_release_post(c, url, "t", "b", &jws), SHD_ERR_JSON);
    expect_chain("unmarshalling http response to releasekey response failed: json: cannot "
                 "unmarshal array into Go struct field .value of type string");
    skr_fake_upstream_stop(f);

    char want[256];
    EXPECT_ERR(skr_akv_release_post(c, url, "t", "b", &jws), SHD_ERR_CONNECT);
    (void)snprintf(want, sizeof(want),
                   "AKV post request failed: HTTP GET failed: Post \"%s\": ", url);
    expect_chain_prefix(want);

    struct skr_akv_released rel = {0};
    EXPECT_ERR(skr_akv_release(c, g_roots, "v.vault.azure.net/x", "k", "t", "b", &rel),
               SHD_ERR_INPUT);
    expect_chain("AKV post request failed: invalid endpoint \"v.vault.azure.net/x\": expected a "
                 "host name with an optional port");
    EXPECT_ERR(skr_akv_release(c, g_roots, "v.vault.azure.net", "k?x=1", "t", "b", &rel),
               SHD_ERR_INPUT);
    expect_chain("AKV post request failed: invalid key identifier \"k?x=1\"");
    shd_http_client_free(c);
}

/* The whole call over TLS with the real host name (connect-to), then the unwrap. */
static void test_release_tls_and_unwrap(void **state)
{
    (void)state;
    static const char *const names[] = {HOST};
    struct shd_test_pki *pki = shd_test_pki_new("akv test CA", names, 1);
    struct skr_fake_upstream *f = skr_fake_upstream_start(pki);
    char ca_path[64], connect_to[128];
    (void)snprintf(ca_path, sizeof(ca_path), "/tmp/skr-akv-ca-%d.pem", (int)getpid());
    shd_test_pki_write_ca(pki, ca_path);
    (void)snprintf(connect_to, sizeof(connect_to), HOST ":443:127.0.0.1:%u",
                   skr_fake_upstream_port(f));
    struct shd_http_client *c = client_new(ca_path, connect_to);

    /* Key Vault's side: wrap a 32-byte oct key to our ephemeral key with _384. */
    EVP_PKEY *wrap = NULL;
    EXPECT_OK(shd_crypto_rsa_generate(2048, &wrap));
    uint8_t kek[32], key[32], ct[256 + 40];
    size_t rsa_len = 0, w_len = 0;
    uint8_t *rsa = NULL;
    EXPECT_OK(shd_crypto_random(kek, sizeof(kek)));
    EXPECT_OK(shd_crypto_random(key, sizeof(key)));
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA384, kek, 32, wrap, &rsa, &rsa_len));
    shd_memcpy(ct, rsa, rsa_len);
    shd_free(rsa);
    EXPECT_OK(shd_crypto_aes_kwp_wrap(kek, 32, key, 32, ct + 256, 40, &w_len));
    char *payload = payload_build("RSA_AES_KEY_WRAP_384", "oct-HSM", ct, sizeof(ct));
    char *jws = jws_sign(payload, g_leaf, SHD_JWS_RS256);
    char *reply = NULL;
    reply = xfmt("{\"value\":\"%s\"}", jws);
    skr_fake_upstream_push(f, 200, reply, NULL);

    struct skr_akv_released rel = {0};
    EXPECT_OK(skr_akv_release(c, g_roots, HOST, "k", "maa-token", "aad-token", &rel));
    assert_string_equal(skr_fake_upstream_last(f)->path, "/keys/k/release");
    struct shd_secret *m = NULL;
    EXPECT_OK(skr_rsa_aes_unwrap(rel.enc, rel.ciphertext, rel.ciphertext_len, wrap, &m));
    assert_memory_equal(shd_secret_data(m), key, sizeof(key));
    shd_secret_free(&m);
    skr_akv_released_clear(&rel);

    /* A port in the endpoint: TLS and the JWS name check use the host alone. */
    shd_http_client_free(c);
    (void)snprintf(connect_to, sizeof(connect_to), HOST ":8443:127.0.0.1:%u",
                   skr_fake_upstream_port(f));
    c = client_new(ca_path, connect_to);
    EXPECT_OK(skr_akv_release(c, g_roots, HOST ":8443", "k/0123abcd", "t", "b", &rel));
    assert_string_equal(skr_fake_upstream_last(f)->path, "/keys/k/0123abcd/release");
    skr_akv_released_clear(&rel);

    shd_http_client_free(c);
    shd_free(reply);
    shd_free(jws);
    shd_free(payload);
    EVP_PKEY_free(wrap);
    skr_fake_upstream_stop(f);
    shd_test_pki_free(pki);
    unlink(ca_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kid_check),
        cmocka_unit_test(test_roots_load),
        cmocka_unit_test(test_jws_open_ok),
        cmocka_unit_test(test_jws_negatives),
        cmocka_unit_test(test_payload_negatives),
        cmocka_unit_test(test_release_post),
        cmocka_unit_test(test_release_tls_and_unwrap),
    };
    return cmocka_run_group_tests_name("skr/akv", tests, group_setup, group_teardown);
}
