/*
 * http_server_int.h - layouts shared by http_server.c (daemons, dispatch, lifecycle),
 * http_server_msg.c (request view and response builder) and http_listen.c (sockets).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "shd/http_server.h"
#include "shd/result.h"

/* A copied peer allow-list (both empty: everybody). */
struct shd_http_allow_list {
    uid_t *uids;
    size_t nuids;
    gid_t *gids;
    size_t ngids;
};

/* What a handler sees. Lives on the stack of the final access-handler call. */
struct shd_http_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const uint8_t *body;
    size_t body_len;
    bool has_peer;
    uid_t uid;
    gid_t gid;
};

struct shd_http_resp_header {
    char *name;
    char *value;
};

/* What a handler fills. body is owned (alloc_len bytes, wiped when freed). aborted: close the
 * connection unanswered (shd_http_resp_abort); only shd_http_resp_clear resets it. */
struct shd_http_resp {
    bool aborted;
    unsigned status;
    const char *content_type; /* static or owned_ct */
    char *owned_ct;
    uint8_t *body;
    size_t len;
    size_t alloc_len;
    struct shd_http_resp_header headers[SHD_HTTP_RESP_MAX_HEADERS];
    size_t nheaders;
};

/* Wipes and frees everything the response owns and resets it to empty. */
void shd_http_resp_clear(struct shd_http_resp *resp);

/*
 * Turns a filled response into an MHD response, handing the body buffer to MHD (wiped and freed
 * after sending). resp is cleared in every case. NULL on failure.
 */
struct MHD_Response *shd_http_resp_to_mhd(struct shd_http_resp *resp);

/* ---- sockets (http_listen.c) ---- */

SHD_RESULT shd_http_listen_tcp_open(const char *host, uint16_t port, int *ret_fd,
                                    uint16_t *ret_port);
SHD_RESULT shd_http_listen_unix_open(const char *path, mode_t mode, int *ret_fd, dev_t *ret_dev,
                                     ino_t *ret_ino);
/* Unlinks path if it is still the socket (dev, ino) we created. */
void shd_http_listen_unix_remove(const char *path, dev_t dev, ino_t ino);
/* Checks fd is a listening stream socket and returns its address family. */
SHD_RESULT shd_http_listen_fd_family(int fd, int *ret_family);
/* SO_PEERCRED of a connected Unix socket; false if unavailable. */
bool shd_http_peer_read(int fd, uid_t *ret_uid, gid_t *ret_gid);
bool shd_http_peer_allowed(const struct shd_http_allow_list *allow, uid_t uid, gid_t gid);
