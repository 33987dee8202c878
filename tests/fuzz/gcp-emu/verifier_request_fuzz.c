/*
 * verifier_request_fuzz.c - fuzz target for the request parser of the GCP emulator's
 * Confidential Computing verifier (tests/emulators/gcp/src/verifier_req.c):
 * verifyAttestation and verifyConfidentialSpace bodies, proto3 JSON with camelCase or
 * snake_case names, enums as numbers or names, bytes in any base64 variant.
 *
 * Target Functions: gemu_vreq_parse, gemu_vreq_clear
 *
 * Input: a request body, parsed once for each method.
 * Properties checked:
 *   - parse fails only with SHD_ERR_JSON, SHD_ERR_TOO_LARGE, SHD_ERR_INPUT, SHD_ERR_ENCODING or
 *     SHD_ERR_UNSUPPORTED and leaves the output untouched;
 *   - a parsed request keeps every documented limit: 1..GEMU_VREQ_MAX_QUOTES quotes of a
 *     supported bank whose PCR mask names exactly the PCR values present (indexes below 24),
 *     unused quote and chain slots empty, at most GEMU_VREQ_MAX_CHAIN certificates,
 *     GEMU_VREQ_MAX_ID_TOKENS tokens and GEMU_VREQ_MAX_NONCES nonces of
 *     GEMU_VREQ_NONCE_MIN..GEMU_VREQ_NONCE_MAX bytes, an audience of at most
 *     GEMU_VREQ_AUDIENCE_MAX bytes that is non-empty when nonces are given;
 *   - clear leaves nothing behind (valgrind/ASan) and may run on a zeroed struct.
 */
#include <string.h>

#include <jansson.h>

#include "../shared/fuzz_common.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "verifier_int.h"

static void quote_sane(const struct gemu_vreq_quote *q, bool used)
{
    if (!used) {
        FUZZ_ASSERT(q->alg == 0 && q->mask == 0 && q->raw_quote == NULL && q->raw_sig == NULL);
    } else {
        FUZZ_ASSERT(gemu_alg_digest_len(q->alg) != 0);
        FUZZ_ASSERT(q->mask < (1u << GEMU_PCR_COUNT));
    }
    for (size_t i = 0; i < GEMU_PCR_COUNT; i++) {
        if ((q->mask & (1u << i)) == 0) {
            FUZZ_ASSERT(q->pcr[i] == NULL && q->pcr_len[i] == 0);
        }
    }
}

static void sane(const struct gemu_vreq *r)
{
    FUZZ_ASSERT(json_is_object(r->doc));
    FUZZ_ASSERT(r->nquotes >= 1 && r->nquotes <= GEMU_VREQ_MAX_QUOTES);
    for (size_t i = 0; i < GEMU_VREQ_MAX_QUOTES; i++) {
        quote_sane(&r->quotes[i], i < r->nquotes);
    }
    FUZZ_ASSERT(r->nchain <= GEMU_VREQ_MAX_CHAIN);
    for (size_t i = r->nchain; i < GEMU_VREQ_MAX_CHAIN; i++) {
        FUZZ_ASSERT(r->chain[i] == NULL && r->chain_len[i] == 0);
    }
    FUZZ_ASSERT(r->nid_tokens <= GEMU_VREQ_MAX_ID_TOKENS);
    for (size_t i = 0; i < r->nid_tokens; i++) {
        FUZZ_ASSERT(r->id_tokens[i] != NULL);
    }
    FUZZ_ASSERT(r->audience == NULL || strlen(r->audience) <= GEMU_VREQ_AUDIENCE_MAX);
    FUZZ_ASSERT(r->nnonces <= GEMU_VREQ_MAX_NONCES);
    for (size_t i = 0; i < r->nnonces; i++) {
        size_t n = strlen(r->nonces[i]);
        FUZZ_ASSERT(n >= GEMU_VREQ_NONCE_MIN && n <= GEMU_VREQ_NONCE_MAX);
    }
    FUZZ_ASSERT(r->nnonces == 0 || (r->audience != NULL && r->audience[0] != '\0'));
    FUZZ_ASSERT(r->cel != NULL || r->cel_len == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum gemu_verify_method METHODS[] = {GEMU_VERIFY_ATTESTATION,
                                                      GEMU_VERIFY_CONFIDENTIAL_SPACE};
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();
    for (size_t m = 0; m < sizeof(METHODS) / sizeof(METHODS[0]); m++) {
        struct gemu_vreq r;
        shd_memzero(&r, sizeof(r));
        r.nquotes = 99;
        shd_result res = gemu_vreq_parse(METHODS[m], data, size, &r);
        FUZZ_OK_OR(res, SHD_ERR_JSON, SHD_ERR_TOO_LARGE, SHD_ERR_INPUT, SHD_ERR_ENCODING,
                   SHD_ERR_UNSUPPORTED);
        if (shd_is_err(res)) {
            FUZZ_ASSERT(r.nquotes == 99 && r.doc == NULL);
            fuzz_error_reset();
            continue;
        }
        sane(&r);
        gemu_vreq_clear(&r);
        fuzz_error_reset();
    }
    struct gemu_vreq zero;
    shd_memzero(&zero, sizeof(zero));
    gemu_vreq_clear(&zero);
    return 0;
}
