/*
 * config.h - the proxy's configuration: the Polaris proxy's environment variables
 * (polaris-protocol.md §4.1) with the same meaning, plus our own flags, parsed once into an
 * immutable struct (STYLE.md rule 31). Flags win over the environment.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shd/log.h"
#include "shd/result.h"

#include "keystore.h"

#define PROXY_DEFAULT_PORT 3000u
#define PROXY_DEFAULT_LISTEN "0.0.0.0"
#define PROXY_DEFAULT_MAX_BODY ((size_t)16 * 1024 * 1024)
#define PROXY_DEFAULT_MAX_RESPONSE ((size_t)16 * 1024 * 1024)
#define PROXY_DEFAULT_MAX_HEADER ((size_t)32 * 1024)
#define PROXY_MIN_MAX_HEADER ((size_t)16 * 1024)
#define PROXY_DEFAULT_MAX_CONNECTIONS 64u
#define PROXY_DEFAULT_IDLE_TIMEOUT_S 30u
#define PROXY_DEFAULT_UPSTREAM_TIMEOUT_MS 300000u
/* Upper bound of any size flag: GCM and OpenSSL lengths are int-sized. */
#define PROXY_MAX_SIZE_LIMIT ((size_t)512 * 1024 * 1024)

struct proxy_config {
    /* Listener. */
    char *listen_host; /* IPv4 or IPv6 literal */
    uint16_t port;
    /* Workload: http://host:port (any path of the configured URL is ignored, like Polaris). */
    char *workload_base; /* "http://host:port" as given to libcurl */
    char *workload_host; /* the Host header value we send */
    char *workload_unix; /* NULL, or a Unix socket path that replaces TCP */
    /* Encryption and CORS (POLARIS_CONTAINER_ENABLE_*). */
    bool input_encryption;
    bool output_encryption;
    bool cors;
    /* Header names (POLARIS_CONTAINER_URL_HEADER_KEY, POLARIS_CONTAINER_HEADER_KEY), lower case. */
    char *url_header;
    char *secure_header;
    const char *response_key_header; /* always polaris-response-public-key (§4.1 bug not copied) */
    /* Key. */
    const struct proxy_key_source *key_source;
    unsigned key_attempts;
    uint32_t key_retry_base_ms;
    uint32_t key_retry_max_ms;
    size_t secure_heap_bytes;
    bool key_process; /* the key in a forked key process (default); off only for debugging */
    /* Limits (STYLE.md rule 23, polaris-protocol.md §6.1). */
    size_t max_body;
    size_t max_response;
    size_t max_header;
    unsigned max_connections;
    unsigned idle_timeout_s;
    uint32_t upstream_timeout_ms;
    /* Logging. */
    enum shd_log_level log_level; /* from POLARIS_CONTAINER_ENABLE_LOGGING / _LOG_LEVEL */
    char *log_spec;               /* --log or PROXY_LOG, applied on top; NULL if none */
    char *log_file;               /* NULL: stderr */
    const char *pino_level;       /* what /polaris-container/logLevel reports */
    /* Actions. */
    bool help;
    bool version;
};

/*
 * Parses environment (through getenv; NULL = secure_getenv) and argv into *ret (written only on
 * success; release with proxy_config_clear). After --help or --version the rest may be
 * incomplete: check those first. Errors are SHD_ERR_CONFIG / SHD_ERR_USAGE with a message naming
 * the variable or flag.
 */
SHD_RESULT proxy_config_parse(int argc, const char *const *argv, proxy_getenv_fn getenv,
                              struct proxy_config *ret);

/* Frees the strings and zeroes *cfg (NULL is fine). */
void proxy_config_clear(struct proxy_config *cfg);

/* Writes the --help text. */
void proxy_config_usage(const char *argv0, FILE *out);

/*
 * Parses a size with an optional K, M or G suffix (powers of 1024) within [min, max].
 * SHD_ERR_CONFIG on anything else.
 */
SHD_RESULT proxy_parse_size(const char *s, size_t min, size_t max, size_t *ret);

/* Parses a decimal unsigned integer within [min, max]. SHD_ERR_CONFIG otherwise. */
SHD_RESULT proxy_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
