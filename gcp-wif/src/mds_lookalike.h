/*
 * mds_lookalike.h - a GCE metadata-server look-alike on 127.0.0.1 (gcp-identity.md 7.5,
 * real-clients.md 1.5) so that unmodified Google SDKs (GCE_METADATA_HOST=127.0.0.1:PORT) use the
 * attested identity:
 *
 *   /computeMetadata/v1/instance, instance/                       availability probe (a listing)
 *   .../instance/service-accounts/default/token[?scopes=..]       {"access_token","expires_in",
 *                                                                  "token_type":"Bearer"}
 *   .../instance/service-accounts/default/identity?audience=A     the attestation token for A
 *                                                                  (raw JWT, text/plain)
 *   .../instance/service-accounts/default/email                   --service-account (404 if none)
 *   .../instance/service-accounts/default/scopes                  cloud-platform
 *   .../instance/zone, project/project-id, project/numeric-project-id
 *
 * Like the real server: every request must carry "Metadata-Flavor: Google" (403 otherwise), a
 * request with X-Forwarded-For is refused (403: it came through a proxy, the SSRF guard of the
 * real server), every answer carries "Metadata-Flavor: Google", unknown paths get 404.
 * Anyone on the host who can reach 127.0.0.1 can take tokens here, as on GCE: the listener is
 * off unless --metadata-port is given.
 */
#pragma once

#include "shd/result.h"

struct shd_http_server_options;
struct wif_ctx;

/* Fills server options for the look-alike; ctx must outlive the server. */
void wif_mds_lookalike_server_options(struct wif_ctx *ctx, struct shd_http_server_options *ret);
