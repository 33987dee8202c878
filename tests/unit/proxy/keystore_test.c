/*
 * keystore_test.c - the key holder: the ephemeral source, readiness, bounded retries with
 * backoff through the wait hook, abandoning start-up, bad material from a source, and parallel
 * unwraps from two threads.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

#include "envelope.h"
#include "keystore.h"
#include "shd/crypto.h"
#include "shd/crypto_rsa.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd_test.h"

static unsigned g_fail_first;
static unsigned g_obtain_calls;
static unsigned g_waits;
static uint32_t g_wait_total;

static shd_result flaky_obtain(void *state, struct proxy_key_material *ret)
{
    (void)state;
    if (g_obtain_calls++ < g_fail_first) {
        SHD_BAIL_MSG(SHD_ERR_CONNECT, "key service not up yet");
    }
    EVP_PKEY *k = NULL;
    SHD_GUARD(shd_crypto_rsa_generate(2048, &k));
    *ret = (struct proxy_key_material){.private_key = k};
    return SHD_OK;
}

static shd_result public_only_obtain(void *state, struct proxy_key_material *ret)
{
    (void)state;
    EVP_PKEY *k = NULL;
    SHD_GUARD(shd_crypto_rsa_generate(2048, &k));
    /* A private key handed over as the public one, and no decryptor: refused. */
    *ret = (struct proxy_key_material){.public_key = k};
    return SHD_OK;
}

static bool count_wait(void *ctx, uint32_t ms)
{
    (void)ctx;
    g_waits++;
    g_wait_total += ms;
    return false;
}

static bool abandon_wait(void *ctx, uint32_t ms)
{
    (void)ctx;
    (void)ms;
    return true;
}

static const struct proxy_key_source FLAKY = {
    .name = "flaky", .summary = "test", .retryable = true, .obtain = flaky_obtain};
static const struct proxy_key_source PUBLIC_ONLY = {
    .name = "public-only", .summary = "test", .retryable = false, .obtain = public_only_obtain};

static void test_table(void **state)
{
    (void)state;
    assert_non_null(proxy_key_source_find("ephemeral"));
    assert_null(proxy_key_source_find("Ephemeral"));
    assert_null(proxy_key_source_find(NULL));
    assert_non_null(proxy_key_source_at(0));
}

static void test_ephemeral(void **state)
{
    (void)state;
    const struct proxy_keystore_options o = {.source = proxy_key_source_find("ephemeral")};
    struct proxy_keystore *ks = NULL;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    assert_false(proxy_keystore_ready(ks));
    const char *pem = NULL;
    EXPECT_ERR(proxy_keystore_public_pem(ks, &pem, NULL), SHD_ERR_UNAVAILABLE);
    uint8_t out[64];
    size_t n = 0;
    uint8_t ct[512] = {0};
    EXPECT_ERR(proxy_keystore_unwrap(ks, ct, sizeof(ct), out, sizeof(out), &n),
               SHD_ERR_UNAVAILABLE);
    EXPECT_OK(proxy_keystore_obtain(ks));
    assert_true(proxy_keystore_ready(ks));
    size_t len = 0;
    EXPECT_OK(proxy_keystore_public_pem(ks, &pem, &len));
    assert_true(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
    assert_int_equal(pem[len - 1], '\n');
    EVP_PKEY *pub = NULL;
    EXPECT_OK(proxy_envelope_recipient_load(pem, len, &pub));
    assert_int_equal(EVP_PKEY_get_bits(pub), 4096);
    /* A value wrapped to the public key comes back; a wrong ciphertext does not. */
    uint8_t *w = NULL;
    size_t w_len = 0;
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, (const uint8_t *)"k32", 3, pub,
                                          &w, &w_len));
    EXPECT_OK(proxy_keystore_unwrap(ks, w, w_len, out, sizeof(out), &n));
    assert_int_equal(n, 3);
    assert_memory_equal(out, "k32", 3);
    w[10] ^= 1;
    EXPECT_ERR(proxy_keystore_unwrap(ks, w, w_len, out, sizeof(out), &n), SHD_ERR_DECRYPT);
    shd_free(w);
    EVP_PKEY_free(pub);
    assert_string_equal(proxy_keystore_source_name(ks), "ephemeral");
    proxy_keystore_free(ks);
    proxy_keystore_free(NULL);
}

static void test_retries(void **state)
{
    (void)state;
    g_fail_first = 2;
    g_obtain_calls = 0;
    g_waits = 0;
    g_wait_total = 0;
    const struct proxy_keystore_options o = {.source = &FLAKY, .max_attempts = 3,
                                             .retry_base_ms = 100, .retry_max_ms = 150,
                                             .wait = count_wait};
    struct proxy_keystore *ks = NULL;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    EXPECT_OK(proxy_keystore_obtain(ks));
    assert_int_equal(g_obtain_calls, 3);
    assert_int_equal(g_waits, 2);
    assert_true(g_wait_total <= 100 + 150);
    proxy_keystore_free(ks);

    g_fail_first = 10;
    g_obtain_calls = 0;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    EXPECT_ERR(proxy_keystore_obtain(ks), SHD_ERR_RETRY_EXHAUSTED);
    assert_int_equal(g_obtain_calls, 3);
    assert_false(proxy_keystore_ready(ks));
    proxy_keystore_free(ks);

    const struct proxy_keystore_options a = {.source = &FLAKY, .max_attempts = 5,
                                             .wait = abandon_wait};
    g_obtain_calls = 0;
    EXPECT_OK(proxy_keystore_create(&a, &ks));
    EXPECT_ERR(proxy_keystore_obtain(ks), SHD_ERR_UNAVAILABLE);
    assert_int_equal(g_obtain_calls, 1);
    proxy_keystore_free(ks);
}

static void test_bad_material(void **state)
{
    (void)state;
    const struct proxy_keystore_options o = {.source = &PUBLIC_ONLY};
    struct proxy_keystore *ks = NULL;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    EXPECT_ERR(proxy_keystore_obtain(ks), SHD_ERR_INTERNAL);
    assert_false(proxy_keystore_ready(ks));
    proxy_keystore_free(ks);
    const struct proxy_keystore_options bad_heap = {.source = &PUBLIC_ONLY,
                                                    .secure_heap_bytes = 3000};
    EXPECT_ERR(proxy_keystore_create(&bad_heap, &ks), SHD_ERR_CONFIG);
}

/* Two threads unwrap at once: nothing serialises private-key operations. */
struct worker {
    struct proxy_keystore *ks;
    const uint8_t *w;
    size_t w_len;
    atomic_uint *ok;
};

static void *unwrap_loop(void *arg)
{
    struct worker *wk = arg;
    for (int i = 0; i < 20; i++) {
        uint8_t out[64];
        size_t n = 0;
        if (shd_is_ok(proxy_keystore_unwrap(wk->ks, wk->w, wk->w_len, out, sizeof(out), &n)) &&
            n == 5 && shd_memcmp(out, "hello", 5) == 0) {
            atomic_fetch_add(wk->ok, 1u);
        }
    }
    return NULL;
}

static void test_parallel_unwrap(void **state)
{
    (void)state;
    g_fail_first = 0;
    g_obtain_calls = 0;
    const struct proxy_keystore_options o = {.source = &FLAKY};
    struct proxy_keystore *ks = NULL;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    EXPECT_OK(proxy_keystore_obtain(ks));
    const char *pem = NULL;
    size_t len = 0;
    EXPECT_OK(proxy_keystore_public_pem(ks, &pem, &len));
    EVP_PKEY *pub = NULL;
    EXPECT_OK(proxy_envelope_recipient_load(pem, len, &pub));
    uint8_t *w = NULL;
    size_t w_len = 0;
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, (const uint8_t *)"hello", 5,
                                          pub, &w, &w_len));
    atomic_uint ok = 0;
    struct worker wk = {.ks = ks, .w = w, .w_len = w_len, .ok = &ok};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, unwrap_loop, &wk), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    assert_int_equal(atomic_load(&ok), 40);
    shd_free(w);
    EVP_PKEY_free(pub);
    proxy_keystore_free(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),       cmocka_unit_test(test_ephemeral),
        cmocka_unit_test(test_retries),     cmocka_unit_test(test_bad_material),
        cmocka_unit_test(test_parallel_unwrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
