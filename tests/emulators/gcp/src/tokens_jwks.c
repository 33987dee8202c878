/*
 * tokens_jwks.c - JWT minting, JWK sets and the OIDC discovery documents (tokens_jwks.h).
 */
#include "tokens_jwks.h"

#include <string.h>

#include <jansson.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/jws.h"
#include "shd/mem.h"
#include "shd/safety.h"

shd_result gemu_jwt_sign(EVP_PKEY *key, const char *kid, const json_t *claims, char **ret_token)
{
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(kid);
    SHD_ENSURE_REF(claims);
    SHD_ENSURE_REF(ret_token);
    SHD_ENSURE(json_is_object(claims), SHD_ERR_USAGE);
    SHD_CLEANUP_FREE char *payload = NULL;
    size_t len = 0;
    /* Go-style JSON, as Google emits (gcp-identity.md 3.6: '<' -> \u003c). */
    SHD_GUARD(shd_json_go_dump(claims, 0, &payload, &len));
    struct shd_jws_sign_header hdr = {.kid = kid, .typ = "JWT"};
    return shd_jws_sign(&hdr, (const uint8_t *)payload, len, key, SHD_JWS_RS256, ret_token, NULL);
}

shd_result gemu_jwks_new(EVP_PKEY *key, const char *kid, json_t **ret_jwks)
{
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(kid);
    SHD_ENSURE_REF(ret_jwks);
    SHD_CLEANUP_JSON json_t *jwk = NULL;
    SHD_GUARD(shd_jwk_export_public(key, &jwk));
    SHD_ENSURE(json_object_set_new(jwk, "alg", json_string("RS256")) == 0, SHD_ERR_NOMEM);
    SHD_ENSURE(json_object_set_new(jwk, "kid", json_string(kid)) == 0, SHD_ERR_NOMEM);
    SHD_ENSURE(json_object_set_new(jwk, "use", json_string("sig")) == 0, SHD_ERR_NOMEM);
    json_t *doc = json_pack("{s:[O]}", "keys", jwk);
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    *ret_jwks = doc;
    return SHD_OK;
}

static shd_result wellknown_send(const json_t *doc, struct shd_http_resp *resp)
{
    SHD_CLEANUP_FREE char *text = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump(doc, SHD_JSON_SORT_KEYS, &text, &len));
    return shd_http_resp_json(200, text, resp);
}

static shd_result wellknown_discovery(void *ctx, const struct shd_http_req *req,
                                      struct shd_http_resp *resp)
{
    (void)ctx;
    (void)req;
    /* gcp-identity.md 3.7, the discovery document of the attestation issuer. */
    SHD_CLEANUP_JSON json_t *doc = json_pack(
        "{s:s,s:s,s:[s],s:[s],s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s],s:[s],s:[s]}", "issuer",
        GEMU_VERIFIER_ISSUER, "jwks_uri", GEMU_VERIFIER_JWKS_URI, "subject_types_supported",
        "public", "response_types_supported", "id_token", "claims_supported", "sub", "aud", "exp",
        "iat", "iss", "jti", "nbf", "dbgstat", "eat_nonce", "google_service_accounts", "hwmodel",
        "oemid", "secboot", "submods", "swname", "swversion",
        "id_token_signing_alg_values_supported", "RS256", "scopes_supported", "openid");
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    return wellknown_send(doc, resp);
}

static shd_result wellknown_jwks(EVP_PKEY *key, const char *kid, struct shd_http_resp *resp)
{
    SHD_CLEANUP_JSON json_t *doc = NULL;
    SHD_GUARD(gemu_jwks_new(key, kid, &doc));
    return wellknown_send(doc, resp);
}

static shd_result wellknown_verifier_jwks(void *ctx, const struct shd_http_req *req,
                                          struct shd_http_resp *resp)
{
    (void)req;
    struct gemu_state *st = ctx;
    return wellknown_jwks(st->verifier_key, st->verifier_kid, resp);
}

static shd_result wellknown_google_certs(void *ctx, const struct shd_http_req *req,
                                         struct shd_http_resp *resp)
{
    (void)req;
    struct gemu_state *st = ctx;
    return wellknown_jwks(st->google_key, st->google_kid, resp);
}

static const struct gemu_route wellknown_routes[] = {
    {"GET", GEMU_DISCOVERY_PATH, wellknown_discovery, GEMU_ROUTE_EXACT},
    {"GET", GEMU_VERIFIER_JWKS_PATH, wellknown_verifier_jwks, GEMU_ROUTE_EXACT},
    {"GET", GEMU_GOOGLE_CERTS_PATH, wellknown_google_certs, GEMU_ROUTE_EXACT},
};

bool gemu_wellknown_path(const char *path)
{
    if (path == NULL) {
        return false;
    }
    for (size_t i = 0; i < sizeof(wellknown_routes) / sizeof(wellknown_routes[0]); i++) {
        if (strcmp(path, wellknown_routes[i].path) == 0) {
            return true;
        }
    }
    return false;
}

shd_result gemu_wellknown_service_new(struct gemu_state *st, struct gemu_service **ret)
{
    SHD_ENSURE_REF(st);
    struct gemu_service tmpl = {
        .name = GEMU_SVC_VERIFIER,
        .routes = wellknown_routes,
        .nroutes = sizeof(wellknown_routes) / sizeof(wellknown_routes[0]),
        .ctx = st,
    };
    return gemu_service_new(&tmpl, ret);
}
