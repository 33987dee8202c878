/*
 * tokens.h - the emulator's OAuth 2.0 access tokens: opaque random strings that STS (federated
 * tokens), IAM Credentials (service-account tokens) and the metadata server (the VM's default
 * service account) issue, and that IAM, KMS and the verifier accept as "Authorization: Bearer".
 *
 * The table keeps only SHA-256 digests of the tokens (a leaked table or core dump reveals no
 * usable token), each with its principal and expiry. Lookups compare digests in constant time.
 * The table is bounded: when full, expired entries are dropped first, then the one expiring
 * soonest. Thread-safe (one mutex).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shd/result.h"

struct gemu_tokens;
struct shd_http_req;

/* Most live tokens, and the longest lifetime any issuer may ask for (IAM: 12 h). */
#define GEMU_TOKENS_MAX 4096u
#define GEMU_TOKEN_MAX_LIFETIME_S 43200
/* Bytes of randomness in a token, and the prefix (Google's access tokens start "ya29."). */
#define GEMU_TOKEN_RANDOM_LEN 32u
#define GEMU_TOKEN_PREFIX "ya29.gemu."

enum gemu_principal_kind {
    GEMU_PRINCIPAL_SERVICE_ACCOUNT = 1, /* subject = the account's e-mail */
    GEMU_PRINCIPAL_FEDERATED,           /* subject = google.subject of a workload identity pool */
};

/*
 * Who a token stands for. For a federated principal, pool is the pool's resource name
 * "projects/<number>/locations/global/workloadIdentityPools/<pool>" and attributes the mapped
 * attributes {"google.subject":"..","attribute.x":".."} (strings only) that principalSet
 * members are matched against. For a service account, pool and attributes are NULL.
 */
struct gemu_principal {
    enum gemu_principal_kind kind;
    char *subject;
    char *pool;
    json_t *attributes;
};

/* Frees a principal and its strings (NULL is fine). */
void gemu_principal_free(struct gemu_principal *p);

/* Deep copy (attributes are copied, not shared). *ret: gemu_principal_free. */
SHD_RESULT gemu_principal_copy(const struct gemu_principal *p, struct gemu_principal **ret);

/*
 * The IAM member strings that name p (gcp-identity.md 4.5):
 *   service account: "serviceAccount:<email>";
 *   federated: "principal://iam.googleapis.com/<pool>/subject/<google.subject>".
 * *ret: shd_free.
 */
SHD_RESULT gemu_principal_member(const struct gemu_principal *p, char **ret);

/*
 * True when the IAM member string names p: the exact member of gemu_principal_member, or for
 * a federated principal the whole pool, "principalSet://iam.googleapis.com/<pool>/" followed by
 * a single '*', and "principalSet://iam.googleapis.com/<pool>/attribute.<name>/<value>" (the
 * attribute equal to value), and "allUsers"/"allAuthenticatedUsers".
 */
bool gemu_principal_matches(const char *member, const struct gemu_principal *p);

/* A fresh empty table (gemu_tokens_free). */
SHD_RESULT gemu_tokens_new(struct gemu_tokens **ret);

/* Wipes and frees the table (NULL is fine). */
void gemu_tokens_free(struct gemu_tokens *t);

/*
 * Issues a token for a copy of p, valid for lifetime_s (1..GEMU_TOKEN_MAX_LIFETIME_S, else
 * SHD_ERR_USAGE) from now (seconds since the epoch). *ret_token is the token text
 * (GEMU_TOKEN_PREFIX + base64url): free with shd_free_wipe(tok, strlen(tok)).
 * *ret_expiry (optional) = now + lifetime_s.
 */
SHD_RESULT gemu_tokens_issue(const struct gemu_principal *p, int64_t lifetime_s, int64_t now,
                             struct gemu_tokens *t, char **ret_token, int64_t *ret_expiry);

/*
 * Looks a token up at time now: SHD_OK and a copy of its principal in *ret (gemu_principal_free)
 * and its expiry in *ret_expiry (optional); SHD_ERR_TOKEN when unknown or expired.
 */
SHD_RESULT gemu_tokens_lookup(const char *token, size_t len, int64_t now, struct gemu_tokens *t,
                              struct gemu_principal **ret, int64_t *ret_expiry);

/*
 * Takes the Bearer token of a request's Authorization header ("Bearer <token>", scheme
 * case-insensitive) and looks it up as above. SHD_ERR_TOKEN when the header is missing,
 * malformed, or the token unknown or expired: callers answer 401 UNAUTHENTICATED.
 */
SHD_RESULT gemu_tokens_check_bearer(const struct shd_http_req *req, int64_t now,
                                    struct gemu_tokens *t, struct gemu_principal **ret);
