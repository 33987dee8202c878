/*
 * maa_cose.h - verification of the ACI UVM endorsement ("reference info"): a COSE_Sign1
 * (RFC 9052 §4.2, CBOR tag 18) whose protected header carries alg, x5chain (RFC 9360, label
 * 33), "iss" (a did:x509) and "feed", and whose payload is the JSON
 * {"x-ms-sevsnpvm-guestsvn":"<n>","x-ms-sevsnpvm-launchmeasurement":"<96 hex>"}
 * (skr-sidecar.md §1.4, azure-formats.md §4.2, refinfo.h for the emulator's own documents).
 *
 * The CBOR reader is strict and small: definite lengths only, shortest-form heads are not
 * required but lengths are bounded by the input, nesting is bounded, and every byte of the input
 * must be consumed. Accepted algorithms: ES384 (-35, raw r||s) and PS384 (-37, Microsoft's).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "shd/result.h"

#define AEMU_COSE_MAX (64u * 1024u)
#define AEMU_UVM_FEED "ContainerPlat-AMD-UVM"
#define AEMU_UVM_EKU "1.3.6.1.4.1.311.76.59.1.2"

/*
 * Verifies a COSE_Sign1 UVM endorsement: structure, the x5chain leaf chained to root (x5chain
 * entries after the leaf are untrusted intermediates) at the current time with the EKU
 * AEMU_UVM_EKU, the signature over Sig_structure ["Signature1", protected, h'', payload], and
 * feed == AEMU_UVM_FEED. On success *ret_payload is the payload JSON object and *ret_headers
 * {"feed":..,"iss":..} (both owned by the caller, json_decref).
 * Errors: SHD_ERR_INPUT (malformed CBOR/COSE/payload), SHD_ERR_UNSUPPORTED (algorithm),
 * SHD_ERR_BAD_CERT, SHD_ERR_BAD_SIGNATURE, SHD_ERR_POLICY (feed).
 */
SHD_RESULT aemu_cose_uvm_verify(const uint8_t *cose, size_t len, X509 *root, json_t **ret_payload,
                                json_t **ret_headers);
