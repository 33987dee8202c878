/*
 * serve.h - the listeners of `gcp-emu serve`: one HTTP(S) server per service on 127.0.0.1,
 * every request passing the fault-injection and access-log layer before the service's routes.
 * Unit tests use the same listeners (plain HTTP) to drive a service end to end.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "gemu.h"
#include "shd/result.h"

struct gemu_listener;

/*
 * Binds a listener on 127.0.0.1:port (0: the kernel chooses; *ret_port receives it), TLS with
 * st's server certificate when tls is set. name is the service name (GEMU_SVC_*) used for fault
 * rules and the log. The services are attached with gemu_listener_attach before start, so that
 * they can be created once every port is known. *ret: gemu_listener_free.
 */
SHD_RESULT gemu_listener_bind(struct gemu_state *st, const char *name, bool tls, uint16_t port,
                              struct gemu_listener **ret, uint16_t *ret_port);

/*
 * Attaches the service that answers (borrowed; must outlive the listener) and optionally a
 * front service (the well-known documents on the verifier listener) tried first for the paths
 * gemu_wellknown_path accepts.
 */
void gemu_listener_attach(struct gemu_service *svc, struct gemu_service *front,
                          struct gemu_listener *l);

/* Starts serving. */
SHD_RESULT gemu_listener_start(struct gemu_listener *l);

/*
 * Serves until SIGTERM/SIGINT (shd_http_server_run_until_signal on this listener's server,
 * which must have been started or is started here). Other listeners keep running until freed.
 */
SHD_RESULT gemu_listener_run_until_signal(struct gemu_listener *l, int *ret_signal);

/* Stops and frees (NULL is fine). */
void gemu_listener_free(struct gemu_listener *l);
