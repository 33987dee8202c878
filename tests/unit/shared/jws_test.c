/*
 * jws_test.c - compact JWS: RFC 7515 A.2 (RS256, verified and reproduced byte for byte) and A.3
 * (ES256), round trips, the pinned-algorithm rule (alg none, HS256 keyed with the RSA public PEM),
 * tampering, JWKS selection and x5c chains.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/jws.h"
#include "shd/mem.h"
#include "shd_test.h"

static const char A2_PAYLOAD[] =
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
static const char VAULT[] = "jose-test.vault.azure.net";

static char *fixture(const char *name, size_t *ret_len)
{
    const char *src = getenv("SHD_SOURCE_DIR");
    char path[1024];
    size_t len = 0;

    assert_non_null(src);
    int n = snprintf(path, sizeof(path), "%s/tests/unit/shared/fixtures/jose/%s", src, name);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    char *text = (char *)shd_test_read_file(path, &len);
    if (ret_len != NULL) {
        *ret_len = len;
    }
    return text;
}

static json_t *json_text(const char *text)
{
    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse(text, strlen(text), NULL, &doc));
    return doc;
}

static EVP_PKEY *jwk_key(const char *name, bool private_key)
{
    size_t len = 0;
    char *text = fixture(name, &len);
    json_t *jwk = json_text(text);
    EVP_PKEY *key = NULL;
    if (private_key) {
        EXPECT_OK(shd_jwk_import_private(jwk, &key));
    } else {
        EXPECT_OK(shd_jwk_import_public(jwk, &key));
    }
    json_decref(jwk);
    shd_free(text);
    return key;
}

static STACK_OF(X509) * certs(const char *name)
{
    size_t len = 0;
    char *pem = fixture(name, &len);
    STACK_OF(X509) *chain = NULL;
    EXPECT_OK(shd_crypto_x509_chain_load((const uint8_t *)pem, len, &chain));
    shd_free(pem);
    return chain;
}

/* Parses and verifies token with key under alg; returns the result of the verification. */
static shd_result parse_verify(const char *token, EVP_PKEY *key, enum shd_jws_alg alg)
{
    struct shd_jws *jws = NULL;
    shd_result r = shd_jws_parse(token, strlen(token), 0, &jws);
    if (shd_is_ok(r)) {
        r = shd_jws_verify_key(key, alg, jws);
    }
    shd_jws_free(&jws);
    return r;
}

static void test_rfc7515_a2(void **state)
{
    (void)state;
    size_t len = 0;
    char *token = fixture("rfc7515_a2.jws", &len);
    EVP_PKEY *pub = jwk_key("rfc7515_a2_key.json", false);
    struct shd_jws *jws = NULL;
    const uint8_t *payload = NULL;
    size_t plen = 0;
    const json_t *claims = NULL;

    EXPECT_OK(shd_jws_parse(token, len, 0, &jws));
    assert_false(shd_jws_is_verified(jws));
    EXPECT_ERR(shd_jws_payload(jws, &payload, &plen), SHD_ERR_USAGE);
    EXPECT_ERR(shd_jws_payload_json(jws, &claims), SHD_ERR_USAGE);
    EXPECT_OK(shd_jws_verify_key(pub, SHD_JWS_RS256, jws));
    assert_true(shd_jws_is_verified(jws));
    EXPECT_OK(shd_jws_payload(jws, &payload, &plen));
    assert_int_equal(plen, strlen(A2_PAYLOAD));
    assert_memory_equal(payload, A2_PAYLOAD, plen);
    EXPECT_OK(shd_jws_payload_json(jws, &claims));
    assert_string_equal(json_string_value(json_object_get(claims, "iss")), "joe");
    shd_jws_free(&jws);
    assert_null(jws);
    shd_jws_free(&jws);
    shd_jws_free(NULL);

    /* RS256 is deterministic: signing the same payload reproduces the RFC token exactly. */
    EVP_PKEY *priv = jwk_key("rfc7515_a2_key.json", true);
    char *mine = NULL;
    size_t mine_len = 0;
    EXPECT_OK(shd_jws_sign(NULL, (const uint8_t *)A2_PAYLOAD, strlen(A2_PAYLOAD), priv,
                           SHD_JWS_RS256, &mine, &mine_len));
    assert_int_equal(mine_len, len);
    assert_string_equal(mine, token);
    shd_free(mine);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    shd_free(token);
}

static void test_rfc7515_a3(void **state)
{
    (void)state;
    char *token = fixture("rfc7515_a3.jws", NULL);
    EVP_PKEY *pub = jwk_key("rfc7515_a3_key.json", false);
    EVP_PKEY *rsa = jwk_key("rfc7515_a2_key.json", false);

    EXPECT_OK(parse_verify(token, pub, SHD_JWS_ES256));
    /* Wrong pin, and an RSA key for an ES256 pin. */
    EXPECT_ERR(parse_verify(token, pub, SHD_JWS_ES384), SHD_ERR_TOKEN);
    EXPECT_ERR(parse_verify(token, pub, SHD_JWS_RS256), SHD_ERR_TOKEN);
    EXPECT_ERR(parse_verify(token, rsa, SHD_JWS_ES256), SHD_ERR_BAD_KEY);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(pub);
    shd_free(token);
}

/* Builds header.payload.signature from raw parts. */
static char *compact(const char *header, const char *payload, const uint8_t *sig, size_t sig_len)
{
    char *h = NULL;
    char *p = NULL;
    char *s = NULL;
    EXPECT_OK(shd_b64_encode((const uint8_t *)header, strlen(header), SHD_B64_URL_NOPAD, &h, NULL));
    EXPECT_OK(
        shd_b64_encode((const uint8_t *)payload, strlen(payload), SHD_B64_URL_NOPAD, &p, NULL));
    EXPECT_OK(shd_b64_encode(sig, sig_len, SHD_B64_URL_NOPAD, &s, NULL));
    size_t n = strlen(h) + strlen(p) + strlen(s) + 3;
    char *out = shd_alloc(n);
    assert_non_null(out);
    (void)snprintf(out, n, "%s.%s.%s", h, p, s);
    shd_free(h);
    shd_free(p);
    shd_free(s);
    return out;
}

/* real-clients.md §3.2: the HS256 token MACed with the RSA public PEM, which libjwt accepts. */
static void test_hs256_confusion_and_none(void **state)
{
    (void)state;
    EVP_PKEY *pub = jwk_key("rfc7515_a2_key.json", false);
    char *pem = NULL;
    size_t pem_len = 0;
    EXPECT_OK(shd_crypto_pubkey_export_spki_pem(pub, &pem, &pem_len));

    char *unsigned_tok =
        compact("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", A2_PAYLOAD, (const uint8_t *)"", 0);
    /* compact() ends with "." when the signature is empty: MAC the part before it. */
    size_t input_len = strlen(unsigned_tok) - 1;
    uint8_t mac[32];
    unsigned mac_len = 0;
    assert_non_null(HMAC(EVP_sha256(), pem, (int)pem_len, (const uint8_t *)unsigned_tok, input_len,
                         mac, &mac_len));
    char *forged = compact("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", A2_PAYLOAD, mac, mac_len);
    EXPECT_ERR(parse_verify(forged, pub, SHD_JWS_RS256), SHD_ERR_TOKEN);
    char why[256];
    (void)shd_error_render(why, sizeof(why));
    assert_string_equal(why, "unexpected algorithm \"HS256\", want RS256");
    /* Through a JWK set as well. */
    struct shd_jws *jws = NULL;
    json_t *set = json_pack("{s:[{s:s,s:s,s:s,s:s}]}", "keys", "kty", "RSA", "kid", "k1", "n",
                            "AQAB", "e", "AQAB");
    char *forged_kid = compact("{\"alg\":\"HS256\",\"kid\":\"k1\"}", A2_PAYLOAD, mac, mac_len);
    EXPECT_OK(shd_jws_parse(forged_kid, strlen(forged_kid), 0, &jws));
    EXPECT_ERR(shd_jws_verify_jwks(set, SHD_JWS_RS256, jws), SHD_ERR_TOKEN);
    shd_jws_free(&jws);

    /* RFC 7515 A.5 "none": no signature segment (refused by the parser) or a fake one. */
    char *none = compact("{\"alg\":\"none\"}", A2_PAYLOAD, (const uint8_t *)"", 0);
    EXPECT_ERR(shd_jws_parse(none, strlen(none), 0, &jws), SHD_ERR_INPUT);
    char *none_sig = compact("{\"alg\":\"none\"}", A2_PAYLOAD, mac, mac_len);
    EXPECT_ERR(parse_verify(none_sig, pub, SHD_JWS_RS256), SHD_ERR_TOKEN);
    /* A value outside the enum cannot be pinned. */
    EXPECT_ERR(parse_verify(none_sig, pub, (enum shd_jws_alg)0), SHD_ERR_USAGE);
    enum shd_jws_alg alg;
    EXPECT_ERR(shd_jws_alg_parse("HS256", &alg), SHD_ERR_UNSUPPORTED);
    EXPECT_ERR(shd_jws_alg_parse("none", &alg), SHD_ERR_UNSUPPORTED);
    EXPECT_OK(shd_jws_alg_parse("PS256", &alg));
    assert_int_equal(alg, SHD_JWS_PS256);
    assert_string_equal(shd_jws_alg_name(SHD_JWS_ES384), "ES384");
    assert_null(shd_jws_alg_name((enum shd_jws_alg)0));

    shd_free(none_sig);
    shd_free(none);
    shd_free(forged_kid);
    json_decref(set);
    shd_free(forged);
    shd_free(unsigned_tok);
    shd_free(pem);
    EVP_PKEY_free(pub);
}

static void test_tampering(void **state)
{
    (void)state;
    size_t len = 0;
    char *token = fixture("rfc7515_a2.jws", &len);
    EVP_PKEY *pub = jwk_key("rfc7515_a2_key.json", false);
    char *dot1 = strchr(token, '.');
    char *dot2 = strchr(dot1 + 1, '.');

    /* Payload: one base64url character in the middle changed (still decodes). */
    char *t = shd_strdup(token);
    char *at = t + (dot1 - token) + 10;
    *at = *at == 'A' ? 'B' : 'A';
    EXPECT_ERR(parse_verify(t, pub, SHD_JWS_RS256), SHD_ERR_BAD_SIGNATURE);
    shd_free(t);
    /* Signature: one character changed; then one byte short (wrong length). */
    t = shd_strdup(token);
    t[(size_t)(dot2 - token) + 5] ^= 0x01;
    EXPECT_ERR(parse_verify(t, pub, SHD_JWS_RS256), SHD_ERR_BAD_SIGNATURE);
    shd_free(t);
    uint8_t short_sig[255] = {1};
    t = compact("{\"alg\":\"RS256\"}", A2_PAYLOAD, short_sig, sizeof(short_sig));
    EXPECT_ERR(parse_verify(t, pub, SHD_JWS_RS256), SHD_ERR_BAD_SIGNATURE);
    shd_free(t);
    /* Header: same alg, an extra member. */
    const char *h2 = "eyJhbGciOiJSUzI1NiIsIngiOjF9"; /* {"alg":"RS256","x":1} */
    size_t n = strlen(h2) + len - (size_t)(dot1 - token) + 1;
    t = shd_alloc(n);
    (void)snprintf(t, n, "%s%s", h2, dot1);
    EXPECT_ERR(parse_verify(t, pub, SHD_JWS_RS256), SHD_ERR_BAD_SIGNATURE);
    shd_free(t);
    EVP_PKEY_free(pub);
    shd_free(token);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    size_t len = 0;
    char *token = fixture("rfc7515_a2.jws", &len);
    struct shd_jws *jws = NULL;
    static const struct {
        const char *token;
        int err;
    } cases[] = {
        {"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UifQ", SHD_ERR_INPUT}, /* 2 segments */
        {"eyJhbGciOiJSUzI1NiJ9.e30.AAAA.AAAA", SHD_ERR_INPUT},      /* 4 segments */
        {"eyJhbGciOiJSUzI1NiJ9.e30.AAAA.AAAA.AAAA", SHD_ERR_INPUT}, /* JWE form */
        {"", SHD_ERR_INPUT},
        {".e30.AAAA", SHD_ERR_INPUT},
        {"eyJhbGciOiJSUzI1NiJ9.e30.AA+A", SHD_ERR_ENCODING}, /* '+' */
        {"eyJhbGciOiJSUzI1NiJ9.e30.AAA=", SHD_ERR_ENCODING}, /* padding */
        {"eyJhbGciOiJSUzI1NiJ9=.e30.AAAA", SHD_ERR_ENCODING},
        {"eyJhbGciOiJSUzI1NiJ9.e30 .AAAA", SHD_ERR_ENCODING}, /* space */
        {"bm90IGpzb24.e30.AAAA", SHD_ERR_JSON},               /* "not json" */
        {"WyJSUzI1NiJd.e30.AAAA", SHD_ERR_INPUT},             /* ["RS256"] */
        {"eyJ0eXAiOiJKV1QifQ.e30.AAAA", SHD_ERR_INPUT},       /* no alg */
        {"eyJhbGciOjF9.e30.AAAA", SHD_ERR_INPUT},             /* alg 1 */
        /* {"alg":"RS256","crit":["exp"]} */
        {"eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiZXhwIl19.e30.AAAA", SHD_ERR_INPUT},
        /* {"alg":"RS256","alg":"none"}: duplicate member */
        {"eyJhbGciOiJSUzI1NiIsImFsZyI6Im5vbmUifQ.e30.AAAA", SHD_ERR_JSON},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        shd_result r = shd_jws_parse(cases[i].token, strlen(cases[i].token), 0, &jws);
        if (r.err != cases[i].err) {
            fail_msg("case %zu (%s): got %s", i, cases[i].token, shd_error_str(r.err));
        }
        assert_null(jws);
    }
    /* Size caps: the default (64 KiB) and a caller's. */
    EXPECT_ERR(shd_jws_parse(token, len, 100, &jws), SHD_ERR_TOO_LARGE);
    size_t big_len = SHD_JWS_MAX_DEFAULT + 1;
    char *big = shd_alloc(big_len + 1);
    memset(big, 'A', big_len);
    big[10] = '.';
    big[20] = '.';
    EXPECT_ERR(shd_jws_parse(big, big_len, 0, &jws), SHD_ERR_TOO_LARGE);
    EXPECT_OK(shd_jws_parse(token, len, len, &jws));
    shd_jws_free(&jws);
    shd_free(big);
    shd_free(token);
}

static void roundtrip(EVP_PKEY *key, enum shd_jws_alg alg, enum shd_jws_alg other)
{
    const struct shd_jws_sign_header hdr = {
        .kid = "k1", .jku = "https://x.example/certs", .typ = "JWT"};
    char *token = NULL;
    EXPECT_OK(shd_jws_sign(&hdr, (const uint8_t *)"{\"a\":1}", 7, key, alg, &token, NULL));
    EXPECT_OK(parse_verify(token, key, alg));
    EXPECT_ERR(parse_verify(token, key, other), SHD_ERR_TOKEN);

    struct shd_jws *jws = NULL;
    EXPECT_OK(shd_jws_parse(token, strlen(token), 0, &jws));
    assert_string_equal(shd_jws_kid(jws), "k1");
    char *htext = NULL;
    size_t hlen = 0;
    EXPECT_OK(shd_json_go_dump(shd_jws_header(jws), 0, &htext, &hlen));
    char want[128];
    (void)snprintf(want, sizeof(want),
                   "{\"alg\":\"%s\",\"jku\":\"https://x.example/certs\",\"kid\":\"k1\","
                   "\"typ\":\"JWT\"}",
                   shd_jws_alg_name(alg));
    assert_string_equal(htext, want);
    shd_free(htext);
    shd_jws_free(&jws);
    shd_free(token);
}

static void test_roundtrips(void **state)
{
    (void)state;
    EVP_PKEY *rsa = NULL;
    EVP_PKEY *p256 = NULL;
    EVP_PKEY *p384 = NULL;
    EVP_PKEY *p521 = NULL;
    char *token = NULL;

    EXPECT_OK(shd_crypto_rsa_generate(2048, &rsa));
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &p256));
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P384, &p384));
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P521, &p521));
    roundtrip(rsa, SHD_JWS_PS256, SHD_JWS_RS256);
    roundtrip(rsa, SHD_JWS_RS256, SHD_JWS_PS256);
    roundtrip(rsa, SHD_JWS_PS384, SHD_JWS_PS256);
    roundtrip(p384, SHD_JWS_ES384, SHD_JWS_ES256);
    roundtrip(p256, SHD_JWS_ES256, SHD_JWS_ES384);
    roundtrip(p521, SHD_JWS_ES512, SHD_JWS_ES384);
    /* A key on another curve, or of another type, neither signs nor verifies. */
    EXPECT_ERR(shd_jws_sign(NULL, (const uint8_t *)"x", 1, p256, SHD_JWS_ES384, &token, NULL),
               SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_jws_sign(NULL, (const uint8_t *)"x", 1, rsa, SHD_JWS_ES256, &token, NULL),
               SHD_ERR_BAD_KEY);
    EXPECT_OK(shd_jws_sign(NULL, (const uint8_t *)"x", 1, p384, SHD_JWS_ES384, &token, NULL));
    EXPECT_ERR(parse_verify(token, p256, SHD_JWS_ES384), SHD_ERR_BAD_KEY);
    EXPECT_ERR(parse_verify(token, p521, SHD_JWS_ES384), SHD_ERR_BAD_KEY);
    shd_free(token);
    /* Empty payload is legal JWS; its JSON view is not available. */
    EXPECT_OK(shd_jws_sign(NULL, NULL, 0, p256, SHD_JWS_ES256, &token, NULL));
    struct shd_jws *jws = NULL;
    const json_t *j = NULL;
    EXPECT_OK(shd_jws_parse(token, strlen(token), 0, &jws));
    EXPECT_OK(shd_jws_verify_key(p256, SHD_JWS_ES256, jws));
    EXPECT_ERR(shd_jws_payload_json(jws, &j), SHD_ERR_JSON);
    shd_jws_free(&jws);
    shd_free(token);
    EVP_PKEY_free(p521);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(rsa);
}

static shd_result jwks_verify(const char *token, const char *set_text, enum shd_jws_alg alg)
{
    struct shd_jws *jws = NULL;
    json_t *set = json_text(set_text);
    EXPECT_OK(shd_jws_parse(token, strlen(token), 0, &jws));
    shd_result r = shd_jws_verify_jwks(set, alg, jws);
    assert_int_equal(shd_jws_is_verified(jws), shd_is_ok(r));
    shd_jws_free(&jws);
    json_decref(set);
    return r;
}

static void test_jwks(void **state)
{
    (void)state;
    EVP_PKEY *priv = jwk_key("rfc7515_a2_key.json", true);
    json_t *pubj = NULL;
    EXPECT_OK(shd_jwk_export_public(priv, &pubj));
    const char *n = json_string_value(json_object_get(pubj, "n"));
    const char *ec = "{\"kid\":\"ec\",\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9t"
                     "Le1gHMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5"
                     "a0\"}";
    char set[2048];
    char *tok = NULL;
    char *nokid = NULL;
    const struct shd_jws_sign_header hdr = {.kid = "rsa"};

    EXPECT_OK(shd_jws_sign(&hdr, (const uint8_t *)"{}", 2, priv, SHD_JWS_RS256, &tok, NULL));
    EXPECT_OK(shd_jws_sign(NULL, (const uint8_t *)"{}", 2, priv, SHD_JWS_RS256, &nokid, NULL));

    (void)snprintf(set, sizeof(set),
                   "{\"keys\":[%s,{\"kid\":\"rsa\",\"kty\":\"RSA-HSM\",\"use\":\"sig\","
                   "\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"AQAB\"}]}",
                   ec, n);
    EXPECT_OK(jwks_verify(tok, set, SHD_JWS_RS256));
    EXPECT_ERR(jwks_verify(tok, set, SHD_JWS_PS256), SHD_ERR_TOKEN); /* header says RS256 */
    char *ps = NULL;
    EXPECT_OK(shd_jws_sign(&hdr, (const uint8_t *)"{}", 2, priv, SHD_JWS_PS256, &ps, NULL));
    EXPECT_ERR(jwks_verify(ps, set, SHD_JWS_PS256), SHD_ERR_BAD_KEY); /* entry alg RS256 */
    shd_free(ps);
    EXPECT_ERR(jwks_verify(nokid, set, SHD_JWS_RS256), SHD_ERR_TOKEN);
    (void)snprintf(
        set, sizeof(set),
        "{\"keys\":[%s,{\"kid\":\"other\",\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}]}", ec, n);
    EXPECT_ERR(jwks_verify(tok, set, SHD_JWS_RS256), SHD_ERR_NOT_FOUND);
    (void)snprintf(set, sizeof(set),
                   "{\"keys\":[{\"kid\":\"rsa\",\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"},"
                   "{\"kid\":\"rsa\",\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}]}",
                   n, n);
    EXPECT_ERR(jwks_verify(tok, set, SHD_JWS_RS256), SHD_ERR_INPUT);
    (void)snprintf(set, sizeof(set),
                   "{\"keys\":[{\"kid\":\"rsa\",\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"%s\","
                   "\"e\":\"AQAB\"}]}",
                   n);
    EXPECT_ERR(jwks_verify(tok, set, SHD_JWS_RS256), SHD_ERR_BAD_KEY);
    EXPECT_ERR(jwks_verify(tok, "{\"kid\":\"rsa\"}", SHD_JWS_RS256), SHD_ERR_INPUT);
    /* The kid names the EC entry: the RS256 pin refuses that key. */
    char *eck = NULL;
    const struct shd_jws_sign_header ech = {.kid = "ec"};
    EXPECT_OK(shd_jws_sign(&ech, (const uint8_t *)"{}", 2, priv, SHD_JWS_RS256, &eck, NULL));
    (void)snprintf(set, sizeof(set), "{\"keys\":[%s]}", ec);
    EXPECT_ERR(jwks_verify(eck, set, SHD_JWS_RS256), SHD_ERR_BAD_KEY);
    shd_free(eck);
    shd_free(nokid);
    shd_free(tok);
    json_decref(pubj);
    EVP_PKEY_free(priv);
}

/* Signs a release-style JWS with the x5c leaf key and the given certificates in x5c. */
static char *x5c_token(STACK_OF(X509) * chain)
{
    size_t len = 0;
    char *pem = fixture("x5c_leaf.key", &len);
    EVP_PKEY *key = NULL;
    EXPECT_OK(shd_crypto_privkey_load((uint8_t *)pem, len, &key));
    shd_free(pem);
    X509 *x5c[10];
    size_t n = (size_t)sk_X509_num(chain);
    assert_true(n <= 10);
    for (size_t i = 0; i < n; i++) {
        x5c[i] = sk_X509_value(chain, (int)i);
    }
    const struct shd_jws_sign_header hdr = {.x5c = x5c, .x5c_len = n};
    char *token = NULL;
    EXPECT_OK(shd_jws_sign(&hdr, (const uint8_t *)"{\"response\":{}}", 15, key, SHD_JWS_RS256,
                           &token, NULL));
    EVP_PKEY_free(key);
    return token;
}

static shd_result x5c_verify(const char *token, STACK_OF(X509) * roots, const char *host)
{
    struct shd_jws *jws = NULL;
    EXPECT_OK(shd_jws_parse(token, strlen(token), 0, &jws));
    shd_result r = shd_jws_verify_x5c(roots, host, SHD_JWS_RS256, jws);
    assert_int_equal(shd_jws_is_verified(jws), shd_is_ok(r));
    shd_jws_free(&jws);
    return r;
}

static void test_x5c(void **state)
{
    (void)state;
    STACK_OF(X509) *roots = certs("x5c_root.pem");
    STACK_OF(X509) *other = certs("x5c_other_root.pem");
    STACK_OF(X509) *chain = certs("x5c_leaf.pem");
    STACK_OF(X509) *inter = certs("x5c_int.pem");
    STACK_OF(X509) *client = certs("x5c_client_leaf.pem");

    char *leaf_only = x5c_token(chain);
    assert_int_equal(sk_X509_push(chain, X509_dup(sk_X509_value(inter, 0))), 2);
    char *good = x5c_token(chain);
    assert_int_equal(sk_X509_push(client, X509_dup(sk_X509_value(inter, 0))), 2);
    char *client_tok = x5c_token(client);

    EXPECT_OK(x5c_verify(good, roots, VAULT));
    EXPECT_OK(x5c_verify(good, roots, NULL));
    EXPECT_ERR(x5c_verify(good, other, VAULT), SHD_ERR_BAD_CERT);
    EXPECT_ERR(x5c_verify(good, roots, "other.vault.azure.net"), SHD_ERR_BAD_CERT);
    EXPECT_ERR(x5c_verify(leaf_only, roots, VAULT), SHD_ERR_BAD_CERT);
    EXPECT_ERR(x5c_verify(client_tok, roots, VAULT), SHD_ERR_BAD_CERT);
    /* The chain is right but the signature is not the leaf's. */
    EVP_PKEY *a2 = jwk_key("rfc7515_a2_key.json", true);
    X509 *x5c[2] = {sk_X509_value(chain, 0), sk_X509_value(chain, 1)};
    const struct shd_jws_sign_header hdr = {.x5c = x5c, .x5c_len = 2};
    char *wrong_key = NULL;
    EXPECT_OK(shd_jws_sign(&hdr, (const uint8_t *)"{}", 2, a2, SHD_JWS_RS256, &wrong_key, NULL));
    EXPECT_ERR(x5c_verify(wrong_key, roots, VAULT), SHD_ERR_BAD_SIGNATURE);
    /* No x5c, too many, and not base64. */
    char *none = NULL;
    EXPECT_OK(shd_jws_sign(NULL, (const uint8_t *)"{}", 2, a2, SHD_JWS_RS256, &none, NULL));
    EXPECT_ERR(x5c_verify(none, roots, VAULT), SHD_ERR_INPUT);
    X509 *nine[9];
    for (size_t i = 0; i < 9; i++) {
        nine[i] = sk_X509_value(chain, 0);
    }
    const struct shd_jws_sign_header hdr9 = {.x5c = nine, .x5c_len = 9};
    char *many = NULL;
    EXPECT_OK(shd_jws_sign(&hdr9, (const uint8_t *)"{}", 2, a2, SHD_JWS_RS256, &many, NULL));
    EXPECT_ERR(x5c_verify(many, roots, VAULT), SHD_ERR_INPUT);
    /* {"alg":"RS256","x5c":["MII-"]} */
    EXPECT_ERR(x5c_verify("eyJhbGciOiJSUzI1NiIsIng1YyI6WyJNSUktIl19.e30.AAAA", roots, VAULT),
               SHD_ERR_ENCODING);

    shd_free(many);
    shd_free(none);
    shd_free(wrong_key);
    EVP_PKEY_free(a2);
    shd_free(client_tok);
    shd_free(good);
    shd_free(leaf_only);
    shd_crypto_x509_chain_free(client);
    shd_crypto_x509_chain_free(inter);
    shd_crypto_x509_chain_free(chain);
    shd_crypto_x509_chain_free(other);
    shd_crypto_x509_chain_free(roots);
}

/* A JWK set entry with only kid/kty/x5c (MAA's /certs, azure-formats.md §4.3). */
static void test_jwks_x5c_entry(void **state)
{
    (void)state;
    STACK_OF(X509) *leaf = certs("x5c_leaf.pem");
    uint8_t *der = NULL;
    size_t der_len = 0;
    char *b64 = NULL;
    EXPECT_OK(shd_crypto_x509_export_der(sk_X509_value(leaf, 0), &der, &der_len));
    EXPECT_OK(shd_b64_encode(der, der_len, SHD_B64_STD_PAD, &b64, NULL));
    size_t n = strlen(b64) + 128;
    char *set = shd_alloc(n);
    (void)snprintf(set, n, "{\"keys\":[{\"kid\":\"maa\",\"kty\":\"RSA\",\"x5c\":[\"%s\"]}]}", b64);

    size_t len = 0;
    char *pem = fixture("x5c_leaf.key", &len);
    EVP_PKEY *key = NULL;
    EXPECT_OK(shd_crypto_privkey_load((uint8_t *)pem, len, &key));
    const struct shd_jws_sign_header hdr = {.kid = "maa", .typ = "JWT"};
    char *token = NULL;
    EXPECT_OK(shd_jws_sign(&hdr, (const uint8_t *)"{}", 2, key, SHD_JWS_RS256, &token, NULL));
    EXPECT_OK(jwks_verify(token, set, SHD_JWS_RS256));

    shd_free(token);
    EVP_PKEY_free(key);
    shd_free(pem);
    shd_free(set);
    shd_free(b64);
    shd_free(der);
    shd_crypto_x509_chain_free(leaf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_a2),
        cmocka_unit_test(test_rfc7515_a3),
        cmocka_unit_test(test_hs256_confusion_and_none),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_jwks),
        cmocka_unit_test(test_x5c),
        cmocka_unit_test(test_jwks_x5c_entry),
    };
    return cmocka_run_group_tests_name("jws", tests, NULL, NULL);
}
