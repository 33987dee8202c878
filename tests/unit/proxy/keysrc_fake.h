/*
 * keysrc_fake.h - a fake key service for the keysrc_*_test.c suites: shd_http_server on a Unix
 * socket in a fresh temporary folder, answering every request with a canned status and body
 * and recording the last request (method, path, query "name", body). Test code only; included
 * by one test file each (static functions, marked unused: not every suite needs all of them).
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shd/crypto.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd_test.h"

struct fake_service {
    char dir[64];
    char sock[128];
    uint16_t port; /* TCP listener on 127.0.0.1 when started with tcp */
    struct shd_http_server *server;
    pthread_mutex_t lock;
    /* The answer (set by the test). */
    unsigned status;
    char *reply;
    /* The last request (set by the handler). */
    unsigned requests;
    char method[8];
    char path[256];
    char name[512];
    char *body;
};

static shd_result fake_handler(void *ctx, const struct shd_http_req *req,
                               struct shd_http_resp *resp)
{
    struct fake_service *f = ctx;
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    const char *name = shd_http_req_query(req, "name");
    (void)pthread_mutex_lock(&f->lock);
    f->requests++;
    (void)snprintf(f->method, sizeof(f->method), "%s", shd_http_req_method(req));
    (void)snprintf(f->path, sizeof(f->path), "%s", shd_http_req_path(req));
    (void)snprintf(f->name, sizeof(f->name), "%s", name != NULL ? name : "");
    shd_free(f->body);
    f->body = shd_strndup((const char *)body, len);
    unsigned status = f->status;
    char *reply = shd_strdup(f->reply != NULL ? f->reply : "");
    (void)pthread_mutex_unlock(&f->lock);
    SHD_ENSURE(reply != NULL, SHD_ERR_NOMEM);
    shd_result r = shd_http_resp_json(status, reply, resp);
    shd_free(reply);
    return r;
}

static __attribute__((unused)) void fake_start(struct fake_service *f, bool tcp)
{
    static const struct shd_http_route routes[] = {
        {NULL, "/", fake_handler, SHD_HTTP_ROUTE_PREFIX},
    };
    *f = (struct fake_service){.status = 200};
    assert_int_equal(pthread_mutex_init(&f->lock, NULL), 0);
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/keysrc-test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->sock, sizeof(f->sock), "%s/s.sock", f->dir);
    const struct shd_http_server_options o = {.routes = routes, .nroutes = 1, .ctx = f};
    EXPECT_OK(shd_http_server_create(&o, &f->server));
    EXPECT_OK(shd_http_server_listen_unix(f->sock, 0600, NULL, f->server));
    if (tcp) {
        EXPECT_OK(shd_http_server_listen_tcp("127.0.0.1", 0, f->server, &f->port));
    }
    EXPECT_OK(shd_http_server_start(f->server));
}

/* The canned answer for the next requests (reply is copied). */
static __attribute__((unused)) void fake_answer(struct fake_service *f, unsigned status,
                                                const char *reply)
{
    (void)pthread_mutex_lock(&f->lock);
    shd_free(f->reply);
    f->reply = shd_strdup(reply);
    f->status = status;
    (void)pthread_mutex_unlock(&f->lock);
}

static __attribute__((unused)) void fake_stop(struct fake_service *f)
{
    shd_http_server_free(f->server);
    (void)rmdir(f->dir);
    shd_free(f->reply);
    shd_free(f->body);
    (void)pthread_mutex_destroy(&f->lock);
}

/* A test environment: NULL-terminated pairs {name, value}. */
static const char *const *g_env;

static __attribute__((unused)) const char *fake_getenv(const char *name)
{
    for (size_t i = 0; g_env != NULL && g_env[i] != NULL; i += 2) {
        if (strcmp(g_env[i], name) == 0) {
            return g_env[i + 1];
        }
    }
    return NULL;
}

/* {"key":"<the sidecar's JWK text of k>"} (shd_free_wipe(p, strlen(p) + 1)). */
static __attribute__((unused)) char *fake_jwk_reply(EVP_PKEY *k)
{
    char *jwk = NULL;
    size_t n = 0;
    EXPECT_OK(shd_jwk_released_write(k, NULL, &jwk, &n));
    const struct shd_json_go_field f = {"key", jwk, n};
    char *out = NULL;
    size_t m = 0;
    EXPECT_OK(shd_json_go_dump_strings(&f, 1, &out, &m));
    shd_free_wipe(jwk, n + 1);
    return out;
}

static __attribute__((unused)) void fake_free_text(char *p)
{
    if (p != NULL) {
        shd_free_wipe(p, strlen(p) + 1);
    }
}
