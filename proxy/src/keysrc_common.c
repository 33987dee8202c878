/*
 * keysrc_common.c - what the key-service sources share (keysrc.h): service addresses, settings
 * from the environment, KMS resource names, the HTTP call with the services' error shape, and
 * the "key arrived" log line.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/un.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "config.h"
#include "keysrc.h"
#include "proxy_log.h"

/* Longest "error" text quoted from a service reply. */
#define ERROR_QUOTE_MAX 300u
#define URL_MAX 2048u

static const char *const LOOPBACK_HOSTS[] = {"localhost", "127.0.0.1", "[::1]"};

static shd_result unix_path_set(const char *path, struct proxy_keysrc_endpoint *ret)
{
    size_t n = strlen(path);
    SHD_ENSURE_MSG(n > 1 && path[0] == '/', SHD_ERR_CONFIG, "a Unix socket path must be absolute");
    SHD_ENSURE_MSG(n < sizeof(((struct sockaddr_un *)NULL)->sun_path), SHD_ERR_CONFIG,
                   "Unix socket path longer than %zu bytes",
                   sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
    char *p = shd_strdup(path);
    SHD_ENSURE(p != NULL, SHD_ERR_NOMEM);
    *ret = (struct proxy_keysrc_endpoint){.unix_path = p};
    return SHD_OK;
}

/* "http://HOST:PORT[/]" with HOST loopback and PORT 1..65535. */
static shd_result tcp_base_set(const char *spec, struct proxy_keysrc_endpoint *ret)
{
    static const char scheme[] = "http://";
    const char *hp = spec + sizeof(scheme) - 1;
    size_t n = strlen(hp);
    if (n > 0 && hp[n - 1] == '/') {
        n--;
    }
    for (size_t i = 0; i < sizeof(LOOPBACK_HOSTS) / sizeof(LOOPBACK_HOSTS[0]); i++) {
        size_t h = strlen(LOOPBACK_HOSTS[i]);
        if (n <= h + 1 || strncmp(hp, LOOPBACK_HOSTS[i], h) != 0 || hp[h] != ':') {
            continue;
        }
        char port_text[8];
        size_t plen = n - h - 1;
        SHD_ENSURE_MSG(plen < sizeof(port_text), SHD_ERR_CONFIG, "bad port in the address");
        shd_memcpy(port_text, hp + h + 1, plen);
        port_text[plen] = '\0';
        uint64_t port = 0;
        SHD_GUARD_CTX(proxy_parse_uint(port_text, 1, 65535, &port), "port");
        char *base = shd_strndup(spec, sizeof(scheme) - 1 + n);
        SHD_ENSURE(base != NULL, SHD_ERR_NOMEM);
        *ret = (struct proxy_keysrc_endpoint){.tcp_base = base};
        return SHD_OK;
    }
    SHD_BAIL_MSG(SHD_ERR_CONFIG,
                 "a TCP key service must be http://localhost:PORT, http://127.0.0.1:PORT or "
                 "http://[::1]:PORT (loopback only)");
}

shd_result proxy_keysrc_endpoint_parse(const char *spec, bool allow_tcp,
                                       struct proxy_keysrc_endpoint *ret)
{
    SHD_ENSURE(spec != NULL && ret != NULL, SHD_ERR_NULL);
    if (strncmp(spec, "unix:", 5) == 0) {
        return unix_path_set(spec + 5, ret);
    }
    if (spec[0] == '/') {
        return unix_path_set(spec, ret);
    }
    if (strncmp(spec, "http://", 7) == 0) {
        SHD_ENSURE_MSG(allow_tcp, SHD_ERR_CONFIG,
                       "this key service is reached over a Unix socket only (unix:PATH)");
        return tcp_base_set(spec, ret);
    }
    SHD_BAIL_MSG(SHD_ERR_CONFIG, "not a key service address (unix:PATH%s)",
                 allow_tcp ? " or http://127.0.0.1:PORT" : "");
}

void proxy_keysrc_endpoint_clear(struct proxy_keysrc_endpoint *ep)
{
    if (ep == NULL) {
        return;
    }
    shd_free(ep->unix_path);
    shd_free(ep->tcp_base);
    *ep = (struct proxy_keysrc_endpoint){0};
}

shd_result proxy_keysrc_env(proxy_getenv_fn getenv, const char *name, const char **ret)
{
    SHD_ENSURE(getenv != NULL && name != NULL && ret != NULL, SHD_ERR_NULL);
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        *ret = NULL;
        return SHD_OK;
    }
    size_t n = strnlen(v, PROXY_KEYSRC_MAX_VALUE + 1);
    SHD_ENSURE_MSG(n <= PROXY_KEYSRC_MAX_VALUE, SHD_ERR_CONFIG, "%s is longer than %zu bytes", name,
                   PROXY_KEYSRC_MAX_VALUE);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        /* The value is not quoted: it may be an access token. */
        SHD_ENSURE_MSG(c > 0x20 && c < 0x7f, SHD_ERR_CONFIG,
                       "%s has a byte outside visible ASCII at offset %zu", name, i);
    }
    *ret = v;
    return SHD_OK;
}

shd_result proxy_keysrc_env_required(proxy_getenv_fn getenv, const char *name, const char **ret)
{
    const char *v = NULL;
    SHD_GUARD(proxy_keysrc_env(getenv, name, &v));
    SHD_ENSURE_MSG(v != NULL, SHD_ERR_CONFIG, "%s is not set", name);
    *ret = v;
    return SHD_OK;
}

shd_result proxy_keysrc_env_timeout(proxy_getenv_fn getenv, uint32_t *ret_ms)
{
    const char *v = NULL;
    SHD_ENSURE(ret_ms != NULL, SHD_ERR_NULL);
    SHD_GUARD(proxy_keysrc_env(getenv, PROXY_KEYSRC_ENV_TIMEOUT, &v));
    if (v == NULL) {
        *ret_ms = PROXY_KEYSRC_DEFAULT_TIMEOUT_MS;
        return SHD_OK;
    }
    uint64_t ms = 0;
    SHD_GUARD_CTX(proxy_parse_uint(v, 1000, 600000, &ms), PROXY_KEYSRC_ENV_TIMEOUT);
    *ret_ms = (uint32_t)ms;
    return SHD_OK;
}

/* One id of a resource name: 1..100 bytes of [A-Za-z0-9_.:-], up to '/' or the end. */
static bool kms_id_take(const char **p, bool digits_only)
{
    size_t n = 0;
    const char *s = *p;
    while (s[n] != '\0' && s[n] != '/') {
        char c = s[n];
        bool ok = (c >= '0' && c <= '9') ||
                  (!digits_only && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                                    c == '.' || c == ':' || c == '-'));
        if (!ok || ++n > 100) {
            return false;
        }
    }
    *p = s + n;
    return n > 0;
}

shd_result proxy_keysrc_kms_name_check(const char *name, bool version, const char *what)
{
    static const char *const LITERALS[] = {"projects/", "/locations/", "/keyRings/", "/cryptoKeys/",
                                           "/cryptoKeyVersions/"};
    SHD_ENSURE(name != NULL && what != NULL, SHD_ERR_NULL);
    size_t parts = version ? 5u : 4u;
    const char *p = name;
    for (size_t i = 0; i < parts; i++) {
        size_t n = strlen(LITERALS[i]);
        bool ok = strncmp(p, LITERALS[i], n) == 0;
        p += ok ? n : 0;
        ok = ok && kms_id_take(&p, i == 4);
        SHD_ENSURE_MSG(ok, SHD_ERR_CONFIG,
                       "%s must be projects/P/locations/L/keyRings/R/cryptoKeys/K%s", what,
                       version ? "/cryptoKeyVersions/N" : "");
    }
    SHD_ENSURE_MSG(*p == '\0', SHD_ERR_CONFIG, "%s has trailing text after the %s", what,
                   version ? "version" : "key id");
    return SHD_OK;
}

shd_result proxy_keysrc_client_create(const struct proxy_keysrc_endpoint *ep, uint32_t timeout_ms,
                                      unsigned attempts, struct shd_http_client **ret_client)
{
    SHD_ENSURE(ep != NULL && ret_client != NULL, SHD_ERR_NULL);
    const struct shd_http_client_options o = {
        .unix_socket_path = ep->unix_path,
        .connect_timeout_ms = PROXY_KEYSRC_CONNECT_TIMEOUT_MS,
        .timeout_ms = timeout_ms,
        .max_response_bytes = PROXY_KEYSRC_MAX_REPLY,
        .retry = {.max_attempts = attempts != 0 ? attempts : 1,
                  .base_delay_ms = 50,
                  .max_delay_ms = 500,
                  .on_transport = true},
    };
    return shd_http_client_create(&o, ret_client);
}

/* The reply's {"error":"..."} text, control characters replaced, at most ERROR_QUOTE_MAX. */
static void error_quote(const uint8_t *body, size_t len, char *out, size_t cap)
{
    SHD_CLEANUP_JSON json_t *doc = NULL;
    const char *msg = NULL;
    const struct shd_json_limits lim = {.max_depth = 4};

    out[0] = '\0';
    if (shd_is_err(shd_json_parse((const char *)body, len, &lim, &doc)) ||
        shd_is_err(shd_json_get_string(doc, "error", &msg))) {
        shd_error_clear();
        (void)snprintf(out, cap, "(no error message)");
        return;
    }
    size_t n = 0;
    for (; msg[n] != '\0' && n + 1 < cap; n++) {
        unsigned char c = (unsigned char)msg[n];
        out[n] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    out[n] = '\0';
}

shd_result proxy_keysrc_call(const struct shd_http_client *client,
                             const struct proxy_keysrc_endpoint *ep, const char *service,
                             const char *method, const char *path_and_query, const char *body,
                             size_t body_len, struct shd_http_response **ret_resp)
{
    SHD_ENSURE(client != NULL && ep != NULL && service != NULL && method != NULL &&
                   path_and_query != NULL && ret_resp != NULL,
               SHD_ERR_NULL);
    char url[URL_MAX];
    const char *base = ep->unix_path != NULL ? "http://localhost" : ep->tcp_base;
    int w = snprintf(url, sizeof(url), "%s%s", base, path_and_query);
    SHD_ENSURE_MSG(w > 0 && (size_t)w < sizeof(url), SHD_ERR_TOO_LARGE, "request URL too long");
    const struct shd_http_header json_ct = {"Content-Type", "application/json"};
    const struct shd_http_request req = {
        .method = method,
        .url = url,
        .headers = body != NULL ? &json_ct : NULL,
        .nheaders = body != NULL ? 1u : 0u,
        .body = (const uint8_t *)body,
        .body_len = body != NULL ? body_len : 0,
    };
    struct shd_http_response *resp = NULL;
    SHD_GUARD_CTX(shd_http_client_do(client, &req, &resp, NULL), "%s", service);
    int status = shd_http_response_status(resp);
    if (status == 200) {
        *ret_resp = resp;
        return SHD_OK;
    }
    char quote[ERROR_QUOTE_MAX + 1];
    size_t len = 0;
    const uint8_t *rb = shd_http_response_body(resp, &len);
    error_quote(rb, len, quote, sizeof(quote));
    shd_http_response_free(resp);
    shd_result r = shd_error_setf(status == 403 ? SHD_ERR_PERMISSION : SHD_ERR_HTTP_STATUS,
                                  __FILE__, __LINE__, "%s answered %d: %s", service, status, quote);
    shd_error_set_foreign(SHD_FOREIGN_HTTP, (unsigned long)status);
    return r;
}

void proxy_keysrc_log_key(const char *source, bool remote, EVP_PKEY *pub)
{
    char thumb[SHD_JWK_THUMBPRINT_LEN + 1] = "?";
    if (shd_is_err(shd_jwk_thumbprint(pub, thumb))) {
        shd_error_clear();
        (void)snprintf(thumb, sizeof(thumb), "?");
    }
    /* 0 after shd_process_harden: no core dump, no same-uid ptrace, /proc/<pid>/mem root's. */
    int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, PROXY_LOG_KEY, remote ? "remote key ready" : "key released",
               SHD_LOG_STR("source", source), SHD_LOG_INT("bits", EVP_PKEY_get_bits(pub)),
               SHD_LOG_STR("thumbprint", thumb), SHD_LOG_BOOL("dumpable", dumpable != 0));
}
