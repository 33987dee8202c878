/*
 * wrapkey_test.c - ephemeral wrapping keys, their JWK set, and the pool (skr/src/wrapkey.c):
 * every key handed out is a fresh RSA-2048 key, never handed out twice.
 */
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "shd/crypto.h"
#include "shd/jwk.h"
#include "shd/mem.h"
#include "shd_test.h"
#include "wrapkey.h"

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_take_without_pool(void **state)
{
    (void)state;
    EVP_PKEY *a = NULL, *b = NULL;
    char *set = NULL;
    size_t len = 0;
    char kid[SHD_JWK_THUMBPRINT_LEN + 1];

    EXPECT_OK(skr_key_pool_take(NULL, &a));
    EXPECT_OK(skr_key_pool_take(NULL, &b));
    assert_int_equal(shd_crypto_key_kind(a), SHD_CRYPTO_KEY_RSA);
    assert_int_equal(EVP_PKEY_get_bits(a), 2048);
    assert_true(shd_crypto_key_is_private(a));
    assert_int_not_equal(EVP_PKEY_eq(a, b), 1);

    EXPECT_OK(skr_wrapkey_set_write(a, &set, &len));
    EXPECT_OK(shd_jwk_thumbprint(a, kid));
    const char *head = "{\"keys\":[{\"e\":\"AQAB\",\"key_ops\":[\"encrypt\"],\"kid\":\"";
    assert_int_equal(strncmp(set, head, strlen(head)), 0);
    assert_int_equal(strncmp(set + strlen(head), kid, SHD_JWK_THUMBPRINT_LEN), 0);
    const char *mid = "\",\"kty\":\"RSA\",\"n\":\"";
    assert_int_equal(strncmp(set + strlen(head) + SHD_JWK_THUMBPRINT_LEN, mid, strlen(mid)), 0);
    assert_int_equal(len, strlen(set));
    /* n: 256 bytes = 342 unpadded base64url characters, then "}]}. */
    assert_int_equal(len, strlen(head) + SHD_JWK_THUMBPRINT_LEN + 19 + 342 + 4);
    assert_string_equal(set + len - 4, "\"}]}");
    shd_free(set);

    EXPECT_ERR(skr_wrapkey_set_write(NULL, &set, &len), SHD_ERR_NULL);
    EXPECT_ERR(skr_key_pool_take(NULL, NULL), SHD_ERR_NULL);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

static void wait_ready(struct skr_key_pool *pool, size_t n)
{
    for (unsigned i = 0; i < 600 && skr_key_pool_ready(pool) < n; i++) {
        sleep_ms(50);
    }
    assert_int_equal(skr_key_pool_ready(pool), n);
}

static void test_pool(void **state)
{
    (void)state;
    struct skr_key_pool *pool = NULL;
    EVP_PKEY *keys[5] = {NULL};

    EXPECT_OK(skr_key_pool_new(2, &pool));
    wait_ready(pool, 2);
    sleep_ms(100);
    assert_int_equal(skr_key_pool_ready(pool), 2); /* never more than asked for */
    /* Five takes: two from the pool, the rest from refills or generated on the spot. */
    for (size_t i = 0; i < 5; i++) {
        EXPECT_OK(skr_key_pool_take(pool, &keys[i]));
        assert_int_equal(EVP_PKEY_get_bits(keys[i]), 2048);
    }
    for (size_t i = 0; i < 5; i++) {
        for (size_t j = i + 1; j < 5; j++) {
            assert_int_not_equal(EVP_PKEY_eq(keys[i], keys[j]), 1);
        }
    }
    wait_ready(pool, 2); /* refilled */
    for (size_t i = 0; i < 5; i++) {
        EVP_PKEY_free(keys[i]);
    }
    skr_key_pool_free(&pool);
    assert_null(pool);
    skr_key_pool_free(&pool);
    skr_key_pool_free(NULL);
}

/* Freeing while the thread is busy generating stops it cleanly. */
static void test_pool_free_while_filling(void **state)
{
    (void)state;
    struct skr_key_pool *pool = NULL;

    EXPECT_OK(skr_key_pool_new(SKR_KEY_POOL_MAX, &pool));
    sleep_ms(20);
    skr_key_pool_free(&pool);
    assert_null(pool);
}

static void test_pool_config(void **state)
{
    (void)state;
    struct skr_key_pool *pool = NULL;
    EVP_PKEY *k = NULL;

    EXPECT_ERR(skr_key_pool_new(SKR_KEY_POOL_MAX + 1, &pool), SHD_ERR_CONFIG);
    assert_null(pool);
    /* Size 0: a pool object that generates on demand. */
    EXPECT_OK(skr_key_pool_new(0, &pool));
    assert_int_equal(skr_key_pool_ready(pool), 0);
    EXPECT_OK(skr_key_pool_take(pool, &k));
    assert_int_equal(skr_key_pool_ready(pool), 0);
    EVP_PKEY_free(k);
    skr_key_pool_free(&pool);
    assert_int_equal(skr_key_pool_ready(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_without_pool),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_pool_free_while_filling),
        cmocka_unit_test(test_pool_config),
    };
    return cmocka_run_group_tests_name("skr/wrapkey", tests, NULL, NULL);
}
