/*
 * server.c - libmicrohttpd glue for the proxy: a listener socket, raw request-target capture
 * (URI log callback), header enumeration, body capture with caps, a per-connection slot, and a
 * drained stop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "headers.h"
#include "proxy_log.h"
#include "server.h"

/* Bodies over the cap are read and dropped up to this much more, so the client can still read
 * the 413 (answering before the body is consumed makes many clients see a reset). */
#define DRAIN_SLACK ((size_t)1 << 20)
#define DEFAULT_DRAIN_MS 10000u
#define RESPONSE_HEADER_BYTES ((size_t)64 * 1024)

struct proxy_server {
    struct proxy_server_options opts;
    char *host;
    int fd;
    struct MHD_Daemon *daemon;
    atomic_uint in_flight;
    atomic_bool stopping;
};

/* Per request (MHD's req_cls), created by the URI callback. */
struct req_state {
    bool begun;
    bool too_large;
    char *target;
    size_t target_len;
    uint8_t *body; /* len bytes + NUL, cap allocated */
    size_t len;
    size_t cap;
    size_t discarded;
};

/* Per connection (MHD's socket context). */
struct conn_state {
    void *slot;
};

/* ---- responses ---- */

void proxy_response_init(struct proxy_response *resp)
{
    *resp = (struct proxy_response){0};
    proxy_headers_init(PROXY_HEADERS_MAX_COUNT, RESPONSE_HEADER_BYTES, &resp->headers);
}

void proxy_response_clear(struct proxy_response *resp)
{
    if (resp == NULL) {
        return;
    }
    proxy_headers_clear(&resp->headers);
    shd_free_wipe(resp->body, resp->alloc_len);
    resp->body = NULL;
    resp->len = 0;
    resp->alloc_len = 0;
    resp->status = 0;
}

void proxy_response_take(unsigned status, uint8_t *body, size_t len, size_t alloc_len,
                         struct proxy_response *resp)
{
    shd_free_wipe(resp->body, resp->alloc_len);
    resp->status = status;
    resp->body = body;
    resp->len = len;
    resp->alloc_len = alloc_len;
}

shd_result proxy_response_header(const char *name, const char *value,
                                 struct proxy_response *resp)
{
    SHD_ENSURE(name != NULL && value != NULL && resp != NULL, SHD_ERR_NULL);
    return proxy_headers_add(name, strlen(name), value, strlen(value), &resp->headers);
}

shd_result proxy_response_set(unsigned status, const char *content_type, const void *body,
                              size_t len, struct proxy_response *resp)
{
    SHD_ENSURE(resp != NULL && (body != NULL || len == 0), SHD_ERR_NULL);
    uint8_t *copy = shd_alloc(len + 1);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    shd_memcpy(copy, body, len);
    if (content_type != NULL) {
        shd_result r = proxy_response_header("Content-Type", content_type, resp);
        if (shd_is_err(r)) {
            shd_free(copy);
            return r;
        }
    }
    proxy_response_take(status, copy, len, len + 1, resp);
    return SHD_OK;
}

struct body_owner {
    uint8_t *p;
    size_t n;
};

static void body_free(void *cls)
{
    struct body_owner *o = cls;

    shd_free_wipe(o->p, o->n);
    shd_free(o);
}

/* Hands resp to MHD (the body moves into MHD; the rest is cleared). NULL on failure. */
static struct MHD_Response *response_to_mhd(struct proxy_response *resp)
{
    static uint8_t empty[1];
    struct body_owner *o = shd_alloc(sizeof(*o));
    struct MHD_Response *r = NULL;

    if (o != NULL) {
        o->p = resp->body;
        o->n = resp->alloc_len;
        r = MHD_create_response_from_buffer_with_free_callback_cls(
            resp->len, resp->body != NULL ? resp->body : empty, body_free, o);
    }
    if (r == NULL) {
        shd_free(o);
        proxy_response_clear(resp);
        return NULL;
    }
    resp->body = NULL;
    resp->alloc_len = 0;
    for (size_t i = 0; i < resp->headers.n; i++) {
        const struct proxy_header *h = &resp->headers.v[i];
        if (MHD_add_response_header(r, h->name, h->value) != MHD_YES) {
            SHD_LOG_DEBUG(PROXY_LOG_HTTP, "response header dropped by libmicrohttpd");
        }
    }
    proxy_response_clear(resp);
    return r;
}

static enum MHD_Result queue(struct MHD_Connection *conn, struct proxy_response *resp,
                             bool close_after)
{
    unsigned status = resp->status;
    struct MHD_Response *r = response_to_mhd(resp);

    if (r == NULL) {
        return MHD_NO;
    }
    if (close_after) {
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned status, const char *text,
                                  bool close_after)
{
    struct proxy_response resp;

    proxy_response_init(&resp);
    if (shd_is_err(proxy_response_set(status, "text/plain; charset=utf-8", text, strlen(text),
                                      &resp))) {
        proxy_response_clear(&resp);
        return MHD_NO;
    }
    return queue(conn, &resp, close_after);
}

/* ---- request capture ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct req_state *st = shd_alloc(sizeof(*st));

    (void)cls;
    (void)conn;
    if (st == NULL) {
        return NULL;
    }
    st->target_len = strlen(uri);
    st->target = shd_strndup(uri, st->target_len);
    if (st->target == NULL) {
        shd_free(st);
        return NULL;
    }
    return st;
}

static void state_free(struct req_state *st)
{
    if (st == NULL) {
        return;
    }
    /* The raw target of a pass-through request is plaintext the client chose to send. */
    shd_free_wipe(st->target, st->target_len + 1);
    shd_free_wipe(st->body, st->cap);
    shd_free_wipe(st, sizeof(*st));
}

/* Content-Length as declared (MHD checked the syntax); SIZE_MAX when huge, 0 when absent. */
static size_t declared_length(struct MHD_Connection *conn, bool *ret_present)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    size_t v = 0;

    *ret_present = cl != NULL;
    if (cl == NULL) {
        return 0;
    }
    for (const char *p = cl; *p >= '0' && *p <= '9'; p++) {
        if (v > (SIZE_MAX - 9u) / 10u) {
            return SIZE_MAX;
        }
        v = v * 10u + (size_t)(*p - '0');
    }
    return v;
}

/* First call: checks the declared size and pre-sizes the body buffer (no regrowth copies). */
static bool request_begin(const struct proxy_server *s, struct MHD_Connection *conn,
                          struct req_state *st, bool *ret_reject_now)
{
    bool present = false;
    size_t declared = declared_length(conn, &present);

    st->begun = true;
    *ret_reject_now = false;
    if (declared > s->opts.max_body) {
        st->too_large = true;
        *ret_reject_now = declared - s->opts.max_body > DRAIN_SLACK;
        return true;
    }
    if (present && declared > 0) {
        st->body = shd_alloc(declared + 1);
        if (st->body == NULL) {
            return false;
        }
        st->cap = declared + 1;
    }
    return true;
}

static bool body_take(const struct proxy_server *s, struct req_state *st, const char *data,
                      size_t n)
{
    if (st->too_large || n > s->opts.max_body - st->len) {
        if (!st->too_large) {
            st->too_large = true;
            st->discarded = st->len;
            shd_free_wipe(st->body, st->cap);
            st->body = NULL;
            st->len = 0;
            st->cap = 0;
        }
        if (n > DRAIN_SLACK + s->opts.max_body - st->discarded) {
            return false;
        }
        st->discarded += n;
        return true;
    }
    size_t need = st->len + n + 1;
    if (need > st->cap) {
        /* Chunked upload without a length: grow geometrically up to the cap. */
        size_t cap = st->cap * 2 > need ? st->cap * 2 : need;
        if (cap > s->opts.max_body + 1) {
            cap = s->opts.max_body + 1;
        }
        uint8_t *grown = shd_realloc_wipe(st->body, st->cap, cap);
        if (grown == NULL) {
            return false;
        }
        st->body = grown;
        st->cap = cap;
    }
    shd_memcpy(st->body + st->len, data, n);
    st->len += n;
    st->body[st->len] = '\0';
    return true;
}

struct header_collect {
    struct proxy_headers *h;
    bool failed;
};

static enum MHD_Result header_each(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct header_collect *c = cls;

    (void)kind;
    if (shd_is_err(proxy_headers_add(key, key_size, value != NULL ? value : "",
                                     value != NULL ? value_size : 0, c->h))) {
        c->failed = true;
        return MHD_NO;
    }
    return MHD_YES;
}

static void **conn_slot(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_state *cs = ci != NULL ? ci->socket_context : NULL;

    return cs != NULL ? &cs->slot : NULL;
}

static enum MHD_Result request_finish(struct proxy_server *s, struct MHD_Connection *conn,
                                      const char *url, const char *method, struct req_state *st)
{
    bool closing = atomic_load(&s->stopping);

    if (st->too_large) {
        return queue_text(conn, 413, "Error processing request: request body too large", true);
    }
    struct proxy_request req = {
        .method = method,
        .target = st->target,
        .path = url,
        .body = st->body != NULL ? st->body : (const uint8_t *)"",
        .body_len = st->len,
        .conn_slot = conn_slot(conn),
    };
    proxy_headers_init(PROXY_HEADERS_MAX_COUNT, s->opts.max_header, &req.headers);
    struct header_collect hc = {.h = &req.headers};
    (void)MHD_get_connection_values_n(conn, MHD_HEADER_KIND, header_each, &hc);
    if (hc.failed) {
        proxy_headers_clear(&req.headers);
        shd_error_clear();
        return queue_text(conn, 431, "Error processing request: too many header fields", true);
    }
    struct proxy_response resp;
    proxy_response_init(&resp);
    shd_result r = s->opts.handler(s->opts.ctx, &req, &resp);
    proxy_headers_clear(&req.headers);
    if (shd_is_err(r) || resp.status < 100 || resp.status > 599) {
        (void)SHD_LOG_RESULT(SHD_LOG_LEVEL_ERROR, PROXY_LOG_HTTP, r, "handler failed");
        proxy_response_clear(&resp);
        return queue_text(conn, 500, "Internal Server Error", closing);
    }
    return queue(conn, &resp, closing);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct proxy_server *s = cls;
    struct req_state *st = *req_cls;

    (void)version;
    if (st == NULL) {
        return MHD_NO; /* the URI callback ran out of memory */
    }
    if (!st->begun) {
        bool reject_now = false;

        atomic_fetch_add(&s->in_flight, 1u);
        if (!request_begin(s, conn, st, &reject_now)) {
            return MHD_NO;
        }
        if (reject_now) {
            return queue_text(conn, 413, "Error processing request: request body too large",
                              true);
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        bool ok = body_take(s, st, upload_data, *upload_data_size);

        *upload_data_size = 0;
        return ok ? MHD_YES : MHD_NO;
    }
    return request_finish(s, conn, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct proxy_server *s = cls;
    struct req_state *st = *req_cls;

    (void)conn;
    (void)toe;
    if (st == NULL) {
        return;
    }
    if (st->begun) {
        atomic_fetch_sub(&s->in_flight, 1u);
    }
    state_free(st);
    *req_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct proxy_server *s = cls;

    (void)conn;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = shd_alloc(sizeof(struct conn_state));
        return;
    }
    struct conn_state *cs = *socket_context;
    if (cs != NULL) {
        if (cs->slot != NULL && s->opts.conn_free != NULL) {
            s->opts.conn_free(cs->slot);
        }
        shd_free(cs);
        *socket_context = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];

    (void)cls;
    (void)vsnprintf(line, sizeof(line), fmt, ap);
    SHD_LOG_DEBUG(PROXY_LOG_HTTP, "libmicrohttpd: %s", line);
}

/* ---- lifecycle ---- */

static shd_result listen_open(const char *host, uint16_t port, int *ret_fd, uint16_t *ret_port)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = 0;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;

    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof(*v6);
    } else {
        SHD_BAIL_MSG(SHD_ERR_CONFIG, "listen address \"%s\" is not an IP literal", host);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SHD_GUARD_POSIX(fd);
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        int e = errno;
        (void)close(fd);
        shd_result r = shd_error_set_errno(SHD_ERR_IO, e, __FILE__, __LINE__);
        shd_error_wrap("listen on %s:%u", host, (unsigned)port);
        return r;
    }
    *ret_port = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
    *ret_fd = fd;
    return SHD_OK;
}

shd_result proxy_server_create(const struct proxy_server_options *opts,
                               struct proxy_server **ret_server, uint16_t *ret_port)
{
    SHD_ENSURE(opts != NULL && opts->host != NULL && opts->handler != NULL && ret_server != NULL,
               SHD_ERR_NULL);
    struct proxy_server *s = shd_alloc(sizeof(*s));
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    s->opts = *opts;
    s->fd = -1;
    s->host = shd_strdup(opts->host);
    if (s->host == NULL) {
        shd_free(s);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    s->opts.host = s->host;
    if (s->opts.drain_ms == 0) {
        s->opts.drain_ms = DEFAULT_DRAIN_MS;
    }
    uint16_t port = 0;
    shd_result r = listen_open(s->host, opts->port, &s->fd, &port);
    if (shd_is_err(r)) {
        proxy_server_free(s);
        return r;
    }
    if (ret_port != NULL) {
        *ret_port = port;
    }
    *ret_server = s;
    return SHD_OK;
}

shd_result proxy_server_start(struct proxy_server *s)
{
    SHD_ENSURE(s != NULL && s->fd >= 0 && s->daemon == NULL, SHD_ERR_USAGE);
    /* The pool holds the request line and headers, then the response header block. */
    size_t pool = 2 * s->opts.max_header + RESPONSE_HEADER_BYTES;
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
            MHD_USE_ITC,
        0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, s->fd,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
        MHD_OPTION_CONNECTION_LIMIT, s->opts.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        s->opts.idle_timeout_s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_END);
    SHD_ENSURE_MSG(s->daemon != NULL, SHD_ERR_IO, "libmicrohttpd did not start");
    return SHD_OK;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

void proxy_server_stop(struct proxy_server *s)
{
    if (s == NULL || s->daemon == NULL) {
        return;
    }
    atomic_store(&s->stopping, true);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    for (unsigned waited = 0; waited < s->opts.drain_ms && atomic_load(&s->in_flight) > 0;
         waited += 10u) {
        sleep_ms(10u);
    }
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (fd != MHD_INVALID_SOCKET) {
        (void)close(fd);
    }
    s->fd = -1;
}

void proxy_server_free(struct proxy_server *s)
{
    if (s == NULL) {
        return;
    }
    proxy_server_stop(s);
    if (s->fd >= 0) {
        (void)close(s->fd);
    }
    shd_free(s->host);
    shd_free(s);
}
