/*
 * keysrc_gcpwif.c - the `gcp-wif` key source: the proxy's RSA private key is stored wrapped under a
 * Cloud KMS symmetric key (`gcp-wif wrap-key`), and our gcp-wif broker unwraps it once at start
 * through the attested workload-identity chain: POST /key/release {"kms_key","wrapped_key_file"}
 * on the broker's Unix socket answers {"key":"<JWK string>"} like the SKR sidecar (DESIGN.md,
 * the key-release contract). This is the "released key only in memory" design of
 * polaris-protocol.md §3.3 (design note); Polaris itself calls KMS per request (keysrc_gcpkms.c).
 *
 * Settings:
 *   PROXY_KEY_GCP_WIF_SOCKET        the broker's socket (default /run/gcp-wif/gcp-wif.sock)
 *   PROXY_KEY_GCP_KMS_KEY           required: projects/P/locations/L/keyRings/R/cryptoKeys/K
 *   PROXY_KEY_GCP_WRAPPED_KEY_FILE  required: absolute path of the ciphertext, read by the broker
 *   PROXY_KEY_TIMEOUT_MS            one request (default 60 s)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "keysrc.h"

#define WIF_SERVICE "key service (gcp-wif)"
#define PATH_MAX_LEN 4096u

struct keysrc_gcpwif {
    struct proxy_keysrc_endpoint ep;
    uint32_t timeout_ms;
    char *kms_key;
    char *wrapped_file;
};

void proxy_keysrc_gcpwif_free(void *state)
{
    struct keysrc_gcpwif *s = state;
    if (s == NULL) {
        return;
    }
    proxy_keysrc_endpoint_clear(&s->ep);
    shd_free(s->kms_key);
    shd_free(s->wrapped_file);
    shd_free(s);
}

static shd_result gcpwif_settings_read(proxy_getenv_fn getenv, struct keysrc_gcpwif *s)
{
    const char *v = NULL;
    SHD_GUARD(proxy_keysrc_env(getenv, PROXY_KEYSRC_ENV_WIF_SOCKET, &v));
    SHD_GUARD_CTX(
        proxy_keysrc_endpoint_parse(v != NULL ? v : PROXY_KEYSRC_WIF_SOCKET, false, &s->ep),
        PROXY_KEYSRC_ENV_WIF_SOCKET);
    SHD_GUARD(proxy_keysrc_env_timeout(getenv, &s->timeout_ms));
    SHD_GUARD(proxy_keysrc_env_required(getenv, PROXY_KEYSRC_ENV_KMS_KEY, &v));
    SHD_GUARD(proxy_keysrc_kms_name_check(v, false, PROXY_KEYSRC_ENV_KMS_KEY));
    s->kms_key = shd_strdup(v);
    SHD_ENSURE(s->kms_key != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(proxy_keysrc_env_required(getenv, PROXY_KEYSRC_ENV_WRAPPED_FILE, &v));
    /* The broker opens it (and may confine it to its --key-dir): it must be absolute. */
    SHD_ENSURE_MSG(v[0] == '/' && strlen(v) < PATH_MAX_LEN, SHD_ERR_CONFIG,
                   PROXY_KEYSRC_ENV_WRAPPED_FILE " must be an absolute path");
    s->wrapped_file = shd_strdup(v);
    SHD_ENSURE(s->wrapped_file != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

shd_result proxy_keysrc_gcpwif_configure(proxy_getenv_fn getenv, void **ret_state)
{
    SHD_ENSURE(getenv != NULL && ret_state != NULL, SHD_ERR_NULL);
    struct keysrc_gcpwif *s = shd_alloc(sizeof(*s));
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    shd_result r = gcpwif_settings_read(getenv, s);
    if (shd_is_err(r)) {
        proxy_keysrc_gcpwif_free(s);
        return r;
    }
    *ret_state = s;
    return SHD_OK;
}

shd_result proxy_keysrc_gcpwif_obtain(void *state, struct proxy_key_material *ret)
{
    const struct keysrc_gcpwif *s = state;
    SHD_ENSURE(s != NULL && ret != NULL, SHD_ERR_NULL);

    SHD_CLEANUP(proxy_keysrc_client_free_p) struct shd_http_client *client = NULL;
    SHD_GUARD(proxy_keysrc_client_create(&s->ep, s->timeout_ms, 1, &client));
    const struct shd_json_go_field f[] = {
        {"kms_key", s->kms_key, strlen(s->kms_key)},
        {"wrapped_key_file", s->wrapped_file, strlen(s->wrapped_file)},
    };
    SHD_CLEANUP_FREE char *body = NULL;
    size_t body_len = 0;
    SHD_GUARD(shd_json_go_dump_strings(f, 2, &body, &body_len));
    struct shd_http_response *resp = NULL;
    SHD_GUARD_CTX(proxy_keysrc_call(client, &s->ep, WIF_SERVICE, "POST", "/key/release", body,
                                    body_len, &resp),
                  "POST /key/release kms_key=%s", s->kms_key);

    size_t len = 0;
    const uint8_t *reply = shd_http_response_body(resp, &len);
    EVP_PKEY *key = NULL;
    shd_result r = proxy_keysrc_reply_key(reply, len, &key);
    /* Wipes the reply (the key in clear) right after the import, success or not. */
    shd_http_response_free(resp);
    SHD_GUARD_CTX(r, WIF_SERVICE " kms_key=%s", s->kms_key);
    proxy_keysrc_log_key("gcp-wif", false, key);
    *ret = (struct proxy_key_material){.private_key = key};
    return SHD_OK;
}
