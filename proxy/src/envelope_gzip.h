/*
 * envelope_gzip.h - gzip (RFC 1952) for encrypted bodies: the proxy gunzips a gzip workload
 * response before sealing it and gzips the sealed text again (what express-http-proxy does,
 * polaris-protocol.md §1.3); the client undoes it. Built into proxy_envelope with the envelope
 * code so both programs share it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

/*
 * Inflates gzip data (one or more members) into a fresh shd_alloc block of *ret_len + 1 bytes
 * (NUL after the data; it may be secret: shd_free_wipe(p, len + 1)). More than max_out bytes of
 * output is SHD_ERR_TOO_LARGE (a gzip bomb stops there); corrupt or truncated data is
 * SHD_ERR_INPUT. Intermediate buffers are wiped.
 */
SHD_RESULT proxy_gzip_inflate(const uint8_t *in, size_t n, size_t max_out, uint8_t **ret,
                              size_t *ret_len);

/* Compresses in[0..n) as one gzip member into a fresh shd_alloc block of *ret_len bytes. */
SHD_RESULT proxy_gzip_deflate(const uint8_t *in, size_t n, uint8_t **ret, size_t *ret_len);
