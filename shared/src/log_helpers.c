/*
 * log_helpers.c - the parts of log.h that keep secrets and error chains presentable: token
 * fingerprints, credential-header redaction, the secret-refusing hex dump and log-and-return.
 * Split from log.c to keep both files short; everything here goes through shd_log_write.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

static const char shd_log_hex[] = "0123456789abcdef";

void shd_log_token_fingerprint(const void *token, size_t len,
                               char out[static SHD_LOG_FINGERPRINT_LEN])
{
    static const uint8_t empty[1] = {0};
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t n = 0;

    shd_memcpy(out, "sha256:", 7);
    n = 7;
    if (EVP_Digest(token != NULL ? token : empty, token != NULL ? len : 0, md, &mdlen, EVP_sha256(),
                   NULL) != 1 ||
        mdlen < 4) {
        shd_memcpy(out + n, "????????", 8);
        out[n + 8] = '\0';
        return;
    }
    for (size_t i = 0; i < 4; i++) {
        out[n++] = shd_log_hex[md[i] >> 4];
        out[n++] = shd_log_hex[md[i] & 0xf];
    }
    out[n] = '\0';
    shd_memzero(md, sizeof(md));
}

static char shd_log_fold(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive: does name equal / contain the lower-case word w? Bounded by the 256-byte
 * scan below: header names longer than that are redacted outright. */
static bool shd_log_name_has(const char *name, size_t n, const char *w, bool whole)
{
    size_t wn = strlen(w);

    if (wn > n || (whole && wn != n)) {
        return false;
    }
    for (size_t at = 0; at + wn <= n; at++) {
        size_t i = 0;
        while (i < wn && shd_log_fold(name[at + i]) == w[i]) {
            i++;
        }
        if (i == wn) {
            return true;
        }
        if (whole) {
            return false;
        }
    }
    return false;
}

const char *shd_log_header_redact(const char *name, const char *value)
{
    static const char *const exact[] = {"authorization", "proxy-authorization", "cookie",
                                        "set-cookie"};
    static const char *const parts[] = {"token",   "secret", "password",
                                        "api-key", "apikey", "api_key"};
    size_t n;

    if (value == NULL) {
        return "<null>";
    }
    if (name == NULL) {
        return "<redacted>";
    }
    n = strnlen(name, 257);
    if (n > 256) {
        return "<redacted>";
    }
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        if (shd_log_name_has(name, n, exact[i], true)) {
            return "<redacted>";
        }
    }
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (shd_log_name_has(name, n, parts[i], false)) {
            return "<redacted>";
        }
    }
    return value;
}

shd_result shd_log_hexdump_at(enum shd_log_level level, const char *module, const char *func,
                              const char *file, int line, const char *label, const void *data,
                              size_t len)
{
    char hex[2 * SHD_LOG_HEXDUMP_MAX + 1];
    const uint8_t *p = data;
    size_t shown = len > SHD_LOG_HEXDUMP_MAX ? SHD_LOG_HEXDUMP_MAX : len;

    SHD_ENSURE(data != NULL || len == 0, SHD_ERR_NULL);
    if (!shd_log_enabled(level, module)) {
        return SHD_OK;
    }
    for (size_t i = 0; i < shown; i++) {
        hex[2 * i] = shd_log_hex[p[i] >> 4];
        hex[2 * i + 1] = shd_log_hex[p[i] & 0xf];
    }
    hex[2 * shown] = '\0';
    const struct shd_log_field f[] = {
        SHD_LOG_UINT("len", len),
        SHD_LOG_STR("hex", hex),
        SHD_LOG_BOOL("hex_cut", len > shown),
    };
    shd_log_write(level, module, func, file, line, f, len > shown ? 3u : 2u, "%s",
                  label != NULL ? label : "hexdump");
    return SHD_OK;
}

shd_result shd_log_hexdump_secret_at(enum shd_log_level level, const char *module, const char *func,
                                     const char *file, int line, const char *label,
                                     const struct shd_secret *secret, size_t len)
{
    (void)secret;
    (void)len;
    const struct shd_log_field f[] = {SHD_LOG_STR("label", label)};
    shd_log_write(level, module, func, file, line, f, 1, "%s", "<secret redacted>");
    return shd_error_setf(SHD_ERR_USAGE, file, line, "refusing to hex-dump a secret");
}

/* "openssl:0x..." etc. into buf; returns false when no foreign code is attached. */
static bool shd_log_foreign(char *buf, size_t n)
{
    unsigned long code = 0;
    int w;

    switch (shd_error_foreign(&code)) {
    case SHD_FOREIGN_ERRNO:
        w = snprintf(buf, n, "errno:%lu", code);
        break;
    case SHD_FOREIGN_OPENSSL:
        w = snprintf(buf, n, "openssl:0x%lx", code);
        break;
    case SHD_FOREIGN_CURL:
        w = snprintf(buf, n, "curl:%lu", code);
        break;
    case SHD_FOREIGN_TSS2:
        w = snprintf(buf, n, "tss2:0x%lx", code);
        break;
    case SHD_FOREIGN_HTTP:
        w = snprintf(buf, n, "http:%lu", code);
        break;
    case SHD_FOREIGN_NONE:
    default:
        return false;
    }
    return w > 0;
}

shd_result shd_log_result_at(enum shd_log_level level, const char *module, const char *func,
                             const char *file, int line, shd_result r, const char *fmt, ...)
{
    char msg[1024];
    char chain[SHD_ERROR_MAX_FRAMES * SHD_ERROR_FRAME_LEN];
    char foreign[48];
    struct shd_log_field f[5];
    size_t nf = 0;
    va_list ap;

    if (!shd_log_enabled(level, module)) {
        return r;
    }
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (r.err != 0) {
        /* The thread's chain describes r only if it still holds r's code; otherwise fall back
         * to the code's text rather than print an unrelated, stale chain. */
        bool have_chain = shd_error_code() == r.err;
        if (have_chain) {
            (void)shd_error_render(chain, sizeof(chain));
        } else {
            (void)snprintf(chain, sizeof(chain), "%s", shd_error_str(r.err));
        }
        f[nf++] = (struct shd_log_field)SHD_LOG_STR("err", chain);
        f[nf++] = (struct shd_log_field)SHD_LOG_STR("code", shd_error_str(r.err));
        f[nf++] = (struct shd_log_field)SHD_LOG_STR("category",
                                                    shd_error_type_str(shd_error_type_of(r.err)));
        if (have_chain) {
            /* Base name only, as in src=: build paths stay out of the logs. */
            const char *loc = shd_error_location();
            const char *slash = strrchr(loc, '/');
            f[nf++] = (struct shd_log_field)SHD_LOG_STR("errsrc", slash != NULL ? slash + 1 : loc);
            if (shd_log_foreign(foreign, sizeof(foreign))) {
                f[nf++] = (struct shd_log_field)SHD_LOG_STR("foreign", foreign);
            }
        }
    }
    shd_log_write(level, module, func, file, line, f, nf, "%s", msg);
    return r;
}
