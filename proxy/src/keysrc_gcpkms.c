/*
 * keysrc_gcpkms.c - the `gcp-kms` key source (Polaris `google-federated`, polaris-protocol.md
 * §3.3): the private key never leaves Cloud KMS. At start the public key is fetched once through
 * our gcp-wif broker (GET /kms/publicKey?name=VERSION, cached by the keystore as PEM); every
 * unwrap is one POST /kms/asymmetricDecrypt {"name","ciphertext"} -> {"plaintext"} on the
 * broker's Unix socket. As in Polaris, a request costs two KMS decrypts per envelope.
 *
 * Settings:
 *   PROXY_KEY_GCP_WIF_SOCKET       the broker's socket (default /run/gcp-wif/gcp-wif.sock)
 *   PROXY_KEY_GCP_KMS_KEY_VERSION  projects/P/locations/L/keyRings/R/cryptoKeys/K/
 *                                  cryptoKeyVersions/N; when unset it is built from Polaris's
 *                                  POLARIS_CONTAINER_GOOGLE_FEDERATED_KEY_{PROJECT_ID,LOCATION,
 *                                  RING_ID,KEY_ID} with version 1 (Polaris hard-codes "1").
 *                                  Polaris's _AUDIENCE and __SERVICE_ACCOUNT belong to the broker.
 *   PROXY_KEY_TIMEOUT_MS           the public-key request (default 60 s)
 *
 * Per-request failures (the broker or KMS down, a forged ciphertext) all end as the envelope's
 * one generic decrypt error for the client; the cause is logged here, rate-limited, at warning
 * for service failures and at debug for a 400 (peer-caused: KMS refused the ciphertext).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "keysrc.h"
#include "proxy_log.h"

#define KMS_SERVICE "key service (gcp-wif KMS)"
#define ENV_FED "POLARIS_CONTAINER_GOOGLE_FEDERATED_KEY_"
/* One unwrap: a KMS decrypt behind the broker. Envelopes wait on it, so keep it short. */
#define DECRYPT_TIMEOUT_MS 15000u
#define DECRYPT_ATTEMPTS 2u
/* The largest RSA ciphertext (8192 bits), and the largest plaintext the envelope unwraps. */
#define CIPHERTEXT_MAX 1024u
#define PLAINTEXT_B64_MAX 256u
#define NAME_MAX_LEN 1024u

struct keysrc_gcpkms {
    struct proxy_keysrc_endpoint ep;
    uint32_t timeout_ms;
    char *version;
};

/* What the keystore keeps for the unwraps (remote_ctx); immutable, shared by every thread. */
struct keysrc_gcpkms_remote {
    struct proxy_keysrc_endpoint ep;
    struct shd_http_client *client;
    char *version;
};

/* The algorithms whose decryption is the envelope's RSA-OAEP-SHA256 (polaris-protocol.md §2.1). */
static const char *const OAEP_SHA256[] = {
    "RSA_DECRYPT_OAEP_2048_SHA256",
    "RSA_DECRYPT_OAEP_3072_SHA256",
    "RSA_DECRYPT_OAEP_4096_SHA256",
};

static shd_result gcpkms_decrypt(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                                 size_t *ret_len);

void proxy_keysrc_gcpkms_free(void *state)
{
    struct keysrc_gcpkms *s = state;
    if (s == NULL) {
        return;
    }
    proxy_keysrc_endpoint_clear(&s->ep);
    shd_free(s->version);
    shd_free(s);
}

static shd_result version_from_polaris(proxy_getenv_fn getenv, char **ret)
{
    const char *p = NULL;
    const char *l = NULL;
    const char *r = NULL;
    const char *k = NULL;
    SHD_GUARD(proxy_keysrc_env_required(getenv, ENV_FED "PROJECT_ID", &p));
    SHD_GUARD(proxy_keysrc_env_required(getenv, ENV_FED "LOCATION", &l));
    SHD_GUARD(proxy_keysrc_env_required(getenv, ENV_FED "RING_ID", &r));
    SHD_GUARD(proxy_keysrc_env_required(getenv, ENV_FED "KEY_ID", &k));
    char name[NAME_MAX_LEN];
    int n = snprintf(name, sizeof(name),
                     "projects/%s/locations/%s/keyRings/%s/cryptoKeys/%s/cryptoKeyVersions/1", p, l,
                     r, k);
    SHD_ENSURE_MSG(n > 0 && (size_t)n < sizeof(name), SHD_ERR_CONFIG,
                   ENV_FED "*: the key name is too long");
    SHD_GUARD(
        proxy_keysrc_kms_name_check(name, true, ENV_FED "{PROJECT_ID,LOCATION,RING_ID,KEY_ID}"));
    *ret = shd_strdup(name);
    SHD_ENSURE(*ret != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

static shd_result gcpkms_settings_read(proxy_getenv_fn getenv, struct keysrc_gcpkms *s)
{
    const char *v = NULL;
    SHD_GUARD(proxy_keysrc_env(getenv, PROXY_KEYSRC_ENV_WIF_SOCKET, &v));
    SHD_GUARD_CTX(
        proxy_keysrc_endpoint_parse(v != NULL ? v : PROXY_KEYSRC_WIF_SOCKET, false, &s->ep),
        PROXY_KEYSRC_ENV_WIF_SOCKET);
    SHD_GUARD(proxy_keysrc_env_timeout(getenv, &s->timeout_ms));
    SHD_GUARD(proxy_keysrc_env(getenv, PROXY_KEYSRC_ENV_KMS_VERSION, &v));
    if (v == NULL) {
        return version_from_polaris(getenv, &s->version);
    }
    SHD_GUARD(proxy_keysrc_kms_name_check(v, true, PROXY_KEYSRC_ENV_KMS_VERSION));
    s->version = shd_strdup(v);
    SHD_ENSURE(s->version != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

shd_result proxy_keysrc_gcpkms_configure(proxy_getenv_fn getenv, void **ret_state)
{
    SHD_ENSURE(getenv != NULL && ret_state != NULL, SHD_ERR_NULL);
    struct keysrc_gcpkms *s = shd_alloc(sizeof(*s));
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    shd_result r = gcpkms_settings_read(getenv, s);
    if (shd_is_err(r)) {
        proxy_keysrc_gcpkms_free(s);
        return r;
    }
    *ret_state = s;
    return SHD_OK;
}

static void remote_free(void *ctx)
{
    struct keysrc_gcpkms_remote *rm = ctx;
    if (rm == NULL) {
        return;
    }
    shd_http_client_free(rm->client);
    proxy_keysrc_endpoint_clear(&rm->ep);
    shd_free(rm->version);
    shd_free(rm);
}

/* {"pem","algorithm"} -> the public key; the algorithm must be RSA-OAEP-SHA256. */
static shd_result public_key_parse(const uint8_t *body, size_t len, EVP_PKEY **ret_key)
{
    const struct shd_json_limits lim = {.max_bytes = PROXY_KEYSRC_MAX_REPLY, .max_depth = 4};
    SHD_CLEANUP_JSON json_t *doc = NULL;
    SHD_GUARD_CTX(shd_json_parse((const char *)body, len, &lim, &doc), "publicKey reply");
    const char *alg = NULL;
    const char *pem = NULL;
    SHD_GUARD_CTX(shd_json_get_string(doc, "algorithm", &alg), "publicKey reply");
    SHD_GUARD_CTX(shd_json_get_string(doc, "pem", &pem), "publicKey reply");
    bool ok = false;
    for (size_t i = 0; i < sizeof(OAEP_SHA256) / sizeof(OAEP_SHA256[0]); i++) {
        ok = ok || strcmp(alg, OAEP_SHA256[i]) == 0;
    }
    SHD_ENSURE_MSG(ok, SHD_ERR_UNSUPPORTED,
                   "KMS key algorithm %.64s is not RSA_DECRYPT_OAEP_*_SHA256 (the envelope's "
                   "RSA-OAEP-SHA256)",
                   alg);
    EVP_PKEY *key = NULL;
    SHD_GUARD_CTX(shd_crypto_pubkey_load((const uint8_t *)pem, strlen(pem), &key),
                  "publicKey reply \"pem\"");
    if (shd_crypto_key_kind(key) != SHD_CRYPTO_KEY_RSA) {
        EVP_PKEY_free(key);
        SHD_BAIL_MSG(SHD_ERR_BAD_KEY, "publicKey reply: not an RSA key");
    }
    *ret_key = key;
    return SHD_OK;
}

static shd_result remote_new(const struct keysrc_gcpkms *s, struct keysrc_gcpkms_remote **ret)
{
    struct keysrc_gcpkms_remote *rm = shd_alloc(sizeof(*rm));
    SHD_ENSURE(rm != NULL, SHD_ERR_NOMEM);
    rm->version = shd_strdup(s->version);
    rm->ep.unix_path = shd_strdup(s->ep.unix_path);
    shd_result r =
        rm->version != NULL && rm->ep.unix_path != NULL
            ? proxy_keysrc_client_create(&rm->ep, DECRYPT_TIMEOUT_MS, DECRYPT_ATTEMPTS, &rm->client)
            : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    if (shd_is_err(r)) {
        remote_free(rm);
        return r;
    }
    *ret = rm;
    return SHD_OK;
}

shd_result proxy_keysrc_gcpkms_obtain(void *state, struct proxy_key_material *ret)
{
    const struct keysrc_gcpkms *s = state;
    SHD_ENSURE(s != NULL && ret != NULL, SHD_ERR_NULL);

    SHD_CLEANUP(proxy_keysrc_client_free_p) struct shd_http_client *client = NULL;
    SHD_GUARD(proxy_keysrc_client_create(&s->ep, s->timeout_ms, 1, &client));
    char path[NAME_MAX_LEN + 32];
    /* The name was checked at configure: [A-Za-z0-9_.:-] and '/', nothing to escape. */
    int n = snprintf(path, sizeof(path), "/kms/publicKey?name=%s", s->version);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(path), SHD_ERR_TOO_LARGE);
    SHD_CLEANUP(proxy_keysrc_resp_free_p) struct shd_http_response *resp = NULL;
    SHD_GUARD_CTX(proxy_keysrc_call(client, &s->ep, KMS_SERVICE, "GET", path, NULL, 0, &resp),
                  "GET /kms/publicKey name=%s", s->version);
    size_t len = 0;
    const uint8_t *body = shd_http_response_body(resp, &len);
    EVP_PKEY *pub = NULL;
    SHD_GUARD_CTX(public_key_parse(body, len, &pub), KMS_SERVICE " name=%s", s->version);
    struct keysrc_gcpkms_remote *rm = NULL;
    shd_result r = remote_new(s, &rm);
    if (shd_is_err(r)) {
        EVP_PKEY_free(pub);
        return r;
    }
    proxy_keysrc_log_key("gcp-kms", true, pub);
    *ret = (struct proxy_key_material){
        .public_key = pub,
        .remote_decrypt = gcpkms_decrypt,
        .remote_ctx = rm,
        .remote_free = remote_free,
    };
    return SHD_OK;
}

/* {"plaintext":"<b64>"} -> out. The plaintext is an envelope key or IV: secret. */
static shd_result plaintext_parse(const uint8_t *body, size_t len, uint8_t *out, size_t cap,
                                  size_t *ret_len)
{
    const struct shd_json_limits lim = {.max_bytes = 4096, .max_depth = 4};
    SHD_CLEANUP_JSON json_t *doc = NULL;
    SHD_GUARD_CTX(shd_json_parse((const char *)body, len, &lim, &doc), "decrypt reply");
    const char *b64 = NULL;
    size_t b64_len = 0;
    SHD_GUARD_CTX(shd_json_get_stringn(doc, "plaintext", &b64, &b64_len), "decrypt reply");
    SHD_ENSURE_MSG(b64_len <= PLAINTEXT_B64_MAX, SHD_ERR_TOO_LARGE,
                   "decrypt reply: plaintext too long");
    SHD_GUARD_CTX(shd_b64_decode_into(b64, b64_len, SHD_B64_STD, out, cap, ret_len),
                  "decrypt reply \"plaintext\"");
    return SHD_OK;
}

static shd_result decrypt_once(const struct keysrc_gcpkms_remote *rm, const uint8_t *in, size_t n,
                               uint8_t *out, size_t cap, size_t *ret_len)
{
    SHD_ENSURE_MSG(n > 0 && n <= CIPHERTEXT_MAX, SHD_ERR_INPUT, "ciphertext of %zu bytes (1..%u)",
                   n, CIPHERTEXT_MAX);
    SHD_CLEANUP_FREE char *ct = NULL;
    size_t ct_len = 0;
    SHD_GUARD(shd_b64_encode(in, n, SHD_B64_STD, &ct, &ct_len));
    const struct shd_json_go_field f[] = {
        {"name", rm->version, strlen(rm->version)},
        {"ciphertext", ct, ct_len},
    };
    SHD_CLEANUP_FREE char *body = NULL;
    size_t body_len = 0;
    SHD_GUARD(shd_json_go_dump_strings(f, 2, &body, &body_len));
    SHD_CLEANUP(proxy_keysrc_resp_free_p) struct shd_http_response *resp = NULL;
    SHD_GUARD(proxy_keysrc_call(rm->client, &rm->ep, KMS_SERVICE, "POST", "/kms/asymmetricDecrypt",
                                body, body_len, &resp));
    size_t len = 0;
    const uint8_t *reply = shd_http_response_body(resp, &len);
    return plaintext_parse(reply, len, out, cap, ret_len);
}

/* The keystore's remote_decrypt (proxy_key_remote_decrypt_fn); thread-safe: the client runs
 * every request on its own curl handle and the rest is read-only. */
static shd_result gcpkms_decrypt(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                                 size_t *ret_len)
{
    const struct keysrc_gcpkms_remote *rm = ctx;
    SHD_ENSURE(rm != NULL && (in != NULL || n == 0) && out != NULL && ret_len != NULL,
               SHD_ERR_NULL);
    size_t len = 0;
    shd_result r = decrypt_once(rm, in, n, out, cap, &len);
    if (shd_is_ok(r)) {
        *ret_len = len;
        return SHD_OK;
    }
    shd_memzero(out, cap);
    unsigned long status = 0;
    bool peer = shd_error_foreign(&status) == SHD_FOREIGN_HTTP && status == 400;
    if (peer) {
        SHD_LOG_RATELIMITED(SHD_LOG_LEVEL_DEBUG, PROXY_LOG_KEY, 10000, 10,
                            "KMS refused a ciphertext");
    } else {
        char chain[SHD_ERROR_FRAME_LEN];
        (void)shd_error_render(chain, sizeof(chain));
        SHD_LOG_RATELIMITED(SHD_LOG_LEVEL_WARNING, PROXY_LOG_KEY, 10000, 5,
                            "KMS decrypt failed: %s", chain);
    }
    SHD_BAIL_MSG(SHD_ERR_DECRYPT, "KMS decrypt failed");
}
