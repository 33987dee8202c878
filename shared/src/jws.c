/*
 * jws.c - JWS compact serialisation: parse, verify with a pinned algorithm, sign.
 *
 * The algorithm comes from the caller, never from the token: the header's "alg" is only compared
 * with the pinned name. A JWS whose signature did not verify hands out neither its payload nor
 * a parse of it; the payload is parsed as JSON only after verification, so untrusted JSON
 * reaches the parser only when it came from the key holder.
 */
#include <string.h>

#include <openssl/x509v3.h>

#include "jose_int.h"
#include "shd/codec.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/jws.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* Header nesting is shallow (x5c is an array of strings); anything deeper is hostile. */
#define JWS_HEADER_MAX_DEPTH 4
/* Entries of a JWK set we look at (MAA and Google publish a handful). */
#define JWKS_MAX_KEYS 64
/* Longest x5c entry: a certificate of 12 KiB DER. */
#define X5C_ENTRY_MAX (16u * 1024u)

struct shd_jws {
    char *signing_input; /* "<b64 header>.<b64 payload>" (RFC 7515 §5.2 step 8) */
    size_t signing_input_len;
    json_t *header;
    uint8_t *payload;
    size_t payload_len;
    uint8_t *sig;
    size_t sig_len;
    size_t max_len;       /* the parse limit, reused for the payload JSON */
    json_t *payload_json; /* set after verification when the payload is JSON */
    bool verified;
};

void shd_jws_free(struct shd_jws **jws)
{
    if (jws == NULL || *jws == NULL) {
        return;
    }
    struct shd_jws *j = *jws;
    shd_free(j->signing_input);
    json_decref(j->header);
    shd_free_wipe(j->payload, j->payload_len);
    shd_free(j->sig);
    json_decref(j->payload_json);
    shd_free(j);
    *jws = NULL;
}

static void jws_free_one(struct shd_jws *jws)
{
    shd_jws_free(&jws);
}
SHD_DEFINE_CLEANUP(struct shd_jws, jws_free_one, jws_free_p)

/* Decodes one segment (strict unpadded base64url, RFC 7515 §2); empty gives an empty buffer. */
static shd_result segment_decode(const char *s, size_t n, const char *what, uint8_t **ret,
                                 size_t *ret_len)
{
    if (n == 0) {
        *ret = shd_alloc(1);
        SHD_ENSURE(*ret != NULL, SHD_ERR_NOMEM);
        *ret_len = 0;
        return SHD_OK;
    }
    SHD_GUARD_CTX(shd_b64_decode(s, n, SHD_B64_URL_NOPAD, ret, ret_len), "JWS %s", what);
    return SHD_OK;
}

static shd_result header_parse(const uint8_t *bytes, size_t len, size_t max_len, json_t **ret)
{
    struct shd_json_limits lim = {.max_bytes = max_len, .max_depth = JWS_HEADER_MAX_DEPTH};
    SHD_CLEANUP_JSON json_t *hdr = NULL;
    SHD_GUARD_CTX(shd_json_parse((const char *)bytes, len, &lim, &hdr), "JWS header");
    SHD_ENSURE_MSG(json_is_object(hdr), SHD_ERR_INPUT, "JWS header is not an object");
    const char *alg = NULL;
    SHD_GUARD_CTX(shd_json_get_string(hdr, "alg", &alg), "JWS header");
    /* RFC 7515 §4.1.11: we understand no extension, so any "crit" makes the token invalid. */
    SHD_ENSURE_MSG(json_object_get(hdr, "crit") == NULL, SHD_ERR_INPUT,
                   "JWS header has unsupported critical parameters");
    *ret = SHD_TAKE_PTR(hdr);
    return SHD_OK;
}

shd_result shd_jws_parse(const char *token, size_t len, size_t max_len, struct shd_jws **ret_jws)
{
    SHD_ENSURE_REF(token);
    SHD_ENSURE_REF(ret_jws);
    size_t max = max_len != 0 ? max_len : SHD_JWS_MAX_DEFAULT;
    SHD_ENSURE_MSG(len <= max, SHD_ERR_TOO_LARGE, "token of %zu bytes exceeds %zu", len, max);
    size_t dots[2] = {0, 0};
    size_t ndots = 0;
    for (size_t i = 0; i < len; i++) {
        if (token[i] == '.') {
            if (ndots < 2) {
                dots[ndots] = i;
            }
            ndots++;
        }
    }
    SHD_ENSURE_MSG(ndots == 2, SHD_ERR_INPUT, "token has %zu segments, want 3", ndots + 1);
    SHD_ENSURE_MSG(dots[0] > 0, SHD_ERR_INPUT, "token has an empty header");
    SHD_ENSURE_MSG(dots[1] + 1 < len, SHD_ERR_INPUT, "token has an empty signature");

    SHD_CLEANUP(jws_free_p) struct shd_jws *jws = shd_alloc(sizeof(*jws));
    SHD_ENSURE(jws != NULL, SHD_ERR_NOMEM);
    jws->max_len = max;
    SHD_CLEANUP_FREE uint8_t *hdr = NULL;
    size_t hdr_len = 0;
    SHD_GUARD(segment_decode(token, dots[0], "header", &hdr, &hdr_len));
    SHD_GUARD(header_parse(hdr, hdr_len, max, &jws->header));
    SHD_GUARD(segment_decode(token + dots[0] + 1, dots[1] - dots[0] - 1, "payload", &jws->payload,
                             &jws->payload_len));
    SHD_GUARD(segment_decode(token + dots[1] + 1, len - dots[1] - 1, "signature", &jws->sig,
                             &jws->sig_len));
    jws->signing_input = shd_strndup(token, dots[1]);
    SHD_ENSURE(jws->signing_input != NULL, SHD_ERR_NOMEM);
    jws->signing_input_len = dots[1];
    *ret_jws = SHD_TAKE_PTR(jws);
    return SHD_OK;
}

const json_t *shd_jws_header(const struct shd_jws *jws)
{
    return jws == NULL ? NULL : jws->header;
}

const char *shd_jws_kid(const struct shd_jws *jws)
{
    if (jws == NULL) {
        return NULL;
    }
    const json_t *kid = json_object_get(jws->header, "kid");
    return json_is_string(kid) ? json_string_value(kid) : NULL;
}

bool shd_jws_is_verified(const struct shd_jws *jws)
{
    return jws != NULL && jws->verified;
}

/*
 * The pinned-algorithm rule, checked first by every verifier: the header must name exactly the
 * caller's algorithm (real-clients.md §3.2). Also clears a previous verification.
 */
static shd_result alg_pinned(enum shd_jws_alg alg, struct shd_jws *jws,
                             const struct shd_jose_alg_info **ret_info)
{
    const struct shd_jose_alg_info *info = shd_jose_alg_info(alg);
    SHD_ENSURE_MSG(info != NULL, SHD_ERR_USAGE, "algorithm %d is not a JWS algorithm", (int)alg);
    jws->verified = false;
    const char *got = json_string_value(json_object_get(jws->header, "alg"));
    SHD_ENSURE_MSG(got != NULL && strcmp(got, info->name) == 0, SHD_ERR_TOKEN,
                   "unexpected algorithm \"%.32s\", want %s", got == NULL ? "" : got, info->name);
    *ret_info = info;
    return SHD_OK;
}

/* The pinned-algorithm check and the signature check; marks jws verified on success. */
static shd_result verify_with(EVP_PKEY *key, enum shd_jws_alg alg, struct shd_jws *jws)
{
    const struct shd_jose_alg_info *info = NULL;
    SHD_GUARD(alg_pinned(alg, jws, &info));
    SHD_GUARD(shd_jose_sig_verify(info, key, (const uint8_t *)jws->signing_input,
                                  jws->signing_input_len, jws->sig, jws->sig_len));
    if (jws->payload_json == NULL) {
        struct shd_json_limits lim = {.max_bytes = jws->max_len};
        if (shd_is_err(shd_json_parse((const char *)jws->payload, jws->payload_len, &lim,
                                      &jws->payload_json))) {
            /* Not JSON: fine for a JWS; shd_jws_payload_json reports it when asked. */
            jws->payload_json = NULL;
            shd_error_clear();
        }
    }
    jws->verified = true;
    return SHD_OK;
}

shd_result shd_jws_verify_key(EVP_PKEY *key, enum shd_jws_alg alg, struct shd_jws *jws)
{
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(jws);
    return verify_with(key, alg, jws);
}

shd_result shd_jose_x5c_cert(const json_t *entry, X509 **ret_cert)
{
    SHD_ENSURE_MSG(json_is_string(entry), SHD_ERR_INPUT, "x5c entry is not a string");
    size_t n = json_string_length(entry);
    SHD_ENSURE_MSG(n > 0 && n <= X5C_ENTRY_MAX, SHD_ERR_INPUT, "x5c entry has a bad length");
    SHD_CLEANUP_FREE uint8_t *der = NULL;
    size_t der_len = 0;
    /* RFC 7515 §4.1.6: base64 (not base64url) of the DER, with padding. */
    SHD_GUARD_CTX(shd_b64_decode(json_string_value(entry), n, SHD_B64_STD_PAD, &der, &der_len),
                  "x5c entry");
    SHD_GUARD_CTX(shd_crypto_x509_load(der, der_len, ret_cert), "x5c entry");
    return SHD_OK;
}

/* The key of a JWK set entry: its RSA/EC members, or else its x5c[0] certificate. */
static shd_result jwks_entry_key(const json_t *entry, const struct shd_jose_alg_info *info,
                                 EVP_PKEY **ret)
{
    const json_t *alg = json_object_get(entry, "alg");
    SHD_ENSURE_MSG(alg == NULL ||
                       (json_is_string(alg) && strcmp(json_string_value(alg), info->name) == 0),
                   SHD_ERR_BAD_KEY, "JWK set entry is not for %s", info->name);
    const json_t *use = json_object_get(entry, "use");
    SHD_ENSURE_MSG(use == NULL ||
                       (json_is_string(use) && strcmp(json_string_value(use), "sig") == 0),
                   SHD_ERR_BAD_KEY, "JWK set entry is not a signing key");
    if (json_object_get(entry, "n") != NULL || json_object_get(entry, "x") != NULL) {
        return shd_jwk_import_public(entry, ret);
    }
    const json_t *x5c = json_object_get(entry, "x5c");
    SHD_ENSURE_MSG(json_is_array(x5c) && json_array_size(x5c) > 0, SHD_ERR_INPUT,
                   "JWK set entry has neither key members nor x5c");
    SHD_CLEANUP(X509_free_p) X509 *cert = NULL;
    SHD_GUARD(shd_jose_x5c_cert(json_array_get(x5c, 0), &cert));
    return shd_crypto_x509_pubkey(cert, ret);
}

shd_result shd_jws_verify_jwks(const json_t *jwks, enum shd_jws_alg alg, struct shd_jws *jws)
{
    SHD_ENSURE_REF(jwks);
    SHD_ENSURE_REF(jws);
    const struct shd_jose_alg_info *info = NULL;
    SHD_GUARD(alg_pinned(alg, jws, &info));
    const char *kid = shd_jws_kid(jws);
    SHD_ENSURE_MSG(kid != NULL, SHD_ERR_TOKEN, "token header has no kid");
    const json_t *keys = json_object_get(jwks, "keys");
    SHD_ENSURE_MSG(json_is_array(keys), SHD_ERR_INPUT, "JWK set has no \"keys\" array");
    SHD_ENSURE_MSG(json_array_size(keys) <= JWKS_MAX_KEYS, SHD_ERR_TOO_LARGE,
                   "JWK set has too many keys");
    const json_t *found = NULL;
    size_t matches = 0;
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const json_t *entry = json_array_get(keys, i);
        const char *ekid = json_string_value(json_object_get(entry, "kid"));
        if (json_is_object(entry) && ekid != NULL && strcmp(ekid, kid) == 0) {
            found = entry;
            matches++;
        }
    }
    SHD_ENSURE_MSG(matches != 0, SHD_ERR_NOT_FOUND, "no key with kid \"%.64s\" in the JWK set",
                   kid);
    SHD_ENSURE_MSG(matches == 1, SHD_ERR_INPUT, "kid \"%.64s\" is ambiguous in the JWK set", kid);
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    SHD_GUARD_CTX(jwks_entry_key(found, info, &key), "key \"%.64s\"", kid);
    return verify_with(key, alg, jws);
}

static shd_result x5c_chain(const json_t *x5c, X509 **ret_leaf, STACK_OF(X509) * *ret_rest)
{
    size_t n = json_array_size(x5c);
    SHD_ENSURE_MSG(json_is_array(x5c) && n > 0, SHD_ERR_INPUT, "JWS header has no x5c");
    SHD_ENSURE_MSG(n <= SHD_JOSE_X5C_MAX, SHD_ERR_INPUT, "x5c has %zu certificates, at most %d", n,
                   SHD_JOSE_X5C_MAX);
    SHD_CLEANUP(X509_free_p) X509 *leaf = NULL;
    SHD_GUARD_CTX(shd_jose_x5c_cert(json_array_get(x5c, 0), &leaf), "x5c[0]");
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *rest = sk_X509_new_null();
    SHD_ENSURE(rest != NULL, SHD_ERR_NOMEM);
    for (size_t i = 1; i < n; i++) {
        X509 *cert = NULL;
        SHD_GUARD_CTX(shd_jose_x5c_cert(json_array_get(x5c, i), &cert), "x5c[%zu]", i);
        if (sk_X509_push(rest, cert) <= 0) {
            X509_free(cert);
            SHD_BAIL(SHD_ERR_NOMEM);
        }
    }
    *ret_leaf = SHD_TAKE_PTR(leaf);
    *ret_rest = SHD_TAKE_PTR(rest);
    return SHD_OK;
}

shd_result shd_jws_verify_x5c(STACK_OF(X509) * roots, const char *host, enum shd_jws_alg alg,
                              struct shd_jws *jws)
{
    SHD_ENSURE_REF(roots);
    SHD_ENSURE_REF(jws);
    const struct shd_jose_alg_info *info = NULL;
    SHD_GUARD(alg_pinned(alg, jws, &info));
    SHD_CLEANUP(X509_free_p) X509 *leaf = NULL;
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *rest = NULL;
    SHD_GUARD(x5c_chain(json_object_get(jws->header, "x5c"), &leaf, &rest));
    struct shd_crypto_x509_verify_opts opts = {.host = host};
    SHD_GUARD_CTX(shd_crypto_x509_verify(leaf, rest, roots, &opts), "x5c chain");
    /* Go's x509.Verify defaults to ExtKeyUsageServerAuth, which the sidecar inherits. */
    SHD_ENSURE_MSG(X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) == 1, SHD_ERR_BAD_CERT,
                   "x5c leaf certificate is not valid for TLS server use");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    SHD_GUARD(shd_crypto_x509_pubkey(leaf, &key));
    return verify_with(key, alg, jws);
}

shd_result shd_jws_payload(const struct shd_jws *jws, const uint8_t **ret_payload, size_t *ret_len)
{
    SHD_ENSURE_REF(jws);
    SHD_ENSURE_REF(ret_payload);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE_MSG(jws->verified, SHD_ERR_USAGE, "JWS payload requested before verification");
    *ret_payload = jws->payload;
    *ret_len = jws->payload_len;
    return SHD_OK;
}

shd_result shd_jws_payload_json(const struct shd_jws *jws, const json_t **ret_json)
{
    SHD_ENSURE_REF(jws);
    SHD_ENSURE_REF(ret_json);
    SHD_ENSURE_MSG(jws->verified, SHD_ERR_USAGE, "JWS payload requested before verification");
    SHD_ENSURE_MSG(jws->payload_json != NULL, SHD_ERR_JSON, "JWS payload is not JSON");
    *ret_json = jws->payload_json;
    return SHD_OK;
}

/* The protected header of shd_jws_sign as a JSON object. */
static shd_result sign_header(const struct shd_jose_alg_info *info,
                              const struct shd_jws_sign_header *hdr, json_t **ret)
{
    SHD_CLEANUP_JSON json_t *h = json_object();
    SHD_ENSURE(h != NULL, SHD_ERR_NOMEM);
    SHD_ENSURE(json_object_set_new(h, "alg", json_string(info->name)) == 0, SHD_ERR_NOMEM);
    const struct {
        const char *name;
        const char *value;
    } opt[] = {{"kid", hdr->kid}, {"jku", hdr->jku}, {"typ", hdr->typ}};
    for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
        if (opt[i].value != NULL) {
            json_t *v = json_string(opt[i].value);
            SHD_ENSURE_MSG(v != NULL, SHD_ERR_INPUT, "header %s is not UTF-8", opt[i].name);
            SHD_ENSURE(json_object_set_new(h, opt[i].name, v) == 0, SHD_ERR_NOMEM);
        }
    }
    if (hdr->x5c_len > 0) {
        SHD_ENSURE_REF(hdr->x5c);
        json_t *arr = json_array();
        SHD_ENSURE(arr != NULL && json_object_set_new(h, "x5c", arr) == 0, SHD_ERR_NOMEM);
        for (size_t i = 0; i < hdr->x5c_len; i++) {
            SHD_CLEANUP_FREE uint8_t *der = NULL;
            SHD_CLEANUP_FREE char *b64 = NULL;
            size_t der_len = 0;
            SHD_GUARD(shd_crypto_x509_export_der(hdr->x5c[i], &der, &der_len));
            SHD_GUARD(shd_b64_encode(der, der_len, SHD_B64_STD_PAD, &b64, NULL));
            SHD_ENSURE(json_array_append_new(arr, json_string(b64)) == 0, SHD_ERR_NOMEM);
        }
    }
    *ret = SHD_TAKE_PTR(h);
    return SHD_OK;
}

/* Appends the unpadded base64url of in to buf at *pos (buf sized by the caller). */
static shd_result put_b64(const uint8_t *in, size_t n, char *buf, size_t cap, size_t *pos)
{
    size_t w = 0;
    SHD_GUARD(shd_b64_encode_into(in, n, SHD_B64_URL_NOPAD, buf + *pos, cap - *pos, &w));
    *pos += w;
    return SHD_OK;
}

shd_result shd_jws_sign(const struct shd_jws_sign_header *hdr, const uint8_t *payload,
                        size_t payload_len, EVP_PKEY *key, enum shd_jws_alg alg, char **ret_token,
                        size_t *ret_len)
{
    static const struct shd_jws_sign_header none = {0};
    SHD_ENSURE(payload != NULL || payload_len == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(ret_token);
    const struct shd_jose_alg_info *info = shd_jose_alg_info(alg);
    SHD_ENSURE_MSG(info != NULL, SHD_ERR_USAGE, "algorithm %d is not a JWS algorithm", (int)alg);
    SHD_GUARD(shd_jose_key_check(info, key));
    SHD_CLEANUP_JSON json_t *h = NULL;
    SHD_GUARD(sign_header(info, hdr != NULL ? hdr : &none, &h));
    SHD_CLEANUP_FREE char *htext = NULL;
    size_t hlen = 0;
    SHD_GUARD(shd_json_go_dump(h, SHD_JSON_SORT_KEYS, &htext, &hlen));

    /* header.payload.signature; the signature is at most 2 * 66 bytes or an 8192-bit modulus. */
    size_t cap = 0;
    size_t plen = shd_b64_encoded_len(payload_len, SHD_B64_URL_NOPAD);
    SHD_ENSURE(plen != SIZE_MAX, SHD_ERR_OVERFLOW);
    SHD_GUARD(shd_add_overflow(shd_b64_encoded_len(hlen, SHD_B64_URL_NOPAD), plen, &cap));
    SHD_GUARD(shd_add_overflow(cap, 2 + 1 + shd_b64_encoded_len(1024, SHD_B64_URL_NOPAD), &cap));
    SHD_CLEANUP_FREE char *tok = shd_alloc(cap);
    SHD_ENSURE(tok != NULL, SHD_ERR_NOMEM);
    size_t pos = 0;
    SHD_GUARD(put_b64((const uint8_t *)htext, hlen, tok, cap, &pos));
    tok[pos++] = '.';
    SHD_GUARD(put_b64(payload, payload_len, tok, cap, &pos));
    SHD_CLEANUP_FREE uint8_t *sig = NULL;
    size_t sig_len = 0;
    SHD_GUARD(shd_jose_sig_sign(info, key, (const uint8_t *)tok, pos, &sig, &sig_len));
    tok[pos++] = '.';
    SHD_GUARD(put_b64(sig, sig_len, tok, cap, &pos));
    if (ret_len != NULL) {
        *ret_len = pos;
    }
    *ret_token = SHD_TAKE_PTR(tok);
    return SHD_OK;
}
