/*
 * sts_int.h - internals of the STS emulator shared by sts.c (HTTP, request parsing) and
 * sts_verify.c (provider registry, subject-token verification, attribute mapping).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cel.h"
#include "shd/http_client.h"
#include "shd/result.h"
#include "tokens.h"

#define GEMU_STS_MAX_PROVIDERS 64u
#define GEMU_STS_MAX_MAPPINGS 50u
#define GEMU_STS_ERROR_DESC_MAX 512u

struct gemu_sts_mapping {
    char *target; /* "google.subject", "attribute.x" */
    struct gemu_cel *expr;
};

struct gemu_sts_provider {
    char *name;        /* projects/N/locations/global/workloadIdentityPools/P/providers/X */
    char *pool;        /* projects/N/locations/global/workloadIdentityPools/P */
    bool disabled;     /* the provider or its pool is disabled */
    char *issuer;      /* issuerUri without a trailing '/' */
    json_t *audiences; /* array of strings; empty: the default audiences */
    json_t *jwks;      /* inline jwksJson, or NULL (fetch from the issuer) */
    struct gemu_sts_mapping mappings[GEMU_STS_MAX_MAPPINGS];
    size_t nmappings;
    struct gemu_cel *condition; /* may be NULL */
};

struct gemu_sts_registry {
    struct gemu_sts_provider *providers[GEMU_STS_MAX_PROVIDERS];
    size_t n;
};

/* An OAuth error answer (RFC 6749 5.2): error is NULL while there is none. */
struct gemu_sts_error {
    const char *error;
    char description[GEMU_STS_ERROR_DESC_MAX];
};

/* The fields of a token request after form/JSON decoding (borrowed strings; NULL if absent). */
struct gemu_sts_request {
    const char *grant_type;
    const char *audience;
    const char *scope;
    const char *requested_token_type;
    const char *subject_token;
    const char *subject_token_type;
};

/* Compiles config.json "workloadIdentityPools" (SHD_ERR_CONFIG naming the bad item). */
SHD_RESULT gemu_sts_registry_load(const json_t *config, struct gemu_sts_registry *reg);

/* Frees every provider. */
void gemu_sts_registry_clear(struct gemu_sts_registry *reg);

/*
 * Validates rq and exchanges its subject token at time now. SHD_OK with either *ret_principal
 * (the federated principal; gemu_principal_free) or err->error set (nothing in *ret_principal).
 * client (may be NULL when every provider has jwksJson) fetches the issuer's keys.
 * Other results are internal failures (500).
 */
SHD_RESULT gemu_sts_exchange(const struct gemu_sts_registry *reg,
                             const struct shd_http_client *client,
                             const struct gemu_sts_request *rq, int64_t now,
                             struct gemu_principal **ret_principal, struct gemu_sts_error *err);
