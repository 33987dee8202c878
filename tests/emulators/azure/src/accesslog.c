/*
 * accesslog.c - the front layer of every listener: fault injection, dispatch to the service,
 * and the structured access log (see faults.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "emu.h"
#include "faults.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define FRONT_JSON "application/json; charset=utf-8"
/* A JSON text cut in the middle of a member: what a client must reject as malformed. */
#define FRONT_MALFORMED "{\"error\":{\"code\":\"Injected"

static uint64_t front_now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The service-shaped error of an injected status: Azure's CloudError, or IMDS's flat form. */
static shd_result front_fault_body(const struct aemu_service *svc, const struct aemu_fault *f,
                                   struct shd_http_resp *resp)
{
    switch (f->body) {
    case AEMU_FAULT_BODY_MALFORMED:
        return shd_http_resp_body(f->status, FRONT_JSON, FRONT_MALFORMED, strlen(FRONT_MALFORMED),
                                  resp);
    case AEMU_FAULT_BODY_EMPTY:
        return shd_http_resp_body(f->status, FRONT_JSON, "", 0, resp);
    case AEMU_FAULT_BODY_ERROR:
    default:
        break;
    }
    char body[256];
    int n = strcmp(svc->name, AEMU_SVC_IMDS) == 0
                ? snprintf(body, sizeof(body),
                           "{\"error\":\"injected_fault\",\"error_description\":"
                           "\"azure-emu injected status %u\"}",
                           f->status)
                : snprintf(body, sizeof(body),
                           "{\"error\":{\"code\":\"InjectedFault\",\"message\":"
                           "\"azure-emu injected status %u\"}}",
                           f->status);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(body), SHD_ERR_INTERNAL);
    return shd_http_resp_body(f->status, FRONT_JSON, body, (size_t)n, resp);
}

/*
 * Mangles the real answer of a rule without status: "malformed" keeps the first half of the body
 * (a truncated document), "empty" keeps none of it (Content-Length: 0); status, content type and
 * headers stay. The replaced body is wiped (it may be a released key).
 */
static shd_result front_mangle_body(enum emu_fault_body how, struct shd_http_resp *resp)
{
    size_t len = 0;
    const uint8_t *body = shd_http_resp_get_body(resp, &len);
    const char *ct = shd_http_resp_get_content_type(resp);
    unsigned status = shd_http_resp_get_status(resp);
    if (how == AEMU_FAULT_BODY_ERROR || body == NULL || status == 0) {
        return SHD_OK;
    }
    size_t keep = how == AEMU_FAULT_BODY_MALFORMED ? len / 2 : 0;
    return shd_http_resp_body(status, ct != NULL ? ct : FRONT_JSON, body, keep, resp);
}

static shd_result front_apply(const struct aemu_front *fr, const struct aemu_fault *f,
                              const struct shd_http_req *req, struct shd_http_resp *resp)
{
    emu_fault_sleep(f);
    if (f->drop) {
        /* DESIGN.md "dropped connections": the service never sees the request and the client
         * gets no byte back (an empty reply); the rule's status and body do not apply. */
        shd_http_resp_abort(resp);
        return SHD_OK;
    }
    if (f->status == 0) {
        SHD_GUARD(aemu_service_dispatch(fr->svc, req, resp));
        return front_mangle_body(f->body, resp);
    }
    SHD_GUARD(front_fault_body(fr->svc, f, resp));
    return emu_fault_retry_after(f, resp);
}

shd_result aemu_front_handle(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    const struct aemu_front *fr = ctx;
    uint64_t t0 = front_now_ms();
    const char *method = shd_http_req_method(req);
    const char *path = shd_http_req_path(req);
    struct aemu_fault f = {0};
    bool faulted = strncmp(path, "/emu/", 5) != 0 &&
                   aemu_faults_take(fr->svc->name, method, path, fr->faults, &f);
    shd_result r =
        faulted ? front_apply(fr, &f, req, resp) : aemu_service_dispatch(fr->svc, req, resp);
    /* A dropped connection answers nothing: status 0. */
    unsigned status = shd_is_ok(r) ? shd_http_resp_get_status(resp) : 500u;
    const char *fault = !faulted ? "false" : f.drop ? "drop" : "true";
    if (shd_is_err(r)) {
        (void)SHD_LOG_ERR("access", r, "%s %s failed", method, path);
    }
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, "access", "request", SHD_LOG_STR("svc", fr->svc->name),
               SHD_LOG_STR("method", method), SHD_LOG_STR("host", shd_http_req_header(req, "Host")),
               SHD_LOG_STR("path", path), SHD_LOG_UINT("status", status),
               SHD_LOG_UINT("ms", front_now_ms() - t0), SHD_LOG_STR("fault", fault));
    return r;
}
