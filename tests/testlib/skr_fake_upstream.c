/*
 * skr_fake_upstream.c - scripted HTTP(S) peer for skr's upstream client tests.
 */
#include "skr_fake_upstream.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "shd/http_server.h"
#include "shd/mem.h"
#include "shd_test.h"
#include "tls_server.h"

#define MAX_REPLIES 16

struct fake_reply {
    unsigned status;
    char *body;
    char *retry_after;
};

struct skr_fake_upstream {
    struct shd_http_server *server;
    uint16_t port;
    pthread_mutex_t lock;
    struct fake_reply replies[MAX_REPLIES];
    size_t nreplies;
    size_t next;
    unsigned count;
    struct skr_fake_request last;
};

static void copy_str(char *dst, size_t n, const char *src)
{
    (void)snprintf(dst, n, "%s", src != NULL ? src : "");
}

static shd_result fake_handle(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct skr_fake_upstream *f = ctx;
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);

    pthread_mutex_lock(&f->lock);
    struct skr_fake_request *l = &f->last;
    shd_free(l->body);
    *l = (struct skr_fake_request){0};
    copy_str(l->method, sizeof(l->method), shd_http_req_method(req));
    copy_str(l->path, sizeof(l->path), shd_http_req_path(req));
    copy_str(l->api_version, sizeof(l->api_version), shd_http_req_query(req, "api-version"));
    copy_str(l->resource, sizeof(l->resource), shd_http_req_query(req, "resource"));
    copy_str(l->client_id, sizeof(l->client_id), shd_http_req_query(req, "client_id"));
    copy_str(l->content_type, sizeof(l->content_type), shd_http_req_header(req, "Content-Type"));
    copy_str(l->authorization, sizeof(l->authorization), shd_http_req_header(req, "Authorization"));
    copy_str(l->metadata, sizeof(l->metadata), shd_http_req_header(req, "Metadata"));
    copy_str(l->user_agent, sizeof(l->user_agent), shd_http_req_header(req, "User-Agent"));
    l->body = shd_strndup((const char *)body, len);
    l->body_len = len;
    f->count++;
    struct fake_reply *r = NULL;
    if (f->nreplies > 0) {
        /* Replies in order; once the script is used up, the last one repeats. */
        size_t i = f->next < f->nreplies ? f->next++ : f->nreplies - 1;
        r = &f->replies[i];
    }
    unsigned status = r != NULL ? r->status : 500;
    const char *rbody = r != NULL ? r->body : "{}";
    const char *retry_after = r != NULL ? r->retry_after : NULL;
    shd_result res = shd_http_resp_json(status, rbody, resp);
    if (shd_is_ok(res) && retry_after != NULL) {
        res = shd_http_resp_header("Retry-After", retry_after, resp);
    }
    pthread_mutex_unlock(&f->lock);
    return res;
}

struct skr_fake_upstream *skr_fake_upstream_start(const struct shd_test_pki *pki)
{
    struct skr_fake_upstream *f = shd_alloc(sizeof(*f));
    assert_non_null(f);
    assert_int_equal(pthread_mutex_init(&f->lock, NULL), 0);
    const struct shd_http_route routes[] = {
        {.method = NULL, .path = "/", .handler = fake_handle, .flags = SHD_HTTP_ROUTE_PREFIX}};
    const struct shd_http_server_options opts = {
        .routes = routes, .nroutes = 1, .ctx = f, .max_body_bytes = 1024 * 1024};
    EXPECT_OK(shd_http_server_create(&opts, &f->server));
    if (pki == NULL) {
        EXPECT_OK(shd_http_server_listen_tcp("127.0.0.1", 0, f->server, &f->port));
    } else {
        char *cert = shd_test_pki_leaf_cert_pem(pki);
        char *key = shd_test_pki_leaf_key_pem(pki);
        EXPECT_OK(shd_http_server_listen_tls("127.0.0.1", 0, cert, key, f->server, &f->port));
        shd_free(cert);
        shd_free_wipe(key, strlen(key));
    }
    EXPECT_OK(shd_http_server_start(f->server));
    return f;
}

uint16_t skr_fake_upstream_port(const struct skr_fake_upstream *f)
{
    return f->port;
}

void skr_fake_upstream_push(struct skr_fake_upstream *f, unsigned status, const char *body,
                            const char *retry_after)
{
    pthread_mutex_lock(&f->lock);
    assert_true(f->nreplies < MAX_REPLIES);
    struct fake_reply *r = &f->replies[f->nreplies++];
    r->status = status;
    r->body = shd_strdup(body);
    r->retry_after = retry_after != NULL ? shd_strdup(retry_after) : NULL;
    pthread_mutex_unlock(&f->lock);
}

unsigned skr_fake_upstream_count(struct skr_fake_upstream *f)
{
    pthread_mutex_lock(&f->lock);
    unsigned n = f->count;
    pthread_mutex_unlock(&f->lock);
    return n;
}

const struct skr_fake_request *skr_fake_upstream_last(struct skr_fake_upstream *f)
{
    return &f->last;
}

void skr_fake_upstream_stop(struct skr_fake_upstream *f)
{
    if (f == NULL) {
        return;
    }
    shd_http_server_free(f->server);
    for (size_t i = 0; i < f->nreplies; i++) {
        shd_free(f->replies[i].body);
        shd_free(f->replies[i].retry_after);
    }
    shd_free(f->last.body);
    pthread_mutex_destroy(&f->lock);
    shd_free(f);
}
