/*
 * main.c - skr-proxy-client: a curl-like client that speaks the Polaris envelope protocol.
 *
 *   skr-proxy-client [options] http://proxy:3000/path?query
 *
 * Exit status (like curl where curl has one): 0 when the response status is below 400;
 * 22 when it is 400 or more (curl -f; the body is still written); 7 when the proxy cannot be
 * reached; 28 on a timeout; 2 for a bad command line; 1 for anything else (unreadable files,
 * a response that does not decrypt).
 * Decrypted data goes only to stdout (or -o FILE); -v writes to stderr what travels in the
 * clear (method, outer URL, sizes, status, outer headers), never decrypted content.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/parse.h"
#include "shd/safety.h"
#include "shd/secret.h"

#include "polaris_client.h"

#define EXIT_HTTP_ERROR 22
#define EXIT_CONNECT 7
#define EXIT_TIMEOUT 28
#define EXIT_USAGE 2
#define MAX_HEADERS 128u
#define BODY_MAX ((size_t)512 * 1024 * 1024)
#define MAX_PEM ((size_t)64 * 1024)

struct cli {
    const char *url;
    const char *method;
    struct proxy_client_header headers[MAX_HEADERS];
    char *header_copies[MAX_HEADERS];
    size_t nheaders;
    const char *data;  /* -d / --data-binary argument */
    bool data_binary;
    const char *public_key_file;
    const char *output;
    const char *unix_socket;
    bool verbose;
    bool plain_responses;
    bool help;
    unsigned key_bits;
    size_t iv_len;
    size_t max_response;
};

static void usage(FILE *out, const char *argv0)
{
    (void)fprintf(out,
                  "Usage: %s [options] URL\n"
                  "Sends an encrypted request through a Polaris-compatible proxy (skr-proxy) and\n"
                  "writes the decrypted response body to stdout.\n\n"
                  "  -X, --request METHOD     HTTP method (GET, or POST with data)\n"
                  "  -H, --header 'N: V'      request header (sent only encrypted); repeatable\n"
                  "  -d, --data DATA          body; @FILE reads a file, @- stdin (CR/LF removed)\n"
                  "      --data-binary DATA   body, @FILE / @- read as is\n"
                  "      --public-key FILE    the proxy's public key (PEM); default: fetch it\n"
                  "                           from /polaris-container/publicKey\n"
                  "  -o, --output FILE        write the body to FILE instead of stdout\n"
                  "      --unix-socket PATH   connect to the proxy over a Unix socket\n"
                  "      --plain-responses    the proxy does not encrypt responses\n"
                  "      --iv-len 12|16       GCM IV length of our envelopes (16, like Node)\n"
                  "      --key-bits N         our response key: 2048, 3072 (default) or 4096\n"
                  "      --max-response BYTES largest response accepted (64 MiB)\n"
                  "  -v, --verbose            what travels in the clear, to stderr\n"
                  "  -h, --help               this help\n\n"
                  "Exit status: 0 for a status below 400, 22 for 400 and above (the body is\n"
                  "still written), 7 proxy unreachable, 28 timeout, 2 usage, 1 other errors.\n",
                  argv0);
}

static bool parse_decimal(const char *s, size_t max, size_t *ret)
{
    uint64_t v = 0;
    if (shd_is_err(shd_parse_uint(s, 10, max, &v))) {
        shd_error_clear(); /* the caller prints the usage error */
        return false;
    }
    *ret = (size_t)v;
    return true;
}

static int header_add(struct cli *c, const char *arg)
{
    const char *colon = strchr(arg, ':');
    if (colon == NULL || colon == arg || c->nheaders == MAX_HEADERS) {
        (void)fprintf(stderr, "skr-proxy-client: bad header (want 'Name: value')\n");
        return EXIT_USAGE;
    }
    char *copy = shd_strdup(arg);
    if (copy == NULL) {
        return 1;
    }
    copy[colon - arg] = '\0';
    char *v = copy + (colon - arg) + 1;
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    c->header_copies[c->nheaders] = copy;
    c->headers[c->nheaders++] = (struct proxy_client_header){.name = copy, .value = v};
    return 0;
}

/* Option table (STYLE.md rule 4): short and long names, whether a value follows. */
enum opt_id {
    O_REQUEST, O_HEADER, O_DATA, O_DATA_BINARY, O_PUBKEY, O_OUTPUT, O_UNIX, O_PLAIN, O_IV,
    O_BITS, O_MAXRESP, O_VERBOSE, O_HELP,
};

struct opt {
    const char *shortname;
    const char *longname;
    bool value;
    enum opt_id id;
};

static const struct opt OPTS[] = {
    {"-X", "--request", true, O_REQUEST},      {"-H", "--header", true, O_HEADER},
    {"-d", "--data", true, O_DATA},            {NULL, "--data-binary", true, O_DATA_BINARY},
    {NULL, "--public-key", true, O_PUBKEY},    {"-o", "--output", true, O_OUTPUT},
    {NULL, "--unix-socket", true, O_UNIX},     {NULL, "--plain-responses", false, O_PLAIN},
    {NULL, "--iv-len", true, O_IV},            {NULL, "--key-bits", true, O_BITS},
    {NULL, "--max-response", true, O_MAXRESP}, {"-v", "--verbose", false, O_VERBOSE},
    {"-h", "--help", false, O_HELP},
};

static int opt_apply(enum opt_id id, const char *v, struct cli *c)
{
    size_t n = 0;

    switch (id) {
    case O_REQUEST:
        c->method = v;
        return 0;
    case O_HEADER:
        return header_add(c, v);
    case O_DATA:
    case O_DATA_BINARY:
        c->data = v;
        c->data_binary = id == O_DATA_BINARY;
        return 0;
    case O_PUBKEY:
        c->public_key_file = v;
        return 0;
    case O_OUTPUT:
        c->output = v;
        return 0;
    case O_UNIX:
        c->unix_socket = v;
        return 0;
    case O_PLAIN:
        c->plain_responses = true;
        return 0;
    case O_IV:
        if (!parse_decimal(v, 16, &n) || (n != 12 && n != 16)) {
            break;
        }
        c->iv_len = n;
        return 0;
    case O_BITS:
        if (!parse_decimal(v, 4096, &n)) {
            break;
        }
        c->key_bits = (unsigned)n;
        return 0;
    case O_MAXRESP:
        if (!parse_decimal(v, BODY_MAX, &n)) {
            break;
        }
        c->max_response = n;
        return 0;
    case O_VERBOSE:
        c->verbose = true;
        return 0;
    case O_HELP:
        c->help = true;
        return 0;
    default:
        break;
    }
    (void)fprintf(stderr, "skr-proxy-client: bad value for an option\n");
    return EXIT_USAGE;
}

static int args_parse(int argc, char **argv, struct cli *c)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const struct opt *o = NULL;
        for (size_t k = 0; k < sizeof(OPTS) / sizeof(OPTS[0]) && o == NULL; k++) {
            bool match = strcmp(a, OPTS[k].longname) == 0 ||
                         (OPTS[k].shortname != NULL && strcmp(a, OPTS[k].shortname) == 0);
            o = match ? &OPTS[k] : NULL;
        }
        if (o == NULL) {
            if (a[0] == '-' || c->url != NULL) {
                (void)fprintf(stderr, "skr-proxy-client: unexpected argument '%s'\n", a);
                return EXIT_USAGE;
            }
            c->url = a;
            continue;
        }
        if (o->value && i + 1 >= argc) {
            (void)fprintf(stderr, "skr-proxy-client: %s needs a value\n", a);
            return EXIT_USAGE;
        }
        int rc = opt_apply(o->id, o->value ? argv[++i] : NULL, c);
        if (rc != 0) {
            return rc;
        }
    }
    if (!c->help && c->url == NULL) {
        (void)fprintf(stderr, "skr-proxy-client: no URL\n");
        return EXIT_USAGE;
    }
    return 0;
}

/* Reads a whole file (or stdin for "-") into buf (bounded). */
static shd_result file_read(const char *path, struct shd_buf *buf)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    SHD_GUARD_POSIX(fd);
    uint8_t chunk[65536];
    shd_result r = SHD_OK;
    for (;;) {
        ssize_t got = read(fd, chunk, sizeof(chunk));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
            break;
        }
        if (got == 0) {
            break;
        }
        r = shd_buf_append(chunk, (size_t)got, buf);
        if (shd_is_err(r)) {
            break;
        }
    }
    shd_memzero(chunk, sizeof(chunk));
    if (fd != STDIN_FILENO) {
        (void)close(fd);
    }
    if (shd_is_err(r)) {
        shd_error_wrap("reading %s", path);
    }
    return r;
}

/* -d DATA / -d @FILE (CR and LF removed, like curl) / --data-binary (kept). */
static shd_result body_load(const struct cli *c, struct shd_buf *body)
{
    if (c->data[0] != '@') {
        return shd_buf_append_str(c->data, body);
    }
    SHD_GUARD(file_read(c->data + 1, body));
    if (!c->data_binary) {
        const uint8_t *p = shd_buf_ptr(body);
        size_t n = shd_buf_len(body);
        size_t w = 0;
        uint8_t *q = (uint8_t *)(uintptr_t)p;
        for (size_t i = 0; i < n; i++) {
            if (p[i] != '\r' && p[i] != '\n') {
                q[w++] = p[i];
            }
        }
        shd_buf_truncate(w, body);
    }
    return SHD_OK;
}

/* Splits "http://host:port/path?q" into the base and the path ("/" when none). */
static int url_split(const char *url, char *base, size_t cap, const char **ret_path)
{
    const char *sep = strstr(url, "://");
    if (sep == NULL) {
        (void)fprintf(stderr, "skr-proxy-client: the URL needs a scheme (http://)\n");
        return EXIT_USAGE;
    }
    const char *path = strpbrk(sep + 3, "/?#");
    size_t base_len = path != NULL ? (size_t)(path - url) : strlen(url);
    if (base_len >= cap) {
        return EXIT_USAGE;
    }
    shd_memcpy(base, url, base_len);
    base[base_len] = '\0';
    *ret_path = path != NULL && path[0] == '/' ? path : "/";
    return 0;
}

static int exit_for(shd_result r)
{
    char msg[SHD_ERROR_FRAME_LEN];
    (void)shd_error_render(msg, sizeof(msg));
    (void)fprintf(stderr, "skr-proxy-client: %s\n", msg);
    switch (r.err) {
    case SHD_ERR_CONNECT:
        return EXIT_CONNECT;
    case SHD_ERR_TIMEOUT:
        return EXIT_TIMEOUT;
    default:
        return 1;
    }
}

static int body_write(const struct cli *c, const uint8_t *p, size_t n)
{
    int fd = STDOUT_FILENO;
    if (c->output != NULL) {
        fd = open(c->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            (void)fprintf(stderr, "skr-proxy-client: cannot open %s\n", c->output);
            return 1;
        }
    }
    int rc = 0;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            rc = 1;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    if (fd != STDOUT_FILENO && close(fd) != 0) {
        rc = 1;
    }
    return rc;
}

static int run(const struct cli *c)
{
    char base[2048];
    const char *path = NULL;
    int rc = url_split(c->url, base, sizeof(base), &path);
    if (rc != 0) {
        return rc;
    }
    struct shd_buf pem;
    struct shd_buf body;
    shd_buf_init(MAX_PEM, 0, &pem);
    shd_buf_init(BODY_MAX, SHD_BUF_SECRET, &body);
    shd_result r = SHD_OK;
    if (c->public_key_file != NULL) {
        r = file_read(c->public_key_file, &pem);
    }
    if (shd_is_ok(r) && c->data != NULL) {
        r = body_load(c, &body);
    }
    struct proxy_client *client = NULL;
    if (shd_is_ok(r)) {
        const struct proxy_client_options o = {
            .base_url = base,
            .unix_socket = c->unix_socket,
            .proxy_key_pem = c->public_key_file != NULL ? shd_buf_str(&pem) : NULL,
            .proxy_key_pem_len = shd_buf_len(&pem),
            .plain_responses = c->plain_responses,
            .key_bits = c->key_bits,
            .iv_len = c->iv_len,
            .max_response = c->max_response,
        };
        r = proxy_client_create(&o, &client);
    }
    const char *method = c->method != NULL ? c->method : c->data != NULL ? "POST" : "GET";
    const struct proxy_client_request req = {
        .method = method,
        .path = path,
        .headers = c->headers,
        .nheaders = c->nheaders,
        .body = c->data != NULL ? shd_buf_ptr(&body) : NULL,
        .body_len = shd_buf_len(&body),
    };
    if (c->verbose && shd_is_ok(r)) {
        (void)fprintf(stderr, "> %s %s/ (encrypted: path, %zu header(s), %zu body byte(s))\n",
                      method, base, c->nheaders, shd_buf_len(&body));
    }
    struct proxy_client_response *resp = NULL;
    if (shd_is_ok(r)) {
        r = proxy_client_do(client, &req, &resp);
    }
    if (shd_is_err(r)) {
        rc = exit_for(r);
    } else {
        unsigned status = proxy_client_response_status(resp);
        size_t n = 0;
        const uint8_t *p = proxy_client_response_body(resp, &n);
        if (c->verbose) {
            const char *ct = proxy_client_response_header(resp, "content-type");
            (void)fprintf(stderr, "< %u content-type=%s body=%s (%zu bytes)\n", status,
                          ct != NULL ? ct : "-",
                          proxy_client_response_decrypted(resp) ? "decrypted" : "as received",
                          n);
        }
        rc = body_write(c, p, n);
        if (rc == 0 && status >= 400) {
            rc = EXIT_HTTP_ERROR;
        }
    }
    proxy_client_response_free(resp);
    proxy_client_free(client);
    shd_buf_free(&pem);
    shd_buf_free(&body);
    return rc;
}

int main(int argc, char **argv)
{
    struct cli c = {0};
    const char *argv0 = argc > 0 ? argv[0] : "skr-proxy-client";
    int rc = args_parse(argc, argv, &c);
    if (rc == 0 && c.help) {
        usage(stdout, argv0);
    } else if (rc == EXIT_USAGE) {
        usage(stderr, argv0);
    } else if (rc == 0) {
        shd_json_allocator_install();
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            rc = 1;
        } else {
            /* Our response key then lives in locked memory (soft with SHD_DONT_MLOCK=1). */
            if (shd_is_err(shd_secure_heap_init((size_t)1 << 20, 64))) {
                shd_error_clear();
            }
            rc = run(&c);
            curl_global_cleanup();
        }
    }
    for (size_t i = 0; i < c.nheaders; i++) {
        shd_free_wipe(c.header_copies[i], strlen(c.header_copies[i]) + 1);
    }
    return rc;
}
