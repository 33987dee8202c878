/*
 * jws.h - JWS compact serialisation (RFC 7515 §7.1): sign, and verify with a pinned algorithm.
 *
 * Verification never trusts the token's "alg": the caller names the one algorithm it accepts
 * and the header must carry exactly that name. "none", HS* and anything outside
 * enum shd_jws_alg can therefore never verify (the libjwt confusion trap of real-clients.md
 * §3.2: an HS256 token MACed with the RSA public PEM). The key must fit the algorithm (RSA of at
 * least SHD_JWS_RSA_MIN_BITS, EC on the algorithm's curve).
 *
 * Flow:  shd_jws_parse -> shd_jws_verify_{key,jwks,x5c} -> shd_jws_payload[_json] -> free.
 * Parsing checks size, exactly three segments, strict unpadded base64url in each (RFC 7515
 * §2), a JSON object header with a string "alg" and no "crit" (we implement no extension, RFC
 * 7515 §4.1.11). The payload is decoded at parse time but only handed out, and only parsed as
 * JSON, after a successful verification.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "shd/result.h"

/* The algorithms we sign and verify (RFC 7518 §3.1). HS* and "none" are deliberately absent. */
enum shd_jws_alg {
    SHD_JWS_RS256 = 1,
    SHD_JWS_RS384,
    SHD_JWS_RS512,
    SHD_JWS_PS256,
    SHD_JWS_PS384,
    SHD_JWS_PS512,
    SHD_JWS_ES256,
    SHD_JWS_ES384,
    SHD_JWS_ES512,
};

/* Default cap on a compact token (bytes); a caller may pass a smaller or larger one. */
#define SHD_JWS_MAX_DEFAULT (64u * 1024u)

/* Smallest RSA modulus accepted for signing or verification. */
#define SHD_JWS_RSA_MIN_BITS 2048

struct shd_jws;

/* The "alg" name of alg ("RS256", ...); NULL for a value outside the enum. */
const char *shd_jws_alg_name(enum shd_jws_alg alg);

/* Maps an "alg" name (exact, case-sensitive) to the enum; SHD_ERR_UNSUPPORTED for others. */
SHD_RESULT shd_jws_alg_parse(const char *name, enum shd_jws_alg *ret_alg);

/*
 * Parses a compact JWS of len bytes (need not be NUL-terminated). max_len 0 means
 * SHD_JWS_MAX_DEFAULT. Errors: SHD_ERR_TOO_LARGE (size), SHD_ERR_INPUT (segment count, "crit",
 * header not an object, "alg" missing), SHD_ERR_ENCODING (base64url), SHD_ERR_JSON (header).
 * *ret_jws is owned by the caller (shd_jws_free).
 */
SHD_RESULT shd_jws_parse(const char *token, size_t len, size_t max_len, struct shd_jws **ret_jws);

/* Frees a parsed token and sets *jws to NULL; NULL and *jws == NULL are fine. */
void shd_jws_free(struct shd_jws **jws);

/*
 * The protected header (a JSON object), borrowed from jws. UNVERIFIED before a successful
 * shd_jws_verify_*: use it only to pick a key (kid, jku), never for a decision.
 */
const json_t *shd_jws_header(const struct shd_jws *jws);

/* The header's "kid" if it is a string, else NULL. Borrowed; unverified like the header. */
const char *shd_jws_kid(const struct shd_jws *jws);

/*
 * Verifies the signature with key under the pinned algorithm alg. SHD_ERR_TOKEN when the
 * header's "alg" is not alg's name, SHD_ERR_BAD_KEY when key does not fit alg,
 * SHD_ERR_BAD_SIGNATURE when the signature does not verify. The key is only borrowed.
 */
SHD_RESULT shd_jws_verify_key(EVP_PKEY *key, enum shd_jws_alg alg, struct shd_jws *jws);

/*
 * Verifies with the key of a JWK set ({"keys":[...]}) whose "kid" equals the header's "kid".
 * Fails with SHD_ERR_TOKEN if the header has no string kid, SHD_ERR_NOT_FOUND if no entry
 * has it, SHD_ERR_INPUT if several do (ambiguous). The entry's key comes from its RSA/EC
 * members, or else from x5c[0] (MAA publishes only kid/kty/x5c, azure-formats.md §4.3); an
 * entry "alg" other than alg or a "use" other than "sig" is rejected. The set is trusted
 * because of where it came from (TLS to the issuer); no chain check is made here.
 */
SHD_RESULT shd_jws_verify_jwks(const json_t *jwks, enum shd_jws_alg alg, struct shd_jws *jws);

/*
 * Verifies with the public key of the header's x5c[0] (std base64 DER, RFC 7515 §4.1.6) after
 * verifying that certificate to one of roots, with x5c[1..] as untrusted intermediates, at the
 * current time, and checking that the leaf may serve TLS (Go's default key usage, which the
 * sidecar relies on, skr-sidecar.md §5.4). When host is not NULL the leaf must be valid for
 * that DNS name (Key Vault release JWS: the vault host). SHD_ERR_BAD_CERT for chain, usage or
 * host failures, SHD_ERR_INPUT for a missing or malformed x5c (at most 8 certificates).
 * roots is borrowed and not modified.
 */
SHD_RESULT shd_jws_verify_x5c(STACK_OF(X509) * roots, const char *host, enum shd_jws_alg alg,
                              struct shd_jws *jws);

/* True once a shd_jws_verify_* call succeeded on jws. */
bool shd_jws_is_verified(const struct shd_jws *jws);

/*
 * The decoded payload bytes, borrowed from jws (valid until shd_jws_free). SHD_ERR_USAGE when
 * jws is not verified.
 */
SHD_RESULT shd_jws_payload(const struct shd_jws *jws, const uint8_t **ret_payload, size_t *ret_len);

/*
 * The payload parsed as JSON (duplicate keys rejected), borrowed from jws. SHD_ERR_USAGE when
 * jws is not verified, SHD_ERR_JSON when the payload is not JSON.
 */
SHD_RESULT shd_jws_payload_json(const struct shd_jws *jws, const json_t **ret_json);

/* Optional protected-header members for shd_jws_sign; NULL members are left out. */
struct shd_jws_sign_header {
    const char *kid;
    const char *jku;
    const char *typ;
    X509 *const *x5c; /* certificates, leaf first, written as std base64 DER */
    size_t x5c_len;
};

/*
 * Signs payload with key under alg and returns the compact token in a fresh NUL-terminated
 * string (shd_free); *ret_len (optional) gets its length. The header is compact JSON with
 * sorted members ("alg" plus the members of hdr that are set). hdr may be NULL.
 * SHD_ERR_BAD_KEY when key does not fit alg.
 */
SHD_RESULT shd_jws_sign(const struct shd_jws_sign_header *hdr, const uint8_t *payload,
                        size_t payload_len, EVP_PKEY *key, enum shd_jws_alg alg, char **ret_token,
                        size_t *ret_len);
