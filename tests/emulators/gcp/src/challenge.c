/*
 * challenge.c - the bounded, thread-safe challenge store (challenge.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "challenge.h"

#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define PARENT_MAX 180u
#define NONCE_PREFIX "GoogAttestV1"

struct gemu_challenge_store {
    pthread_mutex_t lock;
    gemu_clock_fn clock;
    void *clock_arg;
    int64_t ttl_ns;
    size_t n;
    struct gemu_challenge items[GEMU_CHALLENGE_MAX];
};

static int64_t realtime_ns(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

shd_result gemu_challenge_store_new(gemu_clock_fn clock, void *clock_arg, int64_t ttl_s,
                                    struct gemu_challenge_store **ret)
{
    struct gemu_challenge_store *s;

    SHD_ENSURE_REF(ret);
    SHD_ENSURE(ttl_s >= 0 && ttl_s <= 86400, SHD_ERR_USAGE);
    s = shd_alloc(sizeof(*s));
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        shd_free(s);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    s->clock = clock != NULL ? clock : realtime_ns;
    s->clock_arg = clock_arg;
    s->ttl_ns = (ttl_s == 0 ? GEMU_CHALLENGE_TTL_S : ttl_s) * 1000000000LL;
    *ret = s;
    return SHD_OK;
}

void gemu_challenge_store_free(struct gemu_challenge_store *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_destroy(&s->lock);
    shd_free_wipe(s, sizeof(*s));
}

int64_t gemu_challenge_store_now(const struct gemu_challenge_store *s)
{
    return s->clock(s->clock_arg);
}

/* Makes room for one entry (lock held): drop used/expired entries, else the oldest. */
static void make_room(int64_t now, struct gemu_challenge_store *s)
{
    size_t w = 0;

    if (s->n < GEMU_CHALLENGE_MAX) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (!s->items[i].used && s->items[i].expire_ns > now) {
            s->items[w++] = s->items[i];
        }
    }
    if (w == s->n) {
        /* All live: the oldest (index 0, entries are appended in time order) goes. */
        shd_memmove(&s->items[0], &s->items[1], (s->n - 1) * sizeof(s->items[0]));
        w = s->n - 1;
    }
    shd_memzero(&s->items[w], (s->n - w) * sizeof(s->items[0]));
    s->n = w;
}

static shd_result new_uuid(char out[37])
{
    uint8_t b[16];
    int n;

    SHD_GUARD(shd_crypto_random(b, sizeof(b)));
    b[6] = (uint8_t)((b[6] & 0x0fu) | 0x40u); /* RFC 9562 §5.4: version 4 */
    b[8] = (uint8_t)((b[8] & 0x3fu) | 0x80u); /* variant 10 */
    n = snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                 b[13], b[14], b[15]);
    SHD_ENSURE(n == 36, SHD_ERR_INTERNAL);
    return SHD_OK;
}

shd_result gemu_challenge_create(const char *parent, struct gemu_challenge_store *s,
                                 struct gemu_challenge *ret)
{
    struct gemu_challenge c;
    char uuid[37];
    uint8_t rnd[16];
    size_t len = 0;
    int n;

    SHD_ENSURE_REF(parent);
    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(strlen(parent) <= PARENT_MAX, SHD_ERR_INPUT, "parent name too long");
    shd_memzero(&c, sizeof(c));
    SHD_GUARD(new_uuid(uuid));
    n = snprintf(c.name, sizeof(c.name), "%s/challenges/%s", parent, uuid);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(c.name), SHD_ERR_INTERNAL);
    shd_memcpy(c.nonce, NONCE_PREFIX, sizeof(NONCE_PREFIX) - 1);
    SHD_GUARD(shd_crypto_random(rnd, sizeof(rnd)));
    SHD_GUARD(shd_b64_encode_into(rnd, sizeof(rnd), SHD_B64_URL_NOPAD,
                                  (char *)c.nonce + sizeof(NONCE_PREFIX) - 1,
                                  GEMU_CHALLENGE_NONCE_LEN - (sizeof(NONCE_PREFIX) - 1) + 1, &len));
    SHD_ENSURE(len == GEMU_CHALLENGE_NONCE_LEN - (sizeof(NONCE_PREFIX) - 1), SHD_ERR_INTERNAL);

    pthread_mutex_lock(&s->lock);
    c.create_ns = s->clock(s->clock_arg);
    c.expire_ns = c.create_ns + s->ttl_ns;
    make_room(c.create_ns, s);
    s->items[s->n++] = c;
    pthread_mutex_unlock(&s->lock);
    *ret = c;
    return SHD_OK;
}

shd_result gemu_challenge_consume(const char *name, struct gemu_challenge_store *s,
                                  struct gemu_challenge *ret)
{
    shd_result r = SHD_OK;
    struct gemu_challenge c;
    bool found = false;
    int64_t now;

    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret);
    shd_memzero(&c, sizeof(c));
    pthread_mutex_lock(&s->lock);
    now = s->clock(s->clock_arg);
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->items[i].name, name) != 0) {
            continue;
        }
        found = true;
        if (s->items[i].used) {
            r = shd_error_setf(SHD_ERR_POLICY, __FILE__, __LINE__, "challenge already used");
        } else if (now >= s->items[i].expire_ns) {
            r = shd_error_setf(SHD_ERR_POLICY, __FILE__, __LINE__, "challenge expired");
        } else {
            s->items[i].used = true;
            c = s->items[i];
        }
        break;
    }
    pthread_mutex_unlock(&s->lock);
    SHD_ENSURE_MSG(found, SHD_ERR_NOT_FOUND, "challenge not found");
    SHD_GUARD(r);
    *ret = c;
    return SHD_OK;
}

shd_result gemu_rfc3339_nanos(int64_t ns, char *out, size_t cap)
{
    time_t secs = (time_t)(ns / 1000000000LL);
    long frac = (long)(ns % 1000000000LL);
    struct tm tm;
    int n;

    SHD_ENSURE(ns >= 0, SHD_ERR_USAGE);
    SHD_ENSURE(gmtime_r(&secs, &tm) != NULL, SHD_ERR_INTERNAL);
    n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    SHD_ENSURE(n > 0 && (size_t)n < cap, SHD_ERR_TOO_LARGE);
    return SHD_OK;
}

shd_result gemu_challenge_to_json(const struct gemu_challenge *c, char **ret_json)
{
    char created[40], expires[40];
    SHD_CLEANUP_FREE char *nonce = NULL;
    SHD_CLEANUP_JSON json_t *o = json_object();
    size_t len = 0;

    SHD_ENSURE_REF(c);
    SHD_ENSURE_REF(ret_json);
    SHD_ENSURE(o != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(gemu_rfc3339_nanos(c->create_ns, created, sizeof(created)));
    SHD_GUARD(gemu_rfc3339_nanos(c->expire_ns, expires, sizeof(expires)));
    SHD_GUARD(shd_b64_encode(c->nonce, sizeof(c->nonce), SHD_B64_STD_PAD, &nonce, NULL));
    SHD_ENSURE(json_object_set_new(o, "name", json_string(c->name)) == 0 &&
                   json_object_set_new(o, "createTime", json_string(created)) == 0 &&
                   json_object_set_new(o, "expireTime", json_string(expires)) == 0,
               SHD_ERR_NOMEM);
    if (c->used) {
        SHD_ENSURE(json_object_set_new(o, "used", json_true()) == 0, SHD_ERR_NOMEM);
    }
    SHD_ENSURE(json_object_set_new(o, "tpmNonce", json_string(nonce)) == 0, SHD_ERR_NOMEM);
    return shd_json_go_dump(o, 0, ret_json, &len);
}
