/*
 * sidecar_args_fuzz.c - fuzz target for the decoding of the sidecar's -base64 argument
 * (SkrSideCarArgs, skr/src/config.c): Go base64.StdEncoding, then encoding/json into
 * AzureInformation.
 *
 * Target Functions: skr_sidecar_args_decode, skr_sidecar_args_clear
 *
 * Input: first byte = mode, then the payload. Even mode: the payload is the -base64 value
 * itself (a C string: it ends at the first NUL). Odd mode: the payload is the JSON document,
 * which the target base64-encodes (padded standard alphabet) first, so that the fuzzer works
 * on the JSON reader directly.
 * Properties checked:
 *   - decode fails only with SHD_ERR_ENCODING (never in odd mode), SHD_ERR_JSON,
 *     SHD_ERR_TOO_LARGE or SHD_ERR_CONFIG, carrying the original's fatal texts, and leaves the
 *     output untouched;
 *   - the endpoint type agrees with its name (none for absent or "", the three known names,
 *     SKR_CERT_ENDPOINT_INVALID for anything else);
 *   - round trip: the decoded fields, written back as JSON and base64, decode to the same
 *     fields;
 *   - clear leaves a zeroed struct and may be called twice.
 */
#include <string.h>

#include <jansson.h>

#include "../shared/fuzz_common.h"
#include "config.h"
#include "shd/codec.h"
#include "shd/json.h"
#include "shd/mem.h"

#define UNTOUCHED ((char *)(uintptr_t)0x5a5a)

static const char B64_ERR[] =
    "Failed to decode base64 attestation info: illegal base64 data at input byte ";
static const char JSON_ERR[] = "Failed to unmarshal attestion info json into AzureInformation: ";

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void put(json_t *obj, const char *key, const char *val)
{
    if (val != NULL) {
        FUZZ_ASSERT(json_object_set_new(obj, key, json_string(val)) == 0);
    }
}

/* NUL-terminated base64 (padded, standard) of p; shd_free. */
static char *b64(const uint8_t *p, size_t n)
{
    char *s = NULL;
    FUZZ_ASSERT(shd_is_ok(shd_b64_encode(p, n, SHD_B64_STD_PAD, &s, NULL)));
    return s;
}

static void roundtrip(const struct skr_sidecar_args *a)
{
    const struct skr_certcache *cc = &a->certcache;
    json_t *root = json_object();
    json_t *cco = json_object();
    json_t *id = json_object();
    json_t *maa = json_object();
    FUZZ_ASSERT(root != NULL && cco != NULL && id != NULL && maa != NULL);
    put(cco, "endpoint_type", cc->type_name);
    put(cco, "endpoint", cc->endpoint);
    put(cco, "tee_type", cc->tee_type);
    put(cco, "api_version", cc->api_version);
    put(cco, "client_id", cc->client_id);
    put(id, "client_id", a->identity_client_id);
    put(maa, "user_agent", a->maa_user_agent);
    FUZZ_ASSERT(json_object_set_new(root, "certcache", cco) == 0);
    FUZZ_ASSERT(json_object_set_new(root, "identity", id) == 0);
    FUZZ_ASSERT(json_object_set_new(root, "maaconfig", maa) == 0);
    size_t need = json_dumpb(root, NULL, 0, JSON_COMPACT);
    uint8_t *text = shd_alloc(need);
    FUZZ_ASSERT(text != NULL && json_dumpb(root, (char *)text, need, JSON_COMPACT) == need);
    json_decref(root);
    char *enc = b64(text, need);
    shd_free(text);

    struct skr_sidecar_args back;
    shd_memzero(&back, sizeof(back));
    FUZZ_ASSERT(shd_is_ok(skr_sidecar_args_decode(enc, &back)));
    shd_free(enc);
    FUZZ_ASSERT(back.certcache.type == cc->type);
    FUZZ_ASSERT(str_eq(back.certcache.type_name, cc->type_name));
    FUZZ_ASSERT(str_eq(back.certcache.endpoint, cc->endpoint));
    FUZZ_ASSERT(str_eq(back.certcache.tee_type, cc->tee_type));
    FUZZ_ASSERT(str_eq(back.certcache.api_version, cc->api_version));
    FUZZ_ASSERT(str_eq(back.certcache.client_id, cc->client_id));
    FUZZ_ASSERT(str_eq(back.identity_client_id, a->identity_client_id));
    FUZZ_ASSERT(str_eq(back.maa_user_agent, a->maa_user_agent));
    skr_sidecar_args_clear(&back);
}

static void type_sane(const struct skr_certcache *cc)
{
    static const struct {
        const char *name;
        enum skr_cert_endpoint_type type;
    } known[] = {{"LocalTHIM", SKR_CERT_ENDPOINT_LOCAL_THIM},
                 {"AzCache", SKR_CERT_ENDPOINT_AZCACHE},
                 {"AMD", SKR_CERT_ENDPOINT_AMD}};
    enum skr_cert_endpoint_type want = SKR_CERT_ENDPOINT_NONE;
    if (cc->type_name != NULL && cc->type_name[0] != '\0') {
        want = SKR_CERT_ENDPOINT_INVALID;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            if (strcmp(cc->type_name, known[i].name) == 0) {
                want = known[i].type;
            }
        }
    }
    FUZZ_ASSERT(cc->type == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();
    bool encode = (data[0] & 1u) != 0;
    char *arg = NULL;
    if (encode) {
        arg = b64(data + 1, size - 1);
    } else {
        arg = shd_alloc(size);
        FUZZ_ASSERT(arg != NULL);
        shd_memcpy(arg, data + 1, size - 1);
    }

    struct skr_sidecar_args a;
    shd_memzero(&a, sizeof(a));
    a.maa_user_agent = UNTOUCHED;
    shd_result r = skr_sidecar_args_decode(arg, &a);
    shd_free(arg);
    FUZZ_OK_OR(r, SHD_ERR_ENCODING, SHD_ERR_JSON, SHD_ERR_TOO_LARGE, SHD_ERR_CONFIG);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(a.maa_user_agent == UNTOUCHED && a.certcache.endpoint == NULL);
        char msg[1024];
        (void)shd_error_render(msg, sizeof(msg));
        if (r.err == SHD_ERR_ENCODING) {
            FUZZ_ASSERT(!encode && strncmp(msg, B64_ERR, sizeof(B64_ERR) - 1) == 0);
        } else {
            FUZZ_ASSERT(strncmp(msg, JSON_ERR, sizeof(JSON_ERR) - 1) == 0);
        }
        fuzz_error_reset();
        return 0;
    }
    type_sane(&a.certcache);
    /* Re-escaping may grow the text: stay clear of SKR_CONFIG_MAX_BYTES. */
    if (size <= FUZZ_MAX_INPUT / 2) {
        roundtrip(&a);
    }
    skr_sidecar_args_clear(&a);
    FUZZ_ASSERT(a.maa_user_agent == NULL && a.certcache.type_name == NULL &&
                a.certcache.type == SKR_CERT_ENDPOINT_NONE);
    skr_sidecar_args_clear(&a);
    fuzz_error_reset();
    return 0;
}
