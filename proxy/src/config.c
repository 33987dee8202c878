/*
 * config.c - environment variables and flags into struct proxy_config. Flags are a table of
 * {name, takes a value, handler} (STYLE.md rule 4); both "--flag value" and "--flag=value" work.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/parse.h"
#include "shd/safety.h"

#include "config.h"
#include "keystore.h"

#define ENV_PREFIX "POLARIS_CONTAINER_"
#define URL_HEADER_DEFAULT "polaris-url"
#define SECURE_HEADER_DEFAULT "polaris-secure"
#define RESPONSE_KEY_HEADER "polaris-response-public-key"
#define HEADER_NAME_MAX 64u
#define ENV_KEY_PROCESS "PROXY_KEY_PROCESS"

shd_result proxy_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
    uint64_t v = 0;

    SHD_ENSURE(s != NULL && ret != NULL, SHD_ERR_NULL);
    if (shd_is_err(shd_parse_uint(s, 10, UINT64_MAX, &v))) {
        /* Configuration, not peer input: keep shd's reason under the CONFIG category. */
        char why[64];
        (void)shd_error_render(why, sizeof(why));
        shd_error_clear();
        SHD_BAIL_MSG(SHD_ERR_CONFIG, "\"%s\": %s", s, why);
    }
    SHD_ENSURE_MSG(v >= min && v <= max, SHD_ERR_CONFIG, "%s is outside %llu..%llu", s,
                   (unsigned long long)min, (unsigned long long)max);
    *ret = v;
    return SHD_OK;
}

shd_result proxy_parse_size(const char *s, size_t min, size_t max, size_t *ret)
{
    char digits[32];
    uint64_t v = 0;
    uint64_t mult = 1;

    SHD_ENSURE(s != NULL && ret != NULL, SHD_ERR_NULL);
    size_t n = strlen(s);
    SHD_ENSURE_MSG(n > 0 && n < sizeof(digits), SHD_ERR_CONFIG, "bad size \"%s\"", s);
    shd_memcpy(digits, s, n + 1);
    switch (digits[n - 1]) {
    case 'K':
    case 'k':
        mult = 1024u;
        break;
    case 'M':
    case 'm':
        mult = 1024u * 1024u;
        break;
    case 'G':
    case 'g':
        mult = 1024u * 1024u * 1024u;
        break;
    default:
        break;
    }
    if (mult != 1) {
        digits[n - 1] = '\0';
    }
    SHD_GUARD_CTX(proxy_parse_uint(digits, 0, UINT64_MAX / mult, &v), "size \"%s\"", s);
    v *= mult;
    SHD_ENSURE_MSG(v >= min && v <= max, SHD_ERR_CONFIG, "size %s is outside %zu..%zu", s, min,
                   max);
    *ret = (size_t)v;
    return SHD_OK;
}

/* ---- the workload URL ---- */

/* http://host[:port][/anything]: only scheme, host and port count (express-http-proxy's
 * parseHost, polaris-protocol.md §1.3). https is refused: the workload is in the same TEE. */
static shd_result workload_url_parse(const char *url, struct proxy_config *cfg)
{
    static const char scheme[] = "http://";
    SHD_ENSURE_MSG(strncasecmp(url, scheme, sizeof(scheme) - 1) == 0, SHD_ERR_CONFIG,
                   "workload URL must start with http:// (https is not supported)");
    const char *host = url + sizeof(scheme) - 1;
    size_t auth_len = strcspn(host, "/?#");
    SHD_ENSURE_MSG(auth_len > 0 && auth_len < 256, SHD_ERR_CONFIG, "workload URL has no host");
    SHD_ENSURE_MSG(memchr(host, '@', auth_len) == NULL, SHD_ERR_CONFIG,
                   "workload URL must not carry credentials");
    char auth[256];
    shd_memcpy(auth, host, auth_len);
    auth[auth_len] = '\0';
    /* Port: after the last ':' unless that ':' is inside an IPv6 literal. */
    char *colon = strrchr(auth, ':');
    char *bracket = strrchr(auth, ']');
    uint64_t port = 80;
    if (colon != NULL && (bracket == NULL || colon > bracket)) {
        SHD_GUARD_CTX(proxy_parse_uint(colon + 1, 1, 65535, &port), "workload URL port");
        *colon = '\0';
    }
    SHD_ENSURE_MSG(auth[0] != '\0', SHD_ERR_CONFIG, "workload URL has no host");
    for (const char *p = auth; *p != '\0'; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || strchr("-._[]:", *p) != NULL;
        SHD_ENSURE_MSG(ok, SHD_ERR_CONFIG, "workload URL host has a bad character");
    }
    char base[300];
    char hosthdr[300];
    (void)snprintf(base, sizeof(base), "http://%s:%u", auth, (unsigned)port);
    if (port == 80) {
        (void)snprintf(hosthdr, sizeof(hosthdr), "%s", auth);
    } else {
        (void)snprintf(hosthdr, sizeof(hosthdr), "%s:%u", auth, (unsigned)port);
    }
    char *b = shd_strdup(base);
    char *h = shd_strdup(hosthdr);
    if (b == NULL || h == NULL) {
        shd_free(b);
        shd_free(h);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    shd_free(cfg->workload_base);
    shd_free(cfg->workload_host);
    cfg->workload_base = b;
    cfg->workload_host = h;
    return SHD_OK;
}

/* A header name we look requests up by: an HTTP token, stored lower case. */
static shd_result header_name_set(const char *v, char **slot)
{
    size_t n = strlen(v);
    SHD_ENSURE_MSG(n > 0 && n <= HEADER_NAME_MAX, SHD_ERR_CONFIG, "bad header name");
    char *copy = shd_strdup(v);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    for (char *p = copy; *p != '\0'; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
            ok = true;
        }
        if (!ok) {
            shd_free(copy);
            SHD_BAIL_MSG(SHD_ERR_CONFIG, "header name \"%s\" is not a token", v);
        }
    }
    shd_free(*slot);
    *slot = copy;
    return SHD_OK;
}

static shd_result string_set(const char *v, char **slot)
{
    char *copy = shd_strdup(v);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    shd_free(*slot);
    *slot = copy;
    return SHD_OK;
}

/* pino level names (POLARIS_CONTAINER_LOG_LEVEL) to ours. */
static shd_result pino_level_parse(const char *v, struct proxy_config *cfg)
{
    static const struct {
        const char *pino;
        enum shd_log_level level;
    } LEVELS[] = {
        {"fatal", SHD_LOG_LEVEL_FATAL}, {"error", SHD_LOG_LEVEL_ERROR},
        {"warn", SHD_LOG_LEVEL_WARNING}, {"info", SHD_LOG_LEVEL_INFO},
        {"debug", SHD_LOG_LEVEL_DEBUG}, {"trace", SHD_LOG_LEVEL_TRACE},
        {"silent", SHD_LOG_LEVEL_NONE},
    };
    for (size_t i = 0; i < sizeof(LEVELS) / sizeof(LEVELS[0]); i++) {
        if (strcmp(v, LEVELS[i].pino) == 0) {
            cfg->log_level = LEVELS[i].level;
            cfg->pino_level = LEVELS[i].pino;
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_CONFIG, "POLARIS_CONTAINER_LOG_LEVEL: unknown level \"%s\"", v);
}

static shd_result key_source_set(const char *v, struct proxy_config *cfg)
{
    const struct proxy_key_source *src = proxy_key_source_find(v);
    SHD_ENSURE_MSG(src != NULL, SHD_ERR_CONFIG, "unknown key source \"%s\" (see --help)", v);
    cfg->key_source = src;
    return SHD_OK;
}

/* "on" or "off" (--key-process, PROXY_KEY_PROCESS). */
static shd_result on_off_parse(const char *v, bool *ret)
{
    SHD_ENSURE_MSG(strcmp(v, "on") == 0 || strcmp(v, "off") == 0, SHD_ERR_CONFIG,
                   "\"%s\" is neither on nor off", v);
    *ret = strcmp(v, "on") == 0;
    return SHD_OK;
}

/* ---- environment ---- */

static bool env_true(proxy_getenv_fn getenv, const char *name)
{
    const char *v = getenv(name);
    /* Polaris compares with === "true". */
    return v != NULL && strcmp(v, "true") == 0;
}

static shd_result env_u32(proxy_getenv_fn getenv, const char *name, uint64_t min, uint64_t max,
                          uint32_t *slot)
{
    const char *v = getenv(name);
    uint64_t n = 0;
    if (v == NULL || v[0] == '\0') {
        return SHD_OK;
    }
    SHD_GUARD_CTX(proxy_parse_uint(v, min, max, &n), "%s", name);
    *slot = (uint32_t)n;
    return SHD_OK;
}

static shd_result env_read(proxy_getenv_fn getenv, struct proxy_config *cfg)
{
    const char *v = getenv(ENV_PREFIX "WORKLOAD_BASE_URL");
    if (v != NULL && v[0] != '\0') {
        SHD_GUARD_CTX(workload_url_parse(v, cfg), ENV_PREFIX "WORKLOAD_BASE_URL");
    }
    uint32_t port = PROXY_DEFAULT_PORT;
    SHD_GUARD(env_u32(getenv, "PORT", 1, 65535, &port));
    cfg->port = (uint16_t)port;
    cfg->input_encryption = env_true(getenv, ENV_PREFIX "ENABLE_INPUT_ENCRYPTION");
    cfg->output_encryption = env_true(getenv, ENV_PREFIX "ENABLE_OUTPUT_ENCRYPTION");
    cfg->cors = env_true(getenv, ENV_PREFIX "ENABLE_CORS");
    v = getenv(ENV_PREFIX "LOG_LEVEL");
    SHD_GUARD(pino_level_parse(v != NULL && v[0] != '\0' ? v : "info", cfg));
    if (!env_true(getenv, ENV_PREFIX "ENABLE_LOGGING")) {
        /* Polaris is silent then; we still report errors (a failed start must be visible). */
        cfg->log_level = SHD_LOG_LEVEL_ERROR;
        cfg->pino_level = "silent";
    }
    v = getenv(ENV_PREFIX "URL_HEADER_KEY");
    if (v != NULL && v[0] != '\0') {
        SHD_GUARD_CTX(header_name_set(v, &cfg->url_header), ENV_PREFIX "URL_HEADER_KEY");
    }
    v = getenv(ENV_PREFIX "HEADER_KEY");
    if (v != NULL && v[0] != '\0') {
        SHD_GUARD_CTX(header_name_set(v, &cfg->secure_header), ENV_PREFIX "HEADER_KEY");
    }
    v = getenv(ENV_PREFIX "KEY_TYPE");
    if (v != NULL && v[0] != '\0') {
        SHD_GUARD_CTX(key_source_set(v, cfg), ENV_PREFIX "KEY_TYPE");
    }
    uint32_t attempts = cfg->key_attempts;
    SHD_GUARD(env_u32(getenv, ENV_PREFIX "AZURE_SKR_MAX_REQUEST_RETRIES", 1, 100, &attempts));
    cfg->key_attempts = attempts;
    SHD_GUARD(env_u32(getenv, ENV_PREFIX "AZURE_SKR_RETRY_INTERVAL", 1, 3600000,
                      &cfg->key_retry_max_ms));
    v = getenv("PROXY_LOG");
    if (v != NULL && v[0] != '\0') {
        SHD_GUARD(string_set(v, &cfg->log_spec));
    }
    v = getenv(ENV_KEY_PROCESS);
    if (v != NULL && v[0] != '\0') {
        SHD_GUARD_CTX(on_off_parse(v, &cfg->key_process), ENV_KEY_PROCESS);
    }
    return SHD_OK;
}

/* ---- flags ---- */

typedef shd_result (*flag_fn)(const char *value, struct proxy_config *cfg);

static shd_result f_listen(const char *v, struct proxy_config *c)
{
    return string_set(v, &c->listen_host);
}

static shd_result f_port(const char *v, struct proxy_config *c)
{
    uint64_t n = 0;
    /* 0: the kernel chooses (tests read the port from the "listening" log line). */
    SHD_GUARD(proxy_parse_uint(v, 0, 65535, &n));
    c->port = (uint16_t)n;
    return SHD_OK;
}

static shd_result f_workload(const char *v, struct proxy_config *c)
{
    return workload_url_parse(v, c);
}

static shd_result f_workload_unix(const char *v, struct proxy_config *c)
{
    SHD_ENSURE_MSG(v[0] == '/' && strlen(v) < 108, SHD_ERR_CONFIG,
                   "the Unix socket path must be absolute and under 108 bytes");
    return string_set(v, &c->workload_unix);
}

#define BOOL_FLAG(fn, field, value)                                                                \
    static shd_result fn(const char *v, struct proxy_config *c)                                    \
    {                                                                                              \
        (void)v;                                                                                   \
        c->field = (value);                                                                        \
        return SHD_OK;                                                                             \
    }
BOOL_FLAG(f_in_on, input_encryption, true)
BOOL_FLAG(f_in_off, input_encryption, false)
BOOL_FLAG(f_out_on, output_encryption, true)
BOOL_FLAG(f_out_off, output_encryption, false)
BOOL_FLAG(f_cors_on, cors, true)
BOOL_FLAG(f_cors_off, cors, false)
BOOL_FLAG(f_help, help, true)
BOOL_FLAG(f_version, version, true)

static shd_result f_key_source(const char *v, struct proxy_config *c)
{
    return key_source_set(v, c);
}

static shd_result f_key_attempts(const char *v, struct proxy_config *c)
{
    uint64_t n = 0;
    SHD_GUARD(proxy_parse_uint(v, 1, 100, &n));
    c->key_attempts = (unsigned)n;
    return SHD_OK;
}

static shd_result f_key_base(const char *v, struct proxy_config *c)
{
    uint64_t n = 0;
    SHD_GUARD(proxy_parse_uint(v, 1, 3600000, &n));
    c->key_retry_base_ms = (uint32_t)n;
    return SHD_OK;
}

static shd_result f_key_max(const char *v, struct proxy_config *c)
{
    uint64_t n = 0;
    SHD_GUARD(proxy_parse_uint(v, 1, 3600000, &n));
    c->key_retry_max_ms = (uint32_t)n;
    return SHD_OK;
}

static shd_result f_secure_heap(const char *v, struct proxy_config *c)
{
    return proxy_parse_size(v, 64 * 1024, 256u * 1024 * 1024, &c->secure_heap_bytes);
}

static shd_result f_key_process(const char *v, struct proxy_config *c)
{
    return on_off_parse(v, &c->key_process);
}

static shd_result f_max_body(const char *v, struct proxy_config *c)
{
    return proxy_parse_size(v, 0, PROXY_MAX_SIZE_LIMIT, &c->max_body);
}

static shd_result f_max_response(const char *v, struct proxy_config *c)
{
    return proxy_parse_size(v, 0, PROXY_MAX_SIZE_LIMIT, &c->max_response);
}

static shd_result f_max_header(const char *v, struct proxy_config *c)
{
    return proxy_parse_size(v, PROXY_MIN_MAX_HEADER, 1024 * 1024, &c->max_header);
}

static shd_result f_max_conn(const char *v, struct proxy_config *c)
{
    uint64_t n = 0;
    SHD_GUARD(proxy_parse_uint(v, 1, 4096, &n));
    c->max_connections = (unsigned)n;
    return SHD_OK;
}

static shd_result f_idle(const char *v, struct proxy_config *c)
{
    uint64_t n = 0;
    SHD_GUARD(proxy_parse_uint(v, 1, 3600, &n));
    c->idle_timeout_s = (unsigned)n;
    return SHD_OK;
}

static shd_result f_upstream_timeout(const char *v, struct proxy_config *c)
{
    uint64_t n = 0;
    SHD_GUARD(proxy_parse_uint(v, 1, 3600000, &n));
    c->upstream_timeout_ms = (uint32_t)n;
    return SHD_OK;
}

static shd_result f_log(const char *v, struct proxy_config *c)
{
    return string_set(v, &c->log_spec);
}

static shd_result f_log_file(const char *v, struct proxy_config *c)
{
    return string_set(v, &c->log_file);
}

struct flag {
    const char *name;
    bool takes_value;
    flag_fn fn;
    const char *arg;
    const char *help;
};

static const struct flag FLAGS[] = {
    {"listen", true, f_listen, "ADDR", "listen address, IPv4 or IPv6 literal (0.0.0.0)"},
    {"port", true, f_port, "N", "listen port (PORT, 3000)"},
    {"workload", true, f_workload, "URL",
     "workload base URL http://host:port (" ENV_PREFIX "WORKLOAD_BASE_URL)"},
    {"workload-unix-socket", true, f_workload_unix, "PATH",
     "reach the workload over this Unix socket instead of TCP"},
    {"input-encryption", false, f_in_on, NULL,
     "decrypt requests (" ENV_PREFIX "ENABLE_INPUT_ENCRYPTION=true)"},
    {"no-input-encryption", false, f_in_off, NULL, "pass requests through"},
    {"output-encryption", false, f_out_on, NULL,
     "encrypt responses (" ENV_PREFIX "ENABLE_OUTPUT_ENCRYPTION=true)"},
    {"no-output-encryption", false, f_out_off, NULL, "pass responses through"},
    {"cors", false, f_cors_on, NULL, "answer CORS with origin * (" ENV_PREFIX "ENABLE_CORS=true)"},
    {"no-cors", false, f_cors_off, NULL, "no CORS headers"},
    {"key-source", true, f_key_source, "NAME", "key source (" ENV_PREFIX "KEY_TYPE, ephemeral)"},
    {"key-attempts", true, f_key_attempts, "N", "attempts to obtain the key (5)"},
    {"key-retry-base-ms", true, f_key_base, "MS", "first backoff between attempts (1000)"},
    {"key-retry-max-ms", true, f_key_max, "MS",
     "backoff cap (" ENV_PREFIX "AZURE_SKR_RETRY_INTERVAL, 60000)"},
    {"secure-heap", true, f_secure_heap, "BYTES", "OpenSSL secure heap, power of two (2M)"},
    {"key-process", true, f_key_process, "on|off",
     "key in a separate key process (" ENV_KEY_PROCESS ", on); off: debugging only"},
    {"max-body", true, f_max_body, "BYTES", "largest request body (16M)"},
    {"max-response", true, f_max_response, "BYTES", "largest workload response body (16M)"},
    {"max-header", true, f_max_header, "BYTES", "request line and headers, >= 16K (32K)"},
    {"max-connections", true, f_max_conn, "N", "concurrent client connections (64)"},
    {"idle-timeout", true, f_idle, "S", "idle client connection timeout in seconds (30)"},
    {"upstream-timeout-ms", true, f_upstream_timeout, "MS", "whole workload exchange (300000)"},
    {"log", true, f_log, "SPEC", "log levels, e.g. all+info,forward+debug (PROXY_LOG)"},
    {"log-file", true, f_log_file, "PATH", "append log lines to PATH (mode 0600)"},
    {"help", false, f_help, NULL, "show this help"},
    {"version", false, f_version, NULL, "show the version"},
};

static const struct flag *flag_find(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(FLAGS) / sizeof(FLAGS[0]); i++) {
        if (strlen(FLAGS[i].name) == n && strncmp(FLAGS[i].name, name, n) == 0) {
            return &FLAGS[i];
        }
    }
    return NULL;
}

static shd_result flags_parse(int argc, const char *const *argv, struct proxy_config *cfg)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        SHD_ENSURE_MSG(strncmp(arg, "--", 2) == 0 && arg[2] != '\0', SHD_ERR_USAGE,
                       "unexpected argument \"%s\"", arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t n = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const struct flag *f = flag_find(name, n);
        SHD_ENSURE_MSG(f != NULL, SHD_ERR_USAGE, "unknown flag --%.*s", (int)n, name);
        const char *value = NULL;
        if (f->takes_value) {
            if (eq != NULL) {
                value = eq + 1;
            } else {
                SHD_ENSURE_MSG(i + 1 < argc, SHD_ERR_USAGE, "--%s needs a value", f->name);
                value = argv[++i];
            }
        } else {
            SHD_ENSURE_MSG(eq == NULL, SHD_ERR_USAGE, "--%s takes no value", f->name);
        }
        SHD_GUARD_CTX(f->fn(value, cfg), "--%s", f->name);
    }
    return SHD_OK;
}

static const char *getenv_secure(const char *name)
{
    return secure_getenv(name);
}

static shd_result defaults_set(struct proxy_config *cfg)
{
    *cfg = (struct proxy_config){
        .port = PROXY_DEFAULT_PORT,
        .response_key_header = RESPONSE_KEY_HEADER,
        .key_source = proxy_key_source_find("ephemeral"),
        .key_attempts = PROXY_KEYSTORE_DEFAULT_ATTEMPTS,
        .key_retry_base_ms = PROXY_KEYSTORE_DEFAULT_RETRY_BASE_MS,
        .key_retry_max_ms = PROXY_KEYSTORE_DEFAULT_RETRY_MAX_MS,
        .secure_heap_bytes = PROXY_KEYSTORE_DEFAULT_SECURE_HEAP,
        .key_process = true,
        .max_body = PROXY_DEFAULT_MAX_BODY,
        .max_response = PROXY_DEFAULT_MAX_RESPONSE,
        .max_header = PROXY_DEFAULT_MAX_HEADER,
        .max_connections = PROXY_DEFAULT_MAX_CONNECTIONS,
        .idle_timeout_s = PROXY_DEFAULT_IDLE_TIMEOUT_S,
        .upstream_timeout_ms = PROXY_DEFAULT_UPSTREAM_TIMEOUT_MS,
        .log_level = SHD_LOG_LEVEL_INFO,
        .pino_level = "info",
    };
    SHD_ENSURE(cfg->key_source != NULL, SHD_ERR_INTERNAL);
    SHD_GUARD(string_set(PROXY_DEFAULT_LISTEN, &cfg->listen_host));
    SHD_GUARD(string_set(URL_HEADER_DEFAULT, &cfg->url_header));
    SHD_GUARD(string_set(SECURE_HEADER_DEFAULT, &cfg->secure_header));
    return SHD_OK;
}

static shd_result config_check(struct proxy_config *cfg)
{
    if (cfg->workload_base == NULL && cfg->workload_unix != NULL) {
        SHD_GUARD(workload_url_parse("http://localhost", cfg));
    }
    SHD_ENSURE_MSG(cfg->workload_base != NULL, SHD_ERR_CONFIG,
                   "no workload: set " ENV_PREFIX "WORKLOAD_BASE_URL or --workload");
    SHD_ENSURE_MSG((cfg->secure_heap_bytes & (cfg->secure_heap_bytes - 1)) == 0, SHD_ERR_CONFIG,
                   "--secure-heap must be a power of two");
    if (cfg->key_retry_base_ms > cfg->key_retry_max_ms) {
        cfg->key_retry_base_ms = cfg->key_retry_max_ms;
    }
    return SHD_OK;
}

shd_result proxy_config_parse(int argc, const char *const *argv, proxy_getenv_fn getenv,
                              struct proxy_config *ret)
{
    struct proxy_config cfg;

    SHD_ENSURE(ret != NULL && (argc == 0 || argv != NULL), SHD_ERR_NULL);
    shd_result r = defaults_set(&cfg);
    if (shd_is_ok(r)) {
        r = env_read(getenv != NULL ? getenv : getenv_secure, &cfg);
    }
    if (shd_is_ok(r)) {
        r = flags_parse(argc, argv, &cfg);
    }
    if (shd_is_ok(r) && !cfg.help && !cfg.version) {
        r = config_check(&cfg);
    }
    if (shd_is_err(r)) {
        proxy_config_clear(&cfg);
        return r;
    }
    *ret = cfg;
    return SHD_OK;
}

void proxy_config_clear(struct proxy_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    shd_free(cfg->listen_host);
    shd_free(cfg->workload_base);
    shd_free(cfg->workload_host);
    shd_free(cfg->workload_unix);
    shd_free(cfg->url_header);
    shd_free(cfg->secure_header);
    shd_free(cfg->log_spec);
    shd_free(cfg->log_file);
    shd_memzero(cfg, sizeof(*cfg));
}

void proxy_config_usage(const char *argv0, FILE *out)
{
    (void)fprintf(out,
                  "Usage: %s [flags]\n"
                  "Polaris-compatible encrypting reverse proxy. Flags override the Polaris\n"
                  "environment variables (" ENV_PREFIX "*, PORT).\n\nFlags:\n",
                  argv0);
    for (size_t i = 0; i < sizeof(FLAGS) / sizeof(FLAGS[0]); i++) {
        char left[48];
        (void)snprintf(left, sizeof(left), "--%s%s%s", FLAGS[i].name,
                       FLAGS[i].arg != NULL ? " " : "", FLAGS[i].arg != NULL ? FLAGS[i].arg : "");
        (void)fprintf(out, "  %-28s %s\n", left, FLAGS[i].help);
    }
    (void)fprintf(out, "\nKey sources (--key-source / " ENV_PREFIX "KEY_TYPE):\n");
    for (size_t i = 0; proxy_key_source_at(i) != NULL; i++) {
        const struct proxy_key_source *s = proxy_key_source_at(i);
        (void)fprintf(out, "  %-28s %s\n", s->name, s->summary);
    }
    (void)fprintf(out,
                  "\nOther environment: " ENV_PREFIX "ENABLE_LOGGING, " ENV_PREFIX "LOG_LEVEL,\n"
                  "  " ENV_PREFIX "URL_HEADER_KEY, " ENV_PREFIX "HEADER_KEY,\n"
                  "  " ENV_PREFIX "AZURE_SKR_MAX_REQUEST_RETRIES, PROXY_LOG, " ENV_KEY_PROCESS
                  ", SHD_DONT_MLOCK.\n");
}
