/*
 * envelope_test.c - the Polaris envelope: known-answer envelopes made by an independent
 * implementation on Node's crypto (16-byte IV) and WebCrypto (12-byte IV) open here; ours open
 * in Node; and every framing and crypto field tampered with is refused with the right code.
 * Node runs fixtures/envelope_node.mjs with the fixed RSA-4096 key fixtures/test_rsa4096.pem.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "envelope.h"
#include "envelope_gzip.h"
#include "shd/buf.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_aead.h"
#include "shd/crypto_rsa.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd_test.h"

static EVP_PKEY *g_key;
static char g_fixtures[1024];

static shd_result test_unwrap(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                              size_t *ret_len)
{
    return shd_crypto_rsa_oaep_decrypt(SHD_CRYPTO_HASH_SHA256, in, n, (EVP_PKEY *)ctx, out, cap,
                                       ret_len);
}

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("SHD_SOURCE_DIR");
    (void)snprintf(g_fixtures, sizeof(g_fixtures), "%s/tests/unit/proxy/fixtures",
                   src != NULL ? src : ".");
    char path[1200];
    (void)snprintf(path, sizeof(path), "%s/test_rsa4096.pem", g_fixtures);
    size_t len = 0;
    uint8_t *pem = shd_test_read_file(path, &len);
    EXPECT_OK(shd_crypto_privkey_load(pem, len, &g_key));
    shd_free(pem);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(g_key);
    return 0;
}

static bool node_available(void)
{
    return system("node --version > /dev/null 2>&1") == 0;
}

/* Runs the Node fixture; returns its stdout (shd_alloc, NUL-terminated). */
static char *node_run(const char *mode, const char *pem_name, const char *arg)
{
    char cmd[1024 + 8192];
    (void)snprintf(cmd, sizeof(cmd), "node '%s/envelope_node.mjs' %s '%s/%s' '%s'", g_fixtures,
                   mode, g_fixtures, pem_name, arg);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    struct shd_buf out;
    shd_buf_init(1u << 20, 0, &out);
    char chunk[4096];
    size_t got = 0;
    while ((got = fread(chunk, 1, sizeof(chunk), p)) > 0) {
        EXPECT_OK(shd_buf_append(chunk, got, &out));
    }
    assert_int_equal(pclose(p), 0);
    uint8_t *s = NULL;
    size_t n = 0;
    EXPECT_OK(shd_buf_take(&out, &s, &n));
    return (char *)s;
}

static void open_b64_expect(const char *b64, const uint8_t *want, size_t want_len)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    EXPECT_OK(proxy_envelope_open_b64(b64, strlen(b64), 1u << 20, test_unwrap, g_key, &plain,
                                      &len));
    assert_int_equal(len, want_len);
    assert_memory_equal(plain, want, want_len);
    shd_free_wipe(plain, len + 1);
}

static const uint8_t KAT_PLAIN[] = "known answer: /anonymize?x=1 \x00\xff\x80 {\"a\":1}";

static void node_envelopes_open(const uint8_t *plain, size_t n)
{
    if (!node_available()) {
        skip();
    }
    char *arg = NULL;
    EXPECT_OK(shd_b64_encode(plain, n, SHD_B64_STD_PAD, &arg, NULL));
    char *out = node_run("seal", "test_rsa4096.pub.pem", arg);
    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse(out, strlen(out), NULL, &doc));
    const char *node16 = NULL;
    const char *web12 = NULL;
    EXPECT_OK(shd_json_get_string(doc, "node16", &node16));
    EXPECT_OK(shd_json_get_string(doc, "webcrypto12", &web12));
    open_b64_expect(node16, plain, n);
    open_b64_expect(web12, plain, n);
    json_decref(doc);
    shd_free(out);
    shd_free(arg);
}

static void test_node_kat_open(void **state)
{
    (void)state;
    node_envelopes_open(KAT_PLAIN, sizeof(KAT_PLAIN) - 1);
}

static void test_node_kat_open_empty(void **state)
{
    (void)state;
    node_envelopes_open((const uint8_t *)"", 0);
}

/* Our envelopes (both IV lengths) open in Node. */
static void test_ours_open_in_node(void **state)
{
    (void)state;
    if (!node_available()) {
        skip();
    }
    EVP_PKEY *pub = NULL;
    char path[1200];
    (void)snprintf(path, sizeof(path), "%s/test_rsa4096.pub.pem", g_fixtures);
    size_t pem_len = 0;
    uint8_t *pem = shd_test_read_file(path, &pem_len);
    EXPECT_OK(proxy_envelope_recipient_load((const char *)pem, pem_len, &pub));
    shd_free(pem);
    const size_t ivs[] = {12, 16};
    for (size_t i = 0; i < 2; i++) {
        char *text = NULL;
        size_t text_len = 0;
        EXPECT_OK(proxy_envelope_seal_b64(KAT_PLAIN, sizeof(KAT_PLAIN) - 1, pub, ivs[i], &text,
                                          &text_len));
        char *out = node_run("open", "test_rsa4096.pem", text);
        uint8_t *plain = NULL;
        size_t n = 0;
        EXPECT_OK(shd_b64_decode(out, strlen(out), SHD_B64_STD, &plain, &n));
        assert_int_equal(n, sizeof(KAT_PLAIN) - 1);
        assert_memory_equal(plain, KAT_PLAIN, n);
        shd_free(plain);
        shd_free(out);
        shd_free(text);
    }
    EVP_PKEY_free(pub);
}

/* ---- our own round trips and the negative cases ---- */

static void seal(const uint8_t *p, size_t n, size_t iv_len, uint8_t **env, size_t *env_len)
{
    EXPECT_OK(proxy_envelope_seal(p, n, g_key, iv_len, env, env_len));
}

static shd_result open_env(const uint8_t *env, size_t n, size_t max)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    shd_result r = proxy_envelope_open(env, n, max, test_unwrap, g_key, &plain, &len);
    if (shd_is_ok(r)) {
        shd_free_wipe(plain, len + 1);
    }
    return r;
}

static void test_round_trip_sizes(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 4096, (size_t)1 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *p = shd_alloc(sizes[i] + 1);
        for (size_t k = 0; k < sizes[i]; k++) {
            p[k] = (uint8_t)(k * 131u);
        }
        uint8_t *env = NULL;
        size_t env_len = 0;
        seal(p, sizes[i], i % 2 == 0 ? 12 : 16, &env, &env_len);
        uint8_t *plain = NULL;
        size_t len = 0;
        EXPECT_OK(proxy_envelope_open(env, env_len, sizes[i], test_unwrap, g_key, &plain, &len));
        assert_int_equal(len, sizes[i]);
        assert_memory_equal(plain, p, sizes[i]);
        assert_int_equal(plain[len], 0);
        shd_free_wipe(plain, len + 1);
        /* One byte over the caller's limit is refused before any RSA work. */
        if (sizes[i] > 0) {
            EXPECT_ERR(open_env(env, env_len, sizes[i] - 1), SHD_ERR_TOO_LARGE);
        }
        shd_free(env);
        shd_free(p);
    }
}

/* Builds BE32 || {"wrappedKey","wrappedIV","authTag"} || ct from raw parts. */
static uint8_t *craft(const uint8_t *wk, size_t wk_len, const uint8_t *wi, size_t wi_len,
                      const uint8_t *tag, size_t tag_len, const uint8_t *ct, size_t ct_len,
                      size_t *ret_len)
{
    char *a = NULL;
    char *b = NULL;
    char *c = NULL;
    EXPECT_OK(shd_b64_encode(wk, wk_len, SHD_B64_STD_PAD, &a, NULL));
    EXPECT_OK(shd_b64_encode(wi, wi_len, SHD_B64_STD_PAD, &b, NULL));
    EXPECT_OK(shd_b64_encode(tag, tag_len, SHD_B64_STD_PAD, &c, NULL));
    struct shd_buf j;
    shd_buf_init(1u << 20, 0, &j);
    EXPECT_OK(shd_buf_appendf(&j, "{\"wrappedKey\":\"%s\",\"wrappedIV\":\"%s\",\"authTag\":\"%s\"}",
                              a, b, c));
    size_t h = shd_buf_len(&j);
    size_t n = 4 + h + ct_len;
    uint8_t *env = shd_alloc(n);
    env[0] = (uint8_t)(h >> 24);
    env[1] = (uint8_t)(h >> 16);
    env[2] = (uint8_t)(h >> 8);
    env[3] = (uint8_t)h;
    shd_memcpy(env + 4, shd_buf_ptr(&j), h);
    shd_memcpy(env + 4 + h, ct, ct_len);
    shd_buf_free(&j);
    shd_free(a);
    shd_free(b);
    shd_free(c);
    *ret_len = n;
    return env;
}

/* A well-formed envelope from chosen parts, so each one can be spoiled on its own. */
struct parts {
    uint8_t key[32];
    size_t key_len;
    uint8_t iv[16];
    size_t iv_len;
    uint8_t tag[16];
    uint8_t ct[64];
    size_t ct_len;
    uint8_t *wk;
    size_t wk_len;
    uint8_t *wi;
    size_t wi_len;
};

static void parts_make(size_t key_len, size_t iv_len, struct parts *p)
{
    static const uint8_t msg[] = "tamper target";
    *p = (struct parts){.key_len = key_len, .iv_len = iv_len, .ct_len = sizeof(msg) - 1};
    EXPECT_OK(shd_crypto_random(p->key, sizeof(p->key)));
    EXPECT_OK(shd_crypto_random(p->iv, sizeof(p->iv)));
    size_t gcm_iv = iv_len == 12 || iv_len == 16 ? iv_len : 12;
    EXPECT_OK(shd_crypto_aes256_gcm_encrypt(p->key, p->iv, gcm_iv, NULL, 0, msg, p->ct_len,
                                            p->ct, sizeof(p->ct), p->tag));
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, p->key, key_len, g_key, &p->wk,
                                          &p->wk_len));
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, p->iv, iv_len, g_key, &p->wi,
                                          &p->wi_len));
}

static shd_result parts_open(const struct parts *p, size_t tag_len)
{
    size_t n = 0;
    uint8_t *env = craft(p->wk, p->wk_len, p->wi, p->wi_len, p->tag, tag_len, p->ct, p->ct_len,
                         &n);
    shd_result r = open_env(env, n, 1024);
    shd_free(env);
    return r;
}

static void parts_free(struct parts *p)
{
    shd_free(p->wk);
    shd_free(p->wi);
}

static void test_crafted_ok_then_tampered(void **state)
{
    (void)state;
    struct parts p;
    parts_make(32, 16, &p);
    EXPECT_OK(parts_open(&p, 16));
    /* Exactly 16-byte tags (§6.2): a truncated tag is refused even though GCM could check it. */
    EXPECT_ERR(parts_open(&p, 12), SHD_ERR_INPUT);
    p.tag[0] ^= 1;
    EXPECT_ERR(parts_open(&p, 16), SHD_ERR_DECRYPT);
    p.tag[0] ^= 1;
    p.ct[3] ^= 0x40;
    EXPECT_ERR(parts_open(&p, 16), SHD_ERR_DECRYPT);
    p.ct[3] ^= 0x40;
    p.wk[100] ^= 1;
    EXPECT_ERR(parts_open(&p, 16), SHD_ERR_DECRYPT);
    p.wk[100] ^= 1;
    p.wi[7] ^= 0x80;
    EXPECT_ERR(parts_open(&p, 16), SHD_ERR_DECRYPT);
    p.wi[7] ^= 0x80;
    /* A wrapped value one byte short is not a modulus-sized ciphertext. */
    p.wk_len--;
    EXPECT_ERR(parts_open(&p, 16), SHD_ERR_DECRYPT);
    p.wk_len++;
    EXPECT_OK(parts_open(&p, 16));
    parts_free(&p);
}

static void test_bad_unwrapped_lengths(void **state)
{
    (void)state;
    struct parts p;
    parts_make(32, 12, &p);
    EXPECT_OK(parts_open(&p, 16));
    parts_free(&p);
    parts_make(16, 16, &p); /* AES-128 key: not ours */
    EXPECT_ERR(parts_open(&p, 16), SHD_ERR_DECRYPT);
    parts_free(&p);
    parts_make(32, 8, &p); /* 8-byte IV */
    EXPECT_ERR(parts_open(&p, 16), SHD_ERR_DECRYPT);
    parts_free(&p);
}

static void test_framing(void **state)
{
    (void)state;
    uint8_t *env = NULL;
    size_t n = 0;
    seal((const uint8_t *)"framing", 7, 16, &env, &n);
    EXPECT_OK(open_env(env, n, 64));
    /* Truncated before the end of the length prefix, and inside the header. */
    EXPECT_ERR(open_env(env, 3, 64), SHD_ERR_TRUNCATED);
    EXPECT_ERR(open_env(env, 100, 64), SHD_ERR_TRUNCATED);
    EXPECT_ERR(open_env(env, 0, 64), SHD_ERR_TRUNCATED);
    /* The prefix says one byte more: the header swallows a ciphertext byte -> not JSON. */
    env[3]++;
    EXPECT_ERR(open_env(env, n, 64), SHD_ERR_JSON);
    env[3] -= 2;
    EXPECT_ERR(open_env(env, n, 64), SHD_ERR_JSON);
    env[3]++;
    /* A prefix past the input, and one past the header bound. */
    env[1] = 0x7f;
    EXPECT_ERR(open_env(env, n, 64), SHD_ERR_TOO_LARGE);
    env[0] = 0xff;
    EXPECT_ERR(open_env(env, n, 64), SHD_ERR_TOO_LARGE);
    shd_free(env);

    /* Missing field, wrong type, bad base64. */
    static const char *const BAD[] = {
        "{\"wrappedKey\":\"AA==\",\"wrappedIV\":\"AA==\"}",
        "{\"wrappedKey\":1,\"wrappedIV\":\"AA==\",\"authTag\":\"AA==\"}",
        "{\"wrappedKey\":\"A*==\",\"wrappedIV\":\"AA==\",\"authTag\":\"AA==\"}",
        "[1,2,3]",
    };
    const int codes[] = {SHD_ERR_INPUT, SHD_ERR_INPUT, SHD_ERR_ENCODING, SHD_ERR_INPUT};
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        size_t h = strlen(BAD[i]);
        uint8_t buf[256] = {0, 0, 0, (uint8_t)h};
        shd_memcpy(buf + 4, BAD[i], h);
        EXPECT_ERR(open_env(buf, 4 + h, 64), codes[i]);
    }
}

static void test_b64_wrapper(void **state)
{
    (void)state;
    uint8_t *env = NULL;
    size_t n = 0;
    seal((const uint8_t *)"text", 4, 12, &env, &n);
    char *url = NULL;
    EXPECT_OK(shd_b64_encode(env, n, SHD_B64_URL_NOPAD, &url, NULL));
    open_b64_expect(url, (const uint8_t *)"text", 4);
    EXPECT_ERR(proxy_envelope_open_b64("%%%%", 4, 64, test_unwrap, g_key, &env, &n),
               SHD_ERR_ENCODING);
    /* Text far larger than any envelope of max_plain bytes is refused before decoding. */
    size_t big = 64 * 1024;
    char *junk = shd_alloc(big + 1);
    shd_memzero(junk, big);
    for (size_t i = 0; i < big; i++) {
        junk[i] = 'A';
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    EXPECT_ERR(proxy_envelope_open_b64(junk, big, 16, test_unwrap, g_key, &out, &out_len),
               SHD_ERR_TOO_LARGE);
    shd_free(junk);
    shd_free(url);
    shd_free(env);
}

static void test_recipient_load(void **state)
{
    (void)state;
    EVP_PKEY *k = NULL;
    EXPECT_ERR(proxy_envelope_recipient_load("not a pem", 9, &k), SHD_ERR_BAD_KEY);
    EVP_PKEY *ec = NULL;
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &ec));
    char *pem = NULL;
    size_t len = 0;
    EXPECT_OK(shd_crypto_pubkey_export_spki_pem(ec, &pem, &len));
    EXPECT_ERR(proxy_envelope_recipient_load(pem, len, &k), SHD_ERR_BAD_KEY);
    uint8_t *env = NULL;
    size_t n = 0;
    EXPECT_ERR(proxy_envelope_seal((const uint8_t *)"x", 1, ec, 16, &env, &n), SHD_ERR_BAD_KEY);
    EXPECT_ERR(proxy_envelope_seal((const uint8_t *)"x", 1, g_key, 13, &env, &n), SHD_ERR_USAGE);
    shd_free(pem);
    EVP_PKEY_free(ec);
}

static void test_gzip(void **state)
{
    (void)state;
    static const uint8_t text[] = "gzip gzip gzip gzip gzip gzip gzip gzip";
    uint8_t *z = NULL;
    size_t z_len = 0;
    EXPECT_OK(proxy_gzip_deflate(text, sizeof(text) - 1, &z, &z_len));
    uint8_t *back = NULL;
    size_t back_len = 0;
    EXPECT_OK(proxy_gzip_inflate(z, z_len, 1024, &back, &back_len));
    assert_int_equal(back_len, sizeof(text) - 1);
    assert_memory_equal(back, text, back_len);
    shd_free(back);
    /* A bomb stops at the cap; truncated and corrupt data are refused. */
    EXPECT_ERR(proxy_gzip_inflate(z, z_len, 8, &back, &back_len), SHD_ERR_TOO_LARGE);
    EXPECT_ERR(proxy_gzip_inflate(z, z_len - 5, 1024, &back, &back_len), SHD_ERR_INPUT);
    z[z_len / 2] ^= 0xff;
    shd_result r = proxy_gzip_inflate(z, z_len, 1024, &back, &back_len);
    assert_true(shd_is_err(r));
    shd_free(z);
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_kat_open),
        cmocka_unit_test(test_node_kat_open_empty),
        cmocka_unit_test(test_ours_open_in_node),
        cmocka_unit_test(test_round_trip_sizes),
        cmocka_unit_test(test_crafted_ok_then_tampered),
        cmocka_unit_test(test_bad_unwrapped_lengths),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_b64_wrapper),
        cmocka_unit_test(test_recipient_load),
        cmocka_unit_test(test_gzip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
