/*
 * keyholder.c - the key holder (keyholder.h): obtains the key once through a source, keeps it
 * in OpenSSL's secure heap, and offers unwrap and public-key export.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/evp.h>

#include "shd/crypto.h"
#include "shd/crypto_rsa.h"
#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/secret.h"

#include "keyholder.h"
#include "keystore.h"
#include "proxy_log.h"

/* OpenSSL's smallest secure-heap chunk: 64 bytes (a power of two below the heap size). */
#define SECURE_HEAP_MIN_CHUNK 64u

struct proxy_keyholder {
    const struct proxy_key_source *source;
    void *state;
    unsigned max_attempts;
    uint32_t retry_base_ms;
    uint32_t retry_max_ms;
    size_t secure_heap_bytes;
    /* Written once by obtain before `ready` is released; read-only afterwards. */
    struct proxy_key_material material;
    char *public_pem;
    size_t public_pem_len;
    atomic_bool ready;
};

static bool wait_sleep(void *ctx, uint32_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};

    (void)ctx;
    while (nanosleep(&ts, &ts) != 0) {
        /* EINTR: keep sleeping the rest. */
    }
    return false;
}

static const char *getenv_secure(const char *name)
{
    return secure_getenv(name);
}

static bool is_pow2(size_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

shd_result proxy_keyholder_create(const struct proxy_keystore_options *opts,
                                  struct proxy_keyholder **ret_h)
{
    SHD_ENSURE(opts != NULL && opts->source != NULL && ret_h != NULL, SHD_ERR_NULL);
    size_t heap =
        opts->secure_heap_bytes != 0 ? opts->secure_heap_bytes : PROXY_KEYSTORE_DEFAULT_SECURE_HEAP;
    SHD_ENSURE_MSG(is_pow2(heap) && heap > SECURE_HEAP_MIN_CHUNK, SHD_ERR_CONFIG,
                   "secure heap size %zu is not a power of two above %u", heap,
                   SECURE_HEAP_MIN_CHUNK);

    struct proxy_keyholder *h = shd_alloc(sizeof(*h));
    SHD_ENSURE(h != NULL, SHD_ERR_NOMEM);
    h->source = opts->source;
    h->secure_heap_bytes = heap;
    h->max_attempts =
        opts->max_attempts != 0 ? opts->max_attempts : PROXY_KEYSTORE_DEFAULT_ATTEMPTS;
    h->retry_base_ms =
        opts->retry_base_ms != 0 ? opts->retry_base_ms : PROXY_KEYSTORE_DEFAULT_RETRY_BASE_MS;
    h->retry_max_ms =
        opts->retry_max_ms != 0 ? opts->retry_max_ms : PROXY_KEYSTORE_DEFAULT_RETRY_MAX_MS;
    if (h->retry_base_ms > h->retry_max_ms) {
        h->retry_base_ms = h->retry_max_ms;
    }
    atomic_init(&h->ready, false);
    if (h->source->configure != NULL) {
        shd_result r =
            h->source->configure(opts->getenv != NULL ? opts->getenv : getenv_secure, &h->state);
        if (shd_is_err(r)) {
            shd_error_wrap("key source %s", h->source->name);
            shd_free(h);
            return r;
        }
    }
    *ret_h = h;
    return SHD_OK;
}

static void material_clear(struct proxy_key_material *m)
{
    EVP_PKEY_free(m->private_key);
    EVP_PKEY_free(m->public_key);
    if (m->remote_free != NULL) {
        m->remote_free(m->remote_ctx);
    }
    shd_memzero(m, sizeof(*m));
}

/* Checks what a source returned and derives the public PEM. */
static shd_result material_adopt(struct proxy_key_material *m, struct proxy_keyholder *h)
{
    bool local = m->private_key != NULL;

    SHD_ENSURE_MSG(local != (m->remote_decrypt != NULL), SHD_ERR_INTERNAL,
                   "key source %s returned %s", h->source->name,
                   local ? "both a key and a remote decrypt" : "no key");
    SHD_ENSURE_MSG(local || m->public_key != NULL, SHD_ERR_INTERNAL,
                   "key source %s returned no public key", h->source->name);
    EVP_PKEY *pub = m->public_key != NULL ? m->public_key : m->private_key;
    SHD_ENSURE_MSG(shd_crypto_key_kind(pub) == SHD_CRYPTO_KEY_RSA, SHD_ERR_BAD_KEY,
                   "key source %s: the key is not RSA", h->source->name);
    SHD_ENSURE_MSG(!local || shd_crypto_key_is_private(m->private_key), SHD_ERR_BAD_KEY,
                   "key source %s: the key has no private part", h->source->name);
    int bits = EVP_PKEY_get_bits(pub);
    SHD_ENSURE_MSG(bits >= (int)PROXY_KEYSTORE_MIN_BITS && bits <= (int)PROXY_KEYSTORE_MAX_BITS,
                   SHD_ERR_BAD_KEY, "key source %s: RSA key of %d bits (%u..%u)", h->source->name,
                   bits, PROXY_KEYSTORE_MIN_BITS, PROXY_KEYSTORE_MAX_BITS);
    SHD_GUARD(shd_crypto_pubkey_export_spki_pem(pub, &h->public_pem, &h->public_pem_len));
    h->material = *m;
    shd_memzero(m, sizeof(*m));
    return SHD_OK;
}

/* Full jitter: uniform in [0, min(max, base * 2^(attempt-1))]. */
static uint32_t backoff_ms(const struct proxy_keyholder *h, unsigned attempt)
{
    uint64_t cap = h->retry_base_ms;
    for (unsigned i = 1; i < attempt && cap < h->retry_max_ms; i++) {
        cap *= 2u;
    }
    if (cap > h->retry_max_ms) {
        cap = h->retry_max_ms;
    }
    uint32_t rnd = 0;
    if (shd_is_err(shd_crypto_random((uint8_t *)&rnd, sizeof(rnd)))) {
        shd_error_clear();
        return (uint32_t)cap;
    }
    return (uint32_t)(rnd % (cap + 1u));
}

shd_result proxy_keyholder_obtain(struct proxy_keyholder *h, proxy_keyholder_wait_fn wait,
                                  void *wait_ctx)
{
    SHD_ENSURE_REF(h);
    if (atomic_load_explicit(&h->ready, memory_order_acquire)) {
        shd_misuse("proxy_keyholder_obtain called twice");
    }
    if (wait == NULL) {
        wait = wait_sleep;
    }
    /* Before any private key exists (STYLE.md rule 30). */
    SHD_GUARD_CTX(shd_secure_heap_init(h->secure_heap_bytes, SECURE_HEAP_MIN_CHUNK), "secure heap");
    unsigned attempt = 0;
    for (;;) {
        struct proxy_key_material m = {0};

        attempt++;
        shd_result r = h->source->obtain(h->state, &m);
        if (shd_is_ok(r)) {
            r = material_adopt(&m, h);
            material_clear(&m);
            if (shd_is_err(r)) {
                return r;
            }
            atomic_store_explicit(&h->ready, true, memory_order_release);
            SHD_LOG_KV(SHD_LOG_LEVEL_INFO, PROXY_LOG_KEY, "key ready",
                       SHD_LOG_STR("source", h->source->name), SHD_LOG_UINT("attempts", attempt));
            return SHD_OK;
        }
        if (!h->source->retryable) {
            shd_error_wrap("key source %s", h->source->name);
            return r;
        }
        if (attempt >= h->max_attempts) {
            /* The last attempt's chain becomes the root text of the exhausted error. */
            char cause[SHD_ERROR_FRAME_LEN];
            (void)shd_error_render(cause, sizeof(cause));
            r = shd_error_setf(SHD_ERR_RETRY_EXHAUSTED, __FILE__, __LINE__, "%s", cause);
            shd_error_wrap("giving up after %u attempts: key source %s", attempt, h->source->name);
            return r;
        }
        uint32_t ms = backoff_ms(h, attempt);
        (void)SHD_LOG_RESULT(SHD_LOG_LEVEL_WARNING, PROXY_LOG_KEY, r,
                             "key source %s: attempt %u failed, next in %u ms", h->source->name,
                             attempt, ms);
        if (wait(wait_ctx, ms)) {
            SHD_BAIL_MSG(SHD_ERR_UNAVAILABLE, "key source %s: start-up abandoned", h->source->name);
        }
    }
}

bool proxy_keyholder_ready(const struct proxy_keyholder *h)
{
    return h != NULL && atomic_load_explicit(&h->ready, memory_order_acquire);
}

shd_result proxy_keyholder_unwrap(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                                  size_t *ret_len)
{
    const struct proxy_keyholder *h = ctx;

    SHD_ENSURE(h != NULL, SHD_ERR_NULL);
    if (!proxy_keyholder_ready(h)) {
        SHD_BAIL_MSG(SHD_ERR_UNAVAILABLE, "the key is not ready");
    }
    if (h->material.private_key != NULL) {
        return shd_crypto_rsa_oaep_decrypt(SHD_CRYPTO_HASH_SHA256, in, n, h->material.private_key,
                                           out, cap, ret_len);
    }
    shd_result r = h->material.remote_decrypt(h->material.remote_ctx, in, n, out, cap, ret_len);
    if (shd_is_err(r) && out != NULL) {
        shd_memzero(out, cap);
    }
    return r;
}

shd_result proxy_keyholder_public_pem(const struct proxy_keyholder *h, const char **ret_pem,
                                      size_t *ret_len)
{
    SHD_ENSURE(h != NULL && ret_pem != NULL, SHD_ERR_NULL);
    if (!proxy_keyholder_ready(h)) {
        SHD_BAIL_MSG(SHD_ERR_UNAVAILABLE, "the key is not ready");
    }
    *ret_pem = h->public_pem;
    if (ret_len != NULL) {
        *ret_len = h->public_pem_len;
    }
    return SHD_OK;
}

void proxy_keyholder_free(struct proxy_keyholder *h)
{
    if (h == NULL) {
        return;
    }
    material_clear(&h->material);
    if (h->source->state_free != NULL) {
        h->source->state_free(h->state);
    }
    shd_free(h->public_pem);
    shd_free_wipe(h, sizeof(*h));
}
