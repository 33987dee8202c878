/*
 * http_server.c - libmicrohttpd glue: one daemon per listener, body capture with caps, the route
 * table, peer checks, and start/stop with a bounded drain of in-flight requests.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
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

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "http_int.h"
#include "http_server_int.h"

/* Bodies over max_body are read and discarded (answering early drops the connection, see
 * real-clients.md 3.5) up to this many bytes beyond the cap; past it the connection is closed. */
#define DRAIN_SLACK ((size_t)1 << 20)

struct listener {
    struct shd_http_server *server;
    int fd; /* ours until the daemon starts; then MHD's until quiesce hands it back */
    bool is_unix;
    char *unix_path; /* set when we created the socket file */
    dev_t dev;
    ino_t ino;
    struct shd_http_allow_list allow;
    char *tls_cert_pem; /* TLS listeners only: certificate chain, leaf first */
    char *tls_key_pem;  /* its private key: wiped when freed */
    size_t tls_key_len;
    struct MHD_Daemon *daemon;
};

struct shd_http_server {
    struct shd_http_route *routes;
    size_t nroutes;
    void *ctx;
    shd_http_handler_fn not_found;
    shd_http_handler_fn method_not_allowed;
    size_t max_body;
    size_t max_header;
    unsigned max_connections;
    unsigned timeout_s;
    unsigned drain_ms;
    struct listener listeners[SHD_HTTP_SERVER_MAX_LISTENERS];
    size_t nlisteners;
    bool started;
    atomic_bool stopping;
    atomic_uint in_flight;
};

/* Per-request state (MHD's req_cls), freed in request_completed. */
struct request_state {
    bool has_peer;
    bool denied;
    bool too_large;
    uid_t uid;
    gid_t gid;
    size_t discarded;
    uint8_t *body; /* len bytes + NUL, cap bytes allocated */
    size_t len;
    size_t cap;
};

/* ---- default fallbacks ---- */

static shd_result default_not_found(void *ctx, const struct shd_http_req *req,
                                    struct shd_http_resp *resp)
{
    (void)ctx;
    (void)req;
    return shd_http_resp_json_error(404, "not found", resp);
}

static shd_result default_method_not_allowed(void *ctx, const struct shd_http_req *req,
                                             struct shd_http_resp *resp)
{
    (void)ctx;
    (void)req;
    return shd_http_resp_json_error(405, "method not allowed", resp);
}

/* ---- routing ---- */

static bool path_matches(const struct shd_http_route *route, const char *path)
{
    if ((route->flags & SHD_HTTP_ROUTE_PREFIX) != 0) {
        return strncmp(path, route->path, strlen(route->path)) == 0;
    }
    return strcmp(path, route->path) == 0;
}

/* The route for method and path, or NULL; *ret_path_known tells whether any row had the path. */
static const struct shd_http_route *route_find(const struct shd_http_server *s, const char *method,
                                               const char *path, bool *ret_path_known)
{
    *ret_path_known = false;
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct shd_http_route *r = &s->routes[i];

        if (!path_matches(r, path)) {
            continue;
        }
        *ret_path_known = true;
        if (r->method == NULL || strcmp(r->method, method) == 0) {
            return r;
        }
    }
    return NULL;
}

/* "GET, POST": the Allow header of a 405 (RFC 9110 section 15.5.6). */
static shd_result allow_header_add(const struct shd_http_server *s, const char *path,
                                   struct shd_http_resp *resp)
{
    char allow[256] = {0};
    size_t o = 0;

    for (size_t i = 0; i < s->nroutes; i++) {
        const struct shd_http_route *r = &s->routes[i];
        size_t n = r->method != NULL ? strlen(r->method) : 0;

        if (n == 0 || !path_matches(r, path) || o + n + 3 > sizeof(allow)) {
            continue;
        }
        if (o > 0) {
            shd_memcpy(allow + o, ", ", 2);
            o += 2;
        }
        shd_memcpy(allow + o, r->method, n);
        o += n;
    }
    if (o == 0) {
        return SHD_OK;
    }
    return shd_http_resp_header("Allow", allow, resp);
}

static shd_result dispatch(const struct shd_http_server *s, const struct shd_http_req *req,
                           struct shd_http_resp *resp)
{
    bool path_known = false;
    const struct shd_http_route *route = route_find(s, req->method, req->path, &path_known);

    if (route != NULL) {
        return route->handler(s->ctx, req, resp);
    }
    if (!path_known) {
        return s->not_found(s->ctx, req, resp);
    }
    if (s->method_not_allowed == default_method_not_allowed) {
        SHD_GUARD(allow_header_add(s, req->path, resp));
    }
    return s->method_not_allowed(s->ctx, req, resp);
}

/* ---- MHD callbacks ---- */

static enum MHD_Result queue(struct MHD_Connection *conn, struct shd_http_resp *resp,
                             bool close_after)
{
    unsigned status = resp->status;
    struct MHD_Response *r = shd_http_resp_to_mhd(resp);

    if (r == NULL) {
        return MHD_NO; /* out of memory: MHD closes the connection */
    }
    if (close_after) {
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result queue_error(struct MHD_Connection *conn, unsigned status,
                                   const char *message, bool close_after)
{
    struct shd_http_resp resp = {0};

    if (shd_is_err(shd_http_resp_json_error(status, message, &resp))) {
        shd_http_resp_clear(&resp);
        return MHD_NO;
    }
    return queue(conn, &resp, close_after);
}

/* Appends an upload chunk within the cap; past the cap the bytes are counted and dropped. */
static bool body_take(const struct shd_http_server *s, struct request_state *st, const char *data,
                      size_t n)
{
    if (st->denied || st->too_large || n > s->max_body - st->len) {
        if (!st->denied && !st->too_large) {
            /* The part kept so far may hold a secret too: drop it now. */
            st->too_large = true;
            st->discarded = st->len;
            shd_free_wipe(st->body, st->cap);
            st->body = NULL;
            st->len = 0;
            st->cap = 0;
        }
        if (n > DRAIN_SLACK + s->max_body - st->discarded) {
            return false;
        }
        st->discarded += n;
        return true;
    }
    size_t need = st->len + n + 1;
    if (need > st->cap) {
        size_t cap = st->cap * 2 > need ? st->cap * 2 : need;

        if (cap > s->max_body + 1) {
            cap = s->max_body + 1;
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

/* First call of a request: peer check and the declared length. */
static struct request_state *request_begin(const struct listener *l, struct MHD_Connection *conn,
                                           bool *ret_reject_now)
{
    struct request_state *st = shd_alloc(sizeof(*st));
    const struct shd_http_server *s = l->server;

    *ret_reject_now = false;
    if (st == NULL) {
        return NULL;
    }
    if (l->is_unix) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

        st->has_peer = ci != NULL && shd_http_peer_read(ci->connect_fd, &st->uid, &st->gid);
        st->denied = !st->has_peer || !shd_http_peer_allowed(&l->allow, st->uid, st->gid);
        if (st->denied) {
            SHD_LOG_DEBUG("http", "peer uid=%d gid=%d refused", st->has_peer ? (int)st->uid : -1,
                          st->has_peer ? (int)st->gid : -1);
        }
    }
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        /* MHD validated the digits; only the size matters here. */
        size_t declared = 0;
        bool huge = false;

        for (const char *p = cl; *p >= '0' && *p <= '9'; p++) {
            if (declared > (SIZE_MAX - 9) / 10) {
                huge = true;
                break;
            }
            declared = declared * 10 + (size_t)(*p - '0');
        }
        if (huge || declared > s->max_body) {
            st->too_large = true;
            /* Too big even to drain: answer now and close. */
            *ret_reject_now = huge || declared - s->max_body > DRAIN_SLACK;
        }
    }
    return st;
}

static enum MHD_Result request_finish(const struct listener *l, struct MHD_Connection *conn,
                                      const char *url, const char *method, struct request_state *st)
{
    struct shd_http_server *s = l->server;
    bool closing = atomic_load(&s->stopping);

    if (st->denied) {
        return queue_error(conn, 403, "forbidden", true);
    }
    if (st->too_large) {
        return queue_error(conn, 413, "request body too large", closing);
    }
    struct shd_http_req req = {
        .conn = conn,
        .method = method,
        .path = url,
        .body = st->body != NULL ? st->body : (const uint8_t *)"",
        .body_len = st->len,
        .has_peer = st->has_peer,
        .uid = st->uid,
        .gid = st->gid,
    };
    struct shd_http_resp resp = {0};
    shd_result r = dispatch(s, &req, &resp);
    if (resp.aborted) {
        /* shd_http_resp_abort: nothing is queued, and MHD_NO makes MHD close the connection
         * (TLS close_notify or a TCP FIN, no byte of HTTP): the client sees an empty reply.
         * on_completed still runs and frees the request state. */
        SHD_LOG_DEBUG("http", "handler for %s aborted the connection", url);
        shd_http_resp_clear(&resp);
        return MHD_NO;
    }
    if (shd_is_err(r) || resp.status == 0) {
        SHD_LOG_DEBUG("http", "handler for %s failed (code %d)", url, r.err);
        shd_http_resp_clear(&resp);
        return queue_error(conn, 500, "internal server error", closing);
    }
    return queue(conn, &resp, closing);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    const struct listener *l = cls;
    struct request_state *st = *req_cls;

    (void)version;
    if (st == NULL) {
        /* Call 1: headers only. */
        bool reject_now = false;

        st = request_begin(l, conn, &reject_now);
        if (st == NULL) {
            return MHD_NO;
        }
        *req_cls = st;
        atomic_fetch_add(&l->server->in_flight, 1u);
        if (reject_now) {
            return queue_error(conn, st->denied ? 403 : 413,
                               st->denied ? "forbidden" : "request body too large", true);
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        /* Calls 2..n: consume every chunk, answer only at the end. */
        bool ok = body_take(l->server, st, upload_data, *upload_data_size);

        *upload_data_size = 0;
        return ok ? MHD_YES : MHD_NO;
    }
    return request_finish(l, conn, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    const struct listener *l = cls;
    struct request_state *st = *req_cls;

    (void)conn;
    (void)toe;
    if (st == NULL) {
        return;
    }
    shd_free_wipe(st->body, st->cap);
    shd_free_wipe(st, sizeof(*st));
    *req_cls = NULL;
    atomic_fetch_sub(&l->server->in_flight, 1u);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                             va_list ap)
{
    char line[256];

    (void)cls;
    /* MHD's messages are about its own state (sockets, limits); never bodies. */
    (void)vsnprintf(line, sizeof(line), fmt, ap);
    SHD_LOG_DEBUG("http", "microhttpd: %s", line);
}

/* ---- construction ---- */

shd_result shd_http_server_create(const struct shd_http_server_options *opts,
                                  struct shd_http_server **ret_server)
{
    SHD_ENSURE_REF(opts);
    SHD_ENSURE_REF(ret_server);
    SHD_ENSURE(opts->routes != NULL || opts->nroutes == 0, SHD_ERR_NULL);
    for (size_t i = 0; i < opts->nroutes; i++) {
        const struct shd_http_route *r = &opts->routes[i];

        SHD_ENSURE_MSG(r->path != NULL && r->path[0] == '/' && r->handler != NULL, SHD_ERR_CONFIG,
                       "route %zu needs a path starting with / and a handler", i);
        SHD_ENSURE_MSG(r->method == NULL || shd_http_is_token(r->method), SHD_ERR_CONFIG,
                       "route %zu method is not a token", i);
        SHD_ENSURE_MSG((r->flags & ~(unsigned)SHD_HTTP_ROUTE_PREFIX) == 0, SHD_ERR_CONFIG,
                       "route %zu has unknown flags", i);
    }
    struct shd_http_server *s = shd_alloc(sizeof(*s));
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    s->routes = shd_alloc_array(opts->nroutes, sizeof(*s->routes));
    if (s->routes == NULL) {
        shd_free(s);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    shd_memcpy(s->routes, opts->routes, opts->nroutes * sizeof(*s->routes));
    s->nroutes = opts->nroutes;
    s->ctx = opts->ctx;
    s->not_found = opts->not_found != NULL ? opts->not_found : default_not_found;
    s->method_not_allowed =
        opts->method_not_allowed != NULL ? opts->method_not_allowed : default_method_not_allowed;
    s->max_body =
        opts->max_body_bytes != 0 ? opts->max_body_bytes : SHD_HTTP_SERVER_DEFAULT_MAX_BODY;
    s->max_header =
        opts->max_header_bytes != 0 ? opts->max_header_bytes : SHD_HTTP_SERVER_DEFAULT_MAX_HEADER;
    s->max_connections = opts->max_connections != 0 ? opts->max_connections
                                                    : SHD_HTTP_SERVER_DEFAULT_MAX_CONNECTIONS;
    s->timeout_s = opts->timeout_s != 0 ? opts->timeout_s : SHD_HTTP_SERVER_DEFAULT_TIMEOUT_S;
    s->drain_ms = opts->drain_ms != 0 ? opts->drain_ms : SHD_HTTP_SERVER_DEFAULT_DRAIN_MS;
    atomic_init(&s->stopping, false);
    atomic_init(&s->in_flight, 0u);
    *ret_server = s;
    return SHD_OK;
}

static shd_result allow_copy(const struct shd_http_peer_allow *allow,
                             struct shd_http_allow_list *out)
{
    if (allow == NULL) {
        return SHD_OK;
    }
    SHD_ENSURE(allow->uids != NULL || allow->nuids == 0, SHD_ERR_NULL);
    SHD_ENSURE(allow->gids != NULL || allow->ngids == 0, SHD_ERR_NULL);
    SHD_ENSURE_MSG(allow->nuids <= 256 && allow->ngids <= 256, SHD_ERR_CONFIG,
                   "peer allow-list over 256 entries");
    uid_t *uids = shd_alloc_array(allow->nuids, sizeof(uid_t));
    gid_t *gids = shd_alloc_array(allow->ngids, sizeof(gid_t));
    if (uids == NULL || gids == NULL) {
        shd_free(uids);
        shd_free(gids);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    shd_memcpy(uids, allow->uids, allow->nuids * sizeof(uid_t));
    shd_memcpy(gids, allow->gids, allow->ngids * sizeof(gid_t));
    out->uids = uids;
    out->nuids = allow->nuids;
    out->gids = gids;
    out->ngids = allow->ngids;
    return SHD_OK;
}

static shd_result listener_slot(struct shd_http_server *s, struct listener **ret)
{
    SHD_ENSURE_REF(s);
    SHD_ENSURE_MSG(!s->started, SHD_ERR_USAGE, "listener added after start");
    SHD_ENSURE_MSG(s->nlisteners < SHD_HTTP_SERVER_MAX_LISTENERS, SHD_ERR_CONFIG,
                   "more than %u listeners", SHD_HTTP_SERVER_MAX_LISTENERS);
    struct listener *l = &s->listeners[s->nlisteners];
    shd_memzero(l, sizeof(*l));
    l->server = s;
    l->fd = -1;
    *ret = l;
    return SHD_OK;
}

shd_result shd_http_server_listen_tcp(const char *host, uint16_t port,
                                      struct shd_http_server *server, uint16_t *ret_port)
{
    struct listener *l = NULL;
    uint16_t bound = 0;

    SHD_GUARD(listener_slot(server, &l));
    SHD_GUARD(shd_http_listen_tcp_open(host, port, &l->fd, &bound));
    server->nlisteners++;
    if (ret_port != NULL) {
        *ret_port = bound;
    }
    return SHD_OK;
}

shd_result shd_http_server_listen_tls(const char *host, uint16_t port, const char *cert_pem,
                                      const char *key_pem, struct shd_http_server *server,
                                      uint16_t *ret_port)
{
    struct listener *l = NULL;
    uint16_t bound = 0;

    SHD_ENSURE_REF(cert_pem);
    SHD_ENSURE_REF(key_pem);
    SHD_ENSURE_MSG(MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES, SHD_ERR_UNSUPPORTED,
                   "libmicrohttpd was built without TLS support");
    SHD_GUARD(listener_slot(server, &l));
    l->tls_cert_pem = shd_strdup(cert_pem);
    l->tls_key_pem = shd_strdup(key_pem);
    l->tls_key_len = strlen(key_pem);
    shd_result r = SHD_OK;
    if (l->tls_cert_pem == NULL || l->tls_key_pem == NULL) {
        r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    } else {
        r = shd_http_listen_tcp_open(host, port, &l->fd, &bound);
    }
    if (shd_is_err(r)) {
        shd_free(l->tls_cert_pem);
        shd_free_wipe(l->tls_key_pem, l->tls_key_len);
        l->tls_cert_pem = NULL;
        l->tls_key_pem = NULL;
        return r;
    }
    server->nlisteners++;
    if (ret_port != NULL) {
        *ret_port = bound;
    }
    return SHD_OK;
}

shd_result shd_http_server_listen_unix(const char *path, mode_t mode,
                                       const struct shd_http_peer_allow *allow,
                                       struct shd_http_server *server)
{
    struct listener *l = NULL;
    struct shd_http_allow_list copy = {0};

    SHD_GUARD(listener_slot(server, &l));
    SHD_ENSURE_REF(path);
    char *owned_path = shd_strdup(path);
    SHD_ENSURE(owned_path != NULL, SHD_ERR_NOMEM);
    shd_result r = allow_copy(allow, &copy);
    if (shd_is_ok(r)) {
        r = shd_http_listen_unix_open(path, mode, &l->fd, &l->dev, &l->ino);
    }
    if (shd_is_err(r)) {
        shd_free(owned_path);
        shd_free(copy.uids);
        shd_free(copy.gids);
        return r;
    }
    l->is_unix = true;
    l->unix_path = owned_path;
    l->allow = copy;
    server->nlisteners++;
    return SHD_OK;
}

shd_result shd_http_server_listen_fd(int fd, const struct shd_http_peer_allow *allow,
                                     struct shd_http_server *server)
{
    struct listener *l = NULL;
    int family = 0;

    SHD_GUARD(listener_slot(server, &l));
    SHD_GUARD(shd_http_listen_fd_family(fd, &family));
    SHD_ENSURE_MSG(allow == NULL || family == AF_UNIX, SHD_ERR_CONFIG,
                   "a peer allow-list needs a unix socket");
    SHD_GUARD(allow_copy(allow, &l->allow));
    l->fd = fd;
    l->is_unix = family == AF_UNIX;
    server->nlisteners++;
    return SHD_OK;
}

/* ---- lifecycle ---- */

static shd_result daemon_start(struct listener *l)
{
    const struct shd_http_server *s = l->server;
    /* The header limit is MHD's per-connection pool: the request line and headers must fit in
     * it, next to the read buffer; twice the header cap leaves room for both. */
    size_t pool = s->max_header < 4096 ? 8192 : s->max_header * 2;
    /* Thread per connection: a handler blocked on a slow upstream call stalls nobody else. */
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    /* TLS listeners (the emulators' HTTPS endpoints) add the key and chain; MHD does TLS with
     * GnuTLS. An empty array keeps the plain listeners' option list identical. */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, l->tls_key_pem},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, l->tls_cert_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem no_opts[] = {{MHD_OPTION_END, 0, NULL}};
    bool tls = l->tls_cert_pem != NULL;

    if (tls) {
        flags |= MHD_USE_TLS;
    }

    l->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, l, MHD_OPTION_LISTEN_SOCKET, l->fd,
        MHD_OPTION_CONNECTION_LIMIT, s->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        s->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, l, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_STRICT_FOR_CLIENT,
        1, MHD_OPTION_ARRAY, tls ? tls_opts : no_opts, MHD_OPTION_END);
    SHD_ENSURE_MSG(l->daemon != NULL, SHD_ERR_IO, "starting the http daemon failed");
    return SHD_OK;
}

static void daemons_stop(struct shd_http_server *s);

shd_result shd_http_server_start(struct shd_http_server *server)
{
    sigset_t all;
    sigset_t old;

    SHD_ENSURE_REF(server);
    SHD_ENSURE_MSG(!server->started, SHD_ERR_USAGE, "server already started");
    SHD_ENSURE_MSG(server->nlisteners > 0, SHD_ERR_CONFIG, "server has no listener");
    /* MHD's threads inherit this mask: with every signal blocked there, SIGTERM/SIGINT can only
     * be taken by the thread that waits for them (STYLE.md rule 33). */
    (void)sigfillset(&all);
    SHD_ENSURE(pthread_sigmask(SIG_SETMASK, &all, &old) == 0, SHD_ERR_INTERNAL);
    shd_result r = SHD_OK;
    for (size_t i = 0; i < server->nlisteners && shd_is_ok(r); i++) {
        r = daemon_start(&server->listeners[i]);
    }
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    server->started = true;
    if (shd_is_err(r)) {
        daemons_stop(server);
    }
    return r;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static void daemons_stop(struct shd_http_server *s)
{
    int returned[SHD_HTTP_SERVER_MAX_LISTENERS];

    atomic_store(&s->stopping, true);
    /* 1. No new connections: quiesce hands each listen socket back to us. */
    for (size_t i = 0; i < s->nlisteners; i++) {
        struct listener *l = &s->listeners[i];

        returned[i] = l->daemon != NULL ? MHD_quiesce_daemon(l->daemon) : -1;
    }
    /* 2. Let requests already being handled finish (bounded). Idle keep-alive connections do
     * not count: they are closed by the stop below. */
    for (unsigned waited = 0; atomic_load(&s->in_flight) > 0 && waited < s->drain_ms;
         waited += 10) {
        sleep_ms(10);
    }
    /* 3. Stop the daemons, close the sockets, remove our socket files. */
    for (size_t i = 0; i < s->nlisteners; i++) {
        struct listener *l = &s->listeners[i];

        if (l->daemon != NULL) {
            MHD_stop_daemon(l->daemon);
            l->daemon = NULL;
            if (returned[i] >= 0) {
                (void)close(returned[i]); /* quiesced sockets are ours again */
            }
        } else if (l->fd >= 0) {
            (void)close(l->fd); /* never handed to a daemon */
        }
        l->fd = -1;
        if (l->unix_path != NULL) {
            shd_http_listen_unix_remove(l->unix_path, l->dev, l->ino);
        }
    }
}

void shd_http_server_stop(struct shd_http_server *server)
{
    if (server == NULL || atomic_load(&server->stopping)) {
        return;
    }
    daemons_stop(server);
}

void shd_http_server_free(struct shd_http_server *server)
{
    if (server == NULL) {
        return;
    }
    shd_http_server_stop(server);
    for (size_t i = 0; i < server->nlisteners; i++) {
        struct listener *l = &server->listeners[i];

        shd_free(l->unix_path);
        shd_free(l->tls_cert_pem);
        shd_free_wipe(l->tls_key_pem, l->tls_key_len);
        shd_free(l->allow.uids);
        shd_free(l->allow.gids);
    }
    shd_free(server->routes);
    shd_free(server);
}

static void term_signals(sigset_t *set)
{
    (void)sigemptyset(set);
    (void)sigaddset(set, SIGTERM);
    (void)sigaddset(set, SIGINT);
}

shd_result shd_http_signals_block(void)
{
    sigset_t set;

    term_signals(&set);
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    SHD_ENSURE_MSG(rc == 0, SHD_ERR_INTERNAL, "pthread_sigmask: %s", strerror(rc));
    return SHD_OK;
}

shd_result shd_http_server_run_until_signal(struct shd_http_server *server, int *ret_signal)
{
    sigset_t set;
    siginfo_t info;

    SHD_ENSURE_REF(server);
    SHD_GUARD(shd_http_signals_block());
    if (!server->started) {
        SHD_GUARD(shd_http_server_start(server));
    }
    term_signals(&set);
    int sig = -1;
    while ((sig = sigwaitinfo(&set, &info)) < 0) {
        if (errno != EINTR) {
            int e = errno;

            shd_http_server_stop(server);
            return shd_error_set_errno(SHD_ERR_INTERNAL, e, __FILE__, __LINE__);
        }
    }
    SHD_LOG_DEBUG("http", "signal %d: stopping", sig);
    shd_http_server_stop(server);
    if (ret_signal != NULL) {
        *ret_signal = sig;
    }
    return SHD_OK;
}
