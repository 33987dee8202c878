/*
 * tls_server.h - test-only TLS peer: a throwaway CA and server certificate made with OpenSSL in
 * memory, and a tiny TLS accept loop on 127.0.0.1 that answers every request with one canned
 * HTTP response. Used to prove that the HTTP client verifies certificates and host names and
 * that the connect-to mapping keeps the URL's host for SNI, the name check and Host.
 *
 * Failures abort the test (cmocka fail_msg); nothing here returns an error.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct shd_test_pki;
struct shd_test_tls_server;

/*
 * A fresh P-256 CA ("CN=<ca_cn>") and a leaf for the given DNS names plus IP 127.0.0.1, signed by
 * that CA, valid from one hour ago for one day. Free with shd_test_pki_free.
 */
struct shd_test_pki *shd_test_pki_new(const char *ca_cn, const char *const *dns_names, size_t ndns);
void shd_test_pki_free(struct shd_test_pki *pki);

/* Writes the CA certificate as PEM to path. */
void shd_test_pki_write_ca(const struct shd_test_pki *pki, const char *path);

/* The leaf certificate and its private key as fresh PEM strings (shd_free them). */
char *shd_test_pki_leaf_cert_pem(const struct shd_test_pki *pki);
char *shd_test_pki_leaf_key_pem(const struct shd_test_pki *pki);

/*
 * Starts a TLS server thread on 127.0.0.1 (port chosen by the kernel) that reads one request
 * head per connection and writes `response` (a complete HTTP/1.1 response with
 * "Connection: close"), then closes. The pki must outlive the server.
 */
struct shd_test_tls_server *shd_test_tls_server_start(const struct shd_test_pki *pki,
                                                      const char *response);
uint16_t shd_test_tls_server_port(const struct shd_test_tls_server *srv);

/* Requests read so far (after a handshake the client accepted), and the head of the last one
 * (a copy in the server, "" if none; valid until the next call or stop). */
unsigned shd_test_tls_server_requests(struct shd_test_tls_server *srv);
const char *shd_test_tls_server_last_request(struct shd_test_tls_server *srv);
/* The SNI name the last client sent ("" if none). */
const char *shd_test_tls_server_last_sni(struct shd_test_tls_server *srv);

/* Stops the thread and frees the server (NULL is fine). */
void shd_test_tls_server_stop(struct shd_test_tls_server *srv);
