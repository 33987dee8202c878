/*
 * gobind.h - gin's ShouldBindJSON as the original sidecar runs it (skr-sidecar.md §2.0): Go's
 * encoding/json Decoder reads the first JSON value of the body (trailing bytes ignored), decodes
 * it into a struct of string fields (names matched exactly, else ASCII case-insensitively;
 * unknown fields ignored; null leaves a field as it is; a later duplicate wins), then the
 * validator checks the `binding:"required"` fields. The error texts are Go's, byte for byte:
 *   "EOF", "unexpected EOF",
 *   "invalid character 'x' looking for beginning of value" (and the other scanner contexts),
 *   "json: cannot unmarshal number into Go struct field RawAttestData.runtime_data of type string",
 *   "json: cannot unmarshal array into Go value of type httpginendpoints.RawAttestData",
 *   "Key: 'RawAttestData.RuntimeData' Error:Field validation for 'RuntimeData' failed on the
 *    'required' tag" (several joined by '\n', in struct order).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

/* A string field of the Go request struct. */
struct skr_gobind_field {
    const char *json_name; /* the json tag ("runtime_data") */
    const char *go_name;   /* the Go field name ("RuntimeData") */
    bool required;         /* binding:"required" */
};

/* A Go request struct: its name ("RawAttestData") and its fields in declaration order. */
struct skr_gobind_struct {
    const char *name;
    const struct skr_gobind_field *fields;
    size_t nfields;
};

/* Most fields a struct may have. */
#define SKR_GOBIND_MAX_FIELDS 8u
/* Go's scanner nesting limit (encoding/json maxNestingDepth). */
#define SKR_GOBIND_MAX_DEPTH 10000u

/* Decoded values: vals[i] is the i-th field (shd_alloc'd, NUL-terminated, may contain NUL bytes:
 * lens[i] is the length) or NULL when absent. Free with skr_gobind_values_clear, which wipes
 * (a field may be an access token). */
struct skr_gobind_values {
    char *vals[SKR_GOBIND_MAX_FIELDS];
    size_t lens[SKR_GOBIND_MAX_FIELDS];
};

/*
 * Binds body[0..len) into *ret. On a bind error: SHD_ERR_INPUT whose root message is exactly the
 * Go error text above (*ret untouched). SHD_ERR_NOMEM as usual.
 */
SHD_RESULT skr_gobind_decode(const uint8_t *body, size_t len, const struct skr_gobind_struct *st,
                             struct skr_gobind_values *ret);

/* Wipes and frees the values (NULL is fine). */
void skr_gobind_values_clear(struct skr_gobind_values *v);
