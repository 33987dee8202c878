/*
 * wrapkey.c - the wrap-key subcommand.
 */
#include "wrapkey.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "creds.h"
#include "ctx.h"
#include "gapi.h"
#include "kms.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/file.h"
#include "shd/jwk.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/secret.h"

const struct wif_config_extra WIF_WRAPKEY_OPTIONS[] = {
    {"kms-key", true}, {"in", true},      {"out", true},
    {"raw", false},    {"base64", false}, {NULL, false},
};

shd_result wif_wrapkey_plaintext(uint8_t *in, size_t n, bool raw, struct shd_secret **ret)
{
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret);
    if (raw) {
        shd_result r = SHD_OK;
        if (n == 0 || n > SHD_JWK_OCT_MAX) {
            r = shd_error_setf(SHD_ERR_BAD_KEY, __FILE__, __LINE__,
                               "a raw key must have 1..%u bytes, not %zu",
                               (unsigned)SHD_JWK_OCT_MAX, n);
        } else {
            r = shd_secret_from(in, n, ret);
        }
        shd_memzero(in, n);
        return r;
    }
    EVP_PKEY *pkey = NULL;
    SHD_GUARD(shd_crypto_privkey_load(in, n, &pkey)); /* wipes in */
    size_t need = 0;
    shd_result r = shd_crypto_privkey_export_pkcs8_der(pkey, NULL, 0, &need);
    struct shd_secret *s = NULL;
    if (shd_is_ok(r)) {
        r = shd_secret_alloc(need, &s);
    }
    size_t len = 0;
    if (shd_is_ok(r)) {
        r = shd_crypto_privkey_export_pkcs8_der(pkey, shd_secret_ptr(s), need, &len);
    }
    if (shd_is_ok(r)) {
        r = shd_secret_shrink(s, len);
    }
    EVP_PKEY_free(pkey);
    if (shd_is_err(r)) {
        shd_secret_free(&s);
        return r;
    }
    *ret = s;
    return SHD_OK;
}

struct wrap_args {
    const char *kms_key;
    const char *in;
    const char *out;
    bool raw;
    bool base64;
};

static shd_result args_parse(const struct wif_config *cfg, char *const *extra,
                             struct wrap_args *ret)
{
    struct wrap_args a = {.kms_key = cfg->kms_sym_key};
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        const char *e = extra[i];
        if (strncmp(e, "kms-key=", 8) == 0) {
            a.kms_key = e + 8;
        } else if (strncmp(e, "in=", 3) == 0) {
            a.in = e + 3;
        } else if (strncmp(e, "out=", 4) == 0) {
            a.out = e + 4;
        } else if (strcmp(e, "raw") == 0) {
            a.raw = true;
        } else if (strcmp(e, "base64") == 0) {
            a.base64 = true;
        }
    }
    SHD_ENSURE_MSG(a.kms_key != NULL, SHD_ERR_USAGE, "wrap-key: --kms-key is required");
    SHD_ENSURE_MSG(a.in != NULL && a.out != NULL, SHD_ERR_USAGE,
                   "wrap-key: --in and --out are required");
    SHD_GUARD_CTX(wif_gapi_kms_name_check(a.kms_key, false), "wrap-key: --kms-key");
    *ret = a;
    return SHD_OK;
}

static shd_result wrap(const struct wif_ctx *ctx, const struct wrap_args *a,
                       const struct shd_secret *plain)
{
    char *tok = NULL;
    size_t tok_len = 0;
    int64_t expiry = 0;
    SHD_GUARD(wif_creds_access_token(ctx->creds, &tok, &tok_len, &expiry));
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    shd_result r = wif_kms_encrypt(a->kms_key, shd_secret_data(plain), shd_secret_len(plain), tok,
                                   ctx->kms, &ct, &ct_len);
    shd_free_wipe(tok, tok_len + 1);
    SHD_GUARD(r);
    if (a->base64) {
        char *b64 = NULL;
        size_t b64_len = 0;
        r = shd_b64_encode(ct, ct_len, SHD_B64_STD_PAD, &b64, &b64_len);
        if (shd_is_ok(r)) {
            r = shd_file_write_atomic(a->out, b64, b64_len, 0644);
        }
        shd_free(b64);
    } else {
        r = shd_file_write_atomic(a->out, ct, ct_len, 0644);
    }
    shd_free(ct);
    return r;
}

shd_result wif_wrapkey_run(const struct wif_config *cfg, char *const *extra)
{
    SHD_ENSURE_REF(cfg);
    struct wrap_args a = {0}; /* filled by parse_args; zeroed for gcc -O2 */
    SHD_GUARD(args_parse(cfg, extra, &a));
    uint8_t *in = NULL;
    size_t in_len = 0;
    SHD_GUARD_CTX(shd_file_read(a.in, WIF_WRAPKEY_IN_MAX, 0, &in, &in_len), "wrap-key: --in");
    struct shd_secret *plain = NULL;
    shd_result r = wif_wrapkey_plaintext(in, in_len, a.raw, &plain);
    shd_free_wipe(in, in_len + 1);
    if (shd_is_err(r)) {
        shd_error_wrap("wrap-key: %s", a.in);
        return r;
    }
    struct wif_ctx ctx;
    r = wif_ctx_init(cfg, &ctx);
    if (shd_is_ok(r)) {
        r = wrap(&ctx, &a, plain);
        wif_ctx_clear(&ctx);
    }
    shd_secret_free(&plain);
    if (shd_is_err(r)) {
        shd_error_wrap("wrap-key");
    }
    return r;
}

void wif_wrapkey_usage(FILE *out)
{
    (void)fprintf(out,
                  "  wrap-key --kms-key projects/P/locations/L/keyRings/R/cryptoKeys/K\n"
                  "           --in KEYFILE --out BLOB [--raw] [--base64]\n"
                  "      encrypt a private key (PKCS#8 DER of a PEM/DER key) or, with --raw, a\n"
                  "      1..64-byte symmetric key with KMS :encrypt; --base64 writes base64\n");
}
