/*
 * skr_fake_upstream.h - test-only scripted HTTP(S) peer for skr's upstream clients (MAA, Key
 * Vault, IMDS, AAD): an shd_http_server on 127.0.0.1 that answers each request with the next
 * scripted reply (the last one repeats) and records what it received.
 *
 * Failures abort the test (cmocka fail_msg); nothing here returns an error.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct shd_test_pki;
struct skr_fake_upstream;

/* What the fake saw in the last request; strings are "" when absent. */
struct skr_fake_request {
    char method[16];
    char path[512];
    char api_version[64]; /* query "api-version" */
    char resource[256];   /* query "resource" */
    char client_id[256];  /* query "client_id" */
    char content_type[128];
    char authorization[512];
    char metadata[32];
    char user_agent[256];
    char *body; /* NUL-terminated copy (shd_alloc), owned by the fake */
    size_t body_len;
};

/* Starts plain HTTP (pki NULL) or HTTPS with the pki's leaf. Free with skr_fake_upstream_stop. */
struct skr_fake_upstream *skr_fake_upstream_start(const struct shd_test_pki *pki);
uint16_t skr_fake_upstream_port(const struct skr_fake_upstream *f);

/* Queues a reply (body copied; retry_after may be NULL). */
void skr_fake_upstream_push(struct skr_fake_upstream *f, unsigned status, const char *body,
                            const char *retry_after);

/* Requests answered so far. */
unsigned skr_fake_upstream_count(struct skr_fake_upstream *f);

/* The last request (valid until the next request or stop). */
const struct skr_fake_request *skr_fake_upstream_last(struct skr_fake_upstream *f);

void skr_fake_upstream_stop(struct skr_fake_upstream *f);
