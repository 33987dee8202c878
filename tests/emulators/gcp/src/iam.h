/*
 * iam.h - IAM policies and the IAM Credentials emulator (gcp-identity.md 5, 4.5).
 *
 * Policies are the REST shape {"bindings":[{"role":"roles/...","members":["..."]}]} as
 * config.json carries them. A principal holds a permission on a resource when a binding of a
 * role that contains the permission names it (tokens.h gemu_principal_matches).
 *
 * generateAccessToken: POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken with
 * "Authorization: Bearer <STS or SA token>" and {"scope":[..],"lifetime":"3600s"}; the caller
 * needs iam.serviceAccounts.getAccessToken on the account (roles/iam.workloadIdentityUser or
 * roles/iam.serviceAccountTokenCreator). Answers {"accessToken","expireTime"} (RFC 3339).
 *
 * The same listener answers GET /v1/projects/{id or number} (any valid Bearer token) with
 * {"projectNumber","projectId","lifecycleState","name"}: the Cloud Resource Manager look-up of
 * google-auth-library's getProjectId when "cloud_resource_manager_url" points here.
 */
#pragma once

#include <stdbool.h>

#include <jansson.h>

#include "gemu.h"
#include "shd/result.h"
#include "tokens.h"

#define GEMU_IAM_PERM_GET_ACCESS_TOKEN "iam.serviceAccounts.getAccessToken"
#define GEMU_IAM_DEFAULT_LIFETIME_S 3600
#define GEMU_IAM_MAX_LIFETIME_S 43200

/* True when role (e.g. "roles/cloudkms.cryptoKeyDecrypter") grants permission. */
bool gemu_iam_role_has(const char *role, const char *permission);

/*
 * True when policy (may be NULL: grants nothing) grants permission to p. Malformed bindings
 * (not objects, non-string members) are skipped, never matched.
 */
bool gemu_iam_policy_allows(const json_t *policy, const char *permission,
                            const struct gemu_principal *p);

/*
 * Parses a Duration string "<seconds>s" (also "<seconds>.<frac>s", fractions truncated) as
 * proto3 JSON writes it. SHD_ERR_INPUT when malformed or outside 0..max_s.
 */
SHD_RESULT gemu_iam_duration_parse(const char *s, int64_t max_s, int64_t *ret_s);

/* RFC 3339 UTC with nanoseconds, "2014-10-02T15:01:23.000000000Z"; out needs 31 bytes. */
SHD_RESULT gemu_rfc3339(int64_t t, char out[static 31]);

/* The IAM Credentials service (config.json "serviceAccounts"); borrows st. */
SHD_RESULT gemu_iam_service_new(struct gemu_state *st, struct gemu_service **ret);
