/*
 * refinfo.h - a stand-in for the ACI UVM endorsement ("reference info", skr-sidecar.md §1.4):
 * a COSE_Sign1 (RFC 9052, CBOR tag 18) shaped like Microsoft's.
 *
 *   protected   {1 (alg): -35 (ES384), 3 (content type): "application/json",
 *                33 (x5chain): [leaf DER, CA DER],
 *                "iss": "did:x509:0:sha256:<b64url SHA-256 of the CA DER>"
 *                       "::eku:1.3.6.1.4.1.311.76.59.1.2",
 *                "feed": "ContainerPlat-AMD-UVM"}
 *   unprotected {}
 *   payload     {"x-ms-sevsnpvm-guestsvn":"<svn>","x-ms-sevsnpvm-launchmeasurement":"<hex>"}
 *   signature   ES384 (raw r || s) over Sig_structure ["Signature1", protected, h'', payload]
 *
 * The real document is signed by Microsoft's "SCD Products" chain with PS384; ours is signed by
 * a fresh P-384 key certified by the emulator's test CA (EKU 1.3.6.1.4.1.311.76.59.1.2), so the
 * MAA emulator can check it the same way and derive the x-ms-sevsnpvm-uvm-endorsement claims.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "shd/result.h"

#define AEMU_REFINFO_FEED "ContainerPlat-AMD-UVM"
#define AEMU_REFINFO_EKU "1.3.6.1.4.1.311.76.59.1.2"

/*
 * Builds the COSE_Sign1 bytes for a launch measurement and guest SVN into a shd_alloc'd
 * buffer (*ret, *ret_len).
 */
SHD_RESULT aemu_refinfo_build(const uint8_t measurement[static 48], uint32_t guest_svn, X509 *ca,
                              EVP_PKEY *ca_key, uint8_t **ret, size_t *ret_len);
