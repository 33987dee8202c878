/*
 * akv_release.c - POST /keys/{name}[/{version}]/release (azure-formats.md §5.3-5.5): check the
 * target attestation token against the key's release policy, wrap the key for the RSA key the
 * token carries in x-ms-runtime.keys, and answer {"value":"<JWS>"} whose payload is
 *   {"request":{"api-version","enc","kid","nonce"?},
 *    "response":{"key":{"attributes":{...},"key":{kid,kty,key_ops,<public>,"key_hsm"},
 *                       "release_policy":{"contentType","data"}}}}
 * with key_hsm = b64url({"schema_version":"1.0.0","header":{"kid","alg":"dir","enc"},
 * "ciphertext":b64url(RSA-OAEP(KEK) || KWP(KEK, key))}).
 */
#include <string.h>

#include "akv_int.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/jwk.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define RELEASE_NONCE_MAX 1024u

SHD_DEFINE_CLEANUP(EVP_PKEY, EVP_PKEY_free, release_pkey_freep)

struct release_params {
    const char *target;
    size_t target_len;
    const char *nonce; /* NULL when absent */
    enum aemu_key_enc enc;
};

static shd_result release_parse(const json_t *body, struct release_params *p)
{
    SHD_ENSURE_MSG(json_is_object(body), SHD_ERR_INPUT, "The request body must be a JSON object.");
    const json_t *target = json_object_get(body, "target");
    SHD_ENSURE_MSG(json_is_string(target) && json_string_length(target) > 0, SHD_ERR_INPUT,
                   "Property 'target' is required and must be a non-empty string.");
    p->target = json_string_value(target);
    p->target_len = json_string_length(target);
    SHD_GUARD(shd_json_get_string_opt(body, "nonce", &p->nonce));
    SHD_ENSURE_MSG(p->nonce == NULL || strlen(p->nonce) <= RELEASE_NONCE_MAX, SHD_ERR_INPUT,
                   "Property 'nonce' is too long.");
    const char *enc = NULL;
    SHD_GUARD(shd_json_get_string_opt(body, "enc", &enc));
    p->enc = AEMU_KEY_ENC_CKM_RSA_AES_KEY_WRAP; /* the service default (§5.3) */
    if (enc != NULL && shd_is_err(aemu_key_enc_parse(enc, &p->enc))) {
        shd_error_clear();
        SHD_BAIL_MSG(SHD_ERR_INPUT,
                     "Invalid 'enc': supported are CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256 "
                     "and RSA_AES_KEY_WRAP_384.");
    }
    return SHD_OK;
}

static bool release_has_encrypt(const json_t *jwk)
{
    const json_t *use = json_object_get(jwk, "use");
    if (json_is_string(use) && strcmp(json_string_value(use), "enc") == 0) {
        return true;
    }
    size_t i;
    const json_t *op;
    json_array_foreach(json_object_get(jwk, "key_ops"), i, op)
    {
        if (json_is_string(op) && strcmp(json_string_value(op), "encrypt") == 0) {
            return true;
        }
    }
    return false;
}

/*
 * The wrapping key: the first RSA JWK in x-ms-runtime.keys meant for encryption (key_ops with
 * "encrypt", as the ACI sidecar and the CVM's TpmEphemeralEncryptionKey carry, or use "enc"),
 * §5.5. *ret stays NULL when there is none.
 */
static shd_result release_wrapping_key(const json_t *claims, EVP_PKEY **ret)
{
    json_t *keys = NULL;
    SHD_GUARD(shd_json_get_path(claims, "x-ms-runtime.keys", &keys));
    size_t i;
    const json_t *jwk;
    json_array_foreach(keys, i, jwk)
    {
        const json_t *kty = json_object_get(jwk, "kty");
        if (!json_is_string(kty) || strcmp(json_string_value(kty), "RSA") != 0 ||
            !release_has_encrypt(jwk)) {
            continue;
        }
        if (shd_is_ok(shd_jwk_import_public(jwk, ret))) {
            return SHD_OK;
        }
        shd_error_clear();
    }
    return SHD_OK;
}

static shd_result release_key_hsm(const char *kid, enum aemu_key_enc enc, const uint8_t *ct,
                                  size_t ct_len, char **ret)
{
    SHD_CLEANUP_FREE char *ct_b64 = NULL;
    SHD_GUARD(shd_b64_encode(ct, ct_len, SHD_B64_URL_NOPAD, &ct_b64, NULL));
    SHD_CLEANUP_JSON json_t *blob =
        json_pack("{s:s,s:{s:s,s:s,s:s},s:s}", "schema_version", "1.0.0", "header", "kid", kid,
                  "alg", "dir", "enc", aemu_key_enc_name(enc), "ciphertext", ct_b64);
    SHD_ENSURE(blob != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP_FREE char *text = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump(blob, 0, &text, &len));
    return shd_b64_encode((const uint8_t *)text, len, SHD_B64_URL_NOPAD, ret, NULL);
}

static shd_result release_payload(const struct akv_req *rq, const struct aemu_key_version *v,
                                  const struct release_params *p, const char *key_hsm,
                                  char **ret, size_t *ret_len)
{
    char req_kid[AKV_URL_MAX];
    char kid[AKV_URL_MAX];
    SHD_GUARD(akv_kid(rq, v->name, rq->version, req_kid, sizeof(req_kid)));
    SHD_GUARD(akv_kid(rq, v->name, v->version, kid, sizeof(kid)));
    SHD_CLEANUP_JSON json_t *request = json_pack("{s:s,s:s,s:s}", "api-version", rq->api_version,
                                                 "enc", aemu_key_enc_name(p->enc), "kid", req_kid);
    SHD_ENSURE(request != NULL, SHD_ERR_NOMEM);
    if (p->nonce != NULL) {
        SHD_ENSURE(json_object_set_new(request, "nonce", json_string(p->nonce)) == 0,
                   SHD_ERR_NOMEM);
    }
    json_t *jwk = NULL;
    SHD_GUARD(aemu_key_version_public_jwk(kid, v, &jwk));
    SHD_CLEANUP_JSON json_t *key = jwk;
    SHD_ENSURE(json_object_set_new(key, "key_hsm", json_string(key_hsm)) == 0, SHD_ERR_NOMEM);
    json_t *attrs = NULL;
    SHD_GUARD(akv_attributes_json(v, &attrs));
    json_t *policy = NULL;
    if (shd_is_err(akv_policy_json(v, false, &policy))) {
        json_decref(attrs);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    SHD_CLEANUP_JSON json_t *payload =
        json_pack("{s:O,s:{s:{s:o,s:O,s:o}}}", "request", request, "response", "key",
                  "attributes", attrs, "key", key, "release_policy", policy);
    SHD_ENSURE(payload != NULL, SHD_ERR_NOMEM);
    return shd_json_go_dump(payload, 0, ret, ret_len);
}

/* Status and reply for a target that did not pass. */
static shd_result release_refuse(struct akv_req *rq, enum akv_target_outcome outcome,
                                 const char *msg)
{
    if (outcome == AKV_TARGET_DENIED) {
        return akv_reply_error(rq, 403, "Forbidden", "%s", msg);
    }
    return akv_reply_error(rq, 400, "BadParameter", "%s", msg);
}

static shd_result release_key_state(struct akv_req *rq, const struct aemu_key_version *v,
                                    bool *ret_ok)
{
    *ret_ok = false;
    if (!v->enabled) {
        return akv_reply_error(rq, 403, "Forbidden",
                               "Operation \"release\" is not allowed on a disabled key.");
    }
    if (!v->exportable || v->policy == NULL) {
        return akv_reply_error(rq, 403, "Forbidden",
                               "Operation \"release\" is not allowed: the key is not exportable "
                               "or has no release policy.");
    }
    *ret_ok = true;
    return SHD_OK;
}

static shd_result release_wrap_and_reply(struct akv_req *rq, const struct aemu_key_version *v,
                                         const struct release_params *p, const json_t *claims)
{
    SHD_CLEANUP(release_pkey_freep) EVP_PKEY *wrapping = NULL;
    SHD_GUARD(release_wrapping_key(claims, &wrapping));
    if (wrapping == NULL) {
        return akv_reply_error(rq, 400, "BadParameter",
                               "Target environment attestation statement has no RSA encryption "
                               "key in x-ms-runtime.keys.");
    }
    SHD_CLEANUP_FREE uint8_t *ct = NULL;
    size_t ct_len = 0;
    SHD_GUARD(aemu_key_version_wrap(p->enc, wrapping, v, &ct, &ct_len));
    char kid[AKV_URL_MAX];
    SHD_GUARD(akv_kid(rq, v->name, v->version, kid, sizeof(kid)));
    SHD_CLEANUP_FREE char *key_hsm = NULL;
    SHD_GUARD(release_key_hsm(kid, p->enc, ct, ct_len, &key_hsm));
    SHD_CLEANUP_FREE char *payload = NULL;
    size_t payload_len = 0;
    SHD_GUARD(release_payload(rq, v, p, key_hsm, &payload, &payload_len));
    SHD_CLEANUP_FREE char *token = NULL;
    SHD_GUARD(akv_signer_sign(rq->dns, (const uint8_t *)payload, payload_len, rq->akv->signer,
                              &token));
    SHD_CLEANUP_JSON json_t *reply = json_pack("{s:s}", "value", token);
    SHD_ENSURE(reply != NULL, SHD_ERR_NOMEM);
    return akv_reply_json(rq, 200, reply);
}

static shd_result release_run(struct akv_req *rq, const json_t *body)
{
    struct release_params p = {0};
    SHD_GUARD(release_parse(body, &p));
    const struct aemu_key_version *v = NULL;
    SHD_GUARD(aemu_keystore_get(rq->vault, rq->name, rq->version, rq->akv->keys, &v));
    bool ok = false;
    SHD_GUARD(release_key_state(rq, v, &ok));
    if (!ok) {
        return SHD_OK;
    }
    enum akv_target_outcome outcome = AKV_TARGET_BAD;
    char msg[AKV_MSG_MAX];
    json_t *claims = NULL;
    SHD_GUARD(akv_target_check(rq->akv, v, p.target, p.target_len, &outcome, msg, sizeof(msg),
                               &claims));
    if (outcome != AKV_TARGET_OK) {
        return release_refuse(rq, outcome, msg);
    }
    shd_result r = release_wrap_and_reply(rq, v, &p, claims);
    json_decref(claims);
    return r;
}

shd_result akv_op_release(struct akv_req *rq)
{
    if (!rq->api_release_ok) {
        return akv_reply_error(rq, 400, "BadParameter",
                               "Key release requires api-version 7.3 or later.");
    }
    size_t len = 0;
    const uint8_t *raw = shd_http_req_body(rq->req, &len);
    SHD_CLEANUP_JSON json_t *body = NULL;
    shd_result r = len == 0 ? shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__,
                                             "The request body is missing.")
                            : shd_json_parse((const char *)raw, len, NULL, &body);
    if (shd_is_ok(r)) {
        r = release_run(rq, body);
    }
    return shd_is_ok(r) ? r : akv_reply_failure(rq, r);
}
