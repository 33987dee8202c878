/*
 * challenge.h - Confidential Computing API challenges (gcp-identity.md §3.2): single-use nonces
 * that expire one hour after creation.
 *
 * A challenge is named "projects/<p>/locations/<l>/challenges/<uuid v4>" and carries a 34-byte
 * nonce "GoogAttestV1" + 22 base64url characters (16 random bytes), the format of the real
 * service; the wire field tpmNonce is its standard base64. The store is bounded
 * (GEMU_CHALLENGE_MAX live entries; expired and used ones are dropped first when full, then the
 * oldest) and thread-safe (one mutex): handlers run concurrently.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

#define GEMU_CHALLENGE_MAX 4096u
#define GEMU_CHALLENGE_TTL_S 3600
#define GEMU_CHALLENGE_NONCE_LEN 34u
#define GEMU_CHALLENGE_NAME_MAX 255u

/* Clock in nanoseconds since the epoch; tests inject their own. */
typedef int64_t (*gemu_clock_fn)(void *arg);

struct gemu_challenge {
    char name[GEMU_CHALLENGE_NAME_MAX + 1];
    int64_t create_ns;
    int64_t expire_ns;
    bool used;
    uint8_t nonce[GEMU_CHALLENGE_NONCE_LEN];
};

struct gemu_challenge_store;

/*
 * A new store. clock NULL means CLOCK_REALTIME; ttl_s 0 means GEMU_CHALLENGE_TTL_S.
 * *ret: gemu_challenge_store_free.
 */
SHD_RESULT gemu_challenge_store_new(gemu_clock_fn clock, void *clock_arg, int64_t ttl_s,
                                    struct gemu_challenge_store **ret);

/* Wipes and frees (NULL is fine). */
void gemu_challenge_store_free(struct gemu_challenge_store *s);

/* The store's current time (ns since the epoch). */
int64_t gemu_challenge_store_now(const struct gemu_challenge_store *s);

/*
 * Creates a challenge under parent ("projects/<p>/locations/<l>", at most 180 bytes, else
 * SHD_ERR_INPUT) and returns a copy of it.
 */
SHD_RESULT gemu_challenge_create(const char *parent, struct gemu_challenge_store *s,
                                 struct gemu_challenge *ret);

/*
 * Takes the challenge called name for one verification: SHD_ERR_NOT_FOUND when unknown,
 * SHD_ERR_POLICY "challenge already used" / "challenge expired" otherwise; on success it is
 * marked used (single use: a failed verification consumes it too, as the service documents)
 * and a copy is returned.
 */
SHD_RESULT gemu_challenge_consume(const char *name, struct gemu_challenge_store *s,
                                  struct gemu_challenge *ret);

/*
 * The Challenge resource JSON: {"name","createTime","expireTime","tpmNonce"} plus
 * "used":true when used; times RFC 3339 with nanoseconds and Z. *ret_json: shd_free.
 */
SHD_RESULT gemu_challenge_to_json(const struct gemu_challenge *c, char **ret_json);

/* RFC 3339 UTC with 9 fractional digits ("2023-09-21T01:04:48.230111757Z") into out (>= 31). */
SHD_RESULT gemu_rfc3339_nanos(int64_t ns, char *out, size_t cap);
