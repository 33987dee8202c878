/*
 * akv_keys.c - Key Vault key management: PUT /keys/{name} (import), POST /keys/{name}/create,
 * GET /keys/{name}[/{version}] and GET /keys/{name}/versions, with the KeyBundle shapes the
 * SDK deserialiser reads (real-clients.md §1.3) and exportable keys with release policies
 * (azure-formats.md §5.1).
 */
#include <string.h>
#include <strings.h>

#include "akv_int.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define KEYS_MAX_TAGS 15
#define KEYS_TAG_NAME_MAX 512
#define KEYS_TAG_VALUE_MAX 256
#define KEYS_MAX_OPS 8
#define KEYS_DEFAULT_POLICY_TYPE "application/json; charset=utf-8"

SHD_DEFINE_CLEANUP(struct aemu_key_version, aemu_key_version_free, keys_version_freep)

/* JsonWebKeyOperation values of keys.json. */
static const char *const keys_ops_allowed[] = {"encrypt", "decrypt", "sign",   "verify",
                                               "wrapKey", "unwrapKey", "import", "export"};

static const char *const keys_ops_rsa[] = {"encrypt", "decrypt", "sign",
                                           "verify",  "wrapKey", "unwrapKey"};
static const char *const keys_ops_ec[] = {"sign", "verify"};
static const char *const keys_ops_oct[] = {"encrypt", "decrypt", "wrapKey", "unwrapKey"};

static shd_result keys_ops_default(enum shd_jwk_kty kind, json_t **ret)
{
    const char *const *ops = keys_ops_rsa;
    size_t n = sizeof(keys_ops_rsa) / sizeof(keys_ops_rsa[0]);
    if (kind == SHD_JWK_KTY_EC) {
        ops = keys_ops_ec;
        n = sizeof(keys_ops_ec) / sizeof(keys_ops_ec[0]);
    } else if (kind == SHD_JWK_KTY_OCT) {
        ops = keys_ops_oct;
        n = sizeof(keys_ops_oct) / sizeof(keys_ops_oct[0]);
    }
    json_t *arr = json_array();
    SHD_ENSURE(arr != NULL, SHD_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(arr, json_string(ops[i])) != 0) {
            json_decref(arr);
            SHD_BAIL(SHD_ERR_NOMEM);
        }
    }
    *ret = arr;
    return SHD_OK;
}

static shd_result keys_ops_parse(const json_t *ops, enum shd_jwk_kty kind, json_t **ret)
{
    if (ops == NULL || json_is_null(ops)) {
        return keys_ops_default(kind, ret);
    }
    SHD_ENSURE_MSG(json_is_array(ops) && json_array_size(ops) <= KEYS_MAX_OPS, SHD_ERR_INPUT,
                   "key_ops must be an array of at most %d operations", KEYS_MAX_OPS);
    size_t i;
    const json_t *op;
    json_array_foreach(ops, i, op)
    {
        SHD_ENSURE_MSG(json_is_string(op), SHD_ERR_INPUT, "key_ops[%zu] is not a string", i);
        bool known = false;
        for (size_t k = 0; k < sizeof(keys_ops_allowed) / sizeof(keys_ops_allowed[0]); k++) {
            known = known || strcmp(json_string_value(op), keys_ops_allowed[k]) == 0;
        }
        SHD_ENSURE_MSG(known, SHD_ERR_INPUT, "key_ops[%zu] is not a valid key operation", i);
    }
    json_t *copy = json_deep_copy(ops);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    *ret = copy;
    return SHD_OK;
}

static shd_result keys_tags_parse(json_t *tags, json_t **ret)
{
    if (tags == NULL || json_is_null(tags)) {
        *ret = NULL;
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_object(tags) && json_object_size(tags) <= KEYS_MAX_TAGS, SHD_ERR_INPUT,
                   "tags must be an object of at most %d strings", KEYS_MAX_TAGS);
    const char *k;
    const json_t *v;
    json_object_foreach(tags, k, v)
    {
        SHD_ENSURE_MSG(json_is_string(v) && strlen(k) <= KEYS_TAG_NAME_MAX &&
                           json_string_length(v) <= KEYS_TAG_VALUE_MAX,
                       SHD_ERR_INPUT, "tags must be an object of strings (names up to %d bytes, "
                                      "values up to %d)", KEYS_TAG_NAME_MAX, KEYS_TAG_VALUE_MAX);
    }
    json_t *copy = json_deep_copy(tags);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    *ret = copy;
    return SHD_OK;
}

/* attributes: enabled and exportable (other members, e.g. nbf/exp, are accepted and ignored). */
static shd_result keys_attributes_parse(const json_t *attrs, struct aemu_key_version *v)
{
    v->enabled = true;
    v->exportable = false;
    if (attrs == NULL || json_is_null(attrs)) {
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_object(attrs), SHD_ERR_INPUT, "attributes must be an object");
    const json_t *en = json_object_get(attrs, "enabled");
    const json_t *ex = json_object_get(attrs, "exportable");
    SHD_ENSURE_MSG(en == NULL || json_is_null(en) || json_is_boolean(en), SHD_ERR_INPUT,
                   "attributes.enabled must be a boolean");
    SHD_ENSURE_MSG(ex == NULL || json_is_null(ex) || json_is_boolean(ex), SHD_ERR_INPUT,
                   "attributes.exportable must be a boolean");
    v->enabled = en == NULL || json_is_null(en) || json_is_true(en);
    v->exportable = json_is_true(ex);
    return SHD_OK;
}

/* release_policy {contentType?, immutable?, data}: data is base64url policy JSON (§5.1). */
static shd_result keys_policy_parse(const json_t *rp, struct aemu_key_version *v)
{
    if (rp == NULL || json_is_null(rp)) {
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_object(rp), SHD_ERR_INPUT, "release_policy must be an object");
    const char *ctype = NULL;
    const char *data = NULL;
    SHD_GUARD_CTX(shd_json_get_string_opt(rp, "contentType", &ctype), "release_policy");
    SHD_GUARD_CTX(shd_json_get_string(rp, "data", &data), "release_policy");
    const json_t *imm = json_object_get(rp, "immutable");
    SHD_ENSURE_MSG(imm == NULL || json_is_null(imm) || json_is_boolean(imm), SHD_ERR_INPUT,
                   "release_policy.immutable must be a boolean");
    if (ctype == NULL || ctype[0] == '\0') {
        ctype = KEYS_DEFAULT_POLICY_TYPE;
    }
    SHD_ENSURE_MSG(strncasecmp(ctype, "application/json", 16) == 0 && strlen(ctype) <= 128,
                   SHD_ERR_INPUT, "Key Release Policy: unsupported content type");
    SHD_CLEANUP_FREE uint8_t *text = NULL;
    size_t len = 0;
    SHD_GUARD_CTX(shd_b64_decode(data, strlen(data), SHD_B64_URL | SHD_B64_LENIENT, &text, &len),
                  "release_policy.data");
    SHD_GUARD(aemu_release_policy_parse((const char *)text, len, &v->policy));
    /* Stored and shown as unpadded base64url, whatever flavour the client sent. */
    SHD_GUARD(shd_b64_encode(text, len, SHD_B64_URL_NOPAD, &v->policy_data, NULL));
    v->policy_content_type = shd_strdup(ctype);
    SHD_ENSURE(v->policy_content_type != NULL, SHD_ERR_NOMEM);
    v->policy_immutable = json_is_true(imm);
    return SHD_OK;
}

/* "RSA-HSM" style name: -HSM when asked for, when importing with hsm:true, or on Managed HSM. */
static shd_result keys_kty_name(const char *kty, bool hsm, struct aemu_key_version *v,
                                enum shd_jwk_kty *ret_kind)
{
    enum shd_jwk_kty kind;
    SHD_GUARD(shd_jwk_kty_parse(kty, &kind));
    bool as_hsm = hsm || strstr(kty, "-HSM") != NULL;
    const char *base = shd_jwk_kty_name(kind);
    size_t bn = strlen(base);
    shd_memcpy(v->kty, base, bn);
    if (as_hsm) {
        shd_memcpy(v->kty + bn, "-HSM", 5);
    } else {
        v->kty[bn] = '\0';
    }
    *ret_kind = kind;
    return SHD_OK;
}

static shd_result keys_common_parse(const json_t *body, enum shd_jwk_kty kind,
                                    const json_t *key_ops, struct aemu_key_version *v)
{
    SHD_GUARD(keys_ops_parse(key_ops, kind, &v->key_ops));
    SHD_GUARD(keys_attributes_parse(json_object_get(body, "attributes"), v));
    SHD_GUARD(keys_tags_parse(json_object_get(body, "tags"), &v->tags));
    SHD_GUARD(keys_policy_parse(json_object_get(body, "release_policy"), v));
    SHD_ENSURE_MSG(!v->exportable || v->policy != NULL, SHD_ERR_INPUT,
                   "AKV.SKR.1004: Exportable keys must have release policy.");
    return SHD_OK;
}

static shd_result keys_body(const struct akv_req *rq, json_t **ret)
{
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(rq->req, &len);
    SHD_ENSURE_MSG(len > 0, SHD_ERR_INPUT, "The request body is missing.");
    SHD_GUARD_CTX(shd_json_parse((const char *)body, len, NULL, ret), "The request body");
    if (!json_is_object(*ret)) {
        json_decref(*ret);
        *ret = NULL;
        SHD_BAIL_MSG(SHD_ERR_INPUT, "The request body must be a JSON object.");
    }
    return SHD_OK;
}

/* ---- KeyBundle ---- */

shd_result akv_attributes_json(const struct aemu_key_version *v, json_t **ret)
{
    json_t *a = json_pack("{s:b,s:I,s:I,s:s,s:i,s:b}", "enabled", v->enabled, "created",
                          (json_int_t)v->created, "updated", (json_int_t)v->updated,
                          "recoveryLevel", "Recoverable+Purgeable", "recoverableDays", 90,
                          "exportable", v->exportable);
    SHD_ENSURE(a != NULL, SHD_ERR_NOMEM);
    *ret = a;
    return SHD_OK;
}

shd_result akv_policy_json(const struct aemu_key_version *v, bool with_immutable, json_t **ret)
{
    json_t *p = with_immutable ? json_pack("{s:s,s:b,s:s}", "contentType",
                                           v->policy_content_type, "immutable",
                                           v->policy_immutable, "data", v->policy_data)
                               : json_pack("{s:s,s:s}", "contentType", v->policy_content_type,
                                           "data", v->policy_data);
    SHD_ENSURE(p != NULL, SHD_ERR_NOMEM);
    *ret = p;
    return SHD_OK;
}

static shd_result keys_bundle(const struct akv_req *rq, const struct aemu_key_version *v,
                              json_t **ret)
{
    char kid[AKV_URL_MAX];
    SHD_GUARD(akv_kid(rq, v->name, v->version, kid, sizeof(kid)));
    SHD_CLEANUP_JSON json_t *b = json_object();
    SHD_ENSURE(b != NULL, SHD_ERR_NOMEM);
    json_t *part = NULL;
    SHD_GUARD(aemu_key_version_public_jwk(kid, v, &part));
    SHD_ENSURE(json_object_set_new(b, "key", part) == 0, SHD_ERR_NOMEM);
    SHD_GUARD(akv_attributes_json(v, &part));
    SHD_ENSURE(json_object_set_new(b, "attributes", part) == 0, SHD_ERR_NOMEM);
    if (v->tags != NULL) {
        SHD_ENSURE(json_object_set_new(b, "tags", json_deep_copy(v->tags)) == 0, SHD_ERR_NOMEM);
    }
    if (v->policy != NULL) {
        SHD_GUARD(akv_policy_json(v, true, &part));
        SHD_ENSURE(json_object_set_new(b, "release_policy", part) == 0, SHD_ERR_NOMEM);
    }
    *ret = SHD_TAKE_PTR(b);
    return SHD_OK;
}

static shd_result keys_store_and_reply(struct akv_req *rq, struct aemu_key_version **v)
{
    const struct aemu_key_version *stored = NULL;
    SHD_GUARD(aemu_keystore_add(rq->vault, *v, rq->akv->keys, &stored));
    *v = NULL;
    SHD_CLEANUP_JSON json_t *bundle = NULL;
    SHD_GUARD(keys_bundle(rq, stored, &bundle));
    return akv_reply_json(rq, 200, bundle);
}

static shd_result keys_new_version(const struct akv_req *rq, struct aemu_key_version **ret)
{
    struct aemu_key_version *v = shd_alloc(sizeof(*v));
    SHD_ENSURE(v != NULL, SHD_ERR_NOMEM);
    shd_memcpy(v->name, rq->name, strlen(rq->name));
    *ret = v;
    return SHD_OK;
}

/* ---- create ---- */

static shd_result keys_curve(const json_t *body, enum shd_crypto_curve *ret)
{
    const char *crv = NULL;
    SHD_GUARD(shd_json_get_string_opt(body, "crv", &crv));
    static const struct {
        const char *name;
        enum shd_crypto_curve curve;
    } curves[] = {{"P-256", SHD_CRYPTO_CURVE_P256},
                  {"P-384", SHD_CRYPTO_CURVE_P384},
                  {"P-521", SHD_CRYPTO_CURVE_P521}};
    if (crv == NULL) {
        *ret = SHD_CRYPTO_CURVE_P256;
        return SHD_OK;
    }
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (strcmp(crv, curves[i].name) == 0) {
            *ret = curves[i].curve;
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "The curve is not supported (P-256, P-384 or P-521).");
}

static shd_result keys_create_parse(const struct akv_req *rq, const json_t *body,
                                    struct aemu_key_version *v)
{
    const char *kty = NULL;
    SHD_GUARD(shd_json_get_string(body, "kty", &kty));
    enum shd_jwk_kty kind;
    SHD_GUARD(keys_kty_name(kty, rq->akv->managed_hsm, v, &kind));
    int64_t bits = 0;
    const json_t *ksz = json_object_get(body, "key_size");
    if (ksz != NULL && !json_is_null(ksz)) {
        SHD_GUARD(shd_json_get_int(body, "key_size", 1, 65536, &bits));
    }
    if (bits == 0) {
        bits = kind == SHD_JWK_KTY_OCT ? 256 : 2048;
    }
    const json_t *pe = json_object_get(body, "public_exponent");
    SHD_ENSURE_MSG(pe == NULL || json_is_null(pe) ||
                       (json_is_integer(pe) && json_integer_value(pe) == 65537),
                   SHD_ERR_UNSUPPORTED, "Only the public exponent 65537 is supported.");
    enum shd_crypto_curve curve = SHD_CRYPTO_CURVE_P256;
    if (kind == SHD_JWK_KTY_EC) {
        SHD_GUARD(keys_curve(body, &curve));
    }
    SHD_GUARD(keys_common_parse(body, kind, json_object_get(body, "key_ops"), v));
    return aemu_key_material_generate(kind, (unsigned)bits, curve, &v->material);
}

shd_result akv_op_create(struct akv_req *rq)
{
    SHD_CLEANUP_JSON json_t *body = NULL;
    SHD_CLEANUP(keys_version_freep) struct aemu_key_version *v = NULL;
    shd_result r = keys_body(rq, &body);
    if (shd_is_ok(r)) {
        r = keys_new_version(rq, &v);
    }
    if (shd_is_ok(r)) {
        r = keys_create_parse(rq, body, v);
    }
    if (shd_is_ok(r)) {
        r = keys_store_and_reply(rq, &v);
    }
    return shd_is_ok(r) ? r : akv_reply_failure(rq, r);
}

/* ---- import ---- */

static shd_result keys_import_parse(const struct akv_req *rq, const json_t *body,
                                    struct aemu_key_version *v)
{
    json_t *jwk = NULL;
    SHD_GUARD(shd_json_get_object(body, "key", &jwk));
    const char *kty = NULL;
    SHD_GUARD_CTX(shd_json_get_string(jwk, "kty", &kty), "key");
    const json_t *hsm = json_object_get(body, "hsm");
    SHD_ENSURE_MSG(hsm == NULL || json_is_null(hsm) || json_is_boolean(hsm), SHD_ERR_INPUT,
                   "hsm must be a boolean");
    enum shd_jwk_kty kind;
    SHD_GUARD(keys_kty_name(kty, rq->akv->managed_hsm || json_is_true(hsm), v, &kind));
    SHD_GUARD(keys_common_parse(body, kind, json_object_get(jwk, "key_ops"), v));
    enum shd_jwk_kty got;
    SHD_GUARD_CTX(aemu_key_material_import(jwk, &v->material, &got), "key");
    SHD_ENSURE(got == kind, SHD_ERR_INTERNAL);
    return SHD_OK;
}

shd_result akv_op_import(struct akv_req *rq)
{
    SHD_CLEANUP_JSON json_t *body = NULL;
    SHD_CLEANUP(keys_version_freep) struct aemu_key_version *v = NULL;
    shd_result r = keys_body(rq, &body);
    if (shd_is_ok(r)) {
        r = keys_new_version(rq, &v);
    }
    if (shd_is_ok(r)) {
        r = keys_import_parse(rq, body, v);
    }
    if (shd_is_ok(r)) {
        r = keys_store_and_reply(rq, &v);
    }
    return shd_is_ok(r) ? r : akv_reply_failure(rq, r);
}

/* ---- get, versions ---- */

shd_result akv_op_get(struct akv_req *rq)
{
    const struct aemu_key_version *v = NULL;
    shd_result r = aemu_keystore_get(rq->vault, rq->name, rq->version, rq->akv->keys, &v);
    if (shd_is_err(r)) {
        return akv_reply_failure(rq, r);
    }
    SHD_CLEANUP_JSON json_t *bundle = NULL;
    SHD_GUARD(keys_bundle(rq, v, &bundle));
    return akv_reply_json(rq, 200, bundle);
}

static shd_result keys_versions_json(const struct akv_req *rq,
                                     const struct aemu_key_version *const *list, size_t n,
                                     json_t **ret)
{
    SHD_CLEANUP_JSON json_t *arr = json_array();
    SHD_ENSURE(arr != NULL, SHD_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        char kid[AKV_URL_MAX];
        SHD_GUARD(akv_kid(rq, list[i]->name, list[i]->version, kid, sizeof(kid)));
        json_t *attrs = NULL;
        SHD_GUARD(akv_attributes_json(list[i], &attrs));
        json_t *item = json_pack("{s:s,s:o}", "kid", kid, "attributes", attrs);
        SHD_ENSURE(item != NULL, SHD_ERR_NOMEM);
        if (list[i]->tags != NULL) {
            SHD_ENSURE(json_object_set_new(item, "tags", json_deep_copy(list[i]->tags)) == 0,
                       SHD_ERR_NOMEM);
        }
        SHD_ENSURE(json_array_append_new(arr, item) == 0, SHD_ERR_NOMEM);
    }
    json_t *page = json_pack("{s:O,s:n}", "value", arr, "nextLink");
    SHD_ENSURE(page != NULL, SHD_ERR_NOMEM);
    *ret = page;
    return SHD_OK;
}

shd_result akv_op_versions(struct akv_req *rq)
{
    const struct aemu_key_version **list = NULL;
    size_t n = 0;
    shd_result r = aemu_keystore_versions(rq->vault, rq->name, rq->akv->keys, &list, &n);
    if (shd_is_err(r)) {
        return akv_reply_failure(rq, r);
    }
    SHD_CLEANUP_JSON json_t *page = NULL;
    r = keys_versions_json(rq, list, n, &page);
    shd_free(list);
    SHD_GUARD(r);
    return akv_reply_json(rq, 200, page);
}
