/*
 * tls_server.c - throwaway PKI and a one-response TLS server for the HTTP client tests.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "shd/mem.h"
#include "shd_test.h"
#include "tls_server.h"

struct shd_test_pki {
    EVP_PKEY *ca_key;
    X509 *ca;
    EVP_PKEY *leaf_key;
    X509 *leaf;
};

struct shd_test_tls_server {
    SSL_CTX *ctx;
    int fd;
    uint16_t port;
    char *response;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    unsigned requests;
    char last_request[4096];
    char last_sni[256];
    char snapshot[4096];
};

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            ERR_print_errors_fp(stderr);                                                           \
            fail_msg("%s:%d: %s", __FILE__, __LINE__, #cond);                                      \
        }                                                                                          \
    } while (0)

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;

    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    CHECK(ext != NULL);
    CHECK(X509_add_ext(cert, ext, -1) == 1);
    X509_EXTENSION_free(ext);
}

static X509 *cert_make(EVP_PKEY *key, const char *cn, X509 *issuer, long serial)
{
    X509 *c = X509_new();

    CHECK(c != NULL);
    CHECK(X509_set_version(c, 2) == 1);
    CHECK(ASN1_INTEGER_set(X509_get_serialNumber(c), serial) == 1);
    CHECK(X509_gmtime_adj(X509_getm_notBefore(c), -3600) != NULL);
    CHECK(X509_gmtime_adj(X509_getm_notAfter(c), 86400) != NULL);
    CHECK(X509_set_pubkey(c, key) == 1);
    X509_NAME *name = X509_get_subject_name(c);
    CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                     0) == 1);
    CHECK(X509_set_issuer_name(c, issuer != NULL ? X509_get_subject_name(issuer) : name) == 1);
    return c;
}

struct shd_test_pki *shd_test_pki_new(const char *ca_cn, const char *const *dns_names, size_t ndns)
{
    struct shd_test_pki *pki = shd_alloc(sizeof(*pki));
    char san[2048] = {0};
    size_t o = 0;

    CHECK(pki != NULL);
    pki->ca_key = EVP_EC_gen("P-256");
    pki->leaf_key = EVP_EC_gen("P-256");
    CHECK(pki->ca_key != NULL && pki->leaf_key != NULL);

    pki->ca = cert_make(pki->ca_key, ca_cn, NULL, 1);
    add_ext(pki->ca, pki->ca, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(pki->ca, pki->ca, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(pki->ca, pki->ca, NID_subject_key_identifier, "hash");
    CHECK(X509_sign(pki->ca, pki->ca_key, EVP_sha256()) > 0);

    pki->leaf = cert_make(pki->leaf_key, "test server", pki->ca, 2);
    for (size_t i = 0; i < ndns; i++) {
        int n = snprintf(san + o, sizeof(san) - o, "DNS:%s,", dns_names[i]);
        CHECK(n > 0 && (size_t)n < sizeof(san) - o);
        o += (size_t)n;
    }
    CHECK(snprintf(san + o, sizeof(san) - o, "IP:127.0.0.1") > 0);
    add_ext(pki->leaf, pki->ca, NID_subject_alt_name, san);
    add_ext(pki->leaf, pki->ca, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(pki->leaf, pki->ca, NID_ext_key_usage, "serverAuth");
    add_ext(pki->leaf, pki->ca, NID_authority_key_identifier, "keyid");
    CHECK(X509_sign(pki->leaf, pki->ca_key, EVP_sha256()) > 0);
    return pki;
}

void shd_test_pki_free(struct shd_test_pki *pki)
{
    if (pki == NULL) {
        return;
    }
    EVP_PKEY_free(pki->ca_key);
    EVP_PKEY_free(pki->leaf_key);
    X509_free(pki->ca);
    X509_free(pki->leaf);
    shd_free(pki);
}

void shd_test_pki_write_ca(const struct shd_test_pki *pki, const char *path)
{
    FILE *f = fopen(path, "w");

    CHECK(f != NULL);
    CHECK(PEM_write_X509(f, pki->ca) == 1);
    CHECK(fclose(f) == 0);
}

static char *pem_of(int (*write)(BIO *, const void *), const void *obj)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;

    CHECK(bio != NULL);
    CHECK(write(bio, obj) == 1);
    long n = BIO_get_mem_data(bio, &data);
    CHECK(n > 0);
    char *out = shd_strndup(data, (size_t)n);
    CHECK(out != NULL);
    BIO_free(bio);
    return out;
}

static int write_cert(BIO *bio, const void *obj)
{
    return PEM_write_bio_X509(bio, (X509 *)(uintptr_t)obj);
}

static int write_key(BIO *bio, const void *obj)
{
    return PEM_write_bio_PrivateKey(bio, (EVP_PKEY *)(uintptr_t)obj, NULL, NULL, 0, NULL, NULL);
}

char *shd_test_pki_leaf_cert_pem(const struct shd_test_pki *pki)
{
    return pem_of(write_cert, pki->leaf);
}

char *shd_test_pki_leaf_key_pem(const struct shd_test_pki *pki)
{
    return pem_of(write_key, pki->leaf_key);
}

static int on_servername(SSL *ssl, int *alert, void *arg)
{
    struct shd_test_tls_server *srv = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

    (void)alert;
    pthread_mutex_lock(&srv->lock);
    (void)snprintf(srv->last_sni, sizeof(srv->last_sni), "%s", name != NULL ? name : "");
    pthread_mutex_unlock(&srv->lock);
    return SSL_TLSEXT_ERR_OK;
}

static void serve_one(struct shd_test_tls_server *srv, int cfd)
{
    char head[4096];
    size_t got = 0;
    SSL *ssl = SSL_new(srv->ctx);

    if (ssl == NULL) {
        return;
    }
    (void)SSL_set_fd(ssl, cfd);
    if (SSL_accept(ssl) != 1) {
        ERR_clear_error(); /* the client refused our certificate: expected in negative tests */
        SSL_free(ssl);
        return;
    }
    while (got < sizeof(head) - 1) {
        int n = SSL_read(ssl, head + got, (int)(sizeof(head) - 1 - got));

        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        head[got] = '\0';
        if (strstr(head, "\r\n\r\n") != NULL) {
            break;
        }
    }
    head[got] = '\0';
    if (got == 0) {
        /* TLS 1.3: the server finishes its side before the client checks our certificate; a
         * client that refused it sends an alert instead of a request. */
        SSL_free(ssl);
        ERR_clear_error();
        return;
    }
    pthread_mutex_lock(&srv->lock);
    srv->requests++;
    shd_memcpy(srv->last_request, head, got + 1);
    pthread_mutex_unlock(&srv->lock);
    (void)SSL_write(ssl, srv->response, (int)strlen(srv->response));
    (void)SSL_shutdown(ssl);
    SSL_free(ssl);
    ERR_clear_error();
}

static void *accept_loop(void *arg)
{
    struct shd_test_tls_server *srv = arg;

    while (!atomic_load(&srv->stop)) {
        struct pollfd pfd = {.fd = srv->fd, .events = POLLIN};

        if (poll(&pfd, 1, 50) <= 0) {
            continue;
        }
        int cfd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) {
            continue;
        }
        serve_one(srv, cfd);
        (void)close(cfd);
    }
    OPENSSL_thread_stop();
    return NULL;
}

struct shd_test_tls_server *shd_test_tls_server_start(const struct shd_test_pki *pki,
                                                      const char *response)
{
    struct shd_test_tls_server *srv = shd_alloc(sizeof(*srv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(sa);

    CHECK(srv != NULL);
    srv->response = shd_strdup(response);
    CHECK(srv->response != NULL);
    pthread_mutex_init(&srv->lock, NULL);
    atomic_init(&srv->stop, false);
    srv->ctx = SSL_CTX_new(TLS_server_method());
    CHECK(srv->ctx != NULL);
    CHECK(SSL_CTX_use_certificate(srv->ctx, pki->leaf) == 1);
    CHECK(SSL_CTX_use_PrivateKey(srv->ctx, pki->leaf_key) == 1);
    SSL_CTX_set_tlsext_servername_callback(srv->ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(srv->ctx, srv);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(srv->fd >= 0);
    CHECK(bind(srv->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CHECK(listen(srv->fd, 16) == 0);
    CHECK(getsockname(srv->fd, (struct sockaddr *)&sa, &len) == 0);
    srv->port = ntohs(sa.sin_port);
    CHECK(pthread_create(&srv->thread, NULL, accept_loop, srv) == 0);
    return srv;
}

uint16_t shd_test_tls_server_port(const struct shd_test_tls_server *srv)
{
    return srv->port;
}

unsigned shd_test_tls_server_requests(struct shd_test_tls_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    unsigned n = srv->requests;
    pthread_mutex_unlock(&srv->lock);
    return n;
}

const char *shd_test_tls_server_last_request(struct shd_test_tls_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    (void)snprintf(srv->snapshot, sizeof(srv->snapshot), "%s", srv->last_request);
    pthread_mutex_unlock(&srv->lock);
    return srv->snapshot;
}

const char *shd_test_tls_server_last_sni(struct shd_test_tls_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    (void)snprintf(srv->snapshot, sizeof(srv->snapshot), "%s", srv->last_sni);
    pthread_mutex_unlock(&srv->lock);
    return srv->snapshot;
}

void shd_test_tls_server_stop(struct shd_test_tls_server *srv)
{
    if (srv == NULL) {
        return;
    }
    atomic_store(&srv->stop, true);
    (void)pthread_join(srv->thread, NULL);
    (void)close(srv->fd);
    SSL_CTX_free(srv->ctx);
    pthread_mutex_destroy(&srv->lock);
    shd_free(srv->response);
    shd_free(srv);
}
