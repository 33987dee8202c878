/*
 * http_server.h - a small HTTP/1.1 server on libmicrohttpd 0.9.75: table-driven routes, hard
 * caps, Unix sockets with SO_PEERCRED allow-lists, and a clean SIGTERM/SIGINT shutdown.
 *
 * Shape:
 *   shd_http_server_create(&opts, &s);              routes, caps, fallbacks
 *   shd_http_server_listen_tcp("127.0.0.1", 0, s, &port);
 *   shd_http_server_listen_unix(path, 0660, &allow, s);
 *   shd_http_server_start(s);
 *   shd_http_server_run_until_signal(s, &sig);      blocks; returns after a drained stop
 *   shd_http_server_free(s);
 *
 * Threads: each listener is one MHD daemon in thread-per-connection mode
 * (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION). Handlers may block on slow
 * upstream calls (MAA, Key Vault, STS, a TPM) for seconds; one thread per connection keeps a slow
 * request from stalling any other client, and the connection limit bounds the thread count. A
 * handler therefore runs concurrently with other handlers: the ctx it gets must be thread-safe
 * (or guarded by the component). MHD's threads start with every signal blocked.
 *
 * Requests: the whole body is consumed before the handler runs (the answer-before-body trap,
 * real-clients.md 3.5). Bodies are buffered up to max_body_bytes in memory wiped when freed.
 * Responses can own their body and wipe it after sending (released keys, tokens). A handler can
 * also drop the connection unanswered (shd_http_resp_abort: the emulators' "drop" faults).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shd/result.h"

struct shd_http_server;
struct shd_http_req;  /* a request as the handler sees it; valid during the handler call only */
struct shd_http_resp; /* the response the handler fills */

/* Defaults applied when an option is 0. */
#define SHD_HTTP_SERVER_DEFAULT_MAX_BODY ((size_t)64 * 1024)
#define SHD_HTTP_SERVER_DEFAULT_MAX_HEADER ((size_t)16 * 1024)
#define SHD_HTTP_SERVER_DEFAULT_MAX_CONNECTIONS 64u
#define SHD_HTTP_SERVER_DEFAULT_TIMEOUT_S 30u
#define SHD_HTTP_SERVER_DEFAULT_DRAIN_MS 10000u
/* Listeners per server (e.g. skr: 127.0.0.1:8080 and a Unix socket). */
#define SHD_HTTP_SERVER_MAX_LISTENERS 4u
/* Extra response headers per response. */
#define SHD_HTTP_RESP_MAX_HEADERS 16u

/*
 * A handler. ctx is the server's opts.ctx. It reads req and fills resp, then returns SHD_OK.
 * If it returns an error, whatever it put in resp is discarded (and wiped) and the client gets
 * 500 {"error":"internal server error"}: error details never leak to peers by accident. A handler
 * that returns SHD_OK without setting a status answers 500 too. A handler that called
 * shd_http_resp_abort gets its connection closed without any answer, whatever it returns.
 */
typedef shd_result (*shd_http_handler_fn)(void *ctx, const struct shd_http_req *req,
                                          struct shd_http_resp *resp);

enum shd_http_route_flags {
    SHD_HTTP_ROUTE_EXACT = 0,       /* path must equal the route path */
    SHD_HTTP_ROUTE_PREFIX = 1u << 0 /* path starts with the route path */
};

/*
 * One row of the route table (STYLE.md rule 4). method NULL matches any method. The first row
 * whose path and method match wins. A path that matches some row but no row's method goes to
 * method_not_allowed.
 */
struct shd_http_route {
    const char *method;
    const char *path;
    shd_http_handler_fn handler;
    unsigned flags; /* enum shd_http_route_flags */
};

struct shd_http_server_options {
    const struct shd_http_route *routes; /* copied at create; the strings must outlive the server */
    size_t nroutes;
    void *ctx; /* passed to every handler */
    /* No path matched. NULL: 404 application/json {"error":"not found"}. */
    shd_http_handler_fn not_found;
    /* A path matched but no method did. NULL: 405 {"error":"method not allowed"} with Allow. */
    shd_http_handler_fn method_not_allowed;
    size_t max_body_bytes;    /* larger bodies get 413 JSON; 0: SHD_HTTP_SERVER_DEFAULT_MAX_BODY */
    size_t max_header_bytes;  /* request line + headers; over it MHD answers 431 (or 413) */
    unsigned max_connections; /* per listener; 0: SHD_HTTP_SERVER_DEFAULT_MAX_CONNECTIONS */
    unsigned timeout_s; /* idle timeout per connection; 0: SHD_HTTP_SERVER_DEFAULT_TIMEOUT_S */
    unsigned drain_ms;  /* how long a stop waits for in-flight requests; 0: default */
};

/*
 * Peers allowed on a Unix-socket listener, checked with SO_PEERCRED on every connection. A peer
 * passes when its uid is in uids OR its gid (primary, as SO_PEERCRED reports it) is in gids.
 * Both lists empty (or a NULL allow pointer) = every peer that can open the socket.
 * A denied peer's request body is read and discarded (never buffered), then it gets
 * 403 {"error":"forbidden"} with Connection: close; no handler runs.
 */
struct shd_http_peer_allow {
    const uid_t *uids;
    size_t nuids;
    const gid_t *gids;
    size_t ngids;
};

/* Creates a stopped server without listeners. Copies opts (and the route rows). Validates:
 * routes need a path starting with '/' and a handler (SHD_ERR_CONFIG). */
SHD_RESULT shd_http_server_create(const struct shd_http_server_options *opts,
                                  struct shd_http_server **ret_server);

/*
 * Binds a TCP listener on host (an IPv4 or IPv6 literal, e.g. "127.0.0.1"; no name lookup) and
 * port (0: the kernel chooses). *ret_port (may be NULL) receives the bound port. Before start.
 */
SHD_RESULT shd_http_server_listen_tcp(const char *host, uint16_t port,
                                      struct shd_http_server *server, uint16_t *ret_port);

/*
 * Like shd_http_server_listen_tcp, serving HTTPS (libmicrohttpd with GnuTLS) with the given PEM
 * certificate chain (leaf first) and private key. Both strings are copied; the key copy is wiped
 * when the server is freed. For the local emulators, which must speak real TLS to real clients.
 */
SHD_RESULT shd_http_server_listen_tls(const char *host, uint16_t port, const char *cert_pem,
                                      const char *key_pem, struct shd_http_server *server,
                                      uint16_t *ret_port);

/*
 * Creates a Unix-socket listener at path: removes a stale socket there (refuses to remove
 * anything that is not a socket: SHD_ERR_CONFIG), binds with umask 0177 in force (process-wide,
 * briefly: call before other threads create files), chmods to mode, listens. mode must not give
 * any permission to others (mode & 0007 == 0) nor exceed 0777. allow may be NULL; it is copied.
 * The path is unlinked at stop if it is still our socket (same device and inode).
 */
SHD_RESULT shd_http_server_listen_unix(const char *path, mode_t mode,
                                       const struct shd_http_peer_allow *allow,
                                       struct shd_http_server *server);

/*
 * Adds a listening socket the caller created (bound and listening, SOCK_STREAM). The server
 * takes ownership of fd on success and closes it at stop. allow applies only to AF_UNIX sockets
 * (SHD_ERR_CONFIG otherwise). Before start.
 */
SHD_RESULT shd_http_server_listen_fd(int fd, const struct shd_http_peer_allow *allow,
                                     struct shd_http_server *server);

/* Starts serving on every listener (at least one). Threads start with all signals blocked. */
SHD_RESULT shd_http_server_start(struct shd_http_server *server);

/*
 * Blocks SIGTERM and SIGINT in the calling thread (call this from main before creating any
 * thread, so that the signals reach sigwait and not some worker; run_until_signal does it too).
 */
SHD_RESULT shd_http_signals_block(void);

/*
 * Serves until SIGTERM or SIGINT arrives (taken synchronously with sigwaitinfo in the calling
 * thread, never in an async handler), then stops: quiesces every listener (no new
 * connections), waits up to drain_ms for in-flight requests, stops the daemons and unlinks the
 * Unix sockets. Starts the server first if needed. *ret_signal (may be NULL) gets the signal.
 */
SHD_RESULT shd_http_server_run_until_signal(struct shd_http_server *server, int *ret_signal);

/* Stops as above (idempotent; no-op on a stopped server). */
void shd_http_server_stop(struct shd_http_server *server);

/* Stops if needed and frees (NULL is fine). */
void shd_http_server_free(struct shd_http_server *server);

/* ---- the request, inside a handler ---- */

const char *shd_http_req_method(const struct shd_http_req *req);

/* The decoded path without the query string ("/key/release"). */
const char *shd_http_req_path(const struct shd_http_req *req);

/* A query argument's decoded value ("" for "?flag"); NULL when absent. */
const char *shd_http_req_query(const struct shd_http_req *req, const char *key);

/* The first request header called name (case-insensitive); NULL when absent. */
const char *shd_http_req_header(const struct shd_http_req *req, const char *name);

/* The body (may be secret; wiped after the response). Never NULL: "" when empty; NUL-terminated
 * (the NUL is not counted). ret_len may be NULL. */
const uint8_t *shd_http_req_body(const struct shd_http_req *req, size_t *ret_len);

/* True on a Unix-socket connection whose SO_PEERCRED was read; then *ret_uid / *ret_gid (each
 * may be NULL) receive the peer's credentials. False (outputs untouched) on TCP. */
bool shd_http_req_peer(const struct shd_http_req *req, uid_t *ret_uid, gid_t *ret_gid);

/* ---- the response, inside a handler ---- */

/* Sets the status (100..599; anything else is a programming error and aborts). */
void shd_http_resp_status(unsigned status, struct shd_http_resp *resp);

/*
 * Adds a header (copied). Refuses (SHD_ERR_USAGE) names that are not HTTP tokens, values with
 * CR, LF or NUL (header injection), Content-Length, Content-Type (use the body functions) and
 * more than SHD_HTTP_RESP_MAX_HEADERS headers.
 */
SHD_RESULT shd_http_resp_header(const char *name, const char *value, struct shd_http_resp *resp);

/* Sets status, content type and a copy of the body (replacing any previous body, wiped). */
SHD_RESULT shd_http_resp_body(unsigned status, const char *content_type, const void *body,
                              size_t len, struct shd_http_resp *resp);

/*
 * Sets status and content type, and takes ownership of body (allocated with shd_alloc, len bytes
 * used, alloc_len bytes allocated): it is wiped and freed after it was sent (or on any error).
 * Use this for secrets so that no extra copy is made. Infallible.
 */
void shd_http_resp_body_take(unsigned status, const char *content_type, uint8_t *body, size_t len,
                             size_t alloc_len, struct shd_http_resp *resp);

/*
 * Asks the server to close the connection without sending any response: no status line, no
 * header, no byte (for fault injection: what a client sees when a peer or a middlebox drops the
 * connection - curl's "Empty reply from server"). Everything resp held is wiped now; the abort is
 * final: what the handler sets afterwards is wiped and never sent, and it also wins over an error
 * the handler returns (the connection is closed instead of answering 500). Other connections,
 * and later connections of the same client, are served as usual. Infallible.
 */
void shd_http_resp_abort(struct shd_http_resp *resp);

/* application/json with a copy of json (a complete JSON text the caller built). */
SHD_RESULT shd_http_resp_json(unsigned status, const char *json, struct shd_http_resp *resp);

/* application/json {"error":"<message, JSON-escaped>"}. */
SHD_RESULT shd_http_resp_json_error(unsigned status, const char *message,
                                    struct shd_http_resp *resp);

/* text/plain; charset=utf-8 with a copy of text. */
SHD_RESULT shd_http_resp_text(unsigned status, const char *text, struct shd_http_resp *resp);

/* ---- a response outside a server (unit tests of handlers) ---- */

/* A standalone empty response (status 0). Free with shd_http_resp_free. */
SHD_RESULT shd_http_resp_new(struct shd_http_resp **ret_resp);

/* Wipes and frees a standalone response (NULL is fine). Never for the one a handler got. */
void shd_http_resp_free(struct shd_http_resp *resp);

/* What a handler put in resp: status (0 if unset), body (NULL if none; ret_len may be NULL),
 * content type (NULL if none), the first extra header called name (case-insensitive) or NULL. */
unsigned shd_http_resp_get_status(const struct shd_http_resp *resp);
const uint8_t *shd_http_resp_get_body(const struct shd_http_resp *resp, size_t *ret_len);
const char *shd_http_resp_get_content_type(const struct shd_http_resp *resp);
const char *shd_http_resp_get_header(const struct shd_http_resp *resp, const char *name);

/* True once shd_http_resp_abort was called on resp (the connection would be closed unanswered). */
bool shd_http_resp_is_aborted(const struct shd_http_resp *resp);

/*
 * JSON-escapes a NUL-terminated string (RFC 8259 section 7: '"', '\\', control characters;
 * invalid UTF-8 bytes become U+FFFD) into a fresh shd_alloc'd string, without quotes.
 */
SHD_RESULT shd_http_json_escape(const char *s, char **ret_escaped);
