/*
 * keysrc_skr.c - the `skr` key source (Polaris `azure-skr`, polaris-protocol.md §3.2,
 * skr-sidecar.md §9.1): POST /key/release to our skr over its Unix socket, or to the Microsoft
 * SKR sidecar on loopback TCP, and import the released RSA key.
 *
 * Settings (Polaris's variables, same meaning):
 *   POLARIS_CONTAINER_AZURE_SKR_KEY_RELEASE_ENDPOINT  unix:PATH (default unix:/run/skr/skr.sock)
 *                                                     or http://127.0.0.1:PORT (Microsoft's
 *                                                     sidecar; loopback only)
 *   POLARIS_CONTAINER_AZURE_SKR_MAA_ENDPOINT, _AKV_ENDPOINT, _KID   required (bare host names,
 *                                                     the key name as a path segment)
 *   POLARIS_CONTAINER_AZURE_SKR_ACCESS_TOKEN          optional, sent only when set (secret)
 *   PROXY_KEY_TIMEOUT_MS                              one request (default 60 s)
 * The attempts and the backoff between them belong to the keystore (--key-attempts, ...).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "keysrc.h"

#define ENV_SKR "POLARIS_CONTAINER_AZURE_SKR_"
#define SKR_SERVICE "key service (skr)"

struct keysrc_skr {
    struct proxy_keysrc_endpoint ep;
    uint32_t timeout_ms;
    char *maa;
    char *akv;
    char *kid;
    char *token; /* NULL when unset; secret */
    size_t token_len;
};

void proxy_keysrc_skr_free(void *state)
{
    struct keysrc_skr *s = state;
    if (s == NULL) {
        return;
    }
    proxy_keysrc_endpoint_clear(&s->ep);
    shd_free(s->maa);
    shd_free(s->akv);
    shd_free(s->kid);
    if (s->token != NULL) {
        shd_free_wipe(s->token, s->token_len + 1);
    }
    shd_free_wipe(s, sizeof(*s));
}

static shd_result dup_required(proxy_getenv_fn getenv, const char *name, char **ret)
{
    const char *v = NULL;
    SHD_GUARD(proxy_keysrc_env_required(getenv, name, &v));
    *ret = shd_strdup(v);
    SHD_ENSURE(*ret != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

static shd_result skr_settings_read(proxy_getenv_fn getenv, struct keysrc_skr *s)
{
    const char *v = NULL;
    SHD_GUARD(proxy_keysrc_env(getenv, ENV_SKR "KEY_RELEASE_ENDPOINT", &v));
    SHD_GUARD_CTX(
        proxy_keysrc_endpoint_parse(v != NULL ? v : "unix:" PROXY_KEYSRC_SKR_SOCKET, true, &s->ep),
        ENV_SKR "KEY_RELEASE_ENDPOINT");
    SHD_GUARD(proxy_keysrc_env_timeout(getenv, &s->timeout_ms));
    SHD_GUARD(dup_required(getenv, ENV_SKR "MAA_ENDPOINT", &s->maa));
    SHD_GUARD(dup_required(getenv, ENV_SKR "AKV_ENDPOINT", &s->akv));
    SHD_GUARD(dup_required(getenv, ENV_SKR "KID", &s->kid));
    SHD_GUARD(proxy_keysrc_env(getenv, ENV_SKR "ACCESS_TOKEN", &v));
    if (v != NULL) {
        s->token_len = strlen(v);
        s->token = shd_strdup(v);
        SHD_ENSURE(s->token != NULL, SHD_ERR_NOMEM);
    }
    return SHD_OK;
}

shd_result proxy_keysrc_skr_configure(proxy_getenv_fn getenv, void **ret_state)
{
    SHD_ENSURE(getenv != NULL && ret_state != NULL, SHD_ERR_NULL);
    struct keysrc_skr *s = shd_alloc(sizeof(*s));
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    shd_result r = skr_settings_read(getenv, s);
    if (shd_is_err(r)) {
        proxy_keysrc_skr_free(s);
        return r;
    }
    *ret_state = s;
    return SHD_OK;
}

/* {"maa_endpoint","akv_endpoint","kid"[,"access_token"]}: Polaris's body, in its order. */
static shd_result release_body(const struct keysrc_skr *s, char **ret, size_t *ret_len)
{
    const struct shd_json_go_field f[] = {
        {"maa_endpoint", s->maa, strlen(s->maa)},
        {"akv_endpoint", s->akv, strlen(s->akv)},
        {"kid", s->kid, strlen(s->kid)},
        {"access_token", s->token, s->token_len},
    };
    return shd_json_go_dump_strings(f, s->token != NULL ? 4u : 3u, ret, ret_len);
}

shd_result proxy_keysrc_skr_obtain(void *state, struct proxy_key_material *ret)
{
    const struct keysrc_skr *s = state;
    SHD_ENSURE(s != NULL && ret != NULL, SHD_ERR_NULL);

    SHD_CLEANUP(proxy_keysrc_client_free_p) struct shd_http_client *client = NULL;
    SHD_GUARD(proxy_keysrc_client_create(&s->ep, s->timeout_ms, 1, &client));
    char *body = NULL;
    size_t body_len = 0;
    SHD_GUARD(release_body(s, &body, &body_len));
    struct shd_http_response *resp = NULL;
    shd_result r = proxy_keysrc_call(client, &s->ep, SKR_SERVICE, "POST", "/key/release", body,
                                     body_len, &resp);
    /* The body may carry the access token. */
    shd_free_wipe(body, body_len + 1);
    SHD_GUARD_CTX(r, "POST /key/release kid=%s", s->kid);

    size_t len = 0;
    const uint8_t *reply = shd_http_response_body(resp, &len);
    EVP_PKEY *key = NULL;
    r = proxy_keysrc_reply_key(reply, len, &key);
    /* Wipes the reply (the key in clear) right after the import, success or not. */
    shd_http_response_free(resp);
    SHD_GUARD_CTX(r, SKR_SERVICE " kid=%s", s->kid);
    proxy_keysrc_log_key("skr", false, key);
    *ret = (struct proxy_key_material){.private_key = key};
    return SHD_OK;
}
