/*
 * eventlog_int.h - internals shared by eventlog.c and eventlog_replay.c.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "eventlog.h"

#include "shd/result.h"

/* GCE EV_NONHOST_INFO: "GCE NonHostInfo\0", technology byte, 15 zero bytes (gcp-identity.md
 * §2.3). */
#define GEMU_NONHOST_INFO_LEN 32u
#define GEMU_NONHOST_INFO_SIGNATURE "GCE NonHostInfo"
#define GEMU_NONHOST_INFO_TECH_OFFSET 16u

/* EFI_GLOBAL_VARIABLE GUID in memory layout. */
extern const uint8_t gemu_efi_global_guid[16];

/* Hash of in[0..n) with the bank's algorithm into out; *ret_len = digest length. */
shd_result gemu_alg_hash(uint16_t alg, const uint8_t *in, size_t n,
                         uint8_t out[static GEMU_DIGEST_MAX], size_t *ret_len);
