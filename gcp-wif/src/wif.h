/*
 * wif.h - constants shared by the modules of gcp-wif, the attested workload-identity token broker
 * for GCP confidential VMs (DESIGN.md; gcp-identity.md sections 4-8).
 */
#pragma once

/* Log module tags (WIF_LOG=all+info,sts+debug). */
#define WIF_LOG_MAIN "main"
#define WIF_LOG_CONFIG "config"
#define WIF_LOG_API "api"
#define WIF_LOG_CREDS "creds"
#define WIF_LOG_STS "sts"
#define WIF_LOG_IAM "iam"
#define WIF_LOG_KMS "kms"
#define WIF_LOG_MDS "mds"

/* OAuth scope of every token we ask for (gcp-identity.md 4.1, 5). */
#define WIF_SCOPE_CLOUD_PLATFORM "https://www.googleapis.com/auth/cloud-platform"

/* Largest access token accepted from STS or IAM (federated tokens reach 12 KB, 4.2). */
#define WIF_ACCESS_TOKEN_MAX ((size_t)16 * 1024)

/* Largest JSON answer accepted from a Google API. */
#define WIF_API_RESPONSE_MAX ((size_t)1024 * 1024)

/* Our User-Agent towards Google. */
#define WIF_USER_AGENT "gcp-wif/" WIF_VERSION
