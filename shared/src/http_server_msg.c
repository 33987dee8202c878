/*
 * http_server_msg.c - the request view handlers read and the response they fill, and the hand-
 * over of an owned (possibly secret) body to libmicrohttpd with a wiping free callback.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <microhttpd.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "http_int.h"
#include "http_server_int.h"

/* ---- request ---- */

const char *shd_http_req_method(const struct shd_http_req *req)
{
    return req->method;
}

const char *shd_http_req_path(const struct shd_http_req *req)
{
    return req->path;
}

const char *shd_http_req_query(const struct shd_http_req *req, const char *key)
{
    const char *value = NULL;
    size_t value_len = 0;

    if (key == NULL) {
        return NULL;
    }
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &value,
                                      &value_len) != MHD_YES) {
        return NULL;
    }
    return value != NULL ? value : "";
}

const char *shd_http_req_header(const struct shd_http_req *req, const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const uint8_t *shd_http_req_body(const struct shd_http_req *req, size_t *ret_len)
{
    if (ret_len != NULL) {
        *ret_len = req->body_len;
    }
    return req->body;
}

bool shd_http_req_peer(const struct shd_http_req *req, uid_t *ret_uid, gid_t *ret_gid)
{
    if (!req->has_peer) {
        return false;
    }
    if (ret_uid != NULL) {
        *ret_uid = req->uid;
    }
    if (ret_gid != NULL) {
        *ret_gid = req->gid;
    }
    return true;
}

/* ---- response ---- */

static void body_drop(struct shd_http_resp *resp)
{
    shd_free_wipe(resp->body, resp->alloc_len);
    resp->body = NULL;
    resp->len = 0;
    resp->alloc_len = 0;
}

void shd_http_resp_clear(struct shd_http_resp *resp)
{
    body_drop(resp);
    for (size_t i = 0; i < resp->nheaders; i++) {
        shd_free_wipe(resp->headers[i].name, strlen(resp->headers[i].name));
        shd_free_wipe(resp->headers[i].value, strlen(resp->headers[i].value));
    }
    shd_free(resp->owned_ct);
    shd_memzero(resp, sizeof(*resp));
}

void shd_http_resp_status(unsigned status, struct shd_http_resp *resp)
{
    if (status < 100 || status > 599) {
        shd_misuse("http status out of range");
    }
    resp->status = status;
}

void shd_http_resp_abort(struct shd_http_resp *resp)
{
    /* Nothing the handler built so far may reach the peer, nor linger: wipe it all now. The flag
     * survives later setters (they do not clear), so the abort cannot be undone by accident. */
    shd_http_resp_clear(resp);
    resp->aborted = true;
}

shd_result shd_http_resp_header(const char *name, const char *value, struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(resp);
    SHD_ENSURE_MSG(shd_http_is_token(name), SHD_ERR_USAGE, "response header name");
    SHD_ENSURE_MSG(shd_http_is_field_value(value), SHD_ERR_USAGE,
                   "response header %s has control characters", name);
    SHD_ENSURE_MSG(!shd_http_ascii_ieq(name, "Content-Length") &&
                       !shd_http_ascii_ieq(name, "Content-Type"),
                   SHD_ERR_USAGE, "response header %s is set by the server", name);
    SHD_ENSURE_MSG(resp->nheaders < SHD_HTTP_RESP_MAX_HEADERS, SHD_ERR_USAGE,
                   "more than %u response headers", SHD_HTTP_RESP_MAX_HEADERS);
    SHD_CLEANUP_FREE char *n = shd_strdup(name);
    SHD_CLEANUP_FREE char *v = shd_strdup(value);
    SHD_ENSURE(n != NULL && v != NULL, SHD_ERR_NOMEM);
    resp->headers[resp->nheaders].name = SHD_TAKE_PTR(n);
    resp->headers[resp->nheaders].value = SHD_TAKE_PTR(v);
    resp->nheaders++;
    return SHD_OK;
}

static shd_result content_type_set(const char *content_type, struct shd_http_resp *resp)
{
    SHD_ENSURE_MSG(content_type != NULL && *content_type != '\0' &&
                       shd_http_is_field_value(content_type),
                   SHD_ERR_USAGE, "invalid content type");
    char *ct = shd_strdup(content_type);
    SHD_ENSURE(ct != NULL, SHD_ERR_NOMEM);
    shd_free(resp->owned_ct);
    resp->owned_ct = ct;
    resp->content_type = ct;
    return SHD_OK;
}

void shd_http_resp_body_take(unsigned status, const char *content_type, uint8_t *body, size_t len,
                             size_t alloc_len, struct shd_http_resp *resp)
{
    if (len > alloc_len || (body == NULL && alloc_len != 0)) {
        shd_misuse("body length over its allocation");
    }
    shd_http_resp_status(status, resp);
    body_drop(resp);
    resp->body = body;
    resp->len = len;
    resp->alloc_len = alloc_len;
    /* Static text needs no copy and cannot fail; anything else is checked and copied. */
    if (content_type == NULL || shd_is_err(content_type_set(content_type, resp))) {
        shd_free(resp->owned_ct);
        resp->owned_ct = NULL;
        resp->content_type = "application/octet-stream";
    }
}

shd_result shd_http_resp_body(unsigned status, const char *content_type, const void *body,
                              size_t len, struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(resp);
    SHD_ENSURE(body != NULL || len == 0, SHD_ERR_NULL);
    SHD_ENSURE(status >= 100 && status <= 599, SHD_ERR_USAGE);
    SHD_ENSURE_MSG(content_type != NULL && shd_http_is_field_value(content_type), SHD_ERR_USAGE,
                   "invalid content type");
    size_t alloc_len = 0;
    SHD_GUARD(shd_add_overflow(len, 1, &alloc_len));
    SHD_GUARD(content_type_set(content_type, resp));
    uint8_t *copy = shd_alloc(alloc_len);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    shd_memcpy(copy, body, len);
    resp->status = status;
    body_drop(resp);
    resp->body = copy;
    resp->len = len;
    resp->alloc_len = alloc_len;
    return SHD_OK;
}

shd_result shd_http_resp_json(unsigned status, const char *json, struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(json);
    return shd_http_resp_body(status, "application/json", json, strlen(json), resp);
}

shd_result shd_http_resp_text(unsigned status, const char *text, struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(text);
    return shd_http_resp_body(status, "text/plain; charset=utf-8", text, strlen(text), resp);
}

shd_result shd_http_resp_json_error(unsigned status, const char *message,
                                    struct shd_http_resp *resp)
{
    static const char head[] = "{\"error\":\"";
    static const char tail[] = "\"}";
    SHD_CLEANUP_FREE char *esc = NULL;

    SHD_ENSURE_REF(message);
    SHD_GUARD(shd_http_json_escape(message, &esc));
    size_t elen = strlen(esc);
    size_t total = 0;
    SHD_GUARD(shd_add_overflow(elen, sizeof(head) + sizeof(tail), &total));
    SHD_CLEANUP_FREE char *doc = shd_alloc(total);
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    size_t o = 0;
    shd_memcpy(doc + o, head, sizeof(head) - 1);
    o += sizeof(head) - 1;
    shd_memcpy(doc + o, esc, elen);
    o += elen;
    shd_memcpy(doc + o, tail, sizeof(tail) - 1);
    o += sizeof(tail) - 1;
    return shd_http_resp_body(status, "application/json", doc, o, resp);
}

/* ---- standalone responses ---- */

shd_result shd_http_resp_new(struct shd_http_resp **ret_resp)
{
    SHD_ENSURE_REF(ret_resp);
    struct shd_http_resp *resp = shd_alloc(sizeof(*resp));
    SHD_ENSURE(resp != NULL, SHD_ERR_NOMEM);
    *ret_resp = resp;
    return SHD_OK;
}

void shd_http_resp_free(struct shd_http_resp *resp)
{
    if (resp == NULL) {
        return;
    }
    shd_http_resp_clear(resp);
    shd_free(resp);
}

unsigned shd_http_resp_get_status(const struct shd_http_resp *resp)
{
    return resp->status;
}

const uint8_t *shd_http_resp_get_body(const struct shd_http_resp *resp, size_t *ret_len)
{
    if (ret_len != NULL) {
        *ret_len = resp->len;
    }
    return resp->body;
}

const char *shd_http_resp_get_content_type(const struct shd_http_resp *resp)
{
    return resp->content_type;
}

const char *shd_http_resp_get_header(const struct shd_http_resp *resp, const char *name)
{
    for (size_t i = 0; name != NULL && i < resp->nheaders; i++) {
        if (shd_http_ascii_ieq(resp->headers[i].name, name)) {
            return resp->headers[i].value;
        }
    }
    return NULL;
}

bool shd_http_resp_is_aborted(const struct shd_http_resp *resp)
{
    return resp->aborted;
}

/* ---- hand-over to MHD ---- */

struct owned_body {
    uint8_t *p;
    size_t n;
};

static void owned_body_free(void *cls)
{
    struct owned_body *ob = cls;

    shd_free_wipe(ob->p, ob->n);
    shd_free(ob);
}

struct MHD_Response *shd_http_resp_to_mhd(struct shd_http_resp *resp)
{
    struct owned_body *ob = shd_alloc(sizeof(*ob));
    struct MHD_Response *r = NULL;

    if (ob == NULL) {
        shd_http_resp_clear(resp);
        return NULL;
    }
    if (resp->body == NULL) {
        resp->body = shd_alloc(1);
        resp->alloc_len = 1;
        resp->len = 0;
        if (resp->body == NULL) {
            shd_free(ob);
            shd_http_resp_clear(resp);
            return NULL;
        }
    }
    ob->p = resp->body;
    ob->n = resp->alloc_len;
    r = MHD_create_response_from_buffer_with_free_callback_cls(resp->len, resp->body,
                                                               owned_body_free, ob);
    if (r == NULL) {
        shd_free(ob); /* the body itself is freed by the clear below */
        shd_http_resp_clear(resp);
        return NULL;
    }
    /* MHD owns the body now (freed with the response through owned_body_free). */
    resp->body = NULL;
    resp->alloc_len = 0;
    resp->len = 0;
    bool ok = resp->content_type == NULL || MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                                                    resp->content_type) == MHD_YES;
    for (size_t i = 0; ok && i < resp->nheaders; i++) {
        ok = MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value) == MHD_YES;
    }
    shd_http_resp_clear(resp);
    if (!ok) {
        MHD_destroy_response(r);
        return NULL;
    }
    return r;
}
