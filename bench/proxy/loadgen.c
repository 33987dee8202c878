/*
 * loadgen.c - skr-proxy-load: a closed-loop load generator for skr-proxy (bench/proxy/run.sh).
 *
 * C threads each send requests back to back until N requests have been sent in all, and record
 * each request's wall time. In proxy mode each thread owns one proxy_client (its own RSA
 * response key, the proxy key fetched once) and sends POST <path> with one header and the body,
 * so every request carries three envelopes (url, headers, body): 6 RSA private operations on
 * the proxy. In --direct mode the same body goes in the clear to the workload (the baseline).
 * A request counts as an error unless the answer is 200 and, for /raw, exactly the body sent.
 *
 * Output (one line): requests=N concurrency=C body=B seconds=S rps=R p50_ms=X p99_ms=Y errors=E
 *
 * Usage: skr-proxy-load --url URL [--direct] [--requests N] [--concurrency C] [--body BYTES]
 *                       [--warmup W] [--path /raw] [--key-bits 2048]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "polaris_client.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/secret.h"

#define MAX_CONCURRENCY 256u
#define MAX_REQUESTS 1000000u
#define MAX_BODY ((size_t)64 * 1024 * 1024)

struct load_opts {
    const char *url;
    const char *path;
    bool direct;
    unsigned requests;
    unsigned concurrency;
    unsigned warmup; /* per thread, not timed */
    unsigned key_bits;
    size_t body_len;
};

struct load_run {
    const struct load_opts *o;
    uint8_t *body;
    atomic_uint next;
    atomic_uint errors;
    double *lat_ms; /* one slot per request */
    /* Every worker has its client (key generated, proxy key fetched, warm-up done) before the
     * clock starts: the figures measure requests, not set-up. */
    pthread_barrier_t start;
};

struct load_thread {
    struct load_run *run;
    pthread_t tid;
};

static double now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
    uint64_t v = 0;
    if (s == NULL || *s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10u) {
            return false;
        }
        v = v * 10u + (uint64_t)(*s - '0');
    }
    *ret = v;
    return true;
}

static bool answer_ok(const struct load_run *run, unsigned status, const uint8_t *p, size_t n)
{
    if (status != 200) {
        return false;
    }
    if (strcmp(run->o->path, "/raw") != 0) {
        return true;
    }
    return n == run->o->body_len && shd_memcmp(p, run->body, n) == 0;
}

/* One proxied request; true when it succeeded. */
static bool proxied_once(struct load_run *run, struct proxy_client *c)
{
    static const struct proxy_client_header hdr = {"Content-Type", "application/octet-stream"};
    const struct proxy_client_request req = {
        .method = "POST",
        .path = run->o->path,
        .headers = &hdr,
        .nheaders = 1,
        .body = run->body,
        .body_len = run->o->body_len,
    };
    struct proxy_client_response *resp = NULL;
    if (shd_is_err(proxy_client_do(c, &req, &resp))) {
        shd_error_clear();
        return false;
    }
    size_t n = 0;
    const uint8_t *p = proxy_client_response_body(resp, &n);
    bool ok = answer_ok(run, proxy_client_response_status(resp), p, n);
    proxy_client_response_free(resp);
    return ok;
}

static bool direct_once(struct load_run *run, const struct shd_http_client *hc, const char *url)
{
    const struct shd_http_header hdr = {"Content-Type", "application/octet-stream"};
    const struct shd_http_request req = {.method = "POST",
                                         .url = url,
                                         .headers = &hdr,
                                         .nheaders = 1,
                                         .body = run->body,
                                         .body_len = run->o->body_len};
    struct shd_http_response *resp = NULL;
    if (shd_is_err(shd_http_client_do(hc, &req, &resp, NULL))) {
        shd_error_clear();
        return false;
    }
    size_t n = 0;
    const uint8_t *p = shd_http_response_body(resp, &n);
    bool ok = answer_ok(run, (unsigned)shd_http_response_status(resp), p, n);
    shd_http_response_free(resp);
    return ok;
}

static void *worker(void *arg)
{
    struct load_thread *t = arg;
    struct load_run *run = t->run;
    const struct load_opts *o = run->o;
    struct proxy_client *c = NULL;
    struct shd_http_client *hc = NULL;
    char url[2048];
    (void)snprintf(url, sizeof(url), "%s%s", o->url, o->path);
    bool ready = false;
    if (o->direct) {
        const struct shd_http_client_options ho = {.max_response_bytes = MAX_BODY * 2,
                                                   .timeout_ms = 300000};
        ready = shd_is_ok(shd_http_client_create(&ho, &hc));
    } else {
        const struct proxy_client_options po = {.base_url = o->url, .key_bits = o->key_bits};
        ready =
            shd_is_ok(proxy_client_create(&po, &c)) && shd_is_ok(proxy_client_public_key_fetch(c));
    }
    for (unsigned i = 0; ready && i < o->warmup; i++) {
        (void)(o->direct ? direct_once(run, hc, url) : proxied_once(run, c));
    }
    (void)pthread_barrier_wait(&run->start);
    for (;;) {
        unsigned k = atomic_fetch_add(&run->next, 1u);
        if (k >= o->requests) {
            break;
        }
        double t0 = now_ms();
        bool ok = ready && (o->direct ? direct_once(run, hc, url) : proxied_once(run, c));
        run->lat_ms[k] = now_ms() - t0;
        if (!ok) {
            atomic_fetch_add(&run->errors, 1u);
        }
    }
    proxy_client_free(c);
    shd_http_client_free(hc);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double percentile(const double *v, size_t n, unsigned pct)
{
    size_t rank = (n * pct + 99u) / 100u;
    return v[rank > 0 ? rank - 1 : 0];
}

static int usage(void)
{
    (void)fprintf(stderr, "usage: skr-proxy-load --url URL [--direct] [--requests N] "
                          "[--concurrency C] [--body BYTES] [--warmup W] [--path /raw] "
                          "[--key-bits 2048|3072|4096]\n");
    return 2;
}

static int args_parse(int argc, char **argv, struct load_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        if (strcmp(a, "--direct") == 0) {
            o->direct = true;
            continue;
        }
        if (v == NULL) {
            return usage();
        }
        i++;
        if (strcmp(a, "--url") == 0) {
            o->url = v;
        } else if (strcmp(a, "--path") == 0 && v[0] == '/') {
            o->path = v;
        } else if (strcmp(a, "--requests") == 0 && parse_u64(v, MAX_REQUESTS, &n) && n > 0) {
            o->requests = (unsigned)n;
        } else if (strcmp(a, "--concurrency") == 0 && parse_u64(v, MAX_CONCURRENCY, &n) && n > 0) {
            o->concurrency = (unsigned)n;
        } else if (strcmp(a, "--body") == 0 && parse_u64(v, MAX_BODY, &n)) {
            o->body_len = (size_t)n;
        } else if (strcmp(a, "--warmup") == 0 && parse_u64(v, 1000, &n)) {
            o->warmup = (unsigned)n;
        } else if (strcmp(a, "--key-bits") == 0 && parse_u64(v, 4096, &n)) {
            o->key_bits = (unsigned)n;
        } else {
            return usage();
        }
    }
    return o->url != NULL ? 0 : usage();
}

static int run_load(const struct load_opts *o)
{
    struct load_run run = {.o = o};
    atomic_init(&run.next, 0u);
    atomic_init(&run.errors, 0u);
    run.body = shd_alloc(o->body_len + 1);
    run.lat_ms = shd_alloc_array(o->requests, sizeof(double));
    struct load_thread *th = shd_alloc_array(o->concurrency, sizeof(*th));
    if (run.body == NULL || run.lat_ms == NULL || th == NULL) {
        (void)fprintf(stderr, "skr-proxy-load: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < o->body_len; i++) {
        run.body[i] = (uint8_t)('a' + i % 26u);
    }
    if (pthread_barrier_init(&run.start, NULL, o->concurrency + 1u) != 0) {
        (void)fprintf(stderr, "skr-proxy-load: pthread_barrier_init failed\n");
        return 1;
    }
    unsigned started = 0;
    for (; started < o->concurrency; started++) {
        th[started].run = &run;
        if (pthread_create(&th[started].tid, NULL, worker, &th[started]) != 0) {
            (void)fprintf(stderr, "skr-proxy-load: cannot start thread %u\n", started);
            return 1;
        }
    }
    (void)pthread_barrier_wait(&run.start);
    double t0 = now_ms();
    for (unsigned i = 0; i < started; i++) {
        (void)pthread_join(th[i].tid, NULL);
    }
    double secs = (now_ms() - t0) / 1000.0;
    qsort(run.lat_ms, o->requests, sizeof(double), cmp_double);
    (void)pthread_barrier_destroy(&run.start);
    unsigned errors = atomic_load(&run.errors);
    (void)printf("requests=%u concurrency=%u body=%zu seconds=%.2f rps=%.1f p50_ms=%.1f "
                 "p99_ms=%.1f errors=%u\n",
                 o->requests, o->concurrency, o->body_len, secs, (double)o->requests / secs,
                 percentile(run.lat_ms, o->requests, 50), percentile(run.lat_ms, o->requests, 99),
                 errors);
    shd_free(th);
    shd_free(run.lat_ms);
    shd_free(run.body);
    return errors == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct load_opts o = {
        .path = "/raw", .requests = 100, .concurrency = 1, .body_len = 1024, .key_bits = 2048};
    int rc = args_parse(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    shd_json_allocator_install();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return 1;
    }
    /* The response keys then live in locked memory (soft with SHD_DONT_MLOCK=1). */
    if (shd_is_err(shd_secure_heap_init((size_t)1 << 22, 64))) {
        shd_error_clear();
    }
    rc = run_load(&o);
    curl_global_cleanup();
    return rc;
}
