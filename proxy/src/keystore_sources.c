/*
 * keystore_sources.c - the table of key sources (STYLE.md rule 4). A new source is one file with
 * its configure/obtain/state_free functions and one row here.
 */
#include <stddef.h>
#include <string.h>

#include "keysrc.h"
#include "keystore.h"

static const struct proxy_key_source SOURCES[] = {
    {
        .name = "ephemeral",
        .polaris_name = "ephemeral",
        .summary = "fresh RSA-4096 key generated at start (lost on restart)",
        .retryable = false,
        .configure = NULL,
        .obtain = proxy_key_ephemeral_obtain,
        .state_free = NULL,
    },
    {
        .name = "skr",
        .polaris_name = "azure-skr",
        .summary = "key released by skr (POLARIS_CONTAINER_AZURE_SKR_*; unix:PATH, "
                   "default " PROXY_KEYSRC_SKR_SOCKET
                   ", or the Microsoft sidecar on http://127.0.0.1:PORT)",
        .retryable = true,
        .configure = proxy_keysrc_skr_configure,
        .obtain = proxy_keysrc_skr_obtain,
        .state_free = proxy_keysrc_skr_free,
    },
    {
        .name = "gcp-wif",
        .polaris_name = NULL,
        .summary = "KMS-wrapped key released once by gcp-wif (" PROXY_KEYSRC_ENV_KMS_KEY
                   ", " PROXY_KEYSRC_ENV_WRAPPED_FILE ", " PROXY_KEYSRC_ENV_WIF_SOCKET ")",
        .retryable = true,
        .configure = proxy_keysrc_gcpwif_configure,
        .obtain = proxy_keysrc_gcpwif_obtain,
        .state_free = proxy_keysrc_gcpwif_free,
    },
    {
        .name = "gcp-kms",
        .polaris_name = "google-federated",
        .summary = "Cloud KMS decrypt per request through gcp-wif, the key stays in KMS "
                   "(" PROXY_KEYSRC_ENV_KMS_VERSION " or POLARIS_CONTAINER_GOOGLE_FEDERATED_KEY_*)",
        .retryable = true,
        .configure = proxy_keysrc_gcpkms_configure,
        .obtain = proxy_keysrc_gcpkms_obtain,
        .state_free = proxy_keysrc_gcpkms_free,
    },
};

const struct proxy_key_source *proxy_key_source_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(SOURCES) / sizeof(SOURCES[0]); i++) {
        const struct proxy_key_source *s = &SOURCES[i];

        if (strcmp(s->name, name) == 0 ||
            (s->polaris_name != NULL && strcmp(s->polaris_name, name) == 0)) {
            return s;
        }
    }
    return NULL;
}

const struct proxy_key_source *proxy_key_source_at(size_t i)
{
    return i < sizeof(SOURCES) / sizeof(SOURCES[0]) ? &SOURCES[i] : NULL;
}
