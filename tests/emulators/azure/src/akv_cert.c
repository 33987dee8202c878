/*
 * akv_cert.c - release-signing certificates: one RSA-2048 key per service, and per vault host a
 * leaf certificate issued by the test CA on first use (azure-formats.md §5.4: clients verify
 * the JWS with x5c[0], chain it to a trusted root and check that it names the vault host with
 * TLS server usage, skr-sidecar.md §5.4).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "akv_int.h"
#include "pki.h"
#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/jws.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define CERT_DAYS 30u

struct cert_entry {
    char host[AKV_HOST_MAX + 1];
    X509 *cert;
};

struct akv_signer {
    EVP_PKEY *key;
    X509 *ca;
    EVP_PKEY *ca_key;
    pthread_mutex_t lock;
    struct cert_entry cache[AKV_CERT_CACHE_MAX];
    size_t n;
    size_t next; /* slot replaced when the cache is full */
};

void akv_signer_free(struct akv_signer *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        X509_free(s->cache[i].cert);
    }
    EVP_PKEY_free(s->key);
    X509_free(s->ca);
    EVP_PKEY_free(s->ca_key);
    pthread_mutex_destroy(&s->lock);
    shd_free(s);
}

SHD_DEFINE_CLEANUP(struct akv_signer, akv_signer_free, cert_signer_freep)

shd_result akv_signer_new(X509 *ca, EVP_PKEY *ca_key, struct akv_signer **ret)
{
    SHD_ENSURE_REF(ca);
    SHD_ENSURE_REF(ca_key);
    SHD_ENSURE_REF(ret);
    struct akv_signer *s = shd_alloc(sizeof(*s));
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        shd_free(s);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    SHD_CLEANUP(cert_signer_freep) struct akv_signer *guard = s;
    SHD_GUARD_OSSL(X509_up_ref(ca), SHD_ERR_CRYPTO);
    s->ca = ca;
    SHD_GUARD_OSSL(EVP_PKEY_up_ref(ca_key), SHD_ERR_CRYPTO);
    s->ca_key = ca_key;
    SHD_GUARD(shd_crypto_rsa_generate(2048, &s->key));
    *ret = SHD_TAKE_PTR(guard);
    return SHD_OK;
}

static shd_result cert_serial(uint64_t *ret)
{
    uint8_t b[8];
    SHD_GUARD(shd_crypto_random(b, sizeof(b)));
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(b); i++) {
        v = (v << 8) | b[i];
    }
    *ret = (v >> 1) | 1u; /* positive, non-zero */
    return SHD_OK;
}

static shd_result cert_issue(const struct akv_signer *s, const char *host, X509 **ret)
{
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    char san[AKV_HOST_MAX + 8];
    int k = snprintf(san, sizeof(san), "%s:%s", is_ip ? "IP" : "DNS", host);
    SHD_ENSURE(k > 0 && (size_t)k < sizeof(san), SHD_ERR_TOO_LARGE);
    uint64_t serial = 0;
    SHD_GUARD(cert_serial(&serial));
    SHD_CLEANUP(aemu_x509_name_freep) X509_NAME *name = NULL;
    SHD_GUARD(aemu_pki_simple_name("azure-emu", host, &name));
    SHD_CLEANUP(aemu_x509_freep) X509 *cert = NULL;
    SHD_GUARD(aemu_pki_cert_new(name, X509_get_subject_name(s->ca), s->key, serial, CERT_DAYS,
                                &cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_basic_constraints, "critical,CA:FALSE", s->ca, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_key_usage, "critical,digitalSignature", s->ca, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_ext_key_usage, "serverAuth", s->ca, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_subject_alt_name, san, s->ca, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_authority_key_identifier, "keyid:always", s->ca, cert));
    SHD_GUARD(aemu_pki_cert_sign(s->ca_key, AEMU_SIG_DEFAULT, cert));
    *ret = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

/* A new reference to the cached certificate for host, or NULL. Called with the lock held. */
static X509 *cert_lookup_locked(const struct akv_signer *s, const char *host)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->cache[i].host, host) == 0) {
            return X509_up_ref(s->cache[i].cert) == 1 ? s->cache[i].cert : NULL;
        }
    }
    return NULL;
}

static void cert_insert_locked(struct akv_signer *s, const char *host, X509 *cert)
{
    struct cert_entry *e = NULL;
    if (s->n < AKV_CERT_CACHE_MAX) {
        e = &s->cache[s->n++];
    } else {
        e = &s->cache[s->next];
        s->next = (s->next + 1) % AKV_CERT_CACHE_MAX;
        X509_free(e->cert);
    }
    size_t n = strlen(host);
    shd_memcpy(e->host, host, n + 1);
    e->cert = cert;
}

/* The leaf for host: from the cache, or issued now and cached. *ret is a new reference. */
static shd_result cert_for_host(struct akv_signer *s, const char *host, X509 **ret)
{
    size_t n = strnlen(host, AKV_HOST_MAX + 1);
    SHD_ENSURE(n >= 1 && n <= AKV_HOST_MAX, SHD_ERR_USAGE);
    SHD_ENSURE(pthread_mutex_lock(&s->lock) == 0, SHD_ERR_INTERNAL);
    X509 *cert = cert_lookup_locked(s, host);
    pthread_mutex_unlock(&s->lock);
    if (cert != NULL) {
        *ret = cert;
        return SHD_OK;
    }
    /* Issued outside the lock (signing is slow); when two requests race for a new host, the
     * certificate cached first wins and the other one is dropped. */
    SHD_GUARD(cert_issue(s, host, &cert));
    SHD_ENSURE(pthread_mutex_lock(&s->lock) == 0, SHD_ERR_INTERNAL);
    X509 *cached = cert_lookup_locked(s, host);
    bool ref_ok = cached == NULL ? X509_up_ref(cert) == 1 : true;
    if (cached == NULL && ref_ok) {
        cert_insert_locked(s, host, cert);
    }
    pthread_mutex_unlock(&s->lock);
    if (cached != NULL) {
        X509_free(cert);
        cert = cached;
    }
    if (!ref_ok) {
        X509_free(cert);
        SHD_BAIL(SHD_ERR_CRYPTO);
    }
    *ret = cert;
    return SHD_OK;
}

shd_result akv_signer_sign(const char *host, const uint8_t *payload, size_t len,
                           struct akv_signer *s, char **ret_token)
{
    SHD_ENSURE_REF(host);
    SHD_ENSURE_REF(payload);
    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret_token);
    SHD_CLEANUP(aemu_x509_freep) X509 *leaf = NULL;
    SHD_GUARD(cert_for_host(s, host, &leaf));
    X509 *chain[2] = {leaf, s->ca};
    struct shd_jws_sign_header hdr = {.x5c = chain, .x5c_len = 2};
    return shd_jws_sign(&hdr, payload, len, s->key, SHD_JWS_RS256, ret_token, NULL);
}
