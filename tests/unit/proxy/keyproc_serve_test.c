/*
 * keyproc_serve_test.c - the key process's request table, driven with bytes (no fork): READY
 * first and once, PUBLIC_KEY once and after READY, UNWRAP after READY; a real RSA-OAEP-SHA256
 * ciphertext unwrapped; every unwrap failure one opaque ERROR; malformed and unknown requests
 * refused as protocol violations; a key that could not be obtained reported through READY with
 * its code and a printable cause.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "keyholder.h"
#include "keyproc_msg.h"
#include "keyproc_serve.h"
#include "keystore.h"
#include "shd/crypto.h"
#include "shd/crypto_rsa.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd_test.h"

#define REPLY(t) ((uint8_t)((t) | PROXY_KEYPROC_REPLY_BIT))

static EVP_PKEY *g_key;

static shd_result fixed_obtain(void *state, struct proxy_key_material *ret)
{
    (void)state;
    SHD_ENSURE(EVP_PKEY_up_ref(g_key) == 1, SHD_ERR_INTERNAL);
    *ret = (struct proxy_key_material){.private_key = g_key};
    return SHD_OK;
}

static const struct proxy_key_source FIXED = {
    .name = "fixed", .summary = "test", .obtain = fixed_obtain};

static int setup(void **state)
{
    (void)state;
    return shd_is_ok(shd_crypto_rsa_generate(2048, &g_key)) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(g_key);
    return 0;
}

static struct proxy_keyholder *holder_new(bool obtain)
{
    const struct proxy_keystore_options o = {.source = &FIXED, .in_process = true};
    struct proxy_keyholder *h = NULL;
    EXPECT_OK(proxy_keyholder_create(&o, &h));
    if (obtain) {
        EXPECT_OK(proxy_keyholder_obtain(h, NULL, NULL));
    }
    return h;
}

/* One request through the table; the reply decoded against it (asserted well-formed). */
static shd_result ask(struct proxy_keyproc_session *s, const struct proxy_keyproc_msg *req,
                      uint8_t *reply, struct proxy_keyproc_msg *ret)
{
    uint8_t in[PROXY_KEYPROC_MSG_MAX];
    size_t n = 0;
    size_t len = 0;
    EXPECT_OK(proxy_keyproc_request_encode(req, in, sizeof(in), &n));
    SHD_GUARD(proxy_keyproc_session_handle(s, in, n, reply, PROXY_KEYPROC_MSG_MAX, &len));
    EXPECT_OK(proxy_keyproc_reply_decode(req, reply, len, ret));
    return SHD_OK;
}

static const struct proxy_keyproc_msg READY = {.type = PROXY_KEYPROC_READY};
static const struct proxy_keyproc_msg PUBLIC_KEY = {.type = PROXY_KEYPROC_PUBLIC_KEY};

static void test_order_and_once(void **state)
{
    (void)state;
    struct proxy_keyholder *h = holder_new(true);
    struct proxy_keyproc_session *s = NULL;
    EXPECT_OK(proxy_keyproc_session_create(h, &s));
    uint8_t reply[PROXY_KEYPROC_MSG_MAX];
    struct proxy_keyproc_msg rep;
    uint8_t *w = NULL;
    size_t w_len = 0;
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, (const uint8_t *)"session-key",
                                          11, g_key, &w, &w_len));
    const struct proxy_keyproc_msg unwrap = {
        .type = PROXY_KEYPROC_UNWRAP, .cap = 64, .data = w, .len = w_len};

    /* Nothing but READY before READY. */
    EXPECT_ERR(ask(s, &unwrap, reply, &rep), SHD_ERR_INPUT);
    EXPECT_ERR(ask(s, &PUBLIC_KEY, reply, &rep), SHD_ERR_INPUT);
    EXPECT_OK(ask(s, &READY, reply, &rep));
    assert_int_equal(rep.type, REPLY(PROXY_KEYPROC_READY));
    EXPECT_ERR(ask(s, &READY, reply, &rep), SHD_ERR_INPUT);

    /* The public key, once, exactly the holder's. */
    EXPECT_OK(ask(s, &PUBLIC_KEY, reply, &rep));
    assert_int_equal(rep.type, REPLY(PROXY_KEYPROC_PUBLIC_KEY));
    const char *pem = NULL;
    size_t pem_len = 0;
    EXPECT_OK(proxy_keyholder_public_pem(h, &pem, &pem_len));
    assert_int_equal(rep.len, pem_len);
    assert_memory_equal(rep.data, pem, pem_len);
    EXPECT_ERR(ask(s, &PUBLIC_KEY, reply, &rep), SHD_ERR_INPUT);

    /* Unwraps, as many as asked. */
    for (int i = 0; i < 3; i++) {
        EXPECT_OK(ask(s, &unwrap, reply, &rep));
        assert_int_equal(rep.type, REPLY(PROXY_KEYPROC_UNWRAP));
        assert_int_equal(rep.len, 11);
        assert_memory_equal(rep.data, "session-key", 11);
    }
    shd_free(w);
    proxy_keyproc_session_free(s);
    proxy_keyholder_free(h);
}

static void test_unwrap_failures_are_opaque(void **state)
{
    (void)state;
    struct proxy_keyholder *h = holder_new(true);
    struct proxy_keyproc_session *s = NULL;
    EXPECT_OK(proxy_keyproc_session_create(h, &s));
    uint8_t reply[PROXY_KEYPROC_MSG_MAX];
    struct proxy_keyproc_msg rep;
    EXPECT_OK(ask(s, &READY, reply, &rep));
    uint8_t *w = NULL;
    size_t w_len = 0;
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, (const uint8_t *)"0123456789", 10,
                                          g_key, &w, &w_len));
    /* Tampered; shorter than the modulus; a plaintext longer than the cap. */
    struct proxy_keyproc_msg bad[3] = {
        {.type = PROXY_KEYPROC_UNWRAP, .cap = 64, .data = w, .len = w_len},
        {.type = PROXY_KEYPROC_UNWRAP, .cap = 64, .data = w, .len = w_len - 1},
        {.type = PROXY_KEYPROC_UNWRAP, .cap = 9, .data = w, .len = w_len},
    };
    w[w_len / 2] ^= 0x01;
    EXPECT_OK(ask(s, &bad[0], reply, &rep));
    assert_int_equal(rep.type, PROXY_KEYPROC_ERROR);
    assert_int_equal(rep.code, SHD_ERR_DECRYPT);
    assert_int_equal(rep.len, 0);
    w[w_len / 2] ^= 0x01;
    for (size_t i = 1; i < 3; i++) {
        EXPECT_OK(ask(s, &bad[i], reply, &rep));
        assert_int_equal(rep.type, PROXY_KEYPROC_ERROR);
        assert_int_equal(rep.code, SHD_ERR_DECRYPT);
        assert_int_equal(rep.len, 0);
    }
    /* The same ciphertext with room for it still works: nothing was poisoned. */
    bad[2].cap = 10;
    EXPECT_OK(ask(s, &bad[2], reply, &rep));
    assert_int_equal(rep.len, 10);
    shd_free(w);
    proxy_keyproc_session_free(s);
    proxy_keyholder_free(h);
}

static void test_violations(void **state)
{
    (void)state;
    struct proxy_keyholder *h = holder_new(true);
    struct proxy_keyproc_session *s = NULL;
    EXPECT_OK(proxy_keyproc_session_create(h, &s));
    uint8_t reply[PROXY_KEYPROC_MSG_MAX];
    size_t len = 0;
    const uint8_t short_head[3] = {0x01, 0x00, 0x00};
    const uint8_t reply_type[4] = {0x81, 0x00, 0x00, 0x00};
    const uint8_t unknown[4] = {0x07, 0x00, 0x00, 0x00};
    const uint8_t trailing[5] = {0x01, 0x00, 0x00, 0x00, 0x00};
    const uint8_t big_ready[5] = {0x01, 0x00, 0x00, 0x01, 0x00};
    EXPECT_ERR(proxy_keyproc_session_handle(s, short_head, 3, reply, sizeof(reply), &len),
               SHD_ERR_TRUNCATED);
    EXPECT_ERR(proxy_keyproc_session_handle(s, reply_type, 4, reply, sizeof(reply), &len),
               SHD_ERR_INPUT);
    EXPECT_ERR(proxy_keyproc_session_handle(s, unknown, 4, reply, sizeof(reply), &len),
               SHD_ERR_INPUT);
    EXPECT_ERR(proxy_keyproc_session_handle(s, trailing, 5, reply, sizeof(reply), &len),
               SHD_ERR_INPUT);
    EXPECT_ERR(proxy_keyproc_session_handle(s, big_ready, 5, reply, sizeof(reply), &len),
               SHD_ERR_TOO_LARGE);
    /* None of these counted as the one READY. */
    struct proxy_keyproc_msg rep;
    EXPECT_OK(ask(s, &READY, reply, &rep));
    assert_int_equal(rep.type, REPLY(PROXY_KEYPROC_READY));
    proxy_keyproc_session_free(s);
    proxy_keyholder_free(h);
}

static void test_failure_reported_through_ready(void **state)
{
    (void)state;
    struct proxy_keyholder *h = holder_new(false);
    struct proxy_keyproc_session *s = NULL;
    EXPECT_OK(proxy_keyproc_session_create(h, &s));
    uint8_t reply[PROXY_KEYPROC_MSG_MAX];
    struct proxy_keyproc_msg rep;

    /* Not obtained and no failure recorded (yet): "not ready". */
    EXPECT_OK(ask(s, &READY, reply, &rep));
    assert_int_equal(rep.type, PROXY_KEYPROC_ERROR);
    assert_int_equal(rep.code, SHD_ERR_UNAVAILABLE);
    proxy_keyproc_session_free(s);

    EXPECT_OK(proxy_keyproc_session_create(h, &s));
    shd_result r = shd_error_setf(SHD_ERR_HTTP_STATUS, __FILE__, __LINE__,
                                  "key service (skr) answered 403: caf\xc3\xa9");
    shd_error_wrap("giving up after 2 attempts: key source skr");
    proxy_keyproc_session_fail(r.err, s);
    shd_error_clear();
    EXPECT_OK(ask(s, &READY, reply, &rep));
    assert_int_equal(rep.type, PROXY_KEYPROC_ERROR);
    assert_int_equal(rep.code, SHD_ERR_HTTP_STATUS);
    const char want[] = "giving up after 2 attempts: key source skr: key service (skr) answered "
                        "403: caf??";
    assert_int_equal(rep.len, sizeof(want) - 1);
    assert_memory_equal(rep.data, want, sizeof(want) - 1);
    /* Without the key, nothing else is ever served. */
    const uint8_t ct[8] = {0};
    const struct proxy_keyproc_msg unwrap = {
        .type = PROXY_KEYPROC_UNWRAP, .cap = 32, .data = ct, .len = sizeof(ct)};
    EXPECT_ERR(ask(s, &unwrap, reply, &rep), SHD_ERR_INPUT);
    EXPECT_ERR(ask(s, &PUBLIC_KEY, reply, &rep), SHD_ERR_INPUT);
    proxy_keyproc_session_free(s);
    proxy_keyproc_session_free(NULL);
    proxy_keyholder_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_once),
        cmocka_unit_test(test_unwrap_failures_are_opaque),
        cmocka_unit_test(test_violations),
        cmocka_unit_test(test_failure_reported_through_ready),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
