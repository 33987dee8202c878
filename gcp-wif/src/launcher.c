/*
 * launcher.c - mode A, Confidential Space (gcp-identity.md sections 3.8, 3.9): the launcher's
 * token file for the default audience, its teeserver Unix socket for any other.
 *
 * The file is replaced atomically (rename) by the launcher about every 45 minutes; we keep the
 * last token we read with the identity of the file it came from (device, inode, size, mtime,
 * taken with fstat on the descriptor we read) and read again when stat(2) shows another file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "attest_int.h"

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/jwt.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define TEE_URL "http://localhost/v1/token"
#define TEE_TIMEOUT_MS 60000u /* each request is a full challenge/quote/verify on the launcher */
#define TEE_ERR_SHOWN 200u

void wif_launcher_cache_clear(struct wif_launcher_cache *c)
{
    if (c == NULL) {
        return;
    }
    if (c->token != NULL) {
        shd_free_wipe(c->token, c->token_len + 1);
    }
    shd_memzero(c, sizeof(*c));
}

SHD_RESULT wif_launcher_client_new(struct wif_attest *a)
{
    const struct shd_http_client_options o = {
        .unix_socket_path = a->launcher_socket,
        .timeout_ms = TEE_TIMEOUT_MS,
        .max_response_bytes = WIF_ATTEST_TOKEN_MAX,
        .retry = {.max_attempts = 3,
                  .base_delay_ms = 250,
                  .max_delay_ms = 2000,
                  .on_transport = true,
                  .on_5xx = true},
    };
    SHD_GUARD_CTX(shd_http_client_create(&o, &a->http_tee), "teeserver client");
    return SHD_OK;
}

static bool launcher_same_file(const struct wif_launcher_cache *c, const struct stat *st)
{
    return c->valid && c->dev == st->st_dev && c->ino == st->st_ino && c->size == st->st_size &&
           c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Length without trailing ASCII white space (the launcher writes none; hand-made files may). */
static size_t launcher_trim(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    return n;
}

/* Reads exactly st_size bytes from fd into a fresh secret string. */
static shd_result launcher_read_fd(int fd, const struct stat *st, char **ret, size_t *ret_len)
{
    SHD_ENSURE_MSG(S_ISREG(st->st_mode), SHD_ERR_IO, "launcher token is not a regular file");
    SHD_ENSURE_MSG(st->st_size > 0, SHD_ERR_UNAVAILABLE, "launcher token file is empty");
    SHD_ENSURE_MSG((uint64_t)st->st_size <= WIF_ATTEST_TOKEN_MAX, SHD_ERR_TOO_LARGE,
                   "launcher token file is over %u bytes", WIF_ATTEST_TOKEN_MAX);
    size_t size = (size_t)st->st_size;
    char *buf = shd_alloc(size + 1);
    SHD_ENSURE(buf != NULL, SHD_ERR_NOMEM);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            shd_free_wipe(buf, size + 1);
            return shd_error_set_errno(SHD_ERR_IO, e, __FILE__, __LINE__);
        }
        got += (size_t)n;
    }
    size_t len = launcher_trim(buf, size);
    shd_memzero(buf + len, size - len);
    if (len == 0 || memchr(buf, '\0', len) != NULL) {
        shd_free_wipe(buf, size + 1);
        SHD_BAIL_MSG(SHD_ERR_INPUT, "launcher token file does not hold a token");
    }
    /* Shrink the accounting to len so the caller wipes with len + 1 (the tail is already 0). */
    char *out = shd_strndup(buf, len);
    shd_free_wipe(buf, size + 1);
    SHD_ENSURE(out != NULL, SHD_ERR_NOMEM);
    *ret = out;
    *ret_len = len;
    return SHD_OK;
}

static shd_result launcher_reload(struct wif_attest *a)
{
    struct wif_launcher_cache *c = &a->launcher;
    int fd = open(a->launcher_token_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT) {
        SHD_BAIL_MSG(SHD_ERR_UNAVAILABLE, "launcher token file %s does not exist (yet)",
                     a->launcher_token_path);
    }
    SHD_GUARD_CTX(fd < 0 ? shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__) : SHD_OK,
                  "opening %s", a->launcher_token_path);
    struct stat st;
    char *tok = NULL;
    size_t len = 0;
    shd_result r = fstat(fd, &st) == 0 ? launcher_read_fd(fd, &st, &tok, &len)
                                       : shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    (void)close(fd);
    SHD_GUARD_CTX(r, "reading %s", a->launcher_token_path);

    int64_t exp = 0;
    r = wif_attest_check_token(tok, len, WIF_ATTEST_DEFAULT_AUDIENCE, a, &exp);
    if (shd_is_err(r)) {
        shd_free_wipe(tok, len + 1);
        SHD_GUARD_CTX(r, "launcher token file %s", a->launcher_token_path);
    }
    wif_launcher_cache_clear(c);
    c->valid = true;
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->size = st.st_size;
    c->mtime = st.st_mtim;
    c->token = tok;
    c->token_len = len;
    c->exp = exp;
    return SHD_OK;
}

static shd_result launcher_file_token(struct wif_attest *a, char **ret_token, size_t *ret_len,
                                      int64_t *ret_exp)
{
    struct wif_launcher_cache *c = &a->launcher;
    struct stat st;

    if (stat(a->launcher_token_path, &st) != 0 || !launcher_same_file(c, &st)) {
        SHD_GUARD(launcher_reload(a));
    }
    /* Same file, already verified: only the clock can have made it unusable. */
    SHD_ENSURE_MSG((int64_t)time(NULL) < c->exp + (int64_t)WIF_ATTEST_SKEW_S, SHD_ERR_UNAVAILABLE,
                   "launcher token in %s has expired and was not refreshed",
                   a->launcher_token_path);
    char *out = shd_strndup(c->token, c->token_len);
    SHD_ENSURE(out != NULL, SHD_ERR_NOMEM);
    *ret_token = out;
    *ret_len = c->token_len;
    *ret_exp = c->exp;
    return SHD_OK;
}

/* A teeserver error is plain text: show a bounded, printable prefix. */
static shd_result launcher_tee_error(int status, const uint8_t *body, size_t len)
{
    char shown[TEE_ERR_SHOWN + 1];
    size_t n = len < TEE_ERR_SHOWN ? len : TEE_ERR_SHOWN;

    for (size_t i = 0; i < n; i++) {
        shown[i] = body[i] >= 0x20 && body[i] < 0x7f ? (char)body[i] : '?';
    }
    shown[n] = '\0';
    shd_result r = shd_error_setf(status >= 500 ? SHD_ERR_UNAVAILABLE : SHD_ERR_HTTP_STATUS,
                                  __FILE__, __LINE__, "teeserver: status %d: %s", status, shown);
    shd_error_set_foreign(SHD_FOREIGN_HTTP, (unsigned long)status);
    return r;
}

/* POST /v1/token {"audience","nonces":[],"token_type":"OIDC"} (go-tpm-tools TokenOptions). */
static shd_result launcher_tee_token(const char *audience, struct wif_attest *a, char **ret,
                                     size_t *ret_len)
{
    SHD_CLEANUP_JSON json_t *doc =
        json_pack("{s:s,s:[],s:s}", "audience", audience, "nonces", "token_type", "OIDC");
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP_FREE char *body = NULL;
    size_t body_len = 0;
    SHD_GUARD(shd_json_go_dump(doc, 0, &body, &body_len));
    const struct shd_http_header hdr[] = {{"Content-Type", "application/json"}};
    const struct shd_http_request req = {.method = "POST",
                                         .url = TEE_URL,
                                         .headers = hdr,
                                         .nheaders = 1,
                                         .body = (const uint8_t *)body,
                                         .body_len = body_len};
    struct shd_http_response *resp = NULL;
    SHD_GUARD_CTX(shd_http_client_do(a->http_tee, &req, &resp, NULL), "teeserver %s",
                  a->launcher_socket);
    int status = shd_http_response_status(resp);
    size_t len = 0;
    const uint8_t *data = shd_http_response_body(resp, &len);
    shd_result r = SHD_OK;
    if (status != 200) {
        r = launcher_tee_error(status, data, len);
        shd_http_response_free(resp);
        return r;
    }
    len = launcher_trim((const char *)data, len);
    char *out = NULL;
    if (len == 0 || memchr(data, '\0', len) != NULL) {
        r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "teeserver: empty or binary token");
    } else {
        out = shd_strndup((const char *)data, len);
        r = out != NULL ? SHD_OK : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    }
    shd_http_response_free(resp);
    SHD_GUARD(r);
    *ret = out;
    *ret_len = len;
    return SHD_OK;
}

SHD_RESULT wif_launcher_token(const char *audience, struct wif_attest *a, char **ret_token,
                              size_t *ret_len, int64_t *ret_exp)
{
    SHD_ENSURE_REF(audience);
    SHD_ENSURE_REF(a);
    if (strcmp(audience, WIF_ATTEST_DEFAULT_AUDIENCE) == 0) {
        return launcher_file_token(a, ret_token, ret_len, ret_exp);
    }
    char *tok = NULL;
    size_t len = 0;
    SHD_GUARD(launcher_tee_token(audience, a, &tok, &len));
    int64_t exp = 0;
    shd_result r = wif_attest_check_token(tok, len, audience, a, &exp);
    if (shd_is_err(r)) {
        shd_free_wipe(tok, len + 1);
        SHD_GUARD_CTX(r, "teeserver token");
    }
    *ret_token = tok;
    *ret_len = len;
    *ret_exp = exp;
    return SHD_OK;
}
