/*
 * akv_int.h - internals shared by the Key Vault emulator's files: akv.c (context, routing,
 * replies, authentication), akv_keys.c (import, create, get, versions), akv_release.c
 * (release), akv_target.c (attestation token check) and akv_cert.c (release signing).
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "akv.h"
#include "keystore.h"
#include "release_policy.h"
#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/result.h"

#define AKV_HOST_MAX 253             /* DNS name without port */
#define AKV_API_VERSION_MAX 16
#define AKV_URL_MAX 1024
#define AKV_MSG_MAX 768
#define AKV_TARGET_MAX (256u * 1024u) /* compact attestation token */
#define AKV_CERT_CACHE_MAX 64         /* per-host release-signing certificates kept */
#define AKV_CONTENT_TYPE "application/json; charset=utf-8"

struct akv_signer;

/* The service context (emu.h's aemu_service.ctx). */
struct aemu_akv {
    bool managed_hsm;
    char *tenant_id;
    char *aad_issuer;
    EVP_PKEY *aad_key;
    struct shd_http_client *http;
    struct akv_signer *signer;
    struct aemu_keystore *keys;
};

/* One request being served. */
struct akv_req {
    struct aemu_akv *akv;
    const struct shd_http_req *req;
    struct shd_http_resp *resp;
    char host[AKV_HOST_MAX + 9];   /* Host as addressed, lower-cased, with ":port" if given */
    char dns[AKV_HOST_MAX + 1];    /* the host name alone (brackets of IPv6 removed) */
    char vault[AKV_HOST_MAX + 1];  /* key namespace */
    char api_version[AKV_API_VERSION_MAX + 1];
    bool api_release_ok;           /* api-version >= 7.3 */
    /* Path segments after /keys/. */
    const char *name;
    const char *version; /* NULL: the newest */
};

/* ---- replies (akv.c) ---- */

/* {"error":{"code":code,"message":<fmt>}} with status. */
SHD_RESULT akv_reply_error(struct akv_req *rq, unsigned status, const char *code, const char *fmt,
                           ...) __attribute__((format(printf, 4, 5)));

/* status with the JSON text of body (not consumed). */
SHD_RESULT akv_reply_json(struct akv_req *rq, unsigned status, const json_t *body);

/*
 * Turns a failed result from request processing into a reply: input and key errors -> 400
 * BadParameter with the rendered cause, SHD_ERR_NOT_FOUND -> 404 KeyNotFound; anything else is
 * returned (the server answers 500).
 */
SHD_RESULT akv_reply_failure(struct akv_req *rq, shd_result r);

/* 404 KeyNotFound for rq->name (and rq->version). */
SHD_RESULT akv_reply_not_found(struct akv_req *rq);

/* "https://<host>/keys/<name>[/<version>]" into out. */
SHD_RESULT akv_kid(const struct akv_req *rq, const char *name, const char *version, char *out,
                   size_t cap);

/* ---- operations (akv_keys.c, akv_release.c) ---- */

SHD_RESULT akv_op_import(struct akv_req *rq);
SHD_RESULT akv_op_create(struct akv_req *rq);
SHD_RESULT akv_op_get(struct akv_req *rq);
SHD_RESULT akv_op_versions(struct akv_req *rq);
SHD_RESULT akv_op_release(struct akv_req *rq);

/* The attributes object of a version as Key Vault shows it. */
SHD_RESULT akv_attributes_json(const struct aemu_key_version *v, json_t **ret);

/* The release_policy object of a version (with or without "immutable"). */
SHD_RESULT akv_policy_json(const struct aemu_key_version *v, bool with_immutable, json_t **ret);

/* ---- the attestation token (akv_target.c) ---- */

enum akv_target_outcome {
    AKV_TARGET_OK = 0,
    AKV_TARGET_BAD,         /* malformed or not verifiable: 400 */
    AKV_TARGET_UNREACHABLE, /* the authority's OIDC metadata or keys could not be had: 400 */
    AKV_TARGET_DENIED,      /* the release policy is not satisfied: 403 */
};

/*
 * Verifies the target token against the authority of v's release policy that matches its
 * issuer (OIDC discovery, RS256 pinned, exp/nbf) and evaluates the policy. On AKV_TARGET_OK
 * *ret_claims holds a new reference to the verified claims; otherwise msg says why.
 * Errors (SHD_ERR_NOMEM, ...) only for failures of the emulator itself.
 */
SHD_RESULT akv_target_check(struct aemu_akv *akv, const struct aemu_key_version *v,
                            const char *target, size_t len, enum akv_target_outcome *ret_outcome,
                            char *msg, size_t msg_cap, json_t **ret_claims);

/* ---- release signing (akv_cert.c) ---- */

/* A fresh RSA-2048 signing key; certificates for it are issued by ca on demand. */
SHD_RESULT akv_signer_new(X509 *ca, EVP_PKEY *ca_key, struct akv_signer **ret);
void akv_signer_free(struct akv_signer *s);

/*
 * Signs payload RS256 with header x5c = [leaf naming host (DNS name or IP literal), CA]. The
 * leaf is made on first use per host and cached (AKV_CERT_CACHE_MAX hosts, oldest replaced).
 * *ret_token: shd_free.
 */
SHD_RESULT akv_signer_sign(const char *host, const uint8_t *payload, size_t len,
                           struct akv_signer *s, char **ret_token);
