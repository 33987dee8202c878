/*
 * vtpm_int.h - internals shared by vtpm.c (process), vtpm_provision.c and vtpm_nv.c (ESAPI).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "vtpm.h"

#include "shd/result.h"

struct gemu_vtpm {
    pid_t pid;
    uint16_t port;
    char tcti[GEMU_VTPM_TCTI_MAX];
};

/* An ESAPI context over the TCTI loader, and its TCTI. */
struct gemu_esys {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
};

/* Opens ESAPI on the TCTI configuration string (Tss2_TctiLdr_Initialize + Esys_Initialize). */
shd_result gemu_esys_open(const char *tcti_conf, struct gemu_esys *ret);

/* Finalizes both (fields set to NULL; safe on a zeroed struct). */
void gemu_esys_close(struct gemu_esys *e);

/* A fixed TPM property (TPM2_CAP_TPM_PROPERTIES), e.g. TPM2_PT_NV_BUFFER_MAX. */
shd_result gemu_esys_property(struct gemu_esys *e, uint32_t property, uint32_t *ret);

/*
 * Makes NV index `index` hold exactly data[0..len) with the GCE platform attributes: kept when
 * it already does, else (re)defined under the platform hierarchy and written in chunks of
 * TPM2_PT_NV_BUFFER_MAX.
 */
shd_result gemu_esys_nv_store(uint32_t index, const uint8_t *data, size_t len, struct gemu_esys *e);

/*
 * Reads NV index `index` fully with owner authorisation into a fresh buffer (shd_free).
 * SHD_ERR_NOT_FOUND when the index is not defined.
 */
shd_result gemu_esys_nv_read(uint32_t index, struct gemu_esys *e, uint8_t **ret, size_t *ret_len);

/* Writes a file atomically (temporary file in the same directory, fsync, rename). */
shd_result gemu_write_file_atomic(const char *path, const uint8_t *data, size_t len, mode_t mode);
