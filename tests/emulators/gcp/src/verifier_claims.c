/*
 * verifier_claims.c - the claims of an attestation token (gcp-identity.md §3.6), in the member
 * order of Google's published example tokens.
 */
#include <stdio.h>
#include <string.h>

#include "gemu.h"
#include "verifier_int.h"

#include "shd/cleanup.h"
#include "shd/json.h"
#include "shd/safety.h"

/* OEM id of Google (IANA PEN 11129). */
#define GOOGLE_OEMID 11129
/* The Confidential Space image version the emulator claims (one "YYMMDD"-style string). */
#define CS_SWVERSION "240500"

static const char *hwmodel_of(enum gemu_gce_tech t)
{
    switch (t) {
    case GEMU_GCE_TECH_AMD_SEV:
        return "GCP_AMD_SEV";
    case GEMU_GCE_TECH_AMD_SEV_ES:
        return "GCP_AMD_SEV_ES";
    case GEMU_GCE_TECH_INTEL_TDX:
        return "GCP_INTEL_TDX";
    case GEMU_GCE_TECH_AMD_SEV_SNP:
        /* Not documented (gcp-identity.md §11); the emulator's spelling. */
        return "GCP_AMD_SEV_SNP";
    case GEMU_GCE_TECH_NONE:
    default:
        return "GCP_SHIELDED_VM";
    }
}

static shd_result set(json_t *o, const char *k, json_t *v)
{
    SHD_ENSURE(v != NULL && json_object_set_new(o, k, v) == 0, SHD_ERR_NOMEM);
    return SHD_OK;
}

static shd_result gce_submod(const struct gemu_instance_info *in, json_t **ret)
{
    char num[24], id[24];
    json_t *o = json_object();

    SHD_ENSURE(o != NULL, SHD_ERR_NOMEM);
    snprintf(num, sizeof(num), "%lld", (long long)in->project_number);
    snprintf(id, sizeof(id), "%lld", (long long)in->instance_id);
    /* project_number and instance_id are strings in real tokens. */
    if (shd_is_err(set(o, "zone", json_string(in->zone))) ||
        shd_is_err(set(o, "project_id", json_string(in->project_id))) ||
        shd_is_err(set(o, "project_number", json_string(num))) ||
        shd_is_err(set(o, "instance_name", json_string(in->instance_name))) ||
        shd_is_err(set(o, "instance_id", json_string(id)))) {
        json_decref(o);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    *ret = o;
    return SHD_OK;
}

static shd_result submods(enum gemu_verify_method m, const struct gemu_evidence *ev, json_t **ret)
{
    SHD_CLEANUP_JSON json_t *o = json_object();
    json_t *gce = NULL;

    SHD_ENSURE(o != NULL, SHD_ERR_NOMEM);
    if (m == GEMU_VERIFY_CONFIDENTIAL_SPACE) {
        SHD_GUARD(set(o, "confidential_space",
                      json_pack("{s:[s]}", "support_attributes", "EXPERIMENTAL")));
        if (ev->container != NULL) {
            SHD_GUARD(set(o, "container", json_incref(ev->container)));
        }
    }
    SHD_GUARD(gce_submod(&ev->instance, &gce));
    SHD_GUARD(set(o, "gce", gce));
    *ret = SHD_TAKE_PTR(o);
    return SHD_OK;
}

static shd_result instance_uri(const struct gemu_instance_info *in, json_t **ret)
{
    char uri[512];
    int n = snprintf(uri, sizeof(uri),
                     "https://www.googleapis.com/compute/v1/projects/%s/zones/%s/instances/%s",
                     in->project_id, in->zone, in->instance_name);

    SHD_ENSURE(n > 0 && (size_t)n < sizeof(uri), SHD_ERR_TOO_LARGE);
    *ret = json_string(uri);
    SHD_ENSURE(*ret != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

shd_result gemu_claims_build(enum gemu_verify_method method, const struct gemu_vreq *req,
                             const struct gemu_evidence *ev, int64_t now_s, json_t **ret)
{
    SHD_CLEANUP_JSON json_t *c = json_object();
    json_t *sub = NULL, *mods = NULL;
    const bool cs = method == GEMU_VERIFY_CONFIDENTIAL_SPACE;
    const char *aud = req->audience != NULL && req->audience[0] != '\0' ? req->audience
                                                                        : GEMU_DEFAULT_STS_AUDIENCE;

    SHD_ENSURE(c != NULL, SHD_ERR_NOMEM);
    SHD_ENSURE_MSG(ev->facts.has_nonhost_info, SHD_ERR_POLICY,
                   "the event log has no GCE EV_NONHOST_INFO event");
    SHD_GUARD(set(c, "aud", json_string(aud)));
    SHD_GUARD(set(c, "exp", json_integer(now_s + GEMU_VERIFIER_TOKEN_LIFETIME_S)));
    SHD_GUARD(set(c, "iat", json_integer(now_s)));
    SHD_GUARD(set(c, "iss", json_string(GEMU_VERIFIER_ISSUER)));
    SHD_GUARD(set(c, "nbf", json_integer(now_s)));
    SHD_GUARD(instance_uri(&ev->instance, &sub));
    SHD_GUARD(set(c, "sub", sub));
    if (req->nnonces == 1) {
        SHD_GUARD(set(c, "eat_nonce", json_string(req->nonces[0])));
    } else if (req->nnonces > 1) {
        json_t *a = json_array();

        SHD_ENSURE(a != NULL, SHD_ERR_NOMEM);
        for (size_t i = 0; i < req->nnonces; i++) {
            if (json_array_append_new(a, json_string(req->nonces[i])) != 0) {
                json_decref(a);
                SHD_BAIL(SHD_ERR_NOMEM);
            }
        }
        SHD_GUARD(set(c, "eat_nonce", a));
    }
    SHD_GUARD(set(c, "secboot", json_boolean(ev->facts.secure_boot)));
    SHD_GUARD(set(c, "oemid", json_integer(GOOGLE_OEMID)));
    SHD_GUARD(set(c, "hwmodel", json_string(hwmodel_of(ev->facts.technology))));
    SHD_GUARD(set(c, "swname", json_string(cs ? "CONFIDENTIAL_SPACE" : "GCE")));
    if (cs) {
        SHD_GUARD(set(c, "swversion", json_pack("[s]", CS_SWVERSION)));
    }
    SHD_GUARD(set(c, "dbgstat", json_string(cs ? "disabled-since-boot" : "enabled")));
    SHD_GUARD(submods(method, ev, &mods));
    SHD_GUARD(set(c, "submods", mods));
    SHD_GUARD(set(c, "google_service_accounts", json_incref(ev->service_accounts)));
    *ret = SHD_TAKE_PTR(c);
    return SHD_OK;
}
