/*
 * keystore.c - the front of the proxy's key (keystore.h): the key holder in a forked key process
 * (keyproc.c, the default) or, for debugging, in this process (keyholder.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "keyholder.h"
#include "keyproc.h"
#include "keystore.h"

struct proxy_keystore {
    const struct proxy_key_source *source;
    struct proxy_keyholder *holder; /* in_process; else NULL */
    struct proxy_keyproc *kp;       /* the key process; else NULL */
    bool (*wait)(void *ctx, uint32_t ms);
    void *wait_ctx;
};

shd_result proxy_keystore_create(const struct proxy_keystore_options *opts,
                                 struct proxy_keystore **ret_ks)
{
    SHD_ENSURE(opts != NULL && opts->source != NULL && ret_ks != NULL, SHD_ERR_NULL);
    struct proxy_keyholder *holder = NULL;
    SHD_GUARD(proxy_keyholder_create(opts, &holder));
    struct proxy_keystore *ks = shd_alloc(sizeof(*ks));
    if (ks == NULL) {
        proxy_keyholder_free(holder);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    ks->source = opts->source;
    ks->wait = opts->wait;
    ks->wait_ctx = opts->wait_ctx;
    if (opts->in_process) {
        ks->holder = holder;
        *ret_ks = ks;
        return SHD_OK;
    }
    /* The holder goes to the key process; spawn frees this process's copy on every path. */
    shd_result r = proxy_keyproc_spawn(holder, 0, &ks->kp);
    if (shd_is_err(r)) {
        shd_free(ks);
        return r;
    }
    *ret_ks = ks;
    return SHD_OK;
}

shd_result proxy_keystore_obtain(struct proxy_keystore *ks)
{
    SHD_ENSURE_REF(ks);
    if (ks->holder != NULL) {
        return proxy_keyholder_obtain(ks->holder, ks->wait, ks->wait_ctx);
    }
    return proxy_keyproc_wait_ready(ks->kp, ks->wait, ks->wait_ctx);
}

bool proxy_keystore_ready(const struct proxy_keystore *ks)
{
    if (ks == NULL) {
        return false;
    }
    return ks->holder != NULL ? proxy_keyholder_ready(ks->holder) : proxy_keyproc_ready(ks->kp);
}

shd_result proxy_keystore_unwrap(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                                 size_t *ret_len)
{
    const struct proxy_keystore *ks = ctx;

    SHD_ENSURE(ks != NULL, SHD_ERR_NULL);
    if (ks->holder != NULL) {
        return proxy_keyholder_unwrap(ks->holder, in, n, out, cap, ret_len);
    }
    return proxy_keyproc_unwrap(ks->kp, in, n, out, cap, ret_len);
}

shd_result proxy_keystore_public_pem(const struct proxy_keystore *ks, const char **ret_pem,
                                     size_t *ret_len)
{
    SHD_ENSURE(ks != NULL && ret_pem != NULL, SHD_ERR_NULL);
    if (ks->holder != NULL) {
        return proxy_keyholder_public_pem(ks->holder, ret_pem, ret_len);
    }
    return proxy_keyproc_public_pem(ks->kp, ret_pem, ret_len);
}

const char *proxy_keystore_source_name(const struct proxy_keystore *ks)
{
    return ks != NULL ? ks->source->name : "";
}

bool proxy_keystore_holds_key(const struct proxy_keystore *ks)
{
    return ks != NULL && ks->holder != NULL && proxy_keyholder_ready(ks->holder);
}

pid_t proxy_keystore_key_pid(const struct proxy_keystore *ks)
{
    return ks != NULL ? proxy_keyproc_pid(ks->kp) : 0;
}

shd_result proxy_keystore_close(struct proxy_keystore *ks)
{
    SHD_ENSURE_REF(ks);
    return ks->kp != NULL ? proxy_keyproc_close(ks->kp) : SHD_OK;
}

void proxy_keystore_free(struct proxy_keystore *ks)
{
    if (ks == NULL) {
        return;
    }
    proxy_keyproc_free(ks->kp);
    proxy_keyholder_free(ks->holder);
    shd_free_wipe(ks, sizeof(*ks));
}
