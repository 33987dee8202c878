/*
 * json.h - strict JSON parsing with limits, typed getters, and a writer that reproduces Go's
 * encoding/json output byte for byte (the SKR sidecar's wire, skr-sidecar.md section 2.0).
 *
 * Parsing and values use jansson 2.14 (json_t). The writer does not use json_dumps: it escapes
 * like Go (HTML-safe, U+2028/2029, invalid UTF-8 -> \ufffd) and writes into memory from
 * shd_alloc that is wiped whenever it grows, so a dump that carries key material leaves no copy
 * behind once the caller frees it with shd_free_wipe.
 *
 * All functions are reentrant; none logs. See docs/internals/JSON.md.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shd/cleanup.h"
#include "shd/result.h"

/* ---------------------------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------------------------- */

#define SHD_JSON_DEFAULT_MAX_BYTES ((size_t)1024 * 1024)
#define SHD_JSON_DEFAULT_MAX_DEPTH ((size_t)32)

/*
 * Limits for shd_json_parse (STYLE.md rule 23). Zero-initialise and set what differs: a zero
 * max_bytes or max_depth means the default above.
 */
struct shd_json_limits {
    size_t max_bytes;    /* input longer than this: SHD_ERR_TOO_LARGE */
    size_t max_depth;    /* more nested arrays/objects than this: SHD_ERR_TOO_LARGE */
    bool allow_nul;      /* accept "\u0000" inside strings (off: SHD_ERR_JSON) */
    bool allow_any_root; /* accept a scalar as the document (off: object or array only) */
};

/*
 * Parses exactly one JSON document from data[0..len) (data need not be NUL-terminated).
 * lim == NULL means all defaults. Rejected, besides malformed JSON (all SHD_ERR_JSON unless
 * noted): input over max_bytes (SHD_ERR_TOO_LARGE, checked before parsing), nesting over
 * max_depth (SHD_ERR_TOO_LARGE, checked before parsing), duplicate object keys, trailing bytes
 * after the document other than whitespace, invalid UTF-8 (also surrogates and overlongs),
 * "\u0000" in strings unless allowed, integers outside int64, reals that overflow a double.
 * The root message names line, column and byte offset and jansson's reason, with jansson's
 * " near '<token>'" quote removed so that no input bytes (possibly secret) reach logs.
 * Out of memory: SHD_ERR_NOMEM. NULL data with len > 0 or NULL ret: SHD_ERR_NULL.
 * On success *ret holds a new reference (json_decref it, or use SHD_CLEANUP_JSON).
 */
SHD_RESULT shd_json_parse(const char *data, size_t len, const struct shd_json_limits *lim,
                          json_t **ret);

/* Scope-bound json_decref: SHD_CLEANUP_JSON json_t *doc = NULL; */
SHD_DEFINE_CLEANUP(json_t, json_decref, shd_json_decref_p)
#define SHD_CLEANUP_JSON SHD_CLEANUP(shd_json_decref_p)

/*
 * Routes all of jansson's allocations through shd_alloc/shd_free and wipes every block when
 * jansson frees it (the size is kept in a 16-byte header, since jansson's free hook gets no
 * size; real-clients.md section 3.8). Parsed tokens, released keys and their string copies are
 * thus zeroed when the json_t dies, and shd_mem_fail_after reaches jansson in tests.
 * jansson's hooks are process-global: call this once at start-up, before any json_t exists
 * (a block allocated by another allocator must never reach this free). Idempotent.
 */
void shd_json_allocator_install(void);

/* ---------------------------------------------------------------------------------------------
 * Typed getters. obj must be a JSON object (else SHD_ERR_INPUT "expected a JSON object").
 * Missing field: SHD_ERR_INPUT "missing field '<key>'"; wrong type: SHD_ERR_INPUT
 * "field '<key>' is not a <type>". Returned pointers are borrowed: valid while obj lives and the
 * field is not replaced. *ret is written only on success. NULL obj/key/ret: SHD_ERR_NULL.
 * ------------------------------------------------------------------------------------------- */

/*
 * A string field as a NUL-terminated C string. A string with an embedded NUL (possible only
 * with allow_nul) is rejected: "field '<key>' contains a NUL character"; use _stringn for those.
 */
SHD_RESULT shd_json_get_string(const json_t *obj, const char *key, const char **ret);

/* A string field with its length (may contain NUL bytes when parsed with allow_nul). */
SHD_RESULT shd_json_get_stringn(const json_t *obj, const char *key, const char **ret,
                                size_t *ret_len);

/*
 * Like shd_json_get_string, but a missing field or a JSON null gives SHD_OK with *ret = NULL
 * (Go's decoder leaves a string field empty for both). A present non-string is still an error.
 */
SHD_RESULT shd_json_get_string_opt(const json_t *obj, const char *key, const char **ret);

/*
 * An integer field within [min, max] (inclusive). Reals (1.0, 1e3) are not integers and are
 * rejected: "field '<key>' is not an integer". Out of range: SHD_ERR_INPUT
 * "field '<key>' is out of range". min > max is misuse (SHD_ERR_USAGE).
 */
SHD_RESULT shd_json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max,
                            int64_t *ret);

/* A true/false field. Strings "true"/"false" are not booleans. */
SHD_RESULT shd_json_get_bool(const json_t *obj, const char *key, bool *ret);

/* An object-valued / array-valued field (borrowed reference). */
SHD_RESULT shd_json_get_object(const json_t *obj, const char *key, json_t **ret);
SHD_RESULT shd_json_get_array(const json_t *obj, const char *key, json_t **ret);

/* Longest dotted path shd_json_get_path accepts (bytes). */
#define SHD_JSON_PATH_MAX 1024

/*
 * Looks up a dotted path ("x-ms-isolation-tee.x-ms-attestation-type", azure-formats.md 5.2)
 * from root, descending through objects only: a segment is an exact object key, there is no
 * escaping and no array indexing (a numeric segment is a key like any other).
 * Resolves -> SHD_OK, *ret = borrowed value (may be a JSON null).
 * Does not resolve (a segment is missing, or a non-object sits in the middle, or root is not an
 * object) -> SHD_OK, *ret = NULL: a claim that is absent, which policy code treats as such.
 * Malformed path (empty, empty segment such as "a..b" or ".a" or "a.", longer than
 * SHD_JSON_PATH_MAX) -> SHD_ERR_INPUT, since paths come from release policies (peer data).
 */
SHD_RESULT shd_json_get_path(const json_t *root, const char *path, json_t **ret);

/* ---------------------------------------------------------------------------------------------
 * Go encoding/json writer (json_go.c). Output rules, matching Go 1.22+ (the sidecar is built
 * with go1.23) json.Marshal with its default HTML escaping:
 *   - compact, no whitespace, no trailing newline;
 *   - strings: `"` -> \"  `\` -> \\  \b \f \n \r \t as two-character escapes, other bytes below
 *     0x20 as \u00xx (lower-case hex), `<` `>` `&` as \u003c \u003e \u0026, U+2028 and U+2029 as
 *     \u2028 \u2029, each byte that does not start a valid UTF-8 sequence as \ufffd; DEL and all
 *     other valid UTF-8 is copied unchanged (`/` is not escaped);
 *   - object keys escaped the same way; in jansson's insertion order (Go struct field order), or
 *     sorted bytewise with SHD_JSON_SORT_KEYS (Go map order);
 *   - integers in decimal; true, false, null;
 *   - reals are refused (SHD_ERR_UNSUPPORTED): Go's shortest float formatting is not needed on
 *     any wire we speak and is not reproduced.
 * Output is at most SHD_JSON_GO_MAX_OUT bytes and nests at most SHD_JSON_GO_MAX_DEPTH levels
 * (SHD_ERR_TOO_LARGE beyond; this also stops a json_t that contains itself).
 *
 * Memory: the result comes from shd_alloc, is NUL-terminated (the NUL is not counted in
 * *ret_len) and every intermediate buffer is wiped before it is released. When the output may
 * hold a secret, free it with shd_free_wipe(*ret, *ret_len + 1); otherwise shd_free is enough.
 * ------------------------------------------------------------------------------------------- */

#define SHD_JSON_SORT_KEYS 0x1u

#define SHD_JSON_GO_MAX_OUT ((size_t)16 * 1024 * 1024)
#define SHD_JSON_GO_MAX_DEPTH 64

/* Serialises v. Unknown flag bits: SHD_ERR_USAGE. */
SHD_RESULT shd_json_go_dump(const json_t *v, unsigned flags, char **ret, size_t *ret_len);

/*
 * Quotes and escapes the n bytes at s (need not be NUL-terminated; may contain NUL, written as
 * \u0000) as one Go JSON string, including the surrounding double quotes.
 */
SHD_RESULT shd_json_go_quote(const char *s, size_t n, char **ret, size_t *ret_len);

/* One string member for shd_json_go_dump_strings. val need not be NUL-terminated. */
struct shd_json_go_field {
    const char *key;
    const char *val;
    size_t val_len;
};

/*
 * Writes {"k1":"v1","k2":"v2",...} for the n fields, in the order given (a Go struct of string
 * fields), without building a json_t: values never enter jansson's heap, so a secret value
 * (skr's {"key":"<JWK JSON>"}) exists only in the caller's buffer and in *ret. n == 0 gives {}.
 * Duplicate keys are not checked (the caller's fields are fixed by code).
 */
SHD_RESULT shd_json_go_dump_strings(const struct shd_json_go_field *fields, size_t n, char **ret,
                                    size_t *ret_len);
