/*
 * maa_request.c - AttestSevSnpVmRequest parsing (see maa_request.h).
 */
#include "maa_request.h"

#include <string.h>
#include <strings.h>

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/snp_report.h"

#define REQ_MAX_BODY (1024u * 1024u)
#define REQ_NONCE_DIGITS 20u
#define REQ_B64 (SHD_B64_URL | SHD_B64_LENIENT)

/* ------------------------------------------------------------------------------------------ */
/* Bare nonce numbers                                                                          */

static bool req_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool req_is_num_char(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/*
 * Finds a member "nonce" of the top-level object whose value is a bare number, and reports the
 * span [*ret_at, *ret_at + *ret_len) of the number. A tokenizer that tracks strings and depth,
 * nothing more: the strict parser judges the document afterwards.
 */
static bool req_find_nonce_number(const char *s, size_t n, size_t *ret_at, size_t *ret_len)
{
    unsigned depth = 0;
    char prev = '\0'; /* last significant character outside strings */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t start = i + 1;
            size_t j = start;
            while (j < n && s[j] != '"') {
                j += s[j] == '\\' ? 2u : 1u;
            }
            if (j >= n) {
                return false;
            }
            bool is_key = depth == 1 && (prev == '{' || prev == ',');
            i = j;
            prev = '"';
            if (!is_key || j - start != 5 || strncmp(s + start, "nonce", 5) != 0) {
                continue;
            }
            size_t k = j + 1;
            while (k < n && req_is_ws(s[k])) {
                k++;
            }
            if (k >= n || s[k] != ':') {
                continue;
            }
            k++;
            while (k < n && req_is_ws(s[k])) {
                k++;
            }
            size_t at = k;
            while (k < n && req_is_num_char(s[k])) {
                k++;
            }
            if (k > at) {
                *ret_at = at;
                *ret_len = k - at;
                return true;
            }
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
        if (!req_is_ws(c)) {
            prev = c;
        }
    }
    return false;
}

/* Copies body with the nonce number (if any) quoted. */
static shd_result req_quote_nonce(const char *s, size_t n, struct shd_buf *out)
{
    size_t at = 0;
    size_t len = 0;
    if (!req_find_nonce_number(s, n, &at, &len)) {
        return shd_buf_append(s, n, out);
    }
    bool digits = len <= REQ_NONCE_DIGITS && (s[at] != '0' || len == 1);
    for (size_t i = 0; i < len; i++) {
        digits = digits && s[at + i] >= '0' && s[at + i] <= '9';
    }
    SHD_ENSURE_MSG(digits, SHD_ERR_INPUT,
                   "nonce must be a string or an unsigned integer of at most %u digits",
                   REQ_NONCE_DIGITS);
    SHD_GUARD(shd_buf_append(s, at, out));
    SHD_GUARD(shd_buf_append("\"", 1, out));
    SHD_GUARD(shd_buf_append(s + at, len, out));
    SHD_GUARD(shd_buf_append("\"", 1, out));
    return shd_buf_append(s + at + len, n - at - len, out);
}

/* ------------------------------------------------------------------------------------------ */
/* Fields                                                                                      */

static shd_result req_b64_field(const json_t *obj, const char *key, bool required, uint8_t **ret,
                                size_t *ret_len)
{
    const char *s = NULL;
    size_t n = 0;
    if (!required && json_object_get(obj, key) == NULL) {
        *ret = NULL;
        *ret_len = 0;
        return SHD_OK;
    }
    SHD_GUARD(shd_json_get_stringn(obj, key, &s, &n));
    if (n == 0 && !required) {
        *ret = NULL;
        *ret_len = 0;
        return SHD_OK;
    }
    SHD_ENSURE_MSG(n > 0, SHD_ERR_INPUT, "field '%s' is empty", key);
    SHD_GUARD_CTX(shd_b64_decode(s, n, REQ_B64, ret, ret_len), "field '%s'", key);
    return SHD_OK;
}

/* {"data":"<b64>","dataType":"JSON"|"Binary"}; data "" or the member absent: none. */
static shd_result req_data_field(const json_t *body, const char *key, uint8_t **ret,
                                 size_t *ret_len, json_t **ret_json)
{
    const json_t *o = json_object_get(body, key);
    if (o == NULL || json_is_null(o)) {
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_object(o), SHD_ERR_INPUT, "field '%s' is not an object", key);
    SHD_GUARD_CTX(req_b64_field(o, "data", false, ret, ret_len), "%s", key);
    if (*ret == NULL) {
        return SHD_OK;
    }
    const char *type = NULL;
    SHD_GUARD_CTX(shd_json_get_string_opt(o, "dataType", &type), "%s", key);
    if (type != NULL && strcasecmp(type, "Binary") == 0) {
        return SHD_OK;
    }
    SHD_ENSURE_MSG(type != NULL && strcasecmp(type, "JSON") == 0, SHD_ERR_INPUT,
                   "%s.dataType must be JSON or Binary", key);
    SHD_GUARD_CTX(shd_json_parse((const char *)*ret, *ret_len, NULL, ret_json), "%s.data", key);
    SHD_ENSURE_MSG(json_is_object(*ret_json), SHD_ERR_INPUT, "%s.data is not a JSON object", key);
    return SHD_OK;
}

/* Endorsements = b64url(JSON {"Uvm":["<b64url(COSE_Sign1)>"]}). */
static shd_result req_endorsements(const json_t *inner, struct aemu_maa_request *rq)
{
    SHD_CLEANUP_FREE uint8_t *text = NULL;
    size_t len = 0;
    SHD_GUARD(req_b64_field(inner, "Endorsements", false, &text, &len));
    if (text == NULL) {
        return SHD_OK;
    }
    SHD_CLEANUP_JSON json_t *doc = NULL;
    SHD_GUARD_CTX(shd_json_parse((const char *)text, len, NULL, &doc), "Endorsements");
    json_t *uvm = NULL;
    SHD_GUARD_CTX(shd_json_get_array(doc, "Uvm", &uvm), "Endorsements");
    SHD_ENSURE_MSG(json_array_size(uvm) == 1 && json_is_string(json_array_get(uvm, 0)),
                   SHD_ERR_INPUT, "Endorsements.Uvm must hold exactly one string");
    const json_t *s = json_array_get(uvm, 0);
    SHD_GUARD_CTX(shd_b64_decode(json_string_value(s), json_string_length(s), REQ_B64, &rq->uvm,
                                 &rq->uvm_len),
                  "Endorsements.Uvm[0]");
    return SHD_OK;
}

static shd_result req_report(const json_t *body, struct aemu_maa_request *rq)
{
    SHD_CLEANUP_FREE uint8_t *text = NULL;
    size_t len = 0;
    SHD_GUARD(req_b64_field(body, "report", true, &text, &len));
    SHD_CLEANUP_JSON json_t *inner = NULL;
    SHD_GUARD_CTX(shd_json_parse((const char *)text, len, NULL, &inner), "report");
    SHD_ENSURE_MSG(json_is_object(inner), SHD_ERR_INPUT, "report is not a JSON object");
    SHD_GUARD_CTX(req_b64_field(inner, "SnpReport", true, &rq->report, &rq->report_len), "report");
    SHD_ENSURE_MSG(rq->report_len == SHD_SNP_REPORT_LEN, SHD_ERR_INPUT,
                   "report.SnpReport has %zu bytes, want %u", rq->report_len, SHD_SNP_REPORT_LEN);
    SHD_GUARD_CTX(req_b64_field(inner, "VcekCertChain", true, &rq->cert_chain, &rq->cert_chain_len),
                  "report");
    SHD_GUARD_CTX(req_endorsements(inner, rq), "report");
    return SHD_OK;
}

/* A quoted number arrives here as a string of digits: either way the text is echoed verbatim. */
static shd_result req_nonce(const json_t *body, struct aemu_maa_request *rq)
{
    const char *s = NULL;
    SHD_GUARD(shd_json_get_string_opt(body, "nonce", &s));
    if (s == NULL) {
        return SHD_OK;
    }
    size_t n = strlen(s);
    SHD_ENSURE_MSG(n <= AEMU_MAA_NONCE_MAX, SHD_ERR_TOO_LARGE, "nonce longer than %u bytes",
                   AEMU_MAA_NONCE_MAX);
    rq->nonce = shd_strdup(s);
    SHD_ENSURE(rq->nonce != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

static shd_result req_parse_doc(const json_t *body, struct aemu_maa_request *rq)
{
    SHD_ENSURE_MSG(json_is_object(body), SHD_ERR_INPUT, "the request is not a JSON object");
    SHD_ENSURE_MSG(json_object_get(body, "draftPolicyForAttestation") == NULL, SHD_ERR_UNSUPPORTED,
                   "draftPolicyForAttestation is not supported by the emulator");
    SHD_GUARD(req_report(body, rq));
    SHD_GUARD(
        req_data_field(body, "runtimeData", &rq->runtime, &rq->runtime_len, &rq->runtime_json));
    SHD_GUARD(
        req_data_field(body, "initTimeData", &rq->inittime, &rq->inittime_len, &rq->inittime_json));
    return req_nonce(body, rq);
}

shd_result aemu_maa_request_parse(const uint8_t *body, size_t len, struct aemu_maa_request *ret)
{
    SHD_ENSURE_REF(body);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(len <= REQ_MAX_BODY, SHD_ERR_TOO_LARGE, "request body too large");
    struct shd_buf text;
    shd_buf_init(REQ_MAX_BODY + 2u, 0, &text);
    shd_result r = req_quote_nonce((const char *)body, len, &text);
    json_t *doc = NULL;
    if (shd_is_ok(r)) {
        r = shd_json_parse(shd_buf_str(&text), shd_buf_len(&text), NULL, &doc);
    }
    shd_buf_free(&text);
    SHD_GUARD(r);
    struct aemu_maa_request rq = {0};
    r = req_parse_doc(doc, &rq);
    json_decref(doc);
    if (shd_is_err(r)) {
        aemu_maa_request_clear(&rq);
        return r;
    }
    *ret = rq;
    return SHD_OK;
}

void aemu_maa_request_clear(struct aemu_maa_request *rq)
{
    if (rq == NULL) {
        return;
    }
    shd_free(rq->report);
    shd_free(rq->cert_chain);
    shd_free(rq->uvm);
    shd_free(rq->runtime);
    json_decref(rq->runtime_json);
    shd_free(rq->inittime);
    json_decref(rq->inittime_json);
    shd_free(rq->nonce);
    *rq = (struct aemu_maa_request){0};
}

void aemu_maa_request_evidence(const struct aemu_maa_request *rq, struct aemu_maa_evidence *ret)
{
    *ret = (struct aemu_maa_evidence){
        .report = rq->report,
        .report_len = rq->report_len,
        .cert_chain = rq->cert_chain,
        .cert_chain_len = rq->cert_chain_len,
        .runtime_data = rq->runtime,
        .runtime_data_len = rq->runtime_len,
        .inittime_data = rq->inittime,
        .inittime_data_len = rq->inittime_len,
        .uvm_endorsement = rq->uvm,
        .uvm_endorsement_len = rq->uvm_len,
    };
}
