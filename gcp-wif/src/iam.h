/*
 * iam.h - service-account impersonation with IAM Credentials generateAccessToken
 * (gcp-identity.md 5): federated token in, service-account access token out.
 */
#pragma once

#include <stdint.h>

#include "shd/result.h"
#include "sts.h"

struct shd_http_client;

/*
 * POSTs {"scope":["https://www.googleapis.com/auth/cloud-platform"],"lifetime":"<n>s"} to
 * <iam_url>/v1/projects/-/serviceAccounts/<email>:generateAccessToken with the federated token
 * as Bearer, and parses {"accessToken","expireTime"} into *ret. The email must look like one
 * ([A-Za-z0-9._-]+@[A-Za-z0-9.-]+, SHD_ERR_CONFIG). An expireTime that is not in the future of
 * now is rejected (SHD_ERR_INPUT). Errors are wif_gapi_call's; the chain starts with "IAM".
 */
SHD_RESULT wif_iam_generate_access_token(const struct shd_http_client *http, const char *iam_url,
                                         const char *email, uint32_t lifetime_s,
                                         const char *federated_token, int64_t now,
                                         struct wif_access_token *ret);
