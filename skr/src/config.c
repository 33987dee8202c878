/*
 * config.c - SkrSideCarArgs (AzureInformation JSON in base64), skr-sidecar.md §1.3.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <stdio.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/parse.h"
#include "shd/safety.h"
#include "util.h"

/* A string member of a Go struct: JSON name, Go struct name for error texts, destination. */
struct go_field {
    const char *json_name;
    char **dst;
};

/* Go's JSON kind names in UnmarshalTypeError. */
static const char *go_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    case JSON_NULL:
    default:
        return "null";
    }
}

/*
 * Copies the string members of obj into fields. Keys match exactly or case-insensitively
 * (encoding/json); a later key wins; null leaves the field as it is; unknown keys are ignored.
 */
static shd_result go_struct_strings(json_t *obj, const char *go_struct, const char *path,
                                    const struct go_field *fields, size_t n)
{
    const char *key = NULL;
    json_t *val = NULL;
    json_object_foreach(obj, key, val)
    {
        const struct go_field *f = NULL;
        for (size_t i = 0; i < n && f == NULL; i++) {
            if (strcmp(key, fields[i].json_name) == 0) {
                f = &fields[i];
            }
        }
        for (size_t i = 0; i < n && f == NULL; i++) {
            if (strcasecmp(key, fields[i].json_name) == 0) {
                f = &fields[i];
            }
        }
        if (f == NULL || json_is_null(val)) {
            continue;
        }
        SHD_ENSURE_MSG(json_is_string(val), SHD_ERR_CONFIG,
                       "json: cannot unmarshal %s into Go struct field %s.%s%s of type string",
                       go_kind(val), go_struct, path, f->json_name);
        const char *s = json_string_value(val);
        SHD_ENSURE_MSG(strlen(s) == json_string_length(val), SHD_ERR_CONFIG,
                       "field %s%s contains a NUL character", path, f->json_name);
        char *copy = shd_strdup(s);
        SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
        shd_free(*f->dst);
        *f->dst = copy;
    }
    return SHD_OK;
}

/* Finds the object member called name (exact, else case-insensitive, last one wins). */
static json_t *go_member(json_t *obj, const char *name)
{
    json_t *exact = NULL;
    json_t *folded = NULL;
    const char *key = NULL;
    json_t *val = NULL;
    json_object_foreach(obj, key, val)
    {
        if (strcmp(key, name) == 0) {
            exact = val;
        } else if (strcasecmp(key, name) == 0) {
            folded = val;
        }
    }
    return exact != NULL ? exact : folded;
}

/* A nested struct member: absent or null is fine, an object is read, anything else fails. */
static shd_result go_struct_member(json_t *root, const char *name, const char *go_struct,
                                   const struct go_field *fields, size_t n)
{
    json_t *obj = go_member(root, name);
    if (obj == NULL || json_is_null(obj)) {
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_object(obj), SHD_ERR_CONFIG,
                   "json: cannot unmarshal %s into Go struct field AzureInformation.%s of type "
                   "%s",
                   go_kind(obj), name, go_struct);
    char path[64];
    (void)snprintf(path, sizeof(path), "%s.", name);
    return go_struct_strings(obj, go_struct, path, fields, n);
}

static const struct {
    const char *name;
    enum skr_cert_endpoint_type type;
} ENDPOINT_TYPES[] = {
    {"LocalTHIM", SKR_CERT_ENDPOINT_LOCAL_THIM},
    {"AzCache", SKR_CERT_ENDPOINT_AZCACHE},
    {"AMD", SKR_CERT_ENDPOINT_AMD},
};

static shd_result args_from_json(json_t *root, struct skr_sidecar_args *a)
{
    if (json_is_null(root)) {
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_object(root), SHD_ERR_CONFIG,
                   "json: cannot unmarshal %s into Go value of type grpcserver.AzureInformation",
                   go_kind(root));
    struct skr_certcache *cc = &a->certcache;
    const struct go_field cc_fields[] = {
        {"endpoint_type", &cc->type_name}, {"endpoint", &cc->endpoint},
        {"tee_type", &cc->tee_type},       {"api_version", &cc->api_version},
        {"client_id", &cc->client_id},
    };
    SHD_GUARD(go_struct_member(root, "certcache", "attest.CertFetcher", cc_fields,
                               sizeof(cc_fields) / sizeof(cc_fields[0])));
    const struct go_field id_fields[] = {{"client_id", &a->identity_client_id}};
    SHD_GUARD(go_struct_member(root, "identity", "common.Identity", id_fields, 1));
    const struct go_field maa_fields[] = {{"user_agent", &a->maa_user_agent}};
    SHD_GUARD(go_struct_member(root, "maaconfig", "common.MAAConfig", maa_fields, 1));

    cc->type = SKR_CERT_ENDPOINT_NONE;
    if (cc->type_name != NULL && cc->type_name[0] != '\0') {
        cc->type = SKR_CERT_ENDPOINT_INVALID;
        for (size_t i = 0; i < sizeof(ENDPOINT_TYPES) / sizeof(ENDPOINT_TYPES[0]); i++) {
            if (strcmp(cc->type_name, ENDPOINT_TYPES[i].name) == 0) {
                cc->type = ENDPOINT_TYPES[i].type;
            }
        }
    }
    return SHD_OK;
}

shd_result skr_sidecar_args_decode(const char *b64, struct skr_sidecar_args *ret)
{
    SHD_ENSURE_REF(b64);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP_FREE uint8_t *raw = NULL;
    size_t raw_len = 0;
    shd_result r = skr_b64_go_std_decode(b64, strlen(b64), &raw, &raw_len);
    if (shd_is_err(r)) {
        shd_error_wrap("Failed to decode base64 attestation info");
        return r;
    }
    const struct shd_json_limits lim = {.max_bytes = SKR_CONFIG_MAX_BYTES, .allow_any_root = true};
    SHD_CLEANUP_JSON json_t *root = NULL;
    r = shd_json_parse((const char *)raw, raw_len, &lim, &root);
    if (shd_is_err(r)) {
        shd_error_wrap("Failed to unmarshal attestion info json into AzureInformation");
        return r;
    }
    SHD_CLEANUP(skr_sidecar_args_clear) struct skr_sidecar_args a = {0};
    r = args_from_json(root, &a);
    if (shd_is_err(r)) {
        shd_error_wrap("Failed to unmarshal attestion info json into AzureInformation");
        return r;
    }
    *ret = a;
    shd_memzero(&a, sizeof(a));
    return SHD_OK;
}

void skr_sidecar_args_clear(struct skr_sidecar_args *a)
{
    if (a == NULL) {
        return;
    }
    shd_free(a->certcache.type_name);
    shd_free(a->certcache.endpoint);
    shd_free(a->certcache.tee_type);
    shd_free(a->certcache.api_version);
    shd_free(a->certcache.client_id);
    shd_free(a->identity_client_id);
    shd_free(a->maa_user_agent);
    shd_memzero(a, sizeof(*a));
}

void skr_certs_clear(struct skr_certs *c)
{
    if (c == NULL) {
        return;
    }
    shd_free(c->vcek_pem);
    shd_free(c->chain_pem);
    shd_free(c->tcbm_str);
    shd_memzero(c, sizeof(*c));
}

static shd_result dup_or_empty(const char *s, char **ret)
{
    char *copy = shd_strdup(s != NULL ? s : "");
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    *ret = copy;
    return SHD_OK;
}

shd_result skr_certs_copy(const struct skr_certs *in, struct skr_certs *ret)
{
    SHD_ENSURE_REF(in);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP(skr_certs_clear) struct skr_certs c = {.tcbm = in->tcbm};
    SHD_GUARD(dup_or_empty(in->vcek_pem, &c.vcek_pem));
    SHD_GUARD(dup_or_empty(in->chain_pem, &c.chain_pem));
    SHD_GUARD(dup_or_empty(in->tcbm_str, &c.tcbm_str));
    *ret = c;
    shd_memzero(&c, sizeof(c));
    return SHD_OK;
}

shd_result skr_thim_parse(const char *data, size_t len, bool b64, struct skr_certs *ret)
{
    SHD_ENSURE(data != NULL || len == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP_FREE uint8_t *raw = NULL;
    size_t raw_len = len;
    const char *json = data;
    if (b64) {
        SHD_GUARD_CTX(skr_b64_go_std_decode(data, len, &raw, &raw_len),
                      "decoding THIM certificates failed");
        json = (const char *)raw;
    }
    const struct shd_json_limits lim = {.max_bytes = SKR_SECCTX_FILE_MAX};
    SHD_CLEANUP_JSON json_t *root = NULL;
    SHD_GUARD_CTX(shd_json_parse(json, raw_len, &lim, &root),
                  "failed to unmarshal THIM certificate");
    SHD_ENSURE_MSG(json_is_object(root), SHD_ERR_JSON,
                   "failed to unmarshal THIM certificate: not a JSON object");
    SHD_CLEANUP(skr_certs_clear) struct skr_certs c = {0};
    SHD_CLEANUP_FREE char *cache_control = NULL;
    const struct go_field fields[] = {
        {"vcekCert", &c.vcek_pem},
        {"tcbm", &c.tcbm_str},
        {"certificateChain", &c.chain_pem},
        {"cacheControl", &cache_control},
    };
    SHD_GUARD_CTX(go_struct_strings(root, "common.THIMCerts", "", fields, 4),
                  "failed to unmarshal THIM certificate");
    SHD_ENSURE_MSG(c.vcek_pem != NULL && c.vcek_pem[0] != '\0', SHD_ERR_INPUT,
                   "THIM certificates carry no vcekCert");
    SHD_ENSURE_MSG(c.chain_pem != NULL && c.chain_pem[0] != '\0', SHD_ERR_INPUT,
                   "THIM certificates carry no certificateChain");
    SHD_ENSURE_MSG(c.tcbm_str != NULL, SHD_ERR_INPUT, "Unable to convert TCBM to a uint64");
    SHD_GUARD_CTX(shd_parse_uint(c.tcbm_str, 16, UINT64_MAX, &c.tcbm),
                  "Unable to convert TCBM to a uint64");
    *ret = c;
    shd_memzero(&c, sizeof(c));
    return SHD_OK;
}
