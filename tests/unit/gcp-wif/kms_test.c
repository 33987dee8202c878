/*
 * kms_test.c - Cloud KMS calls with CRC32C both ways, the public-key cache, resource-name checks
 * and the wrap-key plaintext.
 */
#include "shd_test.h"

#include <stdio.h>
#include <string.h>

#include "gapi.h"
#include "kms.h"
#include "shd/codec.h"
#include "shd/crc32c.h"
#include "shd/crypto.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/secret.h"
#include "skr_fake_upstream.h"
#include "wif_test_util.h"
#include "wrapkey.h"

#define KEY "projects/p/locations/global/keyRings/r/cryptoKeys/k"
#define VER KEY "/cryptoKeyVersions/1"

struct fixture {
    struct skr_fake_upstream *fake;
    struct shd_http_client *http;
    struct wif_kms *kms;
};

static int setup(void **state)
{
    struct fixture *f = shd_alloc(sizeof(*f));
    f->fake = skr_fake_upstream_start(NULL);
    f->http = wif_test_client(NULL);
    char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u", skr_fake_upstream_port(f->fake));
    EXPECT_OK(wif_kms_new(f->http, url, &f->kms));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wif_kms_free(&f->kms);
    skr_fake_upstream_stop(f->fake);
    shd_http_client_free(f->http);
    shd_free(f);
    return 0;
}

/* "hello" = aGVsbG8=, CRC32C 0x9a71bb4c = 2591144780; ct bytes "ct!" = Y3Qh, CRC32C below. */
static void test_asym_decrypt(void **state)
{
    struct fixture *f = *state;
    char crc_ct[SHD_CRC32C_DEC_LEN];
    shd_crc32c_format(shd_crc32c((const uint8_t *)"ct!", 3), crc_ct);
    char crc_pt[SHD_CRC32C_DEC_LEN];
    shd_crc32c_format(shd_crc32c((const uint8_t *)"hello", 5), crc_pt);
    char body[256];
    (void)snprintf(body, sizeof(body),
                   "{\"plaintext\":\"aGVsbG8=\",\"plaintextCrc32c\":\"%s\","
                   "\"verifiedCiphertextCrc32c\":true,\"protectionLevel\":\"SOFTWARE\"}",
                   crc_pt);
    skr_fake_upstream_push(f->fake, 200, body, NULL);
    struct shd_secret *pt = NULL;
    EXPECT_OK(wif_kms_asymmetric_decrypt(VER, (const uint8_t *)"ct!", 3, "tok", f->kms, &pt));
    assert_int_equal(shd_secret_len(pt), 5);
    assert_memory_equal(shd_secret_data(pt), "hello", 5);
    shd_secret_free(&pt);
    const struct skr_fake_request *req = skr_fake_upstream_last(f->fake);
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->path, "/v1/" VER ":asymmetricDecrypt");
    assert_string_equal(req->authorization, "Bearer tok");
    assert_string_equal(req->content_type, "application/json");
    char want[128];
    (void)snprintf(want, sizeof(want), "{\"ciphertext\":\"Y3Qh\",\"ciphertextCrc32c\":\"%s\"}",
                   crc_ct);
    assert_string_equal(req->body, want);

    /* Plaintext corrupted in transit: the CRC no longer matches. */
    (void)snprintf(body, sizeof(body),
                   "{\"plaintext\":\"aGVsbG9=\",\"plaintextCrc32c\":\"%s\","
                   "\"verifiedCiphertextCrc32c\":true}",
                   crc_pt);
    skr_fake_upstream_push(f->fake, 200, body, NULL);
    EXPECT_ERR(wif_kms_asymmetric_decrypt(VER, (const uint8_t *)"ct!", 3, "tok", f->kms, &pt),
               SHD_ERR_ENCODING); /* non-canonical base64 is refused outright */
    (void)snprintf(body, sizeof(body),
                   "{\"plaintext\":\"aGVsbG8=\",\"plaintextCrc32c\":\"1\","
                   "\"verifiedCiphertextCrc32c\":true}");
    skr_fake_upstream_push(f->fake, 200, body, NULL);
    EXPECT_ERR(wif_kms_asymmetric_decrypt(VER, (const uint8_t *)"ct!", 3, "tok", f->kms, &pt),
               SHD_ERR_INPUT);
    assert_string_equal(wif_test_err(),
                        "KMS asymmetricDecrypt " VER ": plaintext checksum mismatch");
    /* The request checksum was not confirmed (missing or false). */
    (void)snprintf(body, sizeof(body), "{\"plaintext\":\"aGVsbG8=\",\"plaintextCrc32c\":\"%s\"}",
                   crc_pt);
    skr_fake_upstream_push(f->fake, 200, body, NULL);
    EXPECT_ERR(wif_kms_asymmetric_decrypt(VER, (const uint8_t *)"ct!", 3, "tok", f->kms, &pt),
               SHD_ERR_INPUT);
    (void)snprintf(body, sizeof(body),
                   "{\"plaintext\":\"aGVsbG8=\",\"plaintextCrc32c\":\"%s\","
                   "\"verifiedCiphertextCrc32c\":false}",
                   crc_pt);
    skr_fake_upstream_push(f->fake, 200, body, NULL);
    EXPECT_ERR(wif_kms_asymmetric_decrypt(VER, (const uint8_t *)"ct!", 3, "tok", f->kms, &pt),
               SHD_ERR_INPUT);
    assert_non_null(strstr(wif_test_err(), "verifiedCiphertextCrc32c"));
    /* The response checksum is required here (shd_crc32c_json_get treats it as optional). */
    const char *no_crc[] = {
        "{\"plaintext\":\"aGVsbG8=\",\"verifiedCiphertextCrc32c\":true}",
        "{\"plaintext\":\"aGVsbG8=\",\"plaintextCrc32c\":null,\"verifiedCiphertextCrc32c\":true}",
    };
    for (size_t i = 0; i < sizeof(no_crc) / sizeof(no_crc[0]); i++) {
        skr_fake_upstream_push(f->fake, 200, no_crc[i], NULL);
        EXPECT_ERR(wif_kms_asymmetric_decrypt(VER, (const uint8_t *)"ct!", 3, "tok", f->kms, &pt),
                   SHD_ERR_INPUT);
        assert_string_equal(wif_test_err(),
                            "KMS asymmetricDecrypt " VER ": missing field 'plaintextCrc32c'");
    }
    /* The server's own checksum complaint comes back as its message. */
    skr_fake_upstream_push(f->fake, 400,
                           "{\"error\":{\"code\":400,\"message\":\"The checksum in field "
                           "ciphertext_crc32c did not match the data in field ciphertext.\","
                           "\"status\":\"INVALID_ARGUMENT\"}}",
                           NULL);
    EXPECT_ERR(wif_kms_asymmetric_decrypt(VER, (const uint8_t *)"ct!", 3, "tok", f->kms, &pt),
               SHD_ERR_HTTP_STATUS);
    assert_non_null(strstr(wif_test_err(), "HTTP 400 INVALID_ARGUMENT: The checksum"));
    assert_null(pt);
}

static void test_decrypt_encrypt(void **state)
{
    struct fixture *f = *state;
    char crc_pt[SHD_CRC32C_DEC_LEN];
    shd_crc32c_format(shd_crc32c((const uint8_t *)"hello", 5), crc_pt);
    char body[256];
    (void)snprintf(body, sizeof(body),
                   "{\"plaintext\":\"aGVsbG8=\",\"plaintextCrc32c\":\"%s\",\"usedPrimary\":true}",
                   crc_pt);
    skr_fake_upstream_push(f->fake, 200, body, NULL);
    struct shd_secret *pt = NULL;
    EXPECT_OK(wif_kms_decrypt(KEY, (const uint8_t *)"ct!", 3, "tok", f->kms, &pt));
    assert_memory_equal(shd_secret_data(pt), "hello", 5);
    shd_secret_free(&pt);
    assert_string_equal(skr_fake_upstream_last(f->fake)->path, "/v1/" KEY ":decrypt");
    /* decrypt wants a key, asymmetricDecrypt a version. */
    EXPECT_ERR(wif_kms_decrypt(VER, (const uint8_t *)"ct!", 3, "tok", f->kms, &pt), SHD_ERR_INPUT);
    EXPECT_ERR(wif_kms_asymmetric_decrypt(KEY, (const uint8_t *)"c", 1, "tok", f->kms, &pt),
               SHD_ERR_INPUT);

    char crc_ct[SHD_CRC32C_DEC_LEN];
    shd_crc32c_format(shd_crc32c((const uint8_t *)"ct!", 3), crc_ct);
    (void)snprintf(body, sizeof(body),
                   "{\"name\":\"" VER "\",\"ciphertext\":\"Y3Qh\",\"ciphertextCrc32c\":\"%s\","
                   "\"verifiedPlaintextCrc32c\":true}",
                   crc_ct);
    skr_fake_upstream_push(f->fake, 200, body, NULL);
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    EXPECT_OK(wif_kms_encrypt(KEY, (const uint8_t *)"hello", 5, "tok", f->kms, &ct, &ct_len));
    assert_int_equal(ct_len, 3);
    assert_memory_equal(ct, "ct!", 3);
    shd_free(ct);
    char want[128];
    (void)snprintf(want, sizeof(want), "{\"plaintext\":\"aGVsbG8=\",\"plaintextCrc32c\":\"%s\"}",
                   crc_pt);
    assert_string_equal(skr_fake_upstream_last(f->fake)->body, want);
    /* Ciphertext CRC mismatch, and an unconfirmed plaintext CRC. */
    skr_fake_upstream_push(f->fake, 200,
                           "{\"ciphertext\":\"Y3Qh\",\"ciphertextCrc32c\":\"7\","
                           "\"verifiedPlaintextCrc32c\":true}",
                           NULL);
    ct = NULL;
    EXPECT_ERR(wif_kms_encrypt(KEY, (const uint8_t *)"hello", 5, "tok", f->kms, &ct, &ct_len),
               SHD_ERR_INPUT);
    assert_non_null(strstr(wif_test_err(), "ciphertext checksum mismatch"));
    (void)snprintf(body, sizeof(body), "{\"ciphertext\":\"Y3Qh\",\"ciphertextCrc32c\":\"%s\"}",
                   crc_ct);
    skr_fake_upstream_push(f->fake, 200, body, NULL);
    EXPECT_ERR(wif_kms_encrypt(KEY, (const uint8_t *)"hello", 5, "tok", f->kms, &ct, &ct_len),
               SHD_ERR_INPUT);
    /* No ciphertext checksum at all. */
    skr_fake_upstream_push(f->fake, 200,
                           "{\"ciphertext\":\"Y3Qh\",\"verifiedPlaintextCrc32c\":true}", NULL);
    EXPECT_ERR(wif_kms_encrypt(KEY, (const uint8_t *)"hello", 5, "tok", f->kms, &ct, &ct_len),
               SHD_ERR_INPUT);
    assert_non_null(strstr(wif_test_err(), "missing field 'ciphertextCrc32c'"));
    assert_null(ct);
}

static void test_public_key_cache(void **state)
{
    struct fixture *f = *state;
    const char pem[] = "-----BEGIN PUBLIC KEY-----\\nMFkw\\n-----END PUBLIC KEY-----\\n";
    const char pem_raw[] = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
    char crc[SHD_CRC32C_DEC_LEN];
    shd_crc32c_format(shd_crc32c((const uint8_t *)pem_raw, strlen(pem_raw)), crc);
    char body[512];
    (void)snprintf(body, sizeof(body),
                   "{\"pem\":\"%s\",\"algorithm\":\"RSA_DECRYPT_OAEP_3072_SHA256\","
                   "\"pemCrc32c\":\"%s\",\"name\":\"" VER "\"}",
                   pem, crc);
    skr_fake_upstream_push(f->fake, 200, body, NULL);
    for (int i = 0; i < 3; i++) {
        char *p = NULL;
        char *a = NULL;
        EXPECT_OK(wif_kms_public_key(VER, "tok", f->kms, &p, &a));
        assert_string_equal(p, pem_raw);
        assert_string_equal(a, "RSA_DECRYPT_OAEP_3072_SHA256");
        shd_free(p);
        shd_free(a);
    }
    assert_int_equal(skr_fake_upstream_count(f->fake), 1); /* cached */
    assert_string_equal(skr_fake_upstream_last(f->fake)->path, "/v1/" VER "/publicKey");
    /* Another version with a corrupted PEM. */
    (void)snprintf(body, sizeof(body),
                   "{\"pem\":\"%s\",\"algorithm\":\"RSA_DECRYPT_OAEP_3072_SHA256\","
                   "\"pemCrc32c\":\"12\"}",
                   pem);
    skr_fake_upstream_push(f->fake, 200, body, NULL);
    char *p = NULL;
    char *a = NULL;
    EXPECT_ERR(wif_kms_public_key(KEY "/cryptoKeyVersions/2", "tok", f->kms, &p, &a),
               SHD_ERR_INPUT);
    assert_null(p);
    /* pemCrc32c is optional; when absent the PEM is taken as it is. */
    (void)snprintf(body, sizeof(body),
                   "{\"pem\":\"%s\",\"algorithm\":\"RSA_DECRYPT_OAEP_3072_SHA256\"}", pem);
    skr_fake_upstream_push(f->fake, 200, body, NULL);
    EXPECT_OK(wif_kms_public_key(KEY "/cryptoKeyVersions/3", "tok", f->kms, &p, &a));
    assert_string_equal(p, pem_raw);
    shd_free(p);
    shd_free(a);
}

static void test_names(void **state)
{
    (void)state;
    EXPECT_OK(wif_gapi_kms_name_check(KEY, false));
    EXPECT_OK(wif_gapi_kms_name_check(VER, true));
    const char *bad_keys[] = {
        "",
        "projects/p",
        KEY "/",
        KEY "/cryptoKeyVersions/1",
        "projects/../locations/global/keyRings/r/cryptoKeys/k",
        "projects/p/locations/global/keyRings/r/cryptoKeys/k?x=1",
        "projects/p/locations/global/keyRings/r/cryptoKeys/k#x",
        "projects/p/locations/global/keyRings//cryptoKeys/k",
        "projects/p/locations/global/keyRings/r/cryptoKeys/k%2F",
        "project/p/locations/global/keyRings/r/cryptoKeys/k",
        "projects/p/locations/global/keyRings/r/cryptoKeys/ k",
    };
    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        EXPECT_ERR(wif_gapi_kms_name_check(bad_keys[i], false), SHD_ERR_INPUT);
    }
    EXPECT_ERR(wif_gapi_kms_name_check(KEY, true), SHD_ERR_INPUT);
    EXPECT_ERR(wif_gapi_kms_name_check(VER "/x", true), SHD_ERR_INPUT);
    EXPECT_ERR(wif_gapi_kms_name_check(KEY "/cryptoKeyVersions/..", true), SHD_ERR_INPUT);
}

static void test_wrapkey_plaintext(void **state)
{
    (void)state;
    /* --raw: 1..64 bytes as is; the input is wiped. */
    uint8_t raw[32];
    memset(raw, 0xab, sizeof(raw));
    struct shd_secret *s = NULL;
    EXPECT_OK(wif_wrapkey_plaintext(raw, sizeof(raw), true, &s));
    assert_int_equal(shd_secret_len(s), 32);
    assert_int_equal(shd_secret_data(s)[31], 0xab);
    assert_int_equal(raw[0], 0);
    shd_secret_free(&s);
    uint8_t big[65] = {1};
    EXPECT_ERR(wif_wrapkey_plaintext(big, sizeof(big), true, &s), SHD_ERR_BAD_KEY);
    EXPECT_ERR(wif_wrapkey_plaintext(big, 0, true, &s), SHD_ERR_BAD_KEY);
    /* A PEM key becomes its PKCS#8 DER. */
    EVP_PKEY *k = NULL;
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &k));
    size_t der_len = 0;
    EXPECT_OK(shd_crypto_privkey_export_pkcs8_der(k, NULL, 0, &der_len));
    uint8_t *der = shd_alloc(der_len);
    EXPECT_OK(shd_crypto_privkey_export_pkcs8_der(k, der, der_len, &der_len));
    uint8_t *copy = shd_memdup(der, der_len);
    EXPECT_OK(wif_wrapkey_plaintext(copy, der_len, false, &s));
    assert_int_equal(shd_secret_len(s), der_len);
    assert_memory_equal(shd_secret_data(s), der, der_len);
    shd_secret_free(&s);
    shd_free(copy);
    uint8_t junk[100];
    memset(junk, 0x30, sizeof(junk));
    EXPECT_ERR(wif_wrapkey_plaintext(junk, sizeof(junk), false, &s), SHD_ERR_BAD_KEY);
    assert_null(s);
    shd_free_wipe(der, der_len);
    EVP_PKEY_free(k);
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_asym_decrypt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decrypt_encrypt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_public_key_cache, setup, teardown),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_wrapkey_plaintext),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
