/*
 * maa_request_fuzz.c - fuzz target for the MAA attest request parser of the Azure emulator
 * (tests/emulators/azure/src/maa_request.c, AttestSevSnpVmRequest).
 *
 * Target Functions: aemu_maa_request_parse, aemu_maa_request_clear, aemu_maa_request_evidence
 *
 * Input: a request body (JSON text; a bare-number "nonce" is accepted as the sidecar sends it).
 * Properties checked:
 *   - parse fails only with the documented codes (SHD_ERR_INPUT, SHD_ERR_ENCODING, SHD_ERR_JSON,
 *     SHD_ERR_TOO_LARGE, SHD_ERR_UNSUPPORTED) and leaves the output untouched when it fails;
 *   - a parsed request holds a 1184-byte report and a non-empty certificate chain, a nonce of
 *     at most AEMU_MAA_NONCE_MAX bytes, and JSON runtime/init-time data only as objects next to
 *     the bytes they were parsed from;
 *   - the evidence view borrows exactly the request's buffers;
 *   - round trip: a canonical request rebuilt from the parsed fields (base64url everywhere,
 *     nonce as a string, dataType from the parsed kind) parses to the same fields;
 *   - clear leaves a zeroed struct and may be called twice.
 */
#include <string.h>

#include <jansson.h>

#include "../shared/fuzz_common.h"
#include "maa_request.h"
#include "shd/codec.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/snp_report.h"

/* Sentinel that a failed parse must leave in place. */
#define UNTOUCHED ((char *)(uintptr_t)0x5a5a)

static bool same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if ((a == NULL) != (b == NULL) || alen != blen) {
        return false;
    }
    return alen == 0 || shd_memcmp(a, b, alen) == 0;
}

/* base64url (no padding) of p as a new JSON string. */
static json_t *b64_json(const uint8_t *p, size_t n)
{
    char *s = NULL;
    size_t len = 0;
    FUZZ_ASSERT(shd_is_ok(shd_b64_encode(p, n, SHD_B64_URL_NOPAD, &s, &len)));
    json_t *j = json_stringn(s, len);
    shd_free(s);
    FUZZ_ASSERT(j != NULL);
    return j;
}

/* JSON text of j (compact) in a fresh buffer; *ret_len without the NUL. */
static char *dump(const json_t *j, size_t *ret_len)
{
    size_t need = json_dumpb(j, NULL, 0, JSON_COMPACT);
    FUZZ_ASSERT(need > 0);
    char *buf = shd_alloc(need + 1);
    FUZZ_ASSERT(buf != NULL);
    FUZZ_ASSERT(json_dumpb(j, buf, need, JSON_COMPACT) == need);
    *ret_len = need;
    return buf;
}

static json_t *b64_of_json(const json_t *j)
{
    size_t len = 0;
    char *text = dump(j, &len);
    json_t *s = b64_json((const uint8_t *)text, len);
    shd_free(text);
    return s;
}

static void set(json_t *obj, const char *key, json_t *v)
{
    FUZZ_ASSERT(v != NULL && json_object_set_new(obj, key, v) == 0);
}

static void add_data(json_t *body, const char *key, const uint8_t *p, size_t n, const json_t *js)
{
    if (p == NULL) {
        return;
    }
    json_t *o = json_object();
    FUZZ_ASSERT(o != NULL);
    set(o, "data", b64_json(p, n));
    set(o, "dataType", json_string(js != NULL ? "JSON" : "Binary"));
    set(body, key, o);
}

/* The canonical body of a parsed request. *ret_len without the NUL; shd_free the result. */
static char *rebuild(const struct aemu_maa_request *rq, size_t *ret_len)
{
    json_t *inner = json_object();
    json_t *body = json_object();
    FUZZ_ASSERT(inner != NULL && body != NULL);
    set(inner, "SnpReport", b64_json(rq->report, rq->report_len));
    set(inner, "VcekCertChain", b64_json(rq->cert_chain, rq->cert_chain_len));
    if (rq->uvm != NULL) {
        json_t *endorse = json_object();
        json_t *uvm = json_array();
        FUZZ_ASSERT(endorse != NULL && uvm != NULL);
        FUZZ_ASSERT(json_array_append_new(uvm, b64_json(rq->uvm, rq->uvm_len)) == 0);
        set(endorse, "Uvm", uvm);
        set(inner, "Endorsements", b64_of_json(endorse));
        json_decref(endorse);
    }
    set(body, "report", b64_of_json(inner));
    json_decref(inner);
    add_data(body, "runtimeData", rq->runtime, rq->runtime_len, rq->runtime_json);
    add_data(body, "initTimeData", rq->inittime, rq->inittime_len, rq->inittime_json);
    if (rq->nonce != NULL) {
        set(body, "nonce", json_string(rq->nonce));
    }
    char *text = dump(body, ret_len);
    json_decref(body);
    return text;
}

static void invariants(const struct aemu_maa_request *rq)
{
    FUZZ_ASSERT(rq->report != NULL && rq->report_len == SHD_SNP_REPORT_LEN);
    FUZZ_ASSERT(rq->cert_chain != NULL && rq->cert_chain_len > 0);
    FUZZ_ASSERT(rq->nonce == NULL || strlen(rq->nonce) <= AEMU_MAA_NONCE_MAX);
    FUZZ_ASSERT(rq->runtime_json == NULL ||
                (rq->runtime != NULL && json_is_object(rq->runtime_json)));
    FUZZ_ASSERT(rq->inittime_json == NULL ||
                (rq->inittime != NULL && json_is_object(rq->inittime_json)));
    FUZZ_ASSERT(rq->uvm != NULL || rq->uvm_len == 0);
    FUZZ_ASSERT(rq->runtime != NULL || rq->runtime_len == 0);
    FUZZ_ASSERT(rq->inittime != NULL || rq->inittime_len == 0);

    struct aemu_maa_evidence ev;
    aemu_maa_request_evidence(rq, &ev);
    FUZZ_ASSERT(ev.report == rq->report && ev.report_len == rq->report_len);
    FUZZ_ASSERT(ev.cert_chain == rq->cert_chain && ev.cert_chain_len == rq->cert_chain_len);
    FUZZ_ASSERT(ev.runtime_data == rq->runtime && ev.runtime_data_len == rq->runtime_len);
    FUZZ_ASSERT(ev.inittime_data == rq->inittime && ev.inittime_data_len == rq->inittime_len);
    FUZZ_ASSERT(ev.uvm_endorsement == rq->uvm && ev.uvm_endorsement_len == rq->uvm_len);
}

static void roundtrip(const struct aemu_maa_request *rq)
{
    size_t len = 0;
    char *text = rebuild(rq, &len);
    struct aemu_maa_request back = {0};
    FUZZ_ASSERT(shd_is_ok(aemu_maa_request_parse((const uint8_t *)text, len, &back)));
    shd_free(text);
    FUZZ_ASSERT(same_bytes(back.report, back.report_len, rq->report, rq->report_len));
    FUZZ_ASSERT(same_bytes(back.cert_chain, back.cert_chain_len, rq->cert_chain,
                           rq->cert_chain_len));
    FUZZ_ASSERT(same_bytes(back.uvm, back.uvm_len, rq->uvm, rq->uvm_len));
    FUZZ_ASSERT(same_bytes(back.runtime, back.runtime_len, rq->runtime, rq->runtime_len));
    FUZZ_ASSERT(same_bytes(back.inittime, back.inittime_len, rq->inittime, rq->inittime_len));
    FUZZ_ASSERT((back.runtime_json == NULL) == (rq->runtime_json == NULL));
    FUZZ_ASSERT(back.runtime_json == NULL || json_equal(back.runtime_json, rq->runtime_json));
    FUZZ_ASSERT((back.inittime_json == NULL) == (rq->inittime_json == NULL));
    FUZZ_ASSERT(back.inittime_json == NULL || json_equal(back.inittime_json, rq->inittime_json));
    FUZZ_ASSERT((back.nonce == NULL) == (rq->nonce == NULL));
    FUZZ_ASSERT(back.nonce == NULL || strcmp(back.nonce, rq->nonce) == 0);
    aemu_maa_request_clear(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();
    struct aemu_maa_request rq;
    shd_memzero(&rq, sizeof(rq));
    rq.nonce = UNTOUCHED;
    shd_result r = aemu_maa_request_parse(data, size, &rq);
    FUZZ_OK_OR(r, SHD_ERR_INPUT, SHD_ERR_ENCODING, SHD_ERR_JSON, SHD_ERR_TOO_LARGE,
               SHD_ERR_UNSUPPORTED);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(rq.nonce == UNTOUCHED && rq.report == NULL);
        fuzz_error_reset();
        return 0;
    }
    invariants(&rq);
    roundtrip(&rq);
    aemu_maa_request_clear(&rq);
    FUZZ_ASSERT(rq.report == NULL && rq.nonce == NULL && rq.runtime_json == NULL);
    aemu_maa_request_clear(&rq);
    fuzz_error_reset();
    return 0;
}
