/*
 * polaris_client.h - a client library for the Polaris wire protocol (polaris-protocol.md §2.3),
 * the C counterpart of the SDK's axios interceptor, used by skr-proxy-client.
 *
 *   proxy_client_create(&opts, &c);           generates the client's own response key
 *   proxy_client_public_key_fetch(c);          GET /polaris-container/publicKey (or opts.pem)
 *   proxy_client_do(c, &req, &resp);           encrypt, send, decrypt
 *   proxy_client_response_body(resp, &len);    the decrypted body (secret, wiped at free)
 *
 * Differences from the SDK, on purpose: the path is always sent encrypted in polaris-url (also
 * "/"), no plaintext copy of the caller's headers travels next to polaris-secure, and the
 * response is decrypted whatever its status when it is an envelope (proxy errors are plain).
 *
 * One client may be used by one thread at a time (the key is read-only, the transport creates a
 * curl handle per request, but the cached proxy key is replaced by a fetch).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

struct proxy_client;
struct proxy_client_response;

#define PROXY_CLIENT_DEFAULT_KEY_BITS 3072u
#define PROXY_CLIENT_DEFAULT_MAX_RESPONSE ((size_t)64 * 1024 * 1024)
#define PROXY_CLIENT_DEFAULT_TIMEOUT_MS 300000u

struct proxy_client_options {
    const char *base_url;       /* "http://host:port" of the proxy (required) */
    const char *unix_socket;    /* connect here instead of TCP (may be NULL) */
    const char *proxy_key_pem;  /* the proxy's public key; NULL: fetch it */
    size_t proxy_key_pem_len;
    bool plain_responses;       /* the proxy does not encrypt responses (output encryption off) */
    unsigned key_bits;          /* the client's response key: 2048, 3072 or 4096; 0: default */
    size_t iv_len;              /* 12 (WebCrypto) or 16 (Node); 0: 16 */
    size_t max_response;        /* 0: default */
    uint32_t timeout_ms;        /* 0: default */
};

struct proxy_client_header {
    const char *name;
    const char *value;
};

struct proxy_client_request {
    const char *method;                        /* "GET", "POST", ... */
    const char *path;                          /* "/path?query#hash", starts with '/' */
    const struct proxy_client_header *headers; /* sent only inside polaris-secure */
    size_t nheaders;
    const uint8_t *body; /* NULL: no body */
    size_t body_len;
};

/* Creates a client: copies opts, generates the response key (unless plain_responses) and loads
 * proxy_key_pem when given. SHD_ERR_CONFIG for bad options, SHD_ERR_BAD_KEY for a bad PEM. */
SHD_RESULT proxy_client_create(const struct proxy_client_options *opts,
                               struct proxy_client **ret_client);

/* Fetches the proxy's key from GET <base>/polaris-container/publicKey and caches it. */
SHD_RESULT proxy_client_public_key_fetch(struct proxy_client *client);

/*
 * Sends one encrypted request (fetching the proxy key first if none is cached) and reads the
 * answer. SHD_OK for any HTTP status: the caller looks at it. Transport errors are the shd
 * http client's (SHD_ERR_CONNECT, SHD_ERR_TIMEOUT, SHD_ERR_TOO_LARGE, ...); SHD_ERR_DECRYPT when
 * a 2xx response is not a valid envelope for our key.
 */
SHD_RESULT proxy_client_do(struct proxy_client *client, const struct proxy_client_request *req,
                           struct proxy_client_response **ret_resp);

/* Wipes the key and frees (NULL is fine). */
void proxy_client_free(struct proxy_client *client);

/* HTTP status. */
unsigned proxy_client_response_status(const struct proxy_client_response *resp);

/* The body: decrypted when it was an envelope, else as received (never NULL; NUL after it). */
const uint8_t *proxy_client_response_body(const struct proxy_client_response *resp,
                                          size_t *ret_len);

/* True when the body was an envelope that we decrypted. */
bool proxy_client_response_decrypted(const struct proxy_client_response *resp);

/* An outer (plaintext) response header, or NULL. */
const char *proxy_client_response_header(const struct proxy_client_response *resp,
                                         const char *name);

/* Wipes and frees (NULL is fine). */
void proxy_client_response_free(struct proxy_client_response *resp);
