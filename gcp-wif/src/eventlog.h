/*
 * eventlog.h - the firmware's TCG event log (TCG PC Client Platform Firmware Profile 2.0
 * section 10, crypto-agile format), read from securityfs and sent to the verifier as
 * tcgEventLog (gcp-identity.md section 2.3).
 *
 * We do not judge the log (the verifier does); we check that it is a well-formed crypto-agile
 * log before sending it, and can replay it so that a mismatch with the quoted PCRs is reported
 * locally, where it can be diagnosed, instead of as a remote "invalid request".
 *
 * Layout (integers little-endian): a TCG_PCClientPCREvent {pcr u32, type u32 = EV_NO_ACTION,
 * digest[20] = 0, size u32, TCG_EfiSpecIDEvent {"Spec ID Event03\0", platformClass u32,
 * minor u8, major u8, errata u8, uintnSize u8, n u32, {alg u16, size u16}[n], vendorSize u8,
 * vendor[]}}, then TCG_PCR_EVENT2 {pcr u32, type u32, count u32, {alg u16, digest[]}[count],
 * size u32, event[]}.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

#define WIF_EVENTLOG_MAX_BYTES ((size_t)4 * 1024 * 1024)
#define WIF_EVENTLOG_MAX_EVENTS 16384u
#define WIF_EVENTLOG_MAX_ALGS 8u
#define WIF_EVENTLOG_PCRS 24u
#define WIF_EVENTLOG_DIGEST_MAX 64u

/*
 * Reads the whole file at path (securityfs reports size 0, so it is read to EOF) into a fresh
 * buffer (shd_free). Over WIF_EVENTLOG_MAX_BYTES: SHD_ERR_TOO_LARGE; missing:
 * SHD_ERR_NOT_FOUND; empty: SHD_ERR_INPUT. The content is checked with wif_eventlog_check.
 */
SHD_RESULT wif_eventlog_read(const char *path, uint8_t **ret, size_t *ret_len);

/*
 * Checks the structure: the Spec ID header (signature, 1..WIF_EVENTLOG_MAX_ALGS algorithms of
 * known digest sizes, no duplicates), and every following event (PCR index < 24, digest count
 * equal to the header's algorithm count with exactly those algorithms, sizes within the log),
 * at most WIF_EVENTLOG_MAX_EVENTS events, nothing left over. SHD_ERR_TRUNCATED or SHD_ERR_INPUT
 * with the offset of the failure.
 */
SHD_RESULT wif_eventlog_check(const uint8_t *log, size_t len);

/*
 * Replays the log for the bank alg (a TPM_ALG_ID the header lists): PCRs start at zero (PCR 0
 * at the locality of a StartupLocality EV_NO_ACTION event), every event other than
 * EV_NO_ACTION extends pcrs[index] = H(pcrs[index] || digest). *ret_touched gets a bit per PCR
 * that some event extended. SHD_ERR_NOT_FOUND when the log has no such bank; parse errors as
 * wif_eventlog_check.
 */
SHD_RESULT wif_eventlog_replay(const uint8_t *log, size_t len, uint16_t alg,
                               uint8_t pcrs[WIF_EVENTLOG_PCRS][WIF_EVENTLOG_DIGEST_MAX],
                               uint32_t *ret_touched);
