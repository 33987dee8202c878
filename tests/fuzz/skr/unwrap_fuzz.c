/*
 * unwrap_fuzz.c - fuzz target for the opening of Key Vault release blobs in skr
 * (skr/src/unwrap.c): RSA-OAEP of the KEK, RFC 5649 AES key unwrap with padding, and the JWK
 * text of the released key.
 *
 * Target Functions: skr_rsa_aes_unwrap, skr_aes_kwp_unwrap, skr_wrap_alg_parse,
 *                   skr_wrap_alg_hash, skr_released_jwk_write
 *
 * Input: one selector byte, then the ciphertext.
 *   bit 2 clear: RsaAESKeyUnwrap of the ciphertext with WRAPPING_KEY below (the public
 *     fixture tests/unit/shared/fixtures/rsa2048.pem, so that the seeds are genuine wraps);
 *     bits 0-1 pick "enc" (CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256, RSA_AES_KEY_WRAP_384,
 *     or an unsupported name), bits 5-6 the kty given to skr_released_jwk_write on success
 *     (oct, oct-HSM, RSA-HSM, EC-HSM) and bit 7 whether key_ops are given;
 *   bit 2 set: AES-KWP unwrap of the ciphertext under a fixed KEK of 16, 24, 32 or (invalid)
 *     20 bytes, chosen by bits 3-4.
 * Properties checked:
 *   - failures use the documented codes only (SHD_ERR_UNSUPPORTED, SHD_ERR_INPUT,
 *     SHD_ERR_TOO_LARGE, SHD_ERR_DECRYPT); KWP wipes its output buffer on failure and never
 *     accepts a KEK of invalid size; an unsupported enc never succeeds;
 *   - a successful unwrap yields at most the input size: material <= ciphertext - 256 - 8 and
 *     > ciphertext - 256 - 16 (RFC 5649 pads by less than one block), the padding left in the
 *     KWP output is zero;
 *   - round trip: OpenSSL's AES-KWP wrap (EVP_aes_*_wrap_pad) of the unwrapped key under the
 *     same KEK (recovered independently by OAEP for the RSA form) gives back the input;
 *   - skr_released_jwk_write succeeds or fails with SHD_ERR_UNSUPPORTED / SHD_ERR_BAD_KEY /
 *     SHD_ERR_INPUT, and wipes the material either way; its JSON is an object naming kty.
 */
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "../shared/fuzz_common.h"
#include "shd/crypto.h"
#include "shd/crypto_rsa.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/secret.h"
#include "unwrap.h"

#define RSA_LEN 256u

/* tests/unit/shared/fixtures/rsa2048.pem (public test key). */
static const char WRAPPING_KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCubREbCsC0xHua\n"
    "okC29RN+Z5R064hfzs2lH9TWHQOQ6CuPGtbbRk6xOYf1ZjanE3XR57G5h6cxFG6L\n"
    "8Pcbje2Z7G77iMtIx8l1A1srGZ71HahNOqDJoQ2fPXXmU5zmupRD5ueJFz6HSG90\n"
    "pU8tX5z70tZX3Y8M5KZMODyhqSn38YwwYKg2kmE8v1TK7JQtcpunYGgjT/OGIGlE\n"
    "CTOgibWivKjGXq2lW4JjSaOeB6ZRdBdPwTIeyOfVcRPt3i4/X9vXniYaHrpqzGNI\n"
    "a19tZPA28aMyWu19fZAjrr740bGkG7KQ0cdBOybpZ4hcX7ZciTBYMcyZ6RWCKZFL\n"
    "PGycxNW3AgMBAAECggEAKLV00hJi4m2fCXqHzwuIxq4nBFi6Rd4OudShiG1SGT5O\n"
    "eEJD1f5lPFCYjioSZFES5PAF1y61UyuZF1kgWxJ3Wz7Gsjb9dtmGB6TGYNtEcaG/\n"
    "13Jw9036z2j5PM3T5zexhd18uU6u/cTmmltAjO7tRQqykuQ3UEOHGm/fmr1P+blH\n"
    "chr7VzOKitGKLaS4dlVM7RK9qCNb75zCIG2JWqgx8sJCu/NdkavwY2BH46GKE8cv\n"
    "L7uLBS1b1q5QBmwsNt5uLb4bGBakZZdUoQIJs/KGMfwWjc/T0xfhKJLRHuXkEwg6\n"
    "BNlFyL7bhWgQqGSTpxEuJl4vKZbrdV+HbFxKUMTPBQKBgQDt3WCtu+FsjtasirMm\n"
    "Qb7jxL+iAq7/uGwpTDcwuKjuhICSqueCoaZXzs2ue2RpT9OEB0f4n6AoMyjPGhs3\n"
    "Y9zBg10q/FPCVtvKLIBRYElxG8LUJpMDJ4g+6Z3qjzDetUrkwp7YMD95sens6vaG\n"
    "GWX86joHewKTpdR1+OGv/vBEQwKBgQC7uX+KPPvsw93HPHw904EeQCSXHYpdVr40\n"
    "UOZoslgV25wbOapoadHV8cGjLQp1v2czn9yWbu0l5WDRigYNU30PXQ+if9V9DI4W\n"
    "zmXxQWo5h9FQxpnJOz4gjnqcxFvo9+YVh8gf8kBvmGNFQb15nAnh9Aq9psUEDXBZ\n"
    "eeic6m7rfQKBgFkzmOruN1Zfpq/j/9UL+Msv4HGgMgJiJeXC2DukNG3mMNVP1CwP\n"
    "9PKe8lFJotk/f2HW3S2mpwgMT3SDJMu73nCPk+Pn5n1N13TVBXX+9uu87m5i3OTk\n"
    "8Vouf/MTqc8LC8AIIEuQpG09xCz93F9jrPSQ3hwqDEhUev2WzQQURgRDAoGABP1j\n"
    "RHtmft6d8IPNEZ+jmPg/gLzKRrzdhWp5FWNYMAyMU7TusKPPbg5lBT9XPdX+mkKv\n"
    "jFgaeZ1lO2ydyJDljBj/J2Saeh5xUG3gC8+fUTQo/iqpP84RUrA21h/qCYE9Xmkj\n"
    "iqXXzJ+SU+7xaGAbayQffPcH2Zm52McCxdj9ZckCgYEA6nwvgr+TyrkvZeOzjaT3\n"
    "Z+2pch7lnleA6uKKwiZZCvOZW26QTKFVD99GCvSMMnBA26MoyzMfS4Nx/om65nhD\n"
    "0nGIZu/A6NhFYad0/DFmeVTN03i2Oy+xPcWXnxdvJr4maQ+6UivLXHYKJgfvRpg/\n"
    "Qo4V+XNXFbmFkg+5F7ce1ec=\n"
    "-----END PRIVATE KEY-----\n";

static const uint8_t KEK[32] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
                                0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
                                0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};

static const char *const ENCS[] = {"CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256",
                                   "RSA_AES_KEY_WRAP_384", "rsa_aes_key_wrap_256"};
static const char *const KTYS[] = {"oct", "oct-HSM", "RSA-HSM", "EC-HSM"};
static const size_t KEK_LENS[] = {16, 24, 32, 20};

/* OpenSSL's RFC 5649 wrap of key under kek must give back expect[0..expect_len). */
static void rewrap_equals(const uint8_t *kek, size_t kek_len, const uint8_t *key, size_t key_len,
                          const uint8_t *expect, size_t expect_len)
{
    const EVP_CIPHER *c = kek_len == 16   ? EVP_aes_128_wrap_pad()
                          : kek_len == 24 ? EVP_aes_192_wrap_pad()
                                          : EVP_aes_256_wrap_pad();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    FUZZ_ASSERT(ctx != NULL);
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    uint8_t *out = shd_alloc(key_len + 16);
    int len = 0;
    FUZZ_ASSERT(out != NULL && EVP_EncryptInit_ex(ctx, c, NULL, kek, NULL) == 1);
    FUZZ_ASSERT(EVP_EncryptUpdate(ctx, out, &len, key, (int)key_len) == 1);
    FUZZ_ASSERT((size_t)len == expect_len && shd_memcmp(out, expect, expect_len) == 0);
    EVP_CIPHER_CTX_free(ctx);
    shd_free(out);
}

static void kwp_mode(uint8_t sel, const uint8_t *in, size_t n)
{
    size_t kek_len = KEK_LENS[(sel >> 3) & 3u];
    size_t cap = n >= 8 ? n - 8 : 0;
    uint8_t *out = shd_alloc(cap + 1);
    FUZZ_ASSERT(out != NULL);
    size_t key_len = 0;
    shd_result r = skr_aes_kwp_unwrap(KEK, kek_len, in, n, out, cap, &key_len);
    FUZZ_OK_OR(r, SHD_ERR_INPUT, SHD_ERR_DECRYPT, SHD_ERR_TOO_LARGE);
    if (shd_is_err(r)) {
        for (size_t i = 0; i < cap; i++) {
            FUZZ_ASSERT(out[i] == 0);
        }
        fuzz_error_reset();
        shd_free(out);
        return;
    }
    FUZZ_ASSERT(kek_len != 20);
    FUZZ_ASSERT(key_len <= cap && key_len + 8 > cap);
    for (size_t i = key_len; i < cap; i++) {
        FUZZ_ASSERT(out[i] == 0);
    }
    rewrap_equals(KEK, kek_len, out, key_len, in, n);
    shd_free_wipe(out, cap + 1);
}

static void jwk_write(uint8_t sel, struct shd_secret *material)
{
    const char *kty = KTYS[(sel >> 5) & 3u];
    json_t *ops = (sel & 0x80u) != 0 ? json_pack("[ss]", "decrypt", "unwrapKey") : NULL;
    char *text = NULL;
    size_t len = 0;
    shd_result r = skr_released_jwk_write(kty, ops, material, &text, &len);
    FUZZ_OK_OR(r, SHD_ERR_UNSUPPORTED, SHD_ERR_BAD_KEY, SHD_ERR_INPUT);
    const uint8_t *m = shd_secret_data(material);
    for (size_t i = 0; i < shd_secret_len(material); i++) {
        FUZZ_ASSERT(m[i] == 0);
    }
    if (shd_is_ok(r)) {
        json_t *doc = NULL;
        FUZZ_ASSERT(strlen(text) == len);
        FUZZ_ASSERT(shd_is_ok(shd_json_parse(text, len, NULL, &doc)) && json_is_object(doc));
        FUZZ_ASSERT(json_is_string(json_object_get(doc, "kty")));
        json_decref(doc);
        shd_free_wipe(text, len + 1);
    }
    json_decref(ops);
    fuzz_error_reset();
}

static void rsa_mode(uint8_t sel, const uint8_t *ct, size_t n)
{
    size_t pem_len = sizeof(WRAPPING_KEY) - 1;
    uint8_t *pem = shd_alloc(pem_len);
    EVP_PKEY *key = NULL;
    FUZZ_ASSERT(pem != NULL);
    shd_memcpy(pem, WRAPPING_KEY, pem_len);
    FUZZ_ASSERT(shd_is_ok(shd_crypto_privkey_load(pem, pem_len, &key)));
    shd_free(pem);

    const char *enc = ENCS[sel & 3u];
    struct shd_secret *material = NULL;
    shd_result r = skr_rsa_aes_unwrap(enc, ct, n, key, &material);
    FUZZ_OK_OR(r, SHD_ERR_UNSUPPORTED, SHD_ERR_INPUT, SHD_ERR_TOO_LARGE, SHD_ERR_DECRYPT);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(material == NULL);
        fuzz_error_reset();
        EVP_PKEY_free(key);
        return;
    }
    enum skr_wrap_alg alg = 0;
    FUZZ_ASSERT(shd_is_ok(skr_wrap_alg_parse(enc, &alg)));
    size_t len = shd_secret_len(material);
    FUZZ_ASSERT(n >= RSA_LEN + 16 && len <= n - RSA_LEN - 8 && len + 16 > n - RSA_LEN);

    uint8_t kek[64];
    size_t kek_len = 0;
    FUZZ_ASSERT(shd_is_ok(
        shd_crypto_rsa_oaep_decrypt(skr_wrap_alg_hash(alg), ct, RSA_LEN, key, kek, 64, &kek_len)));
    rewrap_equals(kek, kek_len, shd_secret_data(material), len, ct + RSA_LEN, n - RSA_LEN);
    shd_memzero(kek, sizeof(kek));
    jwk_write(sel, material);
    shd_secret_free(&material);
    EVP_PKEY_free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();
    if ((data[0] & 4u) != 0) {
        kwp_mode(data[0], data + 1, size - 1);
    } else {
        rsa_mode(data[0], data + 1, size - 1);
    }
    return 0;
}
