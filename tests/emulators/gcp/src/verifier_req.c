/*
 * verifier_req.c - parsing verifyAttestation / verifyConfidentialSpace request bodies
 * (gcp-identity.md §3.3, §3.4): proto3 JSON with lowerCamelCase or snake_case names, enums as
 * numbers or names, bytes in any base64 variant.
 */
#include <string.h>

#include "verifier_int.h"

#include "shd/codec.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define FIELD_NAME_MAX 64u

/*
 * Member `camel` of obj, also looked up under its snake_case spelling (proto3 JSON parsers
 * accept both). Both present is ambiguous: SHD_ERR_INPUT. Absent or null: *ret = NULL.
 */
static shd_result field(const json_t *obj, const char *camel, json_t **ret)
{
    char snake[FIELD_NAME_MAX];
    size_t n = 0;
    json_t *a, *b;

    SHD_ENSURE_MSG(json_is_object(obj), SHD_ERR_INPUT, "expected a JSON object");
    for (const char *p = camel; *p != '\0'; p++) {
        SHD_ENSURE(n + 3 < sizeof(snake), SHD_ERR_INTERNAL);
        if (*p >= 'A' && *p <= 'Z') {
            snake[n++] = '_';
            snake[n++] = (char)(*p - 'A' + 'a');
        } else {
            snake[n++] = *p;
        }
    }
    snake[n] = '\0';
    a = json_object_get(obj, camel);
    b = strcmp(snake, camel) == 0 ? NULL : json_object_get(obj, snake);
    SHD_ENSURE_MSG(a == NULL || b == NULL, SHD_ERR_INPUT, "both %s and %s given", camel, snake);
    a = a != NULL ? a : b;
    *ret = json_is_null(a) ? NULL : a;
    return SHD_OK;
}

static shd_result field_string(const json_t *obj, const char *camel, const char **ret)
{
    json_t *v = NULL;

    SHD_GUARD(field(obj, camel, &v));
    SHD_ENSURE_MSG(v == NULL || json_is_string(v), SHD_ERR_INPUT, "%s is not a string", camel);
    *ret = v == NULL ? NULL : json_string_value(v);
    return SHD_OK;
}

static shd_result field_bytes(const json_t *obj, const char *camel, bool required, uint8_t **ret,
                              size_t *ret_len)
{
    json_t *v = NULL;

    SHD_GUARD(field(obj, camel, &v));
    if (v == NULL) {
        SHD_ENSURE_MSG(!required, SHD_ERR_INPUT, "missing %s", camel);
        *ret = NULL;
        *ret_len = 0;
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_string(v), SHD_ERR_INPUT, "%s is not a string", camel);
    SHD_GUARD_CTX(
        shd_b64_decode(json_string_value(v), json_string_length(v), SHD_B64_LENIENT, ret, ret_len),
        "%s", camel);
    return SHD_OK;
}

/* An enum given as a number or one of names[i] (value i). */
static shd_result enum_value(const json_t *v, const char *const *names, size_t nnames,
                             const char *what, int64_t *ret)
{
    if (json_is_integer(v)) {
        *ret = json_integer_value(v);
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_string(v), SHD_ERR_INPUT, "%s is not an enum value", what);
    for (size_t i = 0; i < nnames; i++) {
        if (names[i] != NULL && strcmp(json_string_value(v), names[i]) == 0) {
            *ret = (int64_t)i;
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_INPUT, "unknown %s %s", what, json_string_value(v));
}

static shd_result parse_hash_algo(const json_t *v, uint16_t *ret)
{
    static const struct {
        const char *name;
        uint16_t alg;
    } names[] = {{"SHA1", GEMU_ALG_SHA1},
                 {"SHA256", GEMU_ALG_SHA256},
                 {"SHA384", GEMU_ALG_SHA384},
                 {"SHA512", GEMU_ALG_SHA512}};
    int64_t n = -1;

    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (strcmp(json_string_value(v), names[i].name) == 0) {
                n = names[i].alg;
            }
        }
    }
    SHD_ENSURE_MSG(n > 0 && n <= UINT16_MAX && gemu_alg_digest_len((uint16_t)n) != 0, SHD_ERR_INPUT,
                   "unsupported hashAlgo");
    *ret = (uint16_t)n;
    return SHD_OK;
}

static shd_result parse_pcr_index(const char *key, uint32_t *ret)
{
    uint32_t v = 0;

    SHD_ENSURE_MSG(key[0] != '\0' && strlen(key) <= 2 && (key[0] != '0' || key[1] == '\0'),
                   SHD_ERR_INPUT, "bad PCR index '%s'", key);
    for (const char *p = key; *p != '\0'; p++) {
        SHD_ENSURE_MSG(*p >= '0' && *p <= '9', SHD_ERR_INPUT, "bad PCR index '%s'", key);
        v = v * 10u + (uint32_t)(*p - '0');
    }
    SHD_ENSURE_MSG(v < GEMU_PCR_COUNT, SHD_ERR_INPUT, "bad PCR index '%s'", key);
    *ret = v;
    return SHD_OK;
}

static shd_result parse_quote(const json_t *q, struct gemu_vreq_quote *out)
{
    json_t *v = NULL, *pcrs = NULL;
    const char *key;
    json_t *val;

    SHD_GUARD(field(q, "hashAlgo", &v));
    SHD_ENSURE_MSG(v != NULL, SHD_ERR_INPUT, "missing hashAlgo");
    SHD_GUARD(parse_hash_algo(v, &out->alg));
    SHD_GUARD(field(q, "pcrValues", &pcrs));
    SHD_ENSURE_MSG(json_is_object(pcrs), SHD_ERR_INPUT, "missing pcrValues");
    json_object_foreach(pcrs, key, val)
    {
        uint32_t idx = 0;

        SHD_GUARD(parse_pcr_index(key, &idx));
        SHD_ENSURE_MSG((out->mask & (1u << idx)) == 0, SHD_ERR_INPUT, "PCR %u twice", idx);
        SHD_ENSURE_MSG(json_is_string(val), SHD_ERR_INPUT, "PCR %u is not a string", idx);
        SHD_GUARD_CTX(shd_b64_decode(json_string_value(val), json_string_length(val),
                                     SHD_B64_LENIENT, &out->pcr[idx], &out->pcr_len[idx]),
                      "PCR %u", idx);
        out->mask |= 1u << idx;
    }
    SHD_GUARD(field_bytes(q, "rawQuote", true, &out->raw_quote, &out->raw_quote_len));
    SHD_GUARD(field_bytes(q, "rawSignature", true, &out->raw_sig, &out->raw_sig_len));
    return SHD_OK;
}

static shd_result parse_tpm(const json_t *tpm, struct gemu_vreq *r)
{
    json_t *quotes = NULL, *chain = NULL;
    size_t i;
    json_t *q;

    SHD_GUARD(field(tpm, "quotes", &quotes));
    SHD_ENSURE_MSG(json_is_array(quotes) && json_array_size(quotes) >= 1 &&
                       json_array_size(quotes) <= GEMU_VREQ_MAX_QUOTES,
                   SHD_ERR_INPUT, "tpmAttestation.quotes must hold 1..%u quotes",
                   GEMU_VREQ_MAX_QUOTES);
    json_array_foreach(quotes, i, q)
    {
        SHD_GUARD_CTX(parse_quote(q, &r->quotes[i]), "quote %zu", i);
        r->nquotes = i + 1;
    }
    SHD_GUARD(field_bytes(tpm, "tcgEventLog", true, &r->event_log, &r->event_log_len));
    SHD_GUARD(field_bytes(tpm, "canonicalEventLog", false, &r->cel, &r->cel_len));
    SHD_GUARD(field_bytes(tpm, "akCert", true, &r->ak_cert, &r->ak_cert_len));
    SHD_GUARD(field(tpm, "certChain", &chain));
    if (chain != NULL) {
        json_t *c;

        SHD_ENSURE_MSG(json_is_array(chain) && json_array_size(chain) <= GEMU_VREQ_MAX_CHAIN,
                       SHD_ERR_INPUT, "certChain must hold at most %u certificates",
                       GEMU_VREQ_MAX_CHAIN);
        json_array_foreach(chain, i, c)
        {
            SHD_ENSURE_MSG(json_is_string(c), SHD_ERR_INPUT, "certChain[%zu]", i);
            SHD_GUARD_CTX(shd_b64_decode(json_string_value(c), json_string_length(c),
                                         SHD_B64_LENIENT, &r->chain[i], &r->chain_len[i]),
                          "certChain[%zu]", i);
            r->nchain = i + 1;
        }
    }
    return SHD_OK;
}

static shd_result parse_credentials(const json_t *doc, struct gemu_vreq *r)
{
    json_t *creds = NULL, *toks = NULL, *t;
    size_t i;

    SHD_GUARD(field(doc, "gcpCredentials", &creds));
    if (creds == NULL) {
        return SHD_OK;
    }
    SHD_GUARD(field(creds, "serviceAccountIdTokens", &toks));
    if (toks == NULL) {
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_array(toks) && json_array_size(toks) <= GEMU_VREQ_MAX_ID_TOKENS,
                   SHD_ERR_INPUT, "serviceAccountIdTokens must hold at most %u tokens",
                   GEMU_VREQ_MAX_ID_TOKENS);
    json_array_foreach(toks, i, t)
    {
        SHD_ENSURE_MSG(json_is_string(t), SHD_ERR_INPUT, "serviceAccountIdTokens[%zu]", i);
        r->id_tokens[i] = json_string_value(t);
        r->nid_tokens = i + 1;
    }
    return SHD_OK;
}

/* tokenOptions (verifyAttestation) or options (verifyConfidentialSpace). */
static shd_result parse_options(enum gemu_verify_method m, const json_t *doc, struct gemu_vreq *r)
{
    static const char *const token_types[] = {"TOKEN_TYPE_UNSPECIFIED", "TOKEN_TYPE_OIDC",
                                              "TOKEN_TYPE_PKI", "TOKEN_TYPE_LIMITED_AWS",
                                              "TOKEN_TYPE_AWS_PRINCIPALTAGS"};
    static const char *const sig_types[] = {"SIGNATURE_TYPE_UNSPECIFIED", "SIGNATURE_TYPE_OIDC",
                                            "SIGNATURE_TYPE_PKI"};
    static const char *const profiles[] = {"TOKEN_PROFILE_UNSPECIFIED", "TOKEN_PROFILE_DEFAULT_EAT",
                                           "TOKEN_PROFILE_AWS"};
    json_t *opts = NULL, *v = NULL, *nonces = NULL, *n;
    int64_t e = 0;
    size_t i;

    SHD_GUARD(field(doc, m == GEMU_VERIFY_ATTESTATION ? "tokenOptions" : "options", &opts));
    if (opts == NULL) {
        return SHD_OK;
    }
    SHD_GUARD(field_string(opts, "audience", &r->audience));
    SHD_ENSURE_MSG(r->audience == NULL || strlen(r->audience) <= GEMU_VREQ_AUDIENCE_MAX,
                   SHD_ERR_INPUT, "audience longer than %u bytes", GEMU_VREQ_AUDIENCE_MAX);
    if (m == GEMU_VERIFY_ATTESTATION) {
        SHD_GUARD(field(opts, "tokenType", &v));
        if (v != NULL) {
            SHD_GUARD(enum_value(v, token_types, 5, "tokenType", &e));
            SHD_ENSURE_MSG(e == 0 || e == 1, SHD_ERR_UNSUPPORTED,
                           "the emulator issues OIDC tokens only (tokenType %lld)", (long long)e);
        }
    } else {
        SHD_GUARD(field(opts, "signatureType", &v));
        if (v != NULL) {
            SHD_GUARD(enum_value(v, sig_types, 3, "signatureType", &e));
            SHD_ENSURE_MSG(e == 0 || e == 1, SHD_ERR_UNSUPPORTED,
                           "the emulator issues OIDC tokens only (signatureType %lld)",
                           (long long)e);
        }
        SHD_GUARD(field(opts, "tokenProfile", &v));
        if (v != NULL) {
            SHD_GUARD(enum_value(v, profiles, 3, "tokenProfile", &e));
            SHD_ENSURE_MSG(e == 0 || e == 1, SHD_ERR_UNSUPPORTED,
                           "the emulator issues the default EAT profile only");
        }
    }
    SHD_GUARD(field(opts, "nonce", &nonces));
    if (nonces != NULL) {
        SHD_ENSURE_MSG(json_is_array(nonces) && json_array_size(nonces) <= GEMU_VREQ_MAX_NONCES,
                       SHD_ERR_INPUT, "at most %u nonces", GEMU_VREQ_MAX_NONCES);
        json_array_foreach(nonces, i, n)
        {
            size_t len = json_string_length(n);

            SHD_ENSURE_MSG(json_is_string(n) && len >= GEMU_VREQ_NONCE_MIN &&
                               len <= GEMU_VREQ_NONCE_MAX,
                           SHD_ERR_INPUT, "nonce %zu must be a string of %u..%u bytes", i,
                           GEMU_VREQ_NONCE_MIN, GEMU_VREQ_NONCE_MAX);
            r->nonces[i] = json_string_value(n);
            r->nnonces = i + 1;
        }
        SHD_ENSURE_MSG(r->nnonces == 0 || (r->audience != NULL && r->audience[0] != '\0'),
                       SHD_ERR_INPUT, "an audience is required when nonces are given");
    }
    return SHD_OK;
}

static shd_result parse_doc(enum gemu_verify_method m, struct gemu_vreq *r)
{
    json_t *tpm = NULL, *v = NULL;

    SHD_ENSURE_MSG(json_is_object(r->doc), SHD_ERR_INPUT, "request body is not an object");
    SHD_GUARD(field_string(r->doc, "challenge", &r->challenge));
    SHD_GUARD(field(r->doc, "tdCcel", &v));
    SHD_ENSURE_MSG(v == NULL, SHD_ERR_UNSUPPORTED, "unexpected_tdx_ccel_attestation");
    SHD_GUARD(field(r->doc, "sevSnpAttestation", &v));
    SHD_ENSURE_MSG(v == NULL, SHD_ERR_UNSUPPORTED,
                   "sevSnpAttestation is not supported by the emulator (send vTPM evidence)");
    SHD_GUARD(field(r->doc, "tpmAttestation", &tpm));
    SHD_ENSURE_MSG(tpm != NULL, SHD_ERR_INPUT, "missing tpmAttestation");
    SHD_GUARD_CTX(parse_tpm(tpm, r), "tpmAttestation");
    SHD_GUARD(parse_credentials(r->doc, r));
    return parse_options(m, r->doc, r);
}

shd_result gemu_vreq_parse(enum gemu_verify_method method, const uint8_t *body, size_t len,
                           struct gemu_vreq *ret)
{
    struct shd_json_limits lim = {.max_bytes = GEMU_VERIFIER_MAX_BODY};
    struct gemu_vreq r;
    shd_result res;

    SHD_ENSURE_REF(body);
    SHD_ENSURE_REF(ret);
    shd_memzero(&r, sizeof(r));
    SHD_GUARD(shd_json_parse((const char *)body, len, &lim, &r.doc));
    res = parse_doc(method, &r);
    if (shd_is_err(res)) {
        gemu_vreq_clear(&r);
        return res;
    }
    *ret = r;
    return SHD_OK;
}

void gemu_vreq_clear(struct gemu_vreq *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < GEMU_VREQ_MAX_QUOTES; i++) {
        for (size_t j = 0; j < GEMU_PCR_COUNT; j++) {
            shd_free(r->quotes[i].pcr[j]);
        }
        shd_free(r->quotes[i].raw_quote);
        shd_free(r->quotes[i].raw_sig);
    }
    for (size_t i = 0; i < GEMU_VREQ_MAX_CHAIN; i++) {
        shd_free(r->chain[i]);
    }
    shd_free(r->event_log);
    shd_free(r->cel);
    shd_free(r->ak_cert);
    json_decref(r->doc);
    shd_memzero(r, sizeof(*r));
}
