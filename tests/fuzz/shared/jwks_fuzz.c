/*
 * jwks_fuzz.c - fuzz target for JWK set handling: JWK import/export (shared/src/jwk.c,
 * shared/src/jose_jwk_out.c) and the key selection of shd_jws_verify_jwks (shared/src/jws.c).
 *
 * Target Functions: shd_jwk_import_public, shd_jwk_export_public, shd_jwk_thumbprint,
 *                   shd_jwk_kty_parse, shd_jwk_key_ops_check, shd_jwk_import_oct,
 *                   shd_jws_verify_jwks
 *
 * Input: a JWK set {"keys":[...]} (a bare JWK object is also tried as one key).
 * For each of the first JWKS_MAX entries: public import; on success export, re-import and
 * compare RFC 7638 thumbprints (import and export agree on the key); kty and key_ops checks;
 * oct import into a fixed buffer. Then the set selects keys for two fixed tokens (RS256 with
 * kid "fx-rsa", ES256 with kid "fx-ec", signed with tests/unit/shared/fixtures/rsa2048.pem and
 * ec_p256.pem, whose public keys the seed corpus contains): a token may verify only when its
 * kid names exactly one entry, and then its payload must be the one signed.
 */
#include <string.h>

#include <openssl/evp.h>

#include "fuzz_common.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/jws.h"
#include "shd/mem.h"

/* Entries looked at per input (shd_jws_verify_jwks refuses sets above 64). */
#define JWKS_MAX 64

static const char TOKEN_RS256[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZ4LXJzYSJ9.eyJpc3MiOiJodHRwczovL2Z1enoudGVzdCIsImV4cCI6NDEwMj"
    "Q0NDgwMH0.k9vEu2wo99MxxzLyQjkF4tmAc0kM-mmY8LuteeTmpPyqcAfMmqhA7LF7G9ajfLWtc4J1BJ0cMAZ72sL-M"
    "my1jfeZmZYBg4kmsLusFWXfnyCHLyqLhzHDTJWUckYkeh9PzYqPgQSvR5VscB5t7mulBGNjAOx96pTBDez4tIdyK7Ad"
    "dThFaLBqjYDyeo26mIuUzGH2C-Z0O5GI6smiSDBQ1YFvM5skyBhADta5zFjdOwT5Sd6QtXRs8QZG7lHpl62g-OawTLgs"
    "t2VWHwfAwzXik7nl1ulC0wm5nlIWVLxHiLcfVSkc2DPvqNfhr5098Q_e0y62ByzfKQUiZXWBszMtLg";
static const char TOKEN_ES256[] =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImZ4LWVjIn0.eyJpc3MiOiJodHRwczovL2Z1enoudGVzdCIsImV4cCI6NDEwMjQ"
    "0NDgwMH0.uZb0gfg8sJvMWCXB1xlkg7DdGISK6w7hHD950aBMffgpUAYB-oE-siu9X2uSsRRteLYiTje0iqYKMMzuq-"
    "eEwg";
static const char PAYLOAD[] = "{\"iss\":\"https://fuzz.test\",\"exp\":4102444800}";

/* Public import, and the export / re-import / thumbprint round trip when it works. */
static void import_one(const json_t *jwk)
{
    EVP_PKEY *key = NULL;
    shd_result r = shd_jwk_import_public(jwk, &key);
    FUZZ_OK_OR(r, SHD_ERR_BAD_KEY, SHD_ERR_UNSUPPORTED, SHD_ERR_INPUT, SHD_ERR_ENCODING,
               SHD_ERR_TOO_LARGE);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(key == NULL);
        fuzz_error_reset();
        return;
    }
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    enum shd_jwk_kty k = 0;
    FUZZ_ASSERT(kty != NULL && shd_is_ok(shd_jwk_kty_parse(kty, &k)));
    FUZZ_ASSERT(k == SHD_JWK_KTY_RSA || k == SHD_JWK_KTY_EC);

    json_t *out = NULL;
    FUZZ_ASSERT(shd_is_ok(shd_jwk_export_public(key, &out)));
    FUZZ_ASSERT(strcmp(json_string_value(json_object_get(out, "kty")), shd_jwk_kty_name(k)) == 0);
    EVP_PKEY *again = NULL;
    FUZZ_ASSERT(shd_is_ok(shd_jwk_import_public(out, &again)));
    char tp1[SHD_JWK_THUMBPRINT_LEN + 1];
    char tp2[SHD_JWK_THUMBPRINT_LEN + 1];
    FUZZ_ASSERT(shd_is_ok(shd_jwk_thumbprint(key, tp1)));
    FUZZ_ASSERT(shd_is_ok(shd_jwk_thumbprint(again, tp2)));
    FUZZ_ASSERT(strlen(tp1) == SHD_JWK_THUMBPRINT_LEN && strcmp(tp1, tp2) == 0);
    EVP_PKEY_free(again);
    json_decref(out);
    EVP_PKEY_free(key);
}

static void entry_checks(const json_t *jwk)
{
    import_one(jwk);

    const json_t *ops = json_object_get(jwk, "key_ops");
    if (ops != NULL) {
        shd_result r = shd_jwk_key_ops_check(ops);
        FUZZ_OK_OR(r, SHD_ERR_INPUT);
    }
    uint8_t secret[SHD_JWK_OCT_MAX];
    size_t len = 0;
    shd_result r = shd_jwk_import_oct(jwk, 0, secret, sizeof(secret), &len);
    FUZZ_OK_OR(r, SHD_ERR_BAD_KEY, SHD_ERR_UNSUPPORTED, SHD_ERR_INPUT, SHD_ERR_ENCODING,
               SHD_ERR_TOO_LARGE);
    FUZZ_ASSERT(shd_is_err(r) || (len >= 1 && len <= SHD_JWK_OCT_MAX));
    shd_memzero(secret, sizeof(secret));
    fuzz_error_reset();
}

/* How many objects of the set carry this kid (the selection rule of shd_jws_verify_jwks). */
static size_t kid_count(const json_t *keys, const char *kid)
{
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const json_t *e = json_array_get(keys, i);
        const char *k = json_string_value(json_object_get(e, "kid"));
        if (json_is_object(e) && k != NULL && strcmp(k, kid) == 0) {
            n++;
        }
    }
    return n;
}

static void select_and_verify(const json_t *jwks, const char *token, enum shd_jws_alg alg,
                              const char *kid)
{
    struct shd_jws *jws = NULL;
    FUZZ_ASSERT(shd_is_ok(shd_jws_parse(token, strlen(token), 0, &jws)));
    shd_result r = shd_jws_verify_jwks(jwks, alg, jws);
    FUZZ_OK_OR(r, SHD_ERR_NOT_FOUND, SHD_ERR_INPUT, SHD_ERR_BAD_KEY, SHD_ERR_BAD_SIGNATURE,
               SHD_ERR_UNSUPPORTED, SHD_ERR_ENCODING, SHD_ERR_BAD_CERT, SHD_ERR_TOO_LARGE,
               SHD_ERR_CRYPTO);
    if (shd_is_ok(r)) {
        const json_t *keys = json_object_get(jwks, "keys");
        FUZZ_ASSERT(json_array_size(keys) <= JWKS_MAX && kid_count(keys, kid) == 1);
        const uint8_t *p = NULL;
        size_t n = 0;
        FUZZ_ASSERT(shd_is_ok(shd_jws_payload(jws, &p, &n)));
        FUZZ_ASSERT(n == strlen(PAYLOAD) && shd_memcmp(p, PAYLOAD, n) == 0);
    } else {
        FUZZ_ASSERT(!shd_jws_is_verified(jws));
    }
    fuzz_error_reset();
    shd_jws_free(&jws);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();
    json_t *doc = NULL;
    shd_result r = shd_json_parse((const char *)data, size, NULL, &doc);
    if (shd_is_err(r)) {
        FUZZ_OK_OR(r, SHD_ERR_JSON, SHD_ERR_TOO_LARGE);
        fuzz_error_reset();
        return 0;
    }
    const json_t *keys = json_object_get(doc, "keys");
    if (json_is_array(keys)) {
        for (size_t i = 0; i < json_array_size(keys) && i < JWKS_MAX; i++) {
            entry_checks(json_array_get(keys, i));
        }
    } else {
        entry_checks(doc);
    }
    select_and_verify(doc, TOKEN_RS256, SHD_JWS_RS256, "fx-rsa");
    select_and_verify(doc, TOKEN_ES256, SHD_JWS_ES256, "fx-ec");
    json_decref(doc);
    return 0;
}
