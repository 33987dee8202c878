/*
 * mds_client.h - the few GCE metadata-server reads the attestation flow needs
 * (gcp-identity.md sections 3.5 and 7.5): project id, zone, the VM service account's access token
 * (the Bearer for the verifier API) and its identity token for a challenge.
 *
 * Every request carries "Metadata-Flavor: Google", and every answer must carry it back (a host
 * that does not is not a metadata server, the rule gcp-metadata applies too). Only status 200 is
 * success; 404 is SHD_ERR_NOT_FOUND, other statuses SHD_ERR_HTTP_STATUS (5xx: SHD_ERR_UNAVAILABLE).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

struct shd_http_client;

/* Caps on what the metadata server may send us. */
#define WIF_MDS_VALUE_MAX 1024u         /* project id, zone */
#define WIF_MDS_TOKEN_MAX (16u * 1024u) /* access and identity tokens */

/*
 * GET base + path (path starts with "/computeMetadata/v1/", may carry a query) and returns the
 * body as a fresh NUL-terminated string of at most max bytes (SHD_ERR_TOO_LARGE beyond) without
 * embedded NULs. The body may be a credential: free it with shd_free_wipe(*ret, *ret_len + 1).
 */
SHD_RESULT wif_mds_get(const char *base, const char *path, size_t max,
                       const struct shd_http_client *http, char **ret, size_t *ret_len);

/* project/project-id, checked to be a plausible project id ([a-z0-9.:-], 1..128). shd_free. */
SHD_RESULT wif_mds_project_id(const char *base, const struct shd_http_client *http, char **ret);

/*
 * instance/zone ("projects/123/zones/us-central1-a") reduced to the region ("us-central1"):
 * the last path segment minus its last "-x" suffix (gcp-identity.md section 3.1). shd_free.
 */
SHD_RESULT wif_mds_region(const char *base, const struct shd_http_client *http, char **ret);

/* Region of a zone name or zone path as above; SHD_ERR_INPUT when it has no "-x" suffix. */
SHD_RESULT wif_mds_zone_to_region(const char *zone, char **ret);

/*
 * instance/service-accounts/default/token: the access_token of the JSON answer (SECRET:
 * shd_free_wipe(*ret, *ret_len + 1)). token_type must be Bearer.
 */
SHD_RESULT wif_mds_access_token(const char *base, const struct shd_http_client *http, char **ret,
                                size_t *ret_len);

/*
 * Percent-encodes s for a URL query value or a header parameter: every byte but the RFC 3986
 * unreserved ones (A-Z a-z 0-9 - . _ ~) becomes %XX, as Go's url.QueryEscape does (but a
 * space is %20). Fresh string (shd_free).
 */
SHD_RESULT wif_mds_url_escape(const char *s, char **ret);

/*
 * instance/service-accounts/default/identity?audience=<audience, URL-encoded>&format=full: the
 * raw JWT (SECRET, as above), checked to be three base64url segments.
 */
SHD_RESULT wif_mds_identity_token(const char *base, const char *audience,
                                  const struct shd_http_client *http, char **ret, size_t *ret_len);
