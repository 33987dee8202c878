/*
 * jwt_test.c - JWT claim checks: exp/nbf/iat with skew, iss, aud, the verified-payload rule, and
 * the RFC 7515 A.2 token (exp 1300819380 = 2011-03-22T18:43:00Z) end to end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/jws.h"
#include "shd/jwt.h"
#include "shd/mem.h"
#include "shd_test.h"

#define A2_EXP 1300819380

static json_t *json_text(const char *text)
{
    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse(text, strlen(text), NULL, &doc));
    return doc;
}

/* Checks claims against rules; on an error, the rendered chain must equal want (if not NULL). */
static void expect(const char *claims, const struct shd_jwt_rules *rules, int code,
                   const char *want)
{
    json_t *c = json_text(claims);
    shd_result r = shd_jwt_claims_check(c, rules);
    json_decref(c);
    if (code == 0) {
        EXPECT_OK(r);
        return;
    }
    EXPECT_ERR(r, code);
    if (want != NULL) {
        char why[256];
        (void)shd_error_render(why, sizeof(why));
        assert_string_equal(why, want);
    }
}

static struct shd_jwt_rules rules_at(int64_t now)
{
    struct shd_jwt_rules r;
    shd_jwt_rules_init(&r);
    r.now = now;
    return r;
}

static void test_defaults(void **state)
{
    (void)state;
    struct shd_jwt_rules r;
    memset(&r, 0xff, sizeof(r));
    shd_jwt_rules_init(&r);
    assert_null(r.iss);
    assert_null(r.aud);
    assert_int_equal(r.now, 0);
    assert_int_equal(r.skew, SHD_JWT_SKEW_DEFAULT);
    assert_true(r.require_exp);
    /* now == 0 means the real clock: a 2011 token is long expired. */
    expect("{\"exp\":1300819380}", &r, SHD_ERR_TOKEN, "token expired at 2011-03-22T18:43:00Z");
    expect("{\"exp\":32503680000}", &r, 0, NULL); /* year 3000 */
}

static void test_exp(void **state)
{
    (void)state;
    struct shd_jwt_rules r = rules_at(A2_EXP + 60);
    expect("{\"exp\":1300819380}", &r, 0, NULL); /* exactly at the skew */
    r.now = A2_EXP + 61;
    expect("{\"exp\":1300819380}", &r, SHD_ERR_TOKEN, "token expired at 2011-03-22T18:43:00Z");
    r.skew = 0;
    r.now = A2_EXP + 1;
    expect("{\"exp\":1300819380}", &r, SHD_ERR_TOKEN, NULL);
    expect("{\"exp\":1300819380.9}", &r, SHD_ERR_TOKEN, NULL); /* fraction truncated */
    r.now = A2_EXP;
    expect("{\"exp\":1300819380.5}", &r, 0, NULL);
    expect("{}", &r, SHD_ERR_TOKEN, "token has no exp claim");
    r.require_exp = false;
    expect("{}", &r, 0, NULL);
    expect("{\"exp\":\"1300819380\"}", &r, SHD_ERR_INPUT, "claim exp is not a NumericDate");
    expect("{\"exp\":1e300}", &r, SHD_ERR_INPUT, NULL);
    expect("{\"exp\":true}", &r, SHD_ERR_INPUT, NULL);
    expect("{\"exp\":-9007199254740993}", &r, SHD_ERR_INPUT, NULL);
}

static void test_nbf_iat(void **state)
{
    (void)state;
    struct shd_jwt_rules r = rules_at(A2_EXP - 60);
    expect("{\"exp\":1300830000,\"nbf\":1300819380,\"iat\":1300819380}", &r, 0, NULL);
    r.now = A2_EXP - 61;
    expect("{\"exp\":1300830000,\"nbf\":1300819380}", &r, SHD_ERR_TOKEN,
           "token not valid before 2011-03-22T18:43:00Z");
    expect("{\"exp\":1300830000,\"iat\":1300819380}", &r, SHD_ERR_TOKEN,
           "token issued in the future at 2011-03-22T18:43:00Z");
    r.skew = 3600;
    expect("{\"exp\":1300830000,\"nbf\":1300819380,\"iat\":1300819380}", &r, 0, NULL);
    expect("{\"exp\":1300830000,\"nbf\":null}", &r, SHD_ERR_INPUT,
           "claim nbf is not a NumericDate");
}

static void test_iss(void **state)
{
    (void)state;
    struct shd_jwt_rules r = rules_at(A2_EXP);
    r.iss = "https://sharedeus.eus.attest.azure.net";
    expect("{\"exp\":1300819380,\"iss\":\"https://sharedeus.eus.attest.azure.net\"}", &r, 0, NULL);
    expect("{\"exp\":1300819380,\"iss\":\"https://sharedeus.eus.attest.azure.net/\"}", &r,
           SHD_ERR_TOKEN,
           "issuer mismatch: got https://sharedeus.eus.attest.azure.net/, want "
           "https://sharedeus.eus.attest.azure.net");
    expect("{\"exp\":1300819380}", &r, SHD_ERR_TOKEN,
           "issuer mismatch: got none, want https://sharedeus.eus.attest.azure.net");
    expect("{\"exp\":1300819380,\"iss\":[\"x\"]}", &r, SHD_ERR_INPUT, NULL);
}

static void test_aud(void **state)
{
    (void)state;
    struct shd_jwt_rules r = rules_at(A2_EXP);
    r.aud = "https://vault.azure.net";
    expect("{\"exp\":1300819380,\"aud\":\"https://vault.azure.net\"}", &r, 0, NULL);
    expect("{\"exp\":1300819380,\"aud\":[\"a\",\"https://vault.azure.net\"]}", &r, 0, NULL);
    expect("{\"exp\":1300819380,\"aud\":\"https://managedhsm.azure.net\"}", &r, SHD_ERR_TOKEN,
           "audience mismatch: got https://managedhsm.azure.net, want https://vault.azure.net");
    expect("{\"exp\":1300819380,\"aud\":[\"a\",\"b\"]}", &r, SHD_ERR_TOKEN,
           "audience mismatch: got 2 other audiences, want https://vault.azure.net");
    expect("{\"exp\":1300819380,\"aud\":[]}", &r, SHD_ERR_TOKEN, NULL);
    expect("{\"exp\":1300819380}", &r, SHD_ERR_TOKEN,
           "audience mismatch: got none, want https://vault.azure.net");
    expect("{\"exp\":1300819380,\"aud\":[\"a\",1]}", &r, SHD_ERR_INPUT, NULL);
    expect("{\"exp\":1300819380,\"aud\":7}", &r, SHD_ERR_INPUT, NULL);
    /* Not checked without r.aud. */
    r.aud = NULL;
    expect("{\"exp\":1300819380,\"aud\":7}", &r, 0, NULL);
}

/* The whole path: parse, verify (pinned RS256), then claims, on RFC 7515 A.2. */
static void test_verified_token(void **state)
{
    (void)state;
    const char *src = getenv("SHD_SOURCE_DIR");
    char path[1024];
    size_t len = 0;
    assert_non_null(src);
    (void)snprintf(path, sizeof(path), "%s/tests/unit/shared/fixtures/jose/rfc7515_a2.jws", src);
    char *token = (char *)shd_test_read_file(path, &len);
    (void)snprintf(path, sizeof(path), "%s/tests/unit/shared/fixtures/jose/rfc7515_a2_key.json",
                   src);
    size_t klen = 0;
    char *ktext = (char *)shd_test_read_file(path, &klen);
    json_t *jwk = json_text(ktext);
    EVP_PKEY *key = NULL;
    EXPECT_OK(shd_jwk_import_public(jwk, &key));

    struct shd_jws *jws = NULL;
    const json_t *claims = NULL;
    struct shd_jwt_rules r = rules_at(A2_EXP - 100);
    r.iss = "joe";
    EXPECT_OK(shd_jws_parse(token, len, 0, &jws));
    EXPECT_ERR(shd_jwt_check(&r, jws, &claims), SHD_ERR_USAGE); /* not verified yet */
    assert_null(claims);
    EXPECT_OK(shd_jws_verify_key(key, SHD_JWS_RS256, jws));
    EXPECT_OK(shd_jwt_check(&r, jws, &claims));
    assert_true(json_is_true(json_object_get(claims, "http://example.com/is_root")));
    r.now = 0;
    EXPECT_ERR(shd_jwt_check(&r, jws, NULL), SHD_ERR_TOKEN);
    shd_jws_free(&jws);

    /* A verified payload that is a JSON array, or not JSON, has no claims. */
    EVP_PKEY *ec = NULL;
    char *tok = NULL;
    r.now = A2_EXP;
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &ec));
    static const char *const payloads[] = {"[1,2]", "not json"};
    static const int codes[] = {SHD_ERR_JSON, SHD_ERR_JSON};
    for (size_t i = 0; i < 2; i++) {
        EXPECT_OK(shd_jws_sign(NULL, (const uint8_t *)payloads[i], strlen(payloads[i]), ec,
                               SHD_JWS_ES256, &tok, NULL));
        EXPECT_OK(shd_jws_parse(tok, strlen(tok), 0, &jws));
        EXPECT_OK(shd_jws_verify_key(ec, SHD_JWS_ES256, jws));
        EXPECT_ERR(shd_jwt_check(&r, jws, NULL), codes[i]);
        shd_jws_free(&jws);
        shd_free(tok);
    }
    EVP_PKEY_free(ec);
    EVP_PKEY_free(key);
    json_decref(jwk);
    shd_free(ktext);
    shd_free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_exp),
        cmocka_unit_test(test_nbf_iat),  cmocka_unit_test(test_iss),
        cmocka_unit_test(test_aud),      cmocka_unit_test(test_verified_token),
    };
    return cmocka_run_group_tests_name("jwt", tests, NULL, NULL);
}
