/*
 * keysrc_reply.c - the parser of key-release replies (keysrc.h, proxy_keysrc_reply_key): the
 * sidecar's {"key":"<JWK string>"} (skr-sidecar.md §2.5, §5.6; gcp-wif's /key/release) and
 * Fr0ntierX's {"privateKey","publicKey"} PEM pair (polaris-protocol.md §3.2).
 *
 * The reply holds the private key in clear. Every copy made here is wiped: the inner JWK
 * document is decref'd (jansson's heap is wiped once shd_json_allocator_install ran), the PEM
 * copy is wiped by shd_crypto_privkey_load itself. Error messages never quote the reply.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "keysrc.h"

/* A private JWK is a flat object; its text is far below the reply cap. */
static const struct shd_json_limits REPLY_LIMITS = {.max_bytes = PROXY_KEYSRC_MAX_REPLY,
                                                    .max_depth = 4};

static shd_result key_from_jwk_text(const char *text, size_t len, EVP_PKEY **ret_key)
{
    SHD_CLEANUP_JSON json_t *jwk = NULL;
    SHD_GUARD_CTX(shd_json_parse(text, len, &REPLY_LIMITS, &jwk), "the \"key\" JWK");
    SHD_ENSURE_MSG(json_is_object(jwk), SHD_ERR_INPUT, "the \"key\" JWK is not a JSON object");
    const char *kty = NULL;
    SHD_GUARD_CTX(shd_json_get_string(jwk, "kty", &kty), "the \"key\" JWK");
    enum shd_jwk_kty t = 0;
    SHD_GUARD_CTX(shd_jwk_kty_parse(kty, &t), "the \"key\" JWK");
    SHD_ENSURE_MSG(t == SHD_JWK_KTY_RSA, SHD_ERR_UNSUPPORTED,
                   "the released key is %s, not RSA (the envelope needs RSA-OAEP)",
                   shd_jwk_kty_name(t));
    SHD_GUARD_CTX(shd_jwk_import_private(jwk, ret_key), "the released JWK");
    return SHD_OK;
}

static shd_result key_from_pems(const json_t *doc, EVP_PKEY **ret_key)
{
    const char *priv = NULL;
    size_t priv_len = 0;
    const char *pub = NULL;
    SHD_GUARD_CTX(shd_json_get_stringn(doc, "privateKey", &priv, &priv_len),
                  "key reply without \"key\"");
    SHD_GUARD_CTX(shd_json_get_string_opt(doc, "publicKey", &pub), "key reply");

    /* shd_crypto_privkey_load wipes its input: give it a copy, never the jansson string. */
    uint8_t *copy = shd_memdup(priv, priv_len);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    shd_result r = shd_crypto_privkey_load(copy, priv_len, &key);
    shd_free_wipe(copy, priv_len);
    SHD_GUARD_CTX(r, "\"privateKey\"");
    SHD_ENSURE_MSG(shd_crypto_key_kind(key) == SHD_CRYPTO_KEY_RSA, SHD_ERR_UNSUPPORTED,
                   "\"privateKey\" is not an RSA key (the envelope needs RSA-OAEP)");
    if (pub != NULL) {
        SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *pk = NULL;
        SHD_GUARD_CTX(shd_crypto_pubkey_load((const uint8_t *)pub, strlen(pub), &pk),
                      "\"publicKey\"");
        SHD_ENSURE_MSG(EVP_PKEY_eq(key, pk) == 1, SHD_ERR_BAD_KEY,
                       "\"publicKey\" is not the public part of \"privateKey\"");
    }
    *ret_key = SHD_TAKE_PTR(key);
    return SHD_OK;
}

shd_result proxy_keysrc_reply_key(const uint8_t *body, size_t len, EVP_PKEY **ret_key)
{
    SHD_ENSURE((body != NULL || len == 0) && ret_key != NULL, SHD_ERR_NULL);
    SHD_CLEANUP_JSON json_t *doc = NULL;
    SHD_GUARD_CTX(shd_json_parse((const char *)body, len, &REPLY_LIMITS, &doc), "key reply");
    SHD_ENSURE_MSG(json_is_object(doc), SHD_ERR_INPUT, "key reply: not a JSON object");
    EVP_PKEY *key = NULL;
    if (json_object_get(doc, "key") != NULL) {
        const char *text = NULL;
        size_t text_len = 0;
        SHD_GUARD_CTX(shd_json_get_stringn(doc, "key", &text, &text_len), "key reply");
        SHD_GUARD(key_from_jwk_text(text, text_len, &key));
    } else {
        SHD_GUARD(key_from_pems(doc, &key));
    }
    *ret_key = key;
    return SHD_OK;
}
