/*
 * kms_test.c - the KMS emulator over HTTP: getPublicKey, asymmetricDecrypt with CRC32C both
 * ways and mismatches, symmetric encrypt/decrypt round trips and tampering, IAM (401, 403 with
 * the exact message, 404 only for callers that may know), and REST provisioning.
 */
#include "crc32c.h"
#include "gemu_fixture.h"
#include "kms.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_rsa.h"

#define RING "projects/gemu-project/locations/global/keyRings/gemu-ring"
#define RSA_KEY RING "/cryptoKeys/gemu-rsa"
#define SYM_KEY RING "/cryptoKeys/gemu-sym"
#define USER "kms-user@gemu-project.iam.gserviceaccount.com"
#define VM_SA "123456789012-compute@developer.gserviceaccount.com"

struct kms_fx {
    struct fx f;
    uint16_t port;
    char user[256]; /* "Bearer <kms-user token>" */
    char vm[256];   /* "Bearer <VM default SA token>" (project roles/cloudkms.admin) */
};

static int kms_setup(void **state)
{
    struct kms_fx *s = shd_alloc(sizeof(*s));
    assert_non_null(s);
    fx_init(&s->f);
    s->port = fx_bind(&s->f, GEMU_SVC_KMS, true);
    struct gemu_service *svc = NULL;
    fx_fail(gemu_kms_service_new(s->f.st, &svc), "kms service");
    fx_attach(&s->f, svc, NULL);
    char *t = fx_token(&s->f, USER, NULL, NULL);
    fx_bearer(t, s->user, sizeof(s->user));
    shd_free(t);
    t = fx_token(&s->f, VM_SA, NULL, NULL);
    fx_bearer(t, s->vm, sizeof(s->vm));
    shd_free(t);
    *state = s;
    return 0;
}

static int kms_teardown(void **state)
{
    struct kms_fx *s = *state;
    fx_free(&s->f);
    shd_free(s);
    return 0;
}

static void kms_call(struct kms_fx *s, const char *method, const char *auth, const char *path,
                     const char *body, struct fx_resp *out)
{
    const char *h[] = {"Authorization", auth, "Content-Type", "application/json", NULL};
    fx_do(&s->f, method, "https", s->port, path, auth != NULL ? h : h + 2, body, NULL, out);
}

static char *b64(const uint8_t *p, size_t n)
{
    char *s = NULL;
    fx_fail(shd_b64_encode(p, n, SHD_B64_STD_PAD, &s, NULL), "b64");
    return s;
}

static void expect_google_error(const struct fx_resp *r, int status, const char *grpc,
                                const char *msg)
{
    assert_int_equal(r->status, status);
    assert_string_equal(fx_err_status(r), grpc);
    if (msg != NULL) {
        assert_string_equal(fx_err_msg(r), msg);
    }
}

static EVP_PKEY *kms_public_key(struct kms_fx *s)
{
    struct fx_resp r;
    kms_call(s, "GET", s->user, "/v1/" RSA_KEY "/cryptoKeyVersions/1/publicKey", NULL, &r);
    assert_int_equal(r.status, 200);
    const char *pem = fx_str(&r, "pem");
    assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
    char crc[11];
    gemu_crc32c_format(gemu_crc32c((const uint8_t *)pem, strlen(pem)), crc);
    assert_string_equal(fx_str(&r, "pemCrc32c"), crc);
    assert_string_equal(fx_str(&r, "algorithm"), "RSA_DECRYPT_OAEP_2048_SHA256");
    assert_string_equal(fx_str(&r, "name"), RSA_KEY "/cryptoKeyVersions/1");
    assert_string_equal(fx_str(&r, "protectionLevel"), "SOFTWARE");
    EVP_PKEY *key = NULL;
    fx_fail(shd_crypto_pubkey_load((const uint8_t *)pem, strlen(pem), &key), "pem");
    fx_resp_clear(&r);
    return key;
}

static void test_public_key_and_asymmetric_decrypt(void **state)
{
    struct kms_fx *s = *state;
    EVP_PKEY *pub = kms_public_key(s);
    static const uint8_t secret[] = "wrapped data encryption key";
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    fx_fail(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, secret, sizeof(secret) - 1, pub,
                                        &ct, &ct_len),
            "oaep");
    char *ct64 = b64(ct, ct_len);
    char crc[11];
    gemu_crc32c_format(gemu_crc32c(ct, ct_len), crc);
    char body[2048];
    const char *path = "/v1/" RSA_KEY "/cryptoKeyVersions/1:asymmetricDecrypt";
    struct fx_resp r;

    /* With the request CRC: verified, and the answer's CRC matches the plaintext. */
    snprintf(body, sizeof(body), "{\"ciphertext\":\"%s\",\"ciphertextCrc32c\":\"%s\"}", ct64, crc);
    kms_call(s, "POST", s->user, path, body, &r);
    assert_int_equal(r.status, 200);
    char *want = b64(secret, sizeof(secret) - 1);
    assert_string_equal(fx_str(&r, "plaintext"), want);
    gemu_crc32c_format(gemu_crc32c(secret, sizeof(secret) - 1), crc);
    assert_string_equal(fx_str(&r, "plaintextCrc32c"), crc);
    assert_true(json_is_true(json_object_get(r.json, "verifiedCiphertextCrc32c")));
    fx_resp_clear(&r);

    /* Without it: still decrypts, not verified. */
    snprintf(body, sizeof(body), "{\"ciphertext\":\"%s\"}", ct64);
    kms_call(s, "POST", s->user, path, body, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_false(json_object_get(r.json, "verifiedCiphertextCrc32c")));
    fx_resp_clear(&r);

    /* A CRC that does not match: the exact message. */
    snprintf(body, sizeof(body), "{\"ciphertext\":\"%s\",\"ciphertextCrc32c\":\"12345\"}", ct64);
    kms_call(s, "POST", s->user, path, body, &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT",
                        "The checksum in field ciphertext_crc32c did not match the data in field "
                        "ciphertext.");
    fx_resp_clear(&r);

    /* Tampered ciphertext, a bad CRC value, bad base64. */
    ct[10] ^= 1;
    char *bad64 = b64(ct, ct_len);
    snprintf(body, sizeof(body), "{\"ciphertext\":\"%s\"}", bad64);
    kms_call(s, "POST", s->user, path, body, &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT",
                        "Decryption failed: the ciphertext is invalid.");
    fx_resp_clear(&r);
    snprintf(body, sizeof(body), "{\"ciphertext\":\"%s\",\"ciphertextCrc32c\":\"x\"}", ct64);
    kms_call(s, "POST", s->user, path, body, &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT", NULL);
    fx_resp_clear(&r);
    kms_call(s, "POST", s->user, path, "{\"ciphertext\":\"***\"}", &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT", NULL);
    fx_resp_clear(&r);

    /* Version 2 does not exist. */
    kms_call(s, "GET", s->user, "/v1/" RSA_KEY "/cryptoKeyVersions/2/publicKey", NULL, &r);
    expect_google_error(&r, 404, "NOT_FOUND",
                        "CryptoKeyVersion " RSA_KEY "/cryptoKeyVersions/2 not found.");
    fx_resp_clear(&r);

    shd_free(ct);
    shd_free(ct64);
    shd_free(bad64);
    shd_free(want);
    EVP_PKEY_free(pub);
}

static void test_symmetric_round_trip(void **state)
{
    struct kms_fx *s = *state;
    static const uint8_t pt[] = "secret-dek";
    char *pt64 = b64(pt, sizeof(pt) - 1);
    char crc[11];
    gemu_crc32c_format(gemu_crc32c(pt, sizeof(pt) - 1), crc);
    char body[2048];
    snprintf(body, sizeof(body),
             "{\"plaintext\":\"%s\",\"plaintextCrc32c\":\"%s\",\"additionalAuthenticatedData\":"
             "\"YWFk\"}",
             pt64, crc);
    struct fx_resp r;
    kms_call(s, "POST", s->user, "/v1/" SYM_KEY ":encrypt", body, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(fx_str(&r, "name"), SYM_KEY "/cryptoKeyVersions/1");
    assert_true(json_is_true(json_object_get(r.json, "verifiedPlaintextCrc32c")));
    assert_true(
        json_is_false(json_object_get(r.json, "verifiedAdditionalAuthenticatedDataCrc32c")));
    char ct64[1024];
    snprintf(ct64, sizeof(ct64), "%s", fx_str(&r, "ciphertext"));
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    fx_fail(shd_b64_decode(ct64, strlen(ct64), SHD_B64_STD_PAD, &ct, &ct_len), "ct");
    gemu_crc32c_format(gemu_crc32c(ct, ct_len), crc);
    assert_string_equal(fx_str(&r, "ciphertextCrc32c"), crc);
    fx_resp_clear(&r);

    snprintf(body, sizeof(body),
             "{\"ciphertext\":\"%s\",\"ciphertextCrc32c\":%s,\"additionalAuthenticatedData\":"
             "\"YWFk\"}",
             ct64, crc);
    kms_call(s, "POST", s->user, "/v1/" SYM_KEY ":decrypt", body, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(fx_str(&r, "plaintext"), pt64);
    assert_true(json_is_true(json_object_get(r.json, "usedPrimary")));
    gemu_crc32c_format(gemu_crc32c(pt, sizeof(pt) - 1), crc);
    assert_string_equal(fx_str(&r, "plaintextCrc32c"), crc);
    fx_resp_clear(&r);

    /* Wrong AAD, tampered ciphertext, wrong key, mismatching CRC of the AAD. */
    snprintf(body, sizeof(body), "{\"ciphertext\":\"%s\"}", ct64);
    kms_call(s, "POST", s->user, "/v1/" SYM_KEY ":decrypt", body, &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT",
                        "Decryption failed: verify that 'name' refers to the correct CryptoKey.");
    fx_resp_clear(&r);
    ct[ct_len - 1] ^= 0x80;
    char *bad = b64(ct, ct_len);
    snprintf(body, sizeof(body), "{\"ciphertext\":\"%s\",\"additionalAuthenticatedData\":\"YWFk\"}",
             bad);
    kms_call(s, "POST", s->user, "/v1/" SYM_KEY ":decrypt", body, &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT",
                        "Decryption failed: verify that 'name' refers to the correct CryptoKey.");
    fx_resp_clear(&r);
    kms_call(s, "POST", s->user, "/v1/" SYM_KEY ":decrypt", "{\"ciphertext\":\"AAAA\"}", &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT", NULL);
    fx_resp_clear(&r);
    snprintf(body, sizeof(body),
             "{\"ciphertext\":\"%s\",\"additionalAuthenticatedData\":\"YWFk\","
             "\"additionalAuthenticatedDataCrc32c\":\"1\"}",
             ct64);
    kms_call(s, "POST", s->user, "/v1/" SYM_KEY ":decrypt", body, &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT",
                        "The checksum in field additional_authenticated_data_crc32c did not "
                        "match the data in field additional_authenticated_data.");
    fx_resp_clear(&r);
    snprintf(body, sizeof(body), "{\"plaintext\":\"%s\",\"plaintextCrc32c\":\"1\"}", pt64);
    kms_call(s, "POST", s->user, "/v1/" SYM_KEY ":encrypt", body, &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT",
                        "The checksum in field plaintext_crc32c did not match the data in field "
                        "plaintext.");
    fx_resp_clear(&r);
    /* Symmetric operations on the RSA key are refused. */
    kms_call(s, "POST", s->user, "/v1/" RSA_KEY ":decrypt", "{\"ciphertext\":\"AAAA\"}", &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT",
                        "The request is not supported for the purpose of this key.");
    fx_resp_clear(&r);
    shd_free(ct);
    shd_free(bad);
    shd_free(pt64);
}

static void test_permissions(void **state)
{
    struct kms_fx *s = *state;
    struct fx_resp r;
    kms_call(s, "POST", NULL, "/v1/" SYM_KEY ":encrypt", "{\"plaintext\":\"YQ==\"}", &r);
    expect_google_error(&r, 401, "UNAUTHENTICATED",
                        "Request had invalid authentication credentials. Expected OAuth 2 access "
                        "token, login cookie or other valid authentication credential. See "
                        "https://developers.google.com/identity/sign-in/web/devconsole-project.");
    fx_resp_clear(&r);
    kms_call(s, "POST", "Bearer ya29.gemu.unknown", "/v1/" SYM_KEY ":encrypt",
             "{\"plaintext\":\"YQ==\"}", &r);
    expect_google_error(&r, 401, "UNAUTHENTICATED", NULL);
    fx_resp_clear(&r);

    /* The VM account administers keys but may not use them. */
    kms_call(s, "POST", s->vm, "/v1/" SYM_KEY ":encrypt", "{\"plaintext\":\"YQ==\"}", &r);
    expect_google_error(
        &r, 403, "PERMISSION_DENIED",
        "Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied on resource '" SYM_KEY
        "' (or it may not exist).");
    const json_t *d =
        json_array_get(json_object_get(json_object_get(r.json, "error"), "details"), 0);
    assert_string_equal(json_string_value(json_object_get(d, "reason")), "IAM_PERMISSION_DENIED");
    fx_resp_clear(&r);

    /* Unknown keys do not reveal whether they exist to a caller without permission. */
    kms_call(s, "POST", s->user, "/v1/" RING "/cryptoKeys/nope:encrypt", "{\"plaintext\":\"YQ==\"}",
             &r);
    expect_google_error(
        &r, 403, "PERMISSION_DENIED",
        "Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied on resource '" RING
        "/cryptoKeys/nope' (or it may not exist).");
    fx_resp_clear(&r);
    kms_call(s, "GET", s->vm, "/v1/" RING "/cryptoKeys/nope", NULL, &r);
    expect_google_error(&r, 404, "NOT_FOUND", "CryptoKey " RING "/cryptoKeys/nope not found.");
    fx_resp_clear(&r);
    /* The encrypter role is on the symmetric key only. */
    kms_call(s, "POST", s->user, "/v1/" RSA_KEY ":encrypt", "{\"plaintext\":\"YQ==\"}", &r);
    expect_google_error(&r, 403, "PERMISSION_DENIED", NULL);
    fx_resp_clear(&r);
    kms_call(s, "GET", s->user, "/v1/" SYM_KEY "/cryptoKeyVersions/1/publicKey", NULL, &r);
    expect_google_error(&r, 403, "PERMISSION_DENIED", NULL);
    fx_resp_clear(&r);
    kms_call(s, "GET", s->user,
             "/v1/projects/gemu-project/locations/global/keyRings/bad!id/"
             "cryptoKeys/x/cryptoKeyVersions/1/publicKey",
             NULL, &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT", NULL);
    fx_resp_clear(&r);
}

static void test_provisioning(void **state)
{
    struct kms_fx *s = *state;
    struct fx_resp r;
    const char *rings = "/v1/projects/gemu-project/locations/global/keyRings";
    char path[512];
    snprintf(path, sizeof(path), "%s?keyRingId=r2", rings);
    kms_call(s, "POST", s->user, path, "{}", &r);
    expect_google_error(&r, 403, "PERMISSION_DENIED", NULL);
    fx_resp_clear(&r);
    kms_call(s, "POST", s->vm, path, "{}", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(fx_str(&r, "name"), "projects/gemu-project/locations/global/keyRings/r2");
    fx_resp_clear(&r);
    kms_call(s, "POST", s->vm, path, "{}", &r);
    expect_google_error(&r, 409, "ALREADY_EXISTS", NULL);
    fx_resp_clear(&r);
    snprintf(path, sizeof(path), "%s?keyRingId=bad.id", rings);
    kms_call(s, "POST", s->vm, path, "{}", &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT", NULL);
    fx_resp_clear(&r);

    snprintf(path, sizeof(path), "%s/r2/cryptoKeys?cryptoKeyId=k1", rings);
    kms_call(s, "POST", s->vm, path,
             "{\"purpose\":\"ASYMMETRIC_DECRYPT\",\"versionTemplate\":{\"algorithm\":"
             "\"RSA_DECRYPT_OAEP_2048_SHA256\"}}",
             &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(fx_str(&r, "purpose"), "ASYMMETRIC_DECRYPT");
    fx_resp_clear(&r);
    /* Numeric enums (enum-encoding=int clients) and a purpose/algorithm mismatch. */
    snprintf(path, sizeof(path), "%s/r2/cryptoKeys?cryptoKeyId=k2", rings);
    kms_call(s, "POST", s->vm, path, "{\"purpose\":1,\"versionTemplate\":{\"algorithm\":1}}", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(fx_str(&r, "purpose"), "ENCRYPT_DECRYPT");
    fx_resp_clear(&r);
    snprintf(path, sizeof(path), "%s/r2/cryptoKeys?cryptoKeyId=k3", rings);
    kms_call(s, "POST", s->vm, path,
             "{\"purpose\":\"ENCRYPT_DECRYPT\",\"versionTemplate\":"
             "{\"algorithm\":\"RSA_DECRYPT_OAEP_2048_SHA256\"}}",
             &r);
    expect_google_error(&r, 400, "INVALID_ARGUMENT", NULL);
    fx_resp_clear(&r);
    snprintf(path, sizeof(path), "%s/nope/cryptoKeys?cryptoKeyId=k1", rings);
    kms_call(s, "POST", s->vm, path, "{\"purpose\":\"ENCRYPT_DECRYPT\"}", &r);
    expect_google_error(&r, 404, "NOT_FOUND", NULL);
    fx_resp_clear(&r);
    kms_call(s, "GET", s->vm, "/v1/projects/gemu-project/locations/global/keyRings/r2", NULL, &r);
    assert_int_equal(r.status, 200);
    fx_resp_clear(&r);
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_key_and_asymmetric_decrypt),
        cmocka_unit_test(test_symmetric_round_trip),
        cmocka_unit_test(test_permissions),
        cmocka_unit_test(test_provisioning),
    };
    return cmocka_run_group_tests(tests, kms_setup, kms_teardown);
}
