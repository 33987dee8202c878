/*
 * maa_request.h - parsing of the MAA attest request body (AttestSevSnpVmRequest,
 * azure-formats.md §4.1, skr-sidecar.md §4.3), tolerant where MAA is:
 *   - every base64 field in either alphabet, padded or not (SHD_B64_LENIENT);
 *   - "nonce" as a JSON string or as a bare unsigned integer of any size up to 20 digits (the
 *     sidecar sends a random uint64, often above 2^63, which no JSON library keeps exact: the
 *     digits are quoted before parsing and echoed verbatim);
 *   - runtimeData / initTimeData absent, or with "data":"" (the sidecar's empty initTimeData),
 *     meaning "none";
 *   - "Endorsements" absent or "" meaning no UVM endorsement.
 * "draftPolicyForAttestation" is refused (the emulator has no policy engine).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "maa_verify.h"
#include "shd/result.h"

#define AEMU_MAA_NONCE_MAX 1024u

/* Owned buffers of a parsed request. */
struct aemu_maa_request {
    uint8_t *report; /* raw SNP report */
    size_t report_len;
    uint8_t *cert_chain; /* PEM text */
    size_t cert_chain_len;
    uint8_t *uvm; /* COSE_Sign1 bytes, NULL if none */
    size_t uvm_len;
    uint8_t *runtime; /* decoded runtimeData.data, NULL if none */
    size_t runtime_len;
    json_t *runtime_json; /* parsed when dataType is JSON, else NULL */
    uint8_t *inittime;
    size_t inittime_len;
    json_t *inittime_json;
    char *nonce; /* as given (digits of a number, or the string), NULL if none */
};

/*
 * Parses a request body. SHD_ERR_INPUT / SHD_ERR_ENCODING / SHD_ERR_JSON / SHD_ERR_TOO_LARGE /
 * SHD_ERR_UNSUPPORTED with a message fit for the client's 400 answer. On success *ret owns the
 * buffers (aemu_maa_request_clear); on failure it is untouched.
 */
SHD_RESULT aemu_maa_request_parse(const uint8_t *body, size_t len, struct aemu_maa_request *ret);

/* Frees what a request owns (a zeroed struct is fine). */
void aemu_maa_request_clear(struct aemu_maa_request *rq);

/* The evidence view of a parsed request (borrowing its buffers). */
void aemu_maa_request_evidence(const struct aemu_maa_request *rq, struct aemu_maa_evidence *ret);
