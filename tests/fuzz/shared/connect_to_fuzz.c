/*
 * connect_to_fuzz.c - fuzz target for the connect-to list parser of the HTTP client
 * (shared/src/http_util.c, and the curl list built from it in shared/src/http_client.c).
 *
 * Target Functions: shd_http_connect_to_validate, shd_http_client_create (connect-to only)
 *
 * Input: the connect-to string (it comes from configuration or an environment variable, so it
 * is NUL-terminated text; inputs with a NUL byte are skipped rather than truncated).
 * Properties checked:
 *   - validation fails only with SHD_ERR_CONFIG;
 *   - on success: at most SHD_HTTP_CONNECT_TO_MAX_LEN bytes, no spaces, the count is the number
 *     of ','-separated entries (at most SHD_HTTP_CONNECT_TO_MAX_ENTRIES), each entry has at
 *     least three ':' separators; and a client accepts the same string (the list it builds for
 *     libcurl splits the string the same way).
 */
#include <string.h>

#include "fuzz_common.h"
#include "shd/http_client.h"
#include "shd/mem.h"

static void success_invariants(const char *spec, size_t len, size_t count)
{
    FUZZ_ASSERT(len <= SHD_HTTP_CONNECT_TO_MAX_LEN);
    if (len == 0) {
        FUZZ_ASSERT(count == 0);
        return;
    }
    size_t entries = 1;
    size_t colons = 0;
    for (size_t i = 0; i < len; i++) {
        FUZZ_ASSERT(spec[i] != ' ' && spec[i] != '\t' && spec[i] != '\r' && spec[i] != '\n');
        if (spec[i] == ',') {
            FUZZ_ASSERT(colons >= 3);
            entries++;
            colons = 0;
        } else if (spec[i] == ':') {
            colons++;
        }
    }
    FUZZ_ASSERT(colons >= 3);
    FUZZ_ASSERT(count == entries && count <= SHD_HTTP_CONNECT_TO_MAX_ENTRIES);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT || memchr(data, 0, size) != NULL) {
        return 0;
    }
    char *spec = shd_alloc(size + 1);
    FUZZ_ASSERT(spec != NULL);
    shd_memcpy(spec, data, size);

    size_t count = SIZE_MAX;
    shd_result r = shd_http_connect_to_validate(spec, &count);
    FUZZ_OK_OR(r, SHD_ERR_CONFIG);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(count == SIZE_MAX);
    } else {
        success_invariants(spec, size, count);
        /* A fixed, always-present CA path keeps the run independent of SSL_CERT_FILE. */
        struct shd_http_client_options opts = {.ca_file = "/dev/null", .connect_to = spec};
        struct shd_http_client *client = NULL;
        FUZZ_ASSERT(shd_is_ok(shd_http_client_create(&opts, &client)));
        shd_http_client_free(client);
    }
    fuzz_error_reset();
    shd_free(spec);
    return 0;
}
