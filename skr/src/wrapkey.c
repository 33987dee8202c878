/*
 * wrapkey.c - ephemeral wrapping keys and their pool (wrapkey.h).
 */
#include "wrapkey.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/jwk.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "skr.h"

/* After a failed generation the refill thread waits this long before trying again. */
#define POOL_RETRY_DELAY_S 1

struct skr_key_pool {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled when a key was taken or at stop */
    pthread_t thread;
    bool thread_started;
    bool stop;
    unsigned size;
    size_t count;
    EVP_PKEY *keys[SKR_KEY_POOL_MAX];
};

static shd_result key_generate(EVP_PKEY **ret_key)
{
    SHD_GUARD_CTX(shd_crypto_rsa_generate(SKR_WRAPKEY_BITS, ret_key),
                  "rsa key pair generation failed");
    return SHD_OK;
}

static void pool_wait_retry(struct skr_key_pool *p)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += POOL_RETRY_DELAY_S;
    while (!p->stop && pthread_cond_timedwait(&p->wake, &p->lock, &until) != ETIMEDOUT) {
    }
}

/* The refill thread: sleeps while the pool is full, generates outside the lock. */
static void *pool_main(void *arg)
{
    struct skr_key_pool *p = arg;

    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        if (p->count >= p->size) {
            pthread_cond_wait(&p->wake, &p->lock);
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        EVP_PKEY *key = NULL;
        shd_result r = key_generate(&key);
        pthread_mutex_lock(&p->lock);
        if (shd_is_err(r)) {
            (void)SHD_LOG_ERR(SKR_LOG_AKV, r, "wrapping key pool refill");
            shd_error_clear();
            pool_wait_retry(p);
            continue;
        }
        if (p->stop || p->count >= p->size) {
            EVP_PKEY_free(key);
            continue;
        }
        p->keys[p->count++] = key;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

shd_result skr_key_pool_new(unsigned size, struct skr_key_pool **ret_pool)
{
    SHD_ENSURE_REF(ret_pool);
    SHD_ENSURE_MSG(size <= SKR_KEY_POOL_MAX, SHD_ERR_CONFIG, "key pool size %u is larger than %u",
                   size, SKR_KEY_POOL_MAX);
    struct skr_key_pool *p = shd_alloc(sizeof(*p));
    SHD_ENSURE(p != NULL, SHD_ERR_NOMEM);
    p->size = size;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        shd_free(p);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    if (pthread_cond_init(&p->wake, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        shd_free(p);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    if (size > 0) {
        int e = pthread_create(&p->thread, NULL, pool_main, p);
        if (e != 0) {
            skr_key_pool_free(&p);
            return shd_error_set_errno(SHD_ERR_INTERNAL, e, __FILE__, __LINE__);
        }
        p->thread_started = true;
    }
    *ret_pool = p;
    return SHD_OK;
}

void skr_key_pool_free(struct skr_key_pool **pool)
{
    if (pool == NULL || *pool == NULL) {
        return;
    }
    struct skr_key_pool *p = *pool;
    if (p->thread_started) {
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
    }
    for (size_t i = 0; i < p->count; i++) {
        EVP_PKEY_free(p->keys[i]);
    }
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    shd_free_wipe(p, sizeof(*p));
    *pool = NULL;
}

shd_result skr_key_pool_take(struct skr_key_pool *pool, EVP_PKEY **ret_key)
{
    EVP_PKEY *key = NULL;

    SHD_ENSURE_REF(ret_key);
    if (pool != NULL) {
        pthread_mutex_lock(&pool->lock);
        if (pool->count > 0) {
            /* Oldest first; the slot is cleared so the key can never be handed out twice. */
            key = pool->keys[0];
            for (size_t i = 1; i < pool->count; i++) {
                pool->keys[i - 1] = pool->keys[i];
            }
            pool->keys[--pool->count] = NULL;
            pthread_cond_signal(&pool->wake);
        }
        pthread_mutex_unlock(&pool->lock);
    }
    if (key == NULL) {
        SHD_GUARD(key_generate(&key));
    }
    *ret_key = key;
    return SHD_OK;
}

size_t skr_key_pool_ready(struct skr_key_pool *pool)
{
    if (pool == NULL) {
        return 0;
    }
    pthread_mutex_lock(&pool->lock);
    size_t n = pool->count;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

shd_result skr_wrapkey_set_write(EVP_PKEY *key, char **ret_json, size_t *ret_len)
{
    SHD_GUARD_CTX(shd_jwk_wrapping_set_write(key, ret_json, ret_len), "generating key blob failed");
    return SHD_OK;
}
