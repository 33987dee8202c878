/*
 * gemu_fixture.h - test fixture shared by the gcp-emu service tests (sts, iam, kms, mds, init):
 * a fresh state directory from gemu_init_run (small keys), listeners on loopback that serve a
 * service end to end, an HTTP client, and Bearer tokens. Test-only code (STYLE.md rule 37);
 * static functions so that each test executable carries its own copy.
 */
#pragma once

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gemu.h"
#include "init.h"
#include "serve.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd_test.h"
#include "tokens.h"

#define FX_MAX_LISTENERS 4

struct fx {
    char dir[64];
    struct gemu_state *st;
    struct gemu_listener *listeners[FX_MAX_LISTENERS];
    struct gemu_service *services[FX_MAX_LISTENERS * 2];
    size_t nlisteners;
    size_t nservices;
    struct shd_http_client *client; /* trusts the state CA */
};

/* The answer of fx_do: status, body (NUL-terminated), the parsed JSON body if it is JSON. */
struct fx_resp {
    int status;
    char *body;
    size_t len;
    json_t *json;
    char header[256]; /* the header asked for in fx_do, "" when absent */
};

static inline void fx_resp_clear(struct fx_resp *r)
{
    shd_free(r->body);
    if (r->json != NULL) {
        json_decref(r->json);
    }
    memset(r, 0, sizeof(*r));
}

static inline void fx_fail(shd_result r, const char *what)
{
    if (shd_is_err(r)) {
        char msg[512];
        shd_error_render(msg, sizeof(msg));
        fail_msg("%s: %s", what, msg);
    }
}

static inline void fx_init(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/gemu-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct gemu_init_opts o = {.state_dir = f->dir, .small_keys = true};
    fx_fail(gemu_init_run(&o), "init");
    struct gemu_state_options so = {.state_dir = f->dir};
    fx_fail(gemu_state_load(&so, &f->st), "state load");
    /* Generous: creating an RSA key version under valgrind takes 10-30 s (prime search). */
    struct shd_http_client_options co = {.ca_file = f->st->ca_path, .timeout_ms = 180000};
    fx_fail(shd_http_client_create(&co, &f->client), "client");
}

/* Binds a listener; returns its port. The service is attached by fx_attach. */
static inline uint16_t fx_bind(struct fx *f, const char *name, bool tls)
{
    assert_true(f->nlisteners < FX_MAX_LISTENERS);
    uint16_t port = 0;
    fx_fail(gemu_listener_bind(f->st, name, tls, 0, &f->listeners[f->nlisteners], &port), "bind");
    f->nlisteners++;
    return port;
}

/* Attaches svc (and front) to the last bound listener and starts it; the fixture owns them. */
static inline void fx_attach(struct fx *f, struct gemu_service *svc, struct gemu_service *front)
{
    struct gemu_listener *l = f->listeners[f->nlisteners - 1];
    if (svc != NULL) {
        f->services[f->nservices++] = svc;
    }
    if (front != NULL) {
        f->services[f->nservices++] = front;
    }
    gemu_listener_attach(svc, front, l);
    fx_fail(gemu_listener_start(l), "start");
}

static inline int fx_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void fx_free(struct fx *f)
{
    for (size_t i = 0; i < f->nlisteners; i++) {
        gemu_listener_free(f->listeners[i]);
    }
    for (size_t i = 0; i < f->nservices; i++) {
        gemu_service_free(f->services[i]);
    }
    shd_http_client_free(f->client);
    gemu_state_free(f->st);
    (void)nftw(f->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
    memset(f, 0, sizeof(*f));
}

/*
 * Sends a request to http(s)://<host>:<port><path> with up to 4 headers ("Name: value" pairs as
 * name/value arrays, NULL-terminated) and an optional body; fills *out. want_header names a
 * response header to copy into out->header.
 */
static inline void fx_do(struct fx *f, const char *method, const char *scheme, uint16_t port,
                         const char *path, const char *const *headers, const char *body,
                         const char *want_header, struct fx_resp *out)
{
    memset(out, 0, sizeof(*out));
    char url[2048];
    snprintf(url, sizeof(url), "%s://%s:%u%s", scheme,
             strcmp(scheme, "https") == 0 ? "localhost" : "127.0.0.1", (unsigned)port, path);
    struct shd_http_header hs[4];
    size_t nh = 0;
    for (size_t i = 0; headers != NULL && headers[2 * i] != NULL && nh < 4; i++) {
        hs[nh].name = headers[2 * i];
        hs[nh].value = headers[2 * i + 1];
        nh++;
    }
    struct shd_http_request rq = {.method = method,
                                  .url = url,
                                  .headers = hs,
                                  .nheaders = nh,
                                  .body = (const uint8_t *)body,
                                  .body_len = body != NULL ? strlen(body) : 0};
    struct shd_http_response *resp = NULL;
    fx_fail(shd_http_client_do(f->client, &rq, &resp, NULL), url);
    out->status = shd_http_response_status(resp);
    const uint8_t *b = shd_http_response_body(resp, &out->len);
    out->body = shd_memdup(b, out->len);
    out->json = json_loadb(out->body, out->len, 0, NULL);
    if (want_header != NULL) {
        const char *h = shd_http_response_header(resp, want_header);
        if (h != NULL) {
            snprintf(out->header, sizeof(out->header), "%s", h);
        }
    }
    shd_http_response_free(resp);
}

/* A Bearer token of a service account (or federated principal when pool is not NULL). */
static inline char *fx_token(struct fx *f, const char *subject, const char *pool,
                             json_t *attributes)
{
    struct gemu_principal p = {.kind = pool != NULL ? GEMU_PRINCIPAL_FEDERATED
                                                    : GEMU_PRINCIPAL_SERVICE_ACCOUNT,
                               .subject = (char *)(uintptr_t)subject,
                               .pool = (char *)(uintptr_t)pool,
                               .attributes = attributes};
    char *tok = NULL;
    fx_fail(gemu_tokens_issue(&p, 600, (int64_t)time(NULL), f->st->tokens, &tok, NULL), "token");
    return tok;
}

/* "Bearer <tok>" in a static-lifetime buffer owned by the caller. */
static inline void fx_bearer(const char *tok, char *out, size_t cap)
{
    snprintf(out, cap, "Bearer %s", tok);
}

/* A string member of the JSON answer, or "" */
static inline const char *fx_str(const struct fx_resp *r, const char *key)
{
    const json_t *v = json_object_get(r->json, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The Google error envelope's message / status. */
static inline const char *fx_err_msg(const struct fx_resp *r)
{
    const json_t *v = json_object_get(json_object_get(r->json, "error"), "message");
    return json_is_string(v) ? json_string_value(v) : "";
}

static inline const char *fx_err_status(const struct fx_resp *r)
{
    const json_t *v = json_object_get(json_object_get(r->json, "error"), "status");
    return json_is_string(v) ? json_string_value(v) : "";
}
