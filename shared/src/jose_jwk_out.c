/*
 * jose_jwk_out.c - JWK output: public export, RFC 7638 thumbprints, the released-key JWK of
 * the SKR sidecar (skr-sidecar.md §5.6) and its wrapping-key JWK set (§5.1).
 *
 * The sidecar's JWK library (jwx) writes compact JSON with members sorted by name. Every value
 * we write is either base64url, a fixed name, or a key_ops value from a fixed list, so none
 * needs escaping and the text is assembled directly, in sorted order, into one buffer. For
 * private keys that buffer is the only place the encoded secret exists (no jansson heap, no
 * intermediate copies that are not wiped).
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>

#include "jose_int.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* RFC 7517 §4.3 values jwx accepts (skr-sidecar.md §5.6). */
static const char *const KEY_OPS[] = {
    "sign", "verify", "encrypt", "decrypt", "wrapKey", "unwrapKey", "deriveKey", "deriveBits",
};

/* Most key_ops entries we copy (eight distinct values; duplicates are not useful). */
#define KEY_OPS_MAX 16

enum member_kind {
    MEMBER_B64 = 1, /* bytes written as unpadded base64url */
    MEMBER_STR,     /* a string that needs no escaping */
    MEMBER_OPS,     /* the checked key_ops array */
};

/* One member of an output JWK; the writer emits them in array order (already sorted). */
struct member {
    const char *name;
    enum member_kind kind;
    const uint8_t *bytes;
    size_t len;
    const char *str;
    const json_t *ops;
};

/* A bounded output buffer; a write past cap sets overflow instead of writing. */
struct out {
    char *p;
    size_t cap;
    size_t len;
    bool overflow;
};

shd_result shd_jwk_key_ops_check(const json_t *key_ops)
{
    SHD_ENSURE_REF(key_ops);
    SHD_ENSURE_MSG(json_is_array(key_ops), SHD_ERR_INPUT, "key_ops is not an array");
    SHD_ENSURE_MSG(json_array_size(key_ops) <= KEY_OPS_MAX, SHD_ERR_INPUT,
                   "key_ops has too many entries");
    for (size_t i = 0; i < json_array_size(key_ops); i++) {
        const json_t *op = json_array_get(key_ops, i);
        SHD_ENSURE_MSG(json_is_string(op), SHD_ERR_INPUT, "key_ops entry %zu is not a string", i);
        bool known = false;
        for (size_t k = 0; k < sizeof(KEY_OPS) / sizeof(KEY_OPS[0]); k++) {
            known = known || strcmp(json_string_value(op), KEY_OPS[k]) == 0;
        }
        SHD_ENSURE_MSG(known, SHD_ERR_INPUT, "invalid key operation: %.32s", json_string_value(op));
    }
    return SHD_OK;
}

static void out_put(struct out *o, const char *s, size_t n)
{
    if (o->overflow || n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    shd_memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void out_str(struct out *o, const char *s)
{
    out_put(o, s, strlen(s));
}

static void out_b64(struct out *o, const uint8_t *v, size_t n)
{
    size_t w = 0;
    if (o->overflow || shd_is_err(shd_b64_encode_into(v, n, SHD_B64_URL_NOPAD, o->p + o->len,
                                                      o->cap - o->len, &w))) {
        o->overflow = true;
        return;
    }
    o->len += w;
}

static void out_member(struct out *o, const struct member *m)
{
    out_str(o, "\"");
    out_str(o, m->name);
    out_str(o, "\":");
    switch (m->kind) {
    case MEMBER_B64:
        out_str(o, "\"");
        out_b64(o, m->bytes, m->len);
        out_str(o, "\"");
        break;
    case MEMBER_STR:
        out_str(o, "\"");
        out_str(o, m->str);
        out_str(o, "\"");
        break;
    case MEMBER_OPS:
        out_str(o, "[");
        for (size_t i = 0; i < json_array_size(m->ops); i++) {
            out_str(o, i == 0 ? "\"" : ",\"");
            out_str(o, json_string_value(json_array_get(m->ops, i)));
            out_str(o, "\"");
        }
        out_str(o, "]");
        break;
    default:
        shd_misuse("unknown JWK member kind");
    }
}

/* Upper bound of the text of the members inside braces. */
static size_t members_size(const struct member *m, size_t n)
{
    size_t total = 16;
    for (size_t i = 0; i < n; i++) {
        total += strlen(m[i].name) + 8;
        if (m[i].kind == MEMBER_B64) {
            total += shd_b64_encoded_len(m[i].len, SHD_B64_URL_NOPAD);
        } else if (m[i].kind == MEMBER_STR) {
            total += strlen(m[i].str);
        } else {
            for (size_t k = 0; k < json_array_size(m[i].ops); k++) {
                total += strlen(json_string_value(json_array_get(m[i].ops, k))) + 3;
            }
        }
    }
    return total;
}

/*
 * Writes prefix {members} suffix into a fresh zeroed buffer; *ret_len is the text length. The
 * buffer may be larger than the text: the rest stays zero, so wiping ret_len + 1 bytes clears
 * everything that was written.
 */
static shd_result write_members(const char *prefix, const struct member *m, size_t n,
                                const char *suffix, char **ret, size_t *ret_len)
{
    size_t cap = members_size(m, n) + strlen(prefix) + strlen(suffix) + 1;
    struct out o = {.p = shd_alloc(cap), .cap = cap};
    SHD_ENSURE(o.p != NULL, SHD_ERR_NOMEM);
    out_str(&o, prefix);
    out_str(&o, "{");
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            out_str(&o, ",");
        }
        out_member(&o, &m[i]);
    }
    out_str(&o, "}");
    out_str(&o, suffix);
    if (o.overflow) {
        shd_free_wipe(o.p, cap);
        SHD_BAIL_MSG(SHD_ERR_INTERNAL, "JWK output size miscalculated");
    }
    *ret = o.p;
    *ret_len = o.len;
    return SHD_OK;
}

/* Big-endian bytes of a key parameter: minimal when pad == 0, else left-padded to pad bytes. */
static shd_result key_param(EVP_PKEY *key, const char *name, size_t pad, uint8_t **ret,
                            size_t *ret_len)
{
    BIGNUM *bn = NULL;
    SHD_GUARD_OSSL(EVP_PKEY_get_bn_param(key, name, &bn), SHD_ERR_BAD_KEY);
    size_t len = pad != 0 ? pad : (size_t)BN_num_bytes(bn);
    uint8_t *v = shd_alloc(len);
    if (v == NULL || len == 0 || BN_bn2binpad(bn, v, (int)len) != (int)len) {
        BN_clear_free(bn);
        shd_free_wipe(v, len);
        SHD_BAIL_MSG(v == NULL ? SHD_ERR_NOMEM : SHD_ERR_BAD_KEY, "key parameter %s", name);
    }
    BN_clear_free(bn);
    *ret = v;
    *ret_len = len;
    return SHD_OK;
}

/* Parameter buffers of one key; wiped and freed together. */
struct params {
    uint8_t *v[8];
    size_t len[8];
};

static void params_clear(struct params *p)
{
    for (size_t i = 0; i < 8; i++) {
        shd_free_wipe(p->v[i], p->len[i]);
        p->v[i] = NULL;
    }
}

static bool ops_present(const json_t *key_ops)
{
    return key_ops != NULL && json_array_size(key_ops) > 0;
}

/* Appends key_ops to m at *n when present. */
static void add_ops(const json_t *key_ops, struct member *m, size_t *n)
{
    if (ops_present(key_ops)) {
        m[(*n)++] = (struct member){.name = "key_ops", .kind = MEMBER_OPS, .ops = key_ops};
    }
}

static struct member b64(const char *name, const struct params *p, size_t i)
{
    return (struct member){.name = name, .kind = MEMBER_B64, .bytes = p->v[i], .len = p->len[i]};
}

static shd_result rsa_released(EVP_PKEY *key, const json_t *key_ops, struct params *p, char **ret,
                               size_t *ret_len)
{
    static const char *const names[8] = {
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
    };
    for (size_t i = 0; i < 8; i++) {
        SHD_GUARD_CTX(key_param(key, names[i], 0, &p->v[i], &p->len[i]),
                      "RSA key lacks a private component");
    }
    struct member m[10];
    size_t n = 0;
    m[n++] = b64("d", p, 0);
    m[n++] = b64("dp", p, 1);
    m[n++] = b64("dq", p, 2);
    m[n++] = b64("e", p, 3);
    add_ops(key_ops, m, &n);
    m[n++] = (struct member){.name = "kty", .kind = MEMBER_STR, .str = "RSA"};
    m[n++] = b64("n", p, 4);
    m[n++] = b64("p", p, 5);
    m[n++] = b64("q", p, 6);
    m[n++] = b64("qi", p, 7);
    return write_members("", m, n, "", ret, ret_len);
}

static shd_result ec_released(EVP_PKEY *key, const struct shd_jwk_curve *c, const json_t *key_ops,
                              struct params *p, char **ret, size_t *ret_len)
{
    SHD_GUARD(key_param(key, OSSL_PKEY_PARAM_PRIV_KEY, c->size, &p->v[0], &p->len[0]));
    SHD_GUARD(key_param(key, OSSL_PKEY_PARAM_EC_PUB_X, c->size, &p->v[1], &p->len[1]));
    SHD_GUARD(key_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, c->size, &p->v[2], &p->len[2]));
    struct member m[6];
    size_t n = 0;
    m[n++] = (struct member){.name = "crv", .kind = MEMBER_STR, .str = c->crv};
    m[n++] = b64("d", p, 0);
    add_ops(key_ops, m, &n);
    m[n++] = (struct member){.name = "kty", .kind = MEMBER_STR, .str = "EC"};
    m[n++] = b64("x", p, 1);
    m[n++] = b64("y", p, 2);
    return write_members("", m, n, "", ret, ret_len);
}

shd_result shd_jwk_released_write(EVP_PKEY *pkey, const json_t *key_ops, char **ret_json,
                                  size_t *ret_len)
{
    SHD_ENSURE_REF(pkey);
    SHD_ENSURE_REF(ret_json);
    SHD_ENSURE_REF(ret_len);
    if (key_ops != NULL) {
        SHD_GUARD(shd_jwk_key_ops_check(key_ops));
    }
    SHD_ENSURE_MSG(shd_crypto_key_is_private(pkey), SHD_ERR_BAD_KEY, "key is not private");
    enum shd_crypto_key_kind kind = shd_crypto_key_kind(pkey);
    struct params p = {{NULL}, {0}};
    shd_result r;
    if (kind == SHD_CRYPTO_KEY_RSA) {
        r = rsa_released(pkey, key_ops, &p, ret_json, ret_len);
    } else if (shd_jwk_curve_by_kind(kind) != NULL) {
        r = ec_released(pkey, shd_jwk_curve_by_kind(kind), key_ops, &p, ret_json, ret_len);
    } else {
        r = shd_error_setf(SHD_ERR_UNSUPPORTED, __FILE__, __LINE__, "key type not supported");
    }
    params_clear(&p);
    return r;
}

shd_result shd_jwk_released_oct_write(const uint8_t *k, size_t k_len, const json_t *key_ops,
                                      char **ret_json, size_t *ret_len)
{
    SHD_ENSURE_REF(k);
    SHD_ENSURE_REF(ret_json);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE_MSG(k_len >= 1 && k_len <= SHD_JWK_OCT_MAX, SHD_ERR_BAD_KEY,
                   "oct key of %zu bytes, want 1..%d", k_len, SHD_JWK_OCT_MAX);
    if (key_ops != NULL) {
        SHD_GUARD(shd_jwk_key_ops_check(key_ops));
    }
    struct member m[3];
    size_t n = 0;
    m[n++] = (struct member){.name = "k", .kind = MEMBER_B64, .bytes = k, .len = k_len};
    add_ops(key_ops, m, &n);
    m[n++] = (struct member){.name = "kty", .kind = MEMBER_STR, .str = "oct"};
    return write_members("", m, n, "", ret_json, ret_len);
}

/* Public members of an RSA or EC key, sorted, with extra members merged in by the caller. */
static shd_result public_params(EVP_PKEY *pkey, struct params *p,
                                const struct shd_jwk_curve **ret_curve)
{
    enum shd_crypto_key_kind kind = shd_crypto_key_kind(pkey);
    if (kind == SHD_CRYPTO_KEY_RSA) {
        SHD_GUARD(shd_crypto_rsa_pubkey_to_ne(pkey, &p->v[0], &p->len[0], &p->v[1], &p->len[1]));
        *ret_curve = NULL;
        return SHD_OK;
    }
    const struct shd_jwk_curve *c = shd_jwk_curve_by_kind(kind);
    SHD_ENSURE_MSG(c != NULL, SHD_ERR_UNSUPPORTED, "key type not supported");
    SHD_GUARD(key_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, c->size, &p->v[0], &p->len[0]));
    SHD_GUARD(key_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, c->size, &p->v[1], &p->len[1]));
    *ret_curve = c;
    return SHD_OK;
}

/* RFC 7638 §3.2: the required members only, sorted, no whitespace. */
static shd_result thumbprint_input(EVP_PKEY *pkey, char **ret, size_t *ret_len)
{
    struct params p = {{NULL}, {0}};
    const struct shd_jwk_curve *c = NULL;
    shd_result r = public_params(pkey, &p, &c);
    if (shd_is_ok(r) && c == NULL) {
        const struct member m[] = {
            b64("e", &p, 1),
            {.name = "kty", .kind = MEMBER_STR, .str = "RSA"},
            b64("n", &p, 0),
        };
        r = write_members("", m, 3, "", ret, ret_len);
    } else if (shd_is_ok(r)) {
        const struct member m[] = {
            {.name = "crv", .kind = MEMBER_STR, .str = c->crv},
            {.name = "kty", .kind = MEMBER_STR, .str = "EC"},
            b64("x", &p, 0),
            b64("y", &p, 1),
        };
        r = write_members("", m, 4, "", ret, ret_len);
    }
    params_clear(&p);
    return r;
}

shd_result shd_jwk_thumbprint(EVP_PKEY *pkey, char ret[static SHD_JWK_THUMBPRINT_LEN + 1])
{
    SHD_ENSURE_REF(pkey);
    SHD_CLEANUP_FREE char *in = NULL;
    size_t in_len = 0;
    SHD_GUARD(thumbprint_input(pkey, &in, &in_len));
    uint8_t digest[SHD_CRYPTO_SHA256_LEN];
    SHD_GUARD(shd_crypto_sha256((const uint8_t *)in, in_len, digest));
    char tmp[SHD_JWK_THUMBPRINT_LEN + 1];
    size_t len = 0;
    SHD_GUARD(
        shd_b64_encode_into(digest, sizeof(digest), SHD_B64_URL_NOPAD, tmp, sizeof(tmp), &len));
    SHD_ENSURE(len == SHD_JWK_THUMBPRINT_LEN, SHD_ERR_INTERNAL);
    shd_memcpy(ret, tmp, sizeof(tmp));
    return SHD_OK;
}

shd_result shd_jwk_wrapping_set_write(EVP_PKEY *rsa, char **ret_json, size_t *ret_len)
{
    SHD_ENSURE_REF(rsa);
    SHD_ENSURE_REF(ret_json);
    SHD_ENSURE_MSG(shd_crypto_key_kind(rsa) == SHD_CRYPTO_KEY_RSA, SHD_ERR_BAD_KEY,
                   "the wrapping key must be RSA");
    char kid[SHD_JWK_THUMBPRINT_LEN + 1];
    SHD_GUARD(shd_jwk_thumbprint(rsa, kid));
    SHD_CLEANUP_JSON json_t *ops = json_pack("[s]", "encrypt");
    SHD_ENSURE(ops != NULL, SHD_ERR_NOMEM);
    struct params p = {{NULL}, {0}};
    const struct shd_jwk_curve *c = NULL;
    shd_result r = public_params(rsa, &p, &c);
    size_t len = 0;
    if (shd_is_ok(r)) {
        /* skr-sidecar.md §5.1: e, key_ops ["encrypt"], kid (RFC 7638), kty, n. */
        const struct member m[] = {
            b64("e", &p, 1),
            {.name = "key_ops", .kind = MEMBER_OPS, .ops = ops},
            {.name = "kid", .kind = MEMBER_STR, .str = kid},
            {.name = "kty", .kind = MEMBER_STR, .str = "RSA"},
            b64("n", &p, 0),
        };
        r = write_members("{\"keys\":[", m, 5, "]}", ret_json, &len);
    }
    params_clear(&p);
    SHD_GUARD(r);
    if (ret_len != NULL) {
        *ret_len = len;
    }
    return SHD_OK;
}

shd_result shd_jwk_export_public(EVP_PKEY *pkey, json_t **ret_jwk)
{
    SHD_ENSURE_REF(pkey);
    SHD_ENSURE_REF(ret_jwk);
    SHD_CLEANUP_FREE char *text = NULL;
    size_t len = 0;
    SHD_GUARD(thumbprint_input(pkey, &text, &len));
    /* The thumbprint input is exactly the public JWK (RFC 7638 §3.2); parse it into an object. */
    json_t *jwk = NULL;
    SHD_GUARD(shd_json_parse(text, len, NULL, &jwk));
    *ret_jwk = jwk;
    return SHD_OK;
}
