/*
 * verifier_cel.c - the COS canonical event log of Confidential Space (gcp-identity.md §2.4,
 * TCG_IWG_CEL TLV form) replayed into PCR 13 and mapped to submods.container.
 */
#include <string.h>

#include "eventlog_int.h"
#include "verifier_int.h"

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define CEL_RECNUM 0u
#define CEL_PCR 1u
#define CEL_DIGESTS 3u
#define CEL_COS 80u
#define COS_PCR 13u
#define CEL_MAX_RECORDS 1024u
#define CEL_MAX_VALUE ((size_t)64 * 1024)

enum cos_type {
    COS_IMAGE_REF = 0,
    COS_IMAGE_DIGEST,
    COS_RESTART_POLICY,
    COS_IMAGE_ID,
    COS_ARG,
    COS_ENV,
    COS_OVERRIDE_ARG,
    COS_OVERRIDE_ENV,
    COS_LAUNCH_SEPARATOR,
    COS_MEMORY_MONITOR,
    COS_GPU_CC_MODE,
    COS_GPU_BINDING,
};

struct tlv {
    uint8_t type;
    const uint8_t *value;
    size_t len;
    const uint8_t *whole; /* type, length and value */
    size_t whole_len;
};

static shd_result read_tlv(struct shd_cursor *cur, struct tlv *ret)
{
    uint32_t len = 0;
    size_t start = shd_cursor_pos(cur);

    SHD_GUARD(shd_cursor_read_u8(cur, &ret->type));
    SHD_GUARD(shd_cursor_read_u32be(cur, &len));
    SHD_ENSURE_MSG(len <= CEL_MAX_VALUE, SHD_ERR_TOO_LARGE, "CEL value too large");
    SHD_GUARD(shd_cursor_take(len, cur, &ret->value));
    ret->len = len;
    /* The header is 5 bytes right before the value (the cursor reads the bytes in place). */
    ret->whole = ret->value - 5;
    ret->whole_len = shd_cursor_pos(cur) - start;
    return SHD_OK;
}

static shd_result expect_tlv(struct shd_cursor *cur, uint8_t type, struct tlv *ret)
{
    SHD_GUARD(read_tlv(cur, ret));
    SHD_ENSURE_MSG(ret->type == type, SHD_ERR_INPUT, "CEL field type %u where %u expected",
                   ret->type, type);
    return SHD_OK;
}

/* The digest of bank alg (inner TLV type = the TPM_ALG_ID's low byte). */
static shd_result record_digest(const struct tlv *digests, uint16_t alg, const uint8_t **ret)
{
    struct shd_cursor c;
    struct tlv d;

    shd_cursor_init(digests->value, digests->len, &c);
    while (!shd_cursor_at_end(&c)) {
        SHD_GUARD(read_tlv(&c, &d));
        if (d.type == (uint8_t)(alg & 0xffu)) {
            SHD_ENSURE_MSG(d.len == gemu_alg_digest_len(alg), SHD_ERR_INPUT,
                           "CEL digest of the wrong size");
            *ret = d.value;
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_INPUT, "CEL record lacks a digest for bank 0x%04x", alg);
}

static shd_result add_text(json_t *obj, const char *key, const struct tlv *v)
{
    SHD_ENSURE_MSG(json_object_get(obj, key) == NULL || json_is_null(json_object_get(obj, key)),
                   SHD_ERR_INPUT, "CEL %s given twice", key);
    SHD_ENSURE(json_object_set_new(obj, key, json_stringn((const char *)v->value, v->len)) == 0,
               SHD_ERR_INPUT);
    return SHD_OK;
}

static shd_result add_to_array(json_t *obj, const char *key, const struct tlv *v)
{
    json_t *a = json_object_get(obj, key);

    if (!json_is_array(a)) {
        a = json_array();
        SHD_ENSURE(a != NULL && json_object_set_new(obj, key, a) == 0, SHD_ERR_NOMEM);
    }
    SHD_ENSURE(json_array_append_new(a, json_stringn((const char *)v->value, v->len)) == 0,
               SHD_ERR_INPUT);
    return SHD_OK;
}

/* "NAME=value" into an object member. */
static shd_result add_env(json_t *obj, const char *key, const struct tlv *v)
{
    json_t *o = json_object_get(obj, key);
    const uint8_t *eq = memchr(v->value, '=', v->len);
    SHD_CLEANUP_FREE char *name = NULL;

    SHD_ENSURE_MSG(eq != NULL && eq != v->value, SHD_ERR_INPUT, "CEL environment entry");
    if (!json_is_object(o)) {
        o = json_object();
        SHD_ENSURE(o != NULL && json_object_set_new(obj, key, o) == 0, SHD_ERR_NOMEM);
    }
    name = shd_strndup((const char *)v->value, (size_t)(eq - v->value));
    SHD_ENSURE(name != NULL, SHD_ERR_NOMEM);
    SHD_ENSURE(
        json_object_set_new(
            o, name, json_stringn((const char *)eq + 1, v->len - (size_t)(eq - v->value) - 1)) == 0,
        SHD_ERR_INPUT);
    return SHD_OK;
}

static shd_result apply_cos(const struct tlv *content, bool *separated, json_t *c)
{
    struct shd_cursor in;
    struct tlv ev;

    SHD_ENSURE_MSG(!*separated, SHD_ERR_POLICY, "CEL events after the launch separator");
    shd_cursor_init(content->value, content->len, &in);
    SHD_GUARD(read_tlv(&in, &ev));
    SHD_ENSURE_MSG(shd_cursor_at_end(&in), SHD_ERR_INPUT, "trailing bytes in a COS event");
    switch (ev.type) {
    case COS_IMAGE_REF:
        return add_text(c, "image_reference", &ev);
    case COS_IMAGE_DIGEST:
        return add_text(c, "image_digest", &ev);
    case COS_RESTART_POLICY:
        return add_text(c, "restart_policy", &ev);
    case COS_IMAGE_ID:
        return add_text(c, "image_id", &ev);
    case COS_ARG:
        return add_to_array(c, "args", &ev);
    case COS_ENV:
        return add_env(c, "env", &ev);
    case COS_OVERRIDE_ARG:
        return add_to_array(c, "cmd_override", &ev);
    case COS_OVERRIDE_ENV:
        return add_env(c, "env_override", &ev);
    case COS_LAUNCH_SEPARATOR:
        *separated = true;
        return SHD_OK;
    case COS_MEMORY_MONITOR:
    case COS_GPU_CC_MODE:
    case COS_GPU_BINDING:
        return SHD_OK;
    default:
        SHD_BAIL_MSG(SHD_ERR_POLICY, "unknown COS event type %u", ev.type);
    }
}

shd_result gemu_cel_container_claims(const uint8_t *cel, size_t len, uint16_t alg,
                                     const uint8_t *pcr13, size_t digest_len,
                                     json_t **ret_container)
{
    SHD_CLEANUP_JSON json_t *c =
        json_pack("{s:n,s:n,s:n,s:n,s:n,s:n,s:{},s:[]}", "image_reference", "image_digest",
                  "restart_policy", "image_id", "env_override", "cmd_override", "env", "args");
    uint8_t pcr[GEMU_DIGEST_MAX] = {0};
    size_t dlen = gemu_alg_digest_len(alg);
    struct shd_cursor cur;
    bool separated = false;

    SHD_ENSURE_REF(cel);
    SHD_ENSURE_REF(ret_container);
    SHD_ENSURE(c != NULL, SHD_ERR_NOMEM);
    SHD_ENSURE(dlen != 0 && pcr13 != NULL, SHD_ERR_USAGE);
    shd_cursor_init(cel, len, &cur);
    for (uint64_t n = 0; !shd_cursor_at_end(&cur); n++) {
        struct tlv rec, idx, digs, content;
        const uint8_t *d = NULL;
        uint8_t h[GEMU_DIGEST_MAX], cat[2 * GEMU_DIGEST_MAX];
        size_t hlen = 0;
        uint64_t recnum = 0;

        SHD_ENSURE_MSG(n < CEL_MAX_RECORDS, SHD_ERR_TOO_LARGE, "too many CEL records");
        SHD_GUARD(expect_tlv(&cur, CEL_RECNUM, &rec));
        SHD_ENSURE_MSG(rec.len == 8, SHD_ERR_INPUT, "CEL record number");
        for (size_t i = 0; i < 8; i++) {
            recnum = (recnum << 8) | rec.value[i];
        }
        SHD_ENSURE_MSG(recnum == n, SHD_ERR_INPUT, "CEL record %llu out of order",
                       (unsigned long long)recnum);
        SHD_GUARD(expect_tlv(&cur, CEL_PCR, &idx));
        SHD_ENSURE_MSG(idx.len == 1 && idx.value[0] == COS_PCR, SHD_ERR_POLICY,
                       "CEL record not in PCR 13");
        SHD_GUARD(expect_tlv(&cur, CEL_DIGESTS, &digs));
        SHD_GUARD(expect_tlv(&cur, CEL_COS, &content));
        SHD_GUARD(record_digest(&digs, alg, &d));
        /* The extended digest is the hash of the whole content TLV (cos_tlv.go). */
        SHD_GUARD(gemu_alg_hash(alg, content.whole, content.whole_len, h, &hlen));
        SHD_ENSURE_MSG(shd_ct_equal(h, d, dlen), SHD_ERR_POLICY,
                       "CEL record %llu digest does not match its content",
                       (unsigned long long)recnum);
        shd_memcpy(cat, pcr, dlen);
        shd_memcpy(cat + dlen, d, dlen);
        SHD_GUARD(gemu_alg_hash(alg, cat, 2 * dlen, pcr, &hlen));
        SHD_GUARD(apply_cos(&content, &separated, c));
    }
    SHD_ENSURE_MSG(digest_len == dlen && shd_ct_equal(pcr, pcr13, dlen), SHD_ERR_POLICY,
                   "canonical event log does not replay to PCR 13");
    *ret_container = SHD_TAKE_PTR(c);
    return SHD_OK;
}
