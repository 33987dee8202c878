/*
 * verifier_client_req.c - the VerifyAttestation request body (gcp-identity.md section 3.3):
 *
 *   {"challenge":..., "gcpCredentials":{"serviceAccountIdTokens":[...]},
 *    "tpmAttestation":{"quotes":[{"hashAlgo":11,"pcrValues":{"0":..,"23":..},
 *                                 "rawQuote":..,"rawSignature":..}],
 *                      "tcgEventLog":..,"akCert":..,"certChain":[...]},
 *    "tokenOptions":{"audience":..,"nonce":[],"tokenType":1}}
 *
 * bytes fields are standard base64 with padding (proto3 JSON); the TPM_ALG_ID of a bank is also
 * the proto's HashAlgo enum value; tokenType 1 = OIDC. No TEE report is sent: the plain
 * Confidential VM path is vTPM-only evidence (gcp-identity.md section 1 caveat).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "verifier_client.h"

#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define TOKEN_TYPE_OIDC 1

/* Adds key: "<std base64 of data>" to obj. */
static shd_result req_set_b64(json_t *obj, const char *key, const uint8_t *data, size_t len)
{
    SHD_CLEANUP_FREE char *b64 = NULL;
    SHD_GUARD(shd_b64_encode(data, len, SHD_B64_STD_PAD, &b64, NULL));
    SHD_ENSURE(json_object_set_new(obj, key, json_string(b64)) == 0, SHD_ERR_NOMEM);
    return SHD_OK;
}

static shd_result req_append_b64(json_t *arr, const uint8_t *data, size_t len)
{
    SHD_CLEANUP_FREE char *b64 = NULL;
    SHD_GUARD(shd_b64_encode(data, len, SHD_B64_STD_PAD, &b64, NULL));
    SHD_ENSURE(json_array_append_new(arr, json_string(b64)) == 0, SHD_ERR_NOMEM);
    return SHD_OK;
}

static shd_result req_quote(const struct wif_tpm_quote *q, json_t *quotes)
{
    json_t *o = json_object();
    SHD_ENSURE(o != NULL && json_array_append_new(quotes, o) == 0, SHD_ERR_NOMEM);
    SHD_ENSURE(json_object_set_new(o, "hashAlgo", json_integer(q->hash_alg)) == 0, SHD_ERR_NOMEM);
    json_t *pcrs = json_object();
    SHD_ENSURE(pcrs != NULL && json_object_set_new(o, "pcrValues", pcrs) == 0, SHD_ERR_NOMEM);
    for (size_t i = 0; i < WIF_TPM_PCR_COUNT; i++) {
        char key[4];
        (void)snprintf(key, sizeof(key), "%zu", i);
        SHD_GUARD(req_set_b64(pcrs, key, q->pcrs[i], q->digest_len));
    }
    SHD_GUARD(req_set_b64(o, "rawQuote", q->raw_quote, q->raw_quote_len));
    SHD_GUARD(req_set_b64(o, "rawSignature", q->raw_sig, q->raw_sig_len));
    return SHD_OK;
}

static shd_result req_tpm(const struct wif_verify_request *req, json_t *root)
{
    json_t *tpm = json_object();
    SHD_ENSURE(tpm != NULL && json_object_set_new(root, "tpmAttestation", tpm) == 0, SHD_ERR_NOMEM);
    json_t *quotes = json_array();
    SHD_ENSURE(quotes != NULL && json_object_set_new(tpm, "quotes", quotes) == 0, SHD_ERR_NOMEM);
    for (size_t i = 0; i < req->ev->nquotes; i++) {
        SHD_GUARD(req_quote(&req->ev->quotes[i], quotes));
    }
    if (req->event_log != NULL && req->event_log_len > 0) {
        SHD_GUARD(req_set_b64(tpm, "tcgEventLog", req->event_log, req->event_log_len));
    }
    SHD_GUARD(req_set_b64(tpm, "akCert", req->ev->ak_cert, req->ev->ak_cert_len));
    json_t *chain = json_array();
    SHD_ENSURE(chain != NULL && json_object_set_new(tpm, "certChain", chain) == 0, SHD_ERR_NOMEM);
    for (size_t i = 0; req->chain != NULL && i < req->chain->n; i++) {
        SHD_GUARD(req_append_b64(chain, req->chain->der[i], req->chain->len[i]));
    }
    return SHD_OK;
}

static shd_result req_fill(const struct wif_verify_request *req, json_t *root)
{
    SHD_ENSURE(json_object_set_new(root, "challenge", json_string(req->challenge)) == 0,
               SHD_ERR_NOMEM);
    json_t *creds = json_pack("{s:[s]}", "serviceAccountIdTokens", req->id_token);
    SHD_ENSURE(creds != NULL && json_object_set_new(root, "gcpCredentials", creds) == 0,
               SHD_ERR_NOMEM);
    SHD_GUARD(req_tpm(req, root));
    /* gotpm sends an empty audience for the default; "https://sts.googleapis.com" is not an
     * accepted custom audience (gcp-identity.md section 3.6). */
    json_t *opts =
        json_pack("{s:s,s:[],s:i}", "audience", req->audience != NULL ? req->audience : "", "nonce",
                  "tokenType", TOKEN_TYPE_OIDC);
    SHD_ENSURE(opts != NULL && json_object_set_new(root, "tokenOptions", opts) == 0, SHD_ERR_NOMEM);
    return SHD_OK;
}

SHD_RESULT wif_verifier_request_build(const struct wif_verify_request *req, char **ret_body,
                                      size_t *ret_len)
{
    SHD_ENSURE_REF(req);
    SHD_ENSURE_REF(req->challenge);
    SHD_ENSURE_REF(req->id_token);
    SHD_ENSURE_REF(req->ev);
    SHD_ENSURE_REF(ret_body);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE_MSG(req->ev->nquotes > 0 && req->ev->ak_cert != NULL, SHD_ERR_USAGE,
                   "no TPM evidence");
    SHD_CLEANUP_JSON json_t *root = json_object();
    SHD_ENSURE(root != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(req_fill(req, root));
    return shd_json_go_dump(root, 0, ret_body, ret_len);
}
