/*
 * vtpm_nv.c - ESAPI plumbing for the provisioning (vtpm_int.h): opening ESAPI through the TCTI
 * loader, reading fixed properties, and NV indices defined the way GCE defines them.
 */
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "tpm_templates.h"
#include "vtpm_int.h"

#include "shd/mem.h"
#include "shd/safety.h"

/* PPWRITE|WRITEDEFINE|PPREAD|OWNERREAD|AUTHREAD|NO_DA|PLATFORMCREATE (real-clients.md §4.4). */
#define GCE_NV_ATTRIBUTES                                                                          \
    (TPMA_NV_PPWRITE | TPMA_NV_WRITEDEFINE | TPMA_NV_PPREAD | TPMA_NV_OWNERREAD |                  \
     TPMA_NV_AUTHREAD | TPMA_NV_NO_DA | TPMA_NV_PLATFORMCREATE)

shd_result gemu_esys_open(const char *tcti_conf, struct gemu_esys *ret)
{
    struct gemu_esys e = {0};
    TSS2_RC rc;

    SHD_ENSURE_REF(tcti_conf);
    SHD_ENSURE_REF(ret);
    rc = Tss2_TctiLdr_Initialize(tcti_conf, &e.tcti);
    if (rc != TSS2_RC_SUCCESS) {
        shd_result r = shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__);

        shd_error_wrap("TCTI %s", tcti_conf);
        return r;
    }
    rc = Esys_Initialize(&e.esys, e.tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        Tss2_TctiLdr_Finalize(&e.tcti);
        return shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__);
    }
    *ret = e;
    return SHD_OK;
}

void gemu_esys_close(struct gemu_esys *e)
{
    if (e == NULL) {
        return;
    }
    if (e->esys != NULL) {
        Esys_Finalize(&e->esys);
    }
    if (e->tcti != NULL) {
        Tss2_TctiLdr_Finalize(&e->tcti);
    }
}

shd_result gemu_esys_property(struct gemu_esys *e, uint32_t property, uint32_t *ret)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = TPM2_NO;
    TSS2_RC rc = Esys_GetCapability(e->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    TPM2_CAP_TPM_PROPERTIES, property, 1, &more, &cap);
    shd_result r = SHD_OK;

    if (rc != TSS2_RC_SUCCESS) {
        return shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__);
    }
    if (cap->data.tpmProperties.count < 1 ||
        cap->data.tpmProperties.tpmProperty[0].property != property) {
        r = shd_error_setf(SHD_ERR_TPM, __FILE__, __LINE__, "TPM property 0x%x missing", property);
    } else {
        *ret = cap->data.tpmProperties.tpmProperty[0].value;
    }
    Esys_Free(cap);
    return r;
}

/* ESYS_TR of an existing NV index, or ESYS_TR_NONE when it is not defined. */
static ESYS_TR nv_handle(uint32_t index, struct gemu_esys *e)
{
    ESYS_TR tr = ESYS_TR_NONE;
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = TPM2_NO;
    bool defined;

    /* Ask first: Esys_TR_FromTPMPublic on an undefined index logs an ESAPI error. */
    if (Esys_GetCapability(e->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                           index, 1, &more, &cap) != TSS2_RC_SUCCESS) {
        return ESYS_TR_NONE;
    }
    defined = cap->data.handles.count >= 1 && cap->data.handles.handle[0] == index;
    Esys_Free(cap);
    if (!defined) {
        return ESYS_TR_NONE;
    }

    if (Esys_TR_FromTPMPublic(e->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr) !=
        TSS2_RC_SUCCESS) {
        return ESYS_TR_NONE;
    }
    return tr;
}

static uint32_t nv_chunk(struct gemu_esys *e)
{
    uint32_t max = 0;

    /* TPM2_PT_NV_BUFFER_MAX bounds one NV_Read/NV_Write; TPM2B_MAX_NV_BUFFER bounds ESAPI. */
    if (shd_is_err(gemu_esys_property(e, TPM2_PT_NV_BUFFER_MAX, &max)) || max == 0) {
        shd_error_clear();
        max = 512;
    }
    return max > TPM2_MAX_NV_BUFFER_SIZE ? TPM2_MAX_NV_BUFFER_SIZE : max;
}

static shd_result nv_read_tr(ESYS_TR tr, size_t size, struct gemu_esys *e, uint8_t **ret)
{
    uint32_t chunk = nv_chunk(e);
    uint8_t *buf = shd_alloc(size);
    size_t off = 0;

    SHD_ENSURE(buf != NULL, SHD_ERR_NOMEM);
    while (off < size) {
        TPM2B_MAX_NV_BUFFER *data = NULL;
        uint16_t n = (uint16_t)(size - off < chunk ? size - off : chunk);
        TSS2_RC rc = Esys_NV_Read(e->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, n, (uint16_t)off, &data);

        if (rc != TSS2_RC_SUCCESS || data->size != n) {
            Esys_Free(data);
            shd_free(buf);
            if (rc == TSS2_RC_SUCCESS) {
                SHD_BAIL_MSG(SHD_ERR_TPM, "short NV read");
            }
            return shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__);
        }
        shd_memcpy(buf + off, data->buffer, n);
        Esys_Free(data);
        off += n;
    }
    *ret = buf;
    return SHD_OK;
}

static shd_result nv_size(ESYS_TR tr, struct gemu_esys *e, size_t *ret_size, TPMA_NV *ret_attrs)
{
    TPM2B_NV_PUBLIC *pub = NULL;
    TPM2B_NAME *name = NULL;
    TSS2_RC rc =
        Esys_NV_ReadPublic(e->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name);

    SHD_GUARD_TSS(rc, SHD_ERR_TPM);
    *ret_size = pub->nvPublic.dataSize;
    *ret_attrs = pub->nvPublic.attributes;
    Esys_Free(pub);
    Esys_Free(name);
    return SHD_OK;
}

shd_result gemu_esys_nv_read(uint32_t index, struct gemu_esys *e, uint8_t **ret, size_t *ret_len)
{
    ESYS_TR tr;
    size_t size = 0;
    TPMA_NV attrs = 0;
    shd_result r;

    SHD_ENSURE_REF(e);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    tr = nv_handle(index, e);
    SHD_ENSURE_MSG(tr != ESYS_TR_NONE, SHD_ERR_NOT_FOUND, "NV index 0x%08x not defined", index);
    r = nv_size(tr, e, &size, &attrs);
    if (shd_is_ok(r)) {
        r = nv_read_tr(tr, size, e, ret);
    }
    Esys_TR_Close(e->esys, &tr);
    if (shd_is_ok(r)) {
        *ret_len = size;
    }
    return r;
}

/* True when tr already holds exactly data with our attributes (written). */
static bool nv_matches(ESYS_TR tr, const uint8_t *data, size_t len, struct gemu_esys *e)
{
    size_t size = 0;
    TPMA_NV attrs = 0;
    uint8_t *cur = NULL;
    bool same;

    if (shd_is_err(nv_size(tr, e, &size, &attrs)) || size != len ||
        attrs != (GCE_NV_ATTRIBUTES | TPMA_NV_WRITTEN) ||
        shd_is_err(nv_read_tr(tr, size, e, &cur))) {
        shd_error_clear();
        return false;
    }
    same = shd_memcmp(cur, data, len) == 0;
    shd_free(cur);
    return same;
}

static shd_result nv_define_write(uint32_t index, const uint8_t *data, size_t len,
                                  struct gemu_esys *e)
{
    TPM2B_AUTH auth = {.size = 0};
    TPM2B_NV_PUBLIC pub = {.size = 0};
    ESYS_TR tr = ESYS_TR_NONE;
    uint32_t chunk = nv_chunk(e);
    size_t off = 0;
    TSS2_RC rc;

    SHD_ENSURE_MSG(len > 0 && len <= UINT16_MAX, SHD_ERR_TOO_LARGE, "NV data of %zu bytes", len);
    pub.nvPublic.nvIndex = index;
    pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
    pub.nvPublic.attributes = GCE_NV_ATTRIBUTES;
    pub.nvPublic.dataSize = (uint16_t)len;
    rc = Esys_NV_DefineSpace(e->esys, ESYS_TR_RH_PLATFORM, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                             ESYS_TR_NONE, &auth, &pub, &tr);
    SHD_GUARD_TSS(rc, SHD_ERR_TPM);
    while (off < len) {
        TPM2B_MAX_NV_BUFFER buf;
        size_t n = len - off < chunk ? len - off : chunk;

        buf.size = (uint16_t)n;
        shd_memcpy(buf.buffer, data + off, n);
        rc = Esys_NV_Write(e->esys, ESYS_TR_RH_PLATFORM, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, &buf, (uint16_t)off);
        if (rc != TSS2_RC_SUCCESS) {
            Esys_TR_Close(e->esys, &tr);
            return shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__);
        }
        off += n;
    }
    Esys_TR_Close(e->esys, &tr);
    return SHD_OK;
}

shd_result gemu_esys_nv_store(uint32_t index, const uint8_t *data, size_t len, struct gemu_esys *e)
{
    ESYS_TR tr;

    SHD_ENSURE_REF(data);
    SHD_ENSURE_REF(e);
    tr = nv_handle(index, e);
    if (tr != ESYS_TR_NONE) {
        TSS2_RC rc;

        if (nv_matches(tr, data, len, e)) {
            Esys_TR_Close(e->esys, &tr);
            return SHD_OK;
        }
        /* Platform-created indices are undefined with platform authorisation (Part 3 §31.4). */
        rc = Esys_NV_UndefineSpace(e->esys, ESYS_TR_RH_PLATFORM, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                   ESYS_TR_NONE);
        if (rc != TSS2_RC_SUCCESS) {
            Esys_TR_Close(e->esys, &tr);
            shd_result r = shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__);

            shd_error_wrap("undefining NV index 0x%08x", index);
            return r;
        }
    }
    SHD_GUARD_CTX(nv_define_write(index, data, len, e), "NV index 0x%08x", index);
    return SHD_OK;
}
