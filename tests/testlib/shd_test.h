/*
 * shd_test.h - what every cmocka unit test includes: cmocka with its prerequisite headers, and
 * small helpers to read test vectors and check results.
 */
#pragma once

/* cmocka needs these before its own header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shd/errors.h"
#include "shd/result.h"

/* Asserts a result is SHD_OK, printing the rendered cause chain when it is not. */
#define EXPECT_OK(call) shd_test_expect_ok((call), #call, __FILE__, __LINE__)

/* Asserts a result is the given error code. */
#define EXPECT_ERR(call, code) shd_test_expect_err((call), (code), #call, __FILE__, __LINE__)

void shd_test_expect_ok(shd_result r, const char *expr, const char *file, int line);
void shd_test_expect_err(shd_result r, int code, const char *expr, const char *file, int line);

/*
 * Reads a whole file into a fresh NUL-terminated buffer (shd_alloc; free with shd_free).
 * Fails the test when the file cannot be read.
 */
uint8_t *shd_test_read_file(const char *path, size_t *ret_len);

/* Path of a file under the reference vectors folder (SHD_VECTORS_DIR), in a static buffer. */
const char *shd_test_vector_path(const char *rel);

/* Decodes a hex string (whitespace ignored) into a fresh buffer; fails the test on bad hex. */
uint8_t *shd_test_unhex(const char *hex, size_t *ret_len);

/*
 * Frees a buffer jansson allocated (json_dumps) with jansson's current free function: libc's,
 * or shd_free when the test installed shd_json_allocator_install. NULL is fine.
 */
void shd_test_json_free(void *p);
