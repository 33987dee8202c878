/*
 * unwrap.h - turns a client request into the request for the workload (polaris-protocol.md
 * §1.3, §1.4), with the checks of §6: bounded envelopes, a validated path, hop-by-hop headers
 * dropped (Host and Content-Length are set by the proxy).
 *
 * Nothing here logs, and no error message quotes decrypted bytes (paths, header names or
 * values, bodies): the messages go back to the client and may be logged.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "shd/result.h"

#include "config.h"
#include "headers.h"
#include "keystore.h"
#include "server.h"

/* The request as the workload will get it. Secret in encrypted mode; wiped by the clear. */
struct proxy_inner {
    char *target; /* NUL-terminated request-target */
    size_t target_len;
    struct proxy_headers headers; /* filtered */
    uint8_t *owned_body;          /* decrypted body (encrypted mode), else NULL */
    size_t owned_len;
    const uint8_t *body; /* NULL: no body; else owned_body or the client's body */
    size_t body_len;
    EVP_PKEY *response_key; /* the client's key when output encryption is on, else NULL */
};

/* Message of a missing response key (the Polaris text, §1.5). */
#define PROXY_MSG_RESPONSE_KEY "Response public key is required for output encryption"

/*
 * Builds *ret from req: with input encryption, decrypts the URL header, the header-set header and
 * the body (one envelope) with the keystore; without it, takes the raw target, the client's
 * headers and body. With output encryption, loads the response key first. *ret is written only on
 * success (release with proxy_inner_clear). Errors: SHD_ERR_DECRYPT (any failed envelope, one
 * message), SHD_ERR_INPUT / SHD_ERR_ENCODING / SHD_ERR_JSON / SHD_ERR_TRUNCATED /
 * SHD_ERR_TOO_LARGE for malformed input, SHD_ERR_BAD_KEY for a bad response key,
 * SHD_ERR_UNAVAILABLE before the key is ready.
 */
SHD_RESULT proxy_inner_build(const struct proxy_config *cfg, struct proxy_keystore *ks,
                             const struct proxy_request *req, struct proxy_inner *ret);

/* Wipes and frees (NULL is fine). */
void proxy_inner_clear(struct proxy_inner *inner);

/*
 * §6.4: a forwarded request-target starts with '/' and holds only visible ASCII (0x21..0x7e): no
 * CR, LF, NUL, space or control byte (SHD_ERR_INPUT otherwise).
 */
SHD_RESULT proxy_target_check(const char *t, size_t n);

/*
 * Parses the decrypted header object (JSON: string, integer or boolean values, or arrays of
 * those, as Node's setHeader takes them) into *ret (initialised by the caller), dropping
 * hop-by-hop fields and those the proxy sets.
 */
SHD_RESULT proxy_headers_from_json(const uint8_t *json, size_t n, size_t max_bytes,
                                   struct proxy_headers *ret);
