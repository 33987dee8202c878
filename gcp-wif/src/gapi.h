/*
 * gapi.h - one call to a Google REST API: send, insist on a 2xx with a JSON object body, and turn
 * anything else into an error whose message carries what Google said (gcp-identity.md 4.3 OAuth
 * errors, 5 and 6 the google.rpc.Status envelope).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "shd/result.h"

struct shd_http_client;
struct shd_http_request;

/* Longest upstream message quoted in an error. */
#define WIF_GAPI_MESSAGE_MAX 400

/*
 * Performs req with the client's retry policy. 2xx with a JSON object body: *ret_doc gets it (a
 * new reference; bodies may hold tokens or key material: they are parsed in place, and the
 * response buffer is wiped when freed). Otherwise an error whose root message is
 *   "HTTP 403 PERMISSION_DENIED: <message>"        (Google envelope)
 *   "HTTP 400 invalid_grant: <error_description>"  (OAuth envelope, STS)
 *   "HTTP 502"                                     (anything else; the body is not quoted)
 * with the HTTP status as foreign code, and code: SHD_ERR_TOKEN for OAuth invalid_grant,
 * SHD_ERR_PERMISSION for OAuth unauthorized_client and for 401/403, SHD_ERR_NOT_FOUND for 404,
 * SHD_ERR_RATE_LIMITED for 429,
 * SHD_ERR_UNAVAILABLE for 5xx, SHD_ERR_HTTP_STATUS otherwise; SHD_ERR_JSON / SHD_ERR_INPUT for
 * a 2xx whose body is not a JSON object. Transport failures keep shd_http_client_do's codes.
 */
SHD_RESULT wif_gapi_call(const struct shd_http_client *http, const struct shd_http_request *req,
                         json_t **ret_doc);

/*
 * "Bearer <token>" in a fresh buffer for an Authorization header. A credential: free it with
 * shd_free_wipe(*ret, *ret_len + 1).
 */
SHD_RESULT wif_gapi_bearer(const char *token, char **ret, size_t *ret_len);

/*
 * Checks a Cloud KMS resource name (gcp-identity.md 6):
 * projects/P/locations/L/keyRings/R/cryptoKeys/K, and with want_version also
 * /cryptoKeyVersions/V. Segments are [A-Za-z0-9_.@:-]{1,100} and not "." or "..", so a name
 * cannot walk out of the URL path or add a query. SHD_ERR_INPUT naming what is wrong.
 */
SHD_RESULT wif_gapi_kms_name_check(const char *name, bool want_version);
