/*
 * log_test.c - exact logfmt lines, escaping of hostile strings, per-module levels and the spec
 * parser, the file sink, redaction, fingerprints, the secret-refusing hex dump, rate limiting,
 * log-and-return and concurrent writers.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/secret.h"
#include "shd_test.h"

/* 2026-11-26T23:59:59.123Z */
#define TEST_REAL_SEC 1795737599
#define TEST_REAL_NSEC 123456789L

static uint64_t test_mono_ns = 1000000000u;

static int test_clock(clockid_t id, struct timespec *ret)
{
    if (id == CLOCK_REALTIME) {
        ret->tv_sec = TEST_REAL_SEC;
        ret->tv_nsec = TEST_REAL_NSEC;
        return 0;
    }
    ret->tv_sec = (time_t)(test_mono_ns / 1000000000u);
    ret->tv_nsec = (long)(test_mono_ns % 1000000000u);
    return 0;
}

/* Every test logs into a memfd and reads it back. */
static int cap_fd = -1;
static char cap_buf[262144];

static int setup(void **state)
{
    (void)state;
    cap_fd = memfd_create("log_test", MFD_CLOEXEC);
    if (cap_fd < 0) {
        return -1;
    }
    shd_log_reset();
    shd_log_sink_fd(cap_fd);
    shd_log_clock_set(test_clock);
    shd_error_clear();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    shd_log_reset();
    (void)close(cap_fd);
    cap_fd = -1;
    return 0;
}

/* Everything logged so far, NUL-terminated; the capture is emptied. */
static const char *captured(void)
{
    ssize_t n = pread(cap_fd, cap_buf, sizeof(cap_buf) - 1, 0);
    assert_true(n >= 0);
    cap_buf[n] = '\0';
    assert_int_equal(ftruncate(cap_fd, 0), 0);
    assert_int_equal(lseek(cap_fd, 0, SEEK_SET), 0);
    return cap_buf;
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        n += *s == c;
    }
    return n;
}

static void test_line_format(void **state)
{
    (void)state;
    char want[512];
    int line = __LINE__ + 1;
    SHD_LOG_INFO("maa", "fetched %d claims from %s", 7, "maa.local");
    (void)snprintf(want, sizeof(want),
                   "ts=2026-11-26T23:59:59.123Z level=info module=maa func=test_line_format "
                   "src=log_test.c:%d msg=\"fetched 7 claims from maa.local\"\n",
                   line);
    assert_string_equal(captured(), want);

    line = __LINE__ + 1;
    SHD_LOG_WARNING("akv", "%s", "");
    (void)snprintf(want, sizeof(want),
                   "ts=2026-11-26T23:59:59.123Z level=warning module=akv func=test_line_format "
                   "src=log_test.c:%d msg=\"\"\n",
                   line);
    assert_string_equal(captured(), want);
}

static void kv_fields_expected(char *want, size_t n, int line)
{
    (void)snprintf(want, n,
                   "ts=2026-11-26T23:59:59.123Z level=error module=akv func=test_kv_fields "
                   "src=log_test.c:%d msg=\"key released\" kid=https://v/k/1 "
                   "note_key_=\"two words\" delta=-42 status=200 cached=true empty=\"\" "
                   "missing=\"<null>\"\n",
                   line);
}

static void test_kv_fields(void **state)
{
    (void)state;
    char want[512];
    int line = __LINE__ + 1;
    SHD_LOG_KV(SHD_LOG_LEVEL_ERROR, "akv", "key released", SHD_LOG_STR("kid", "https://v/k/1"),
               SHD_LOG_STR("Note Key!", "two words"), SHD_LOG_INT("delta", -42),
               SHD_LOG_UINT("status", 200), SHD_LOG_BOOL("cached", 1), SHD_LOG_STR("empty", ""),
               SHD_LOG_STR("missing", NULL));
    const char *out = captured();
    /* gcc gives a multi-line macro call the line of its first token, clang of its last. */
    kv_fields_expected(want, sizeof(want), line);
    if (strcmp(out, want) != 0) {
        kv_fields_expected(want, sizeof(want), line + 3);
    }
    assert_string_equal(out, want);
}

static void test_escaping_hostile(void **state)
{
    (void)state;
    /* A peer-controlled string that tries to end the line and forge a second one. */
    const char *evil = "x\" level=fatal\nts=2026 level=error msg=\"forged\\\r\t\x01\x7f\xc3\xa9";
    SHD_LOG_KV(SHD_LOG_LEVEL_ERROR, "proxy", "bad path", SHD_LOG_STR("path", evil));
    SHD_LOG_ERROR("proxy", "peer said %s", evil);
    const char *out = captured();
    assert_int_equal(count_char(out, '\n'), 2);
    const char *esc = "x\\\" level=fatal\\nts=2026 level=error msg=\\\"forged\\\\\\r\\t\\x01\\x7f"
                      "\\xc3\\xa9";
    char want[512];
    (void)snprintf(want, sizeof(want), " path=\"%s\"\n", esc);
    assert_non_null(strstr(out, want));
    (void)snprintf(want, sizeof(want), " msg=\"peer said %s\"\n", esc);
    assert_non_null(strstr(out, want));
    /* Bare values stay bare only for the safe alphabet; '=' and space force quotes. */
    SHD_LOG_KV(SHD_LOG_LEVEL_ERROR, "proxy", "m", SHD_LOG_STR("a", "k=v"), SHD_LOG_STR("b", "a b"));
    assert_non_null(strstr(captured(), " a=\"k=v\" b=\"a b\"\n"));
}

static void test_truncation_keeps_line_well_formed(void **state)
{
    (void)state;
    char *big = shd_alloc(6000);
    assert_non_null(big);
    memset(big, 'A', 5999);
    SHD_LOG_ERROR("m", "%s", big);
    const char *out = captured();
    size_t n = strlen(out);
    assert_true(n <= SHD_LOG_LINE_MAX);
    assert_int_equal(count_char(out, '\n'), 1);
    assert_string_equal(out + n - 18, "A\" truncated=true\n");
    /* Escapes are never split: every byte below needs four output bytes. */
    memset(big, 0x01, 5999);
    SHD_LOG_ERROR("m", "%s", big);
    out = captured();
    n = strlen(out);
    assert_true(n <= SHD_LOG_LINE_MAX);
    assert_string_equal(out + n - 21, "\\x01\" truncated=true\n");
    /* A field after the cut is dropped whole, never half-written. */
    SHD_LOG_KV(SHD_LOG_LEVEL_ERROR, "m", big, SHD_LOG_STR("after", "x y"));
    out = captured();
    assert_null(strstr(out, "after="));
    assert_int_equal(count_char(out, '\n'), 1);
    shd_free(big);
}

static void test_levels_per_module(void **state)
{
    (void)state;
    EXPECT_OK(shd_log_levels_set("all+warning,maa+debug"));
    assert_int_equal(shd_log_level_get("maa"), SHD_LOG_LEVEL_DEBUG);
    assert_int_equal(shd_log_level_get("akv"), SHD_LOG_LEVEL_WARNING);
    SHD_LOG_INFO("akv", "no");
    SHD_LOG_TRACE("maa", "no");
    SHD_LOG_DEBUG("maa", "yes-debug");
    SHD_LOG_ERROR("akv", "yes-error");
    const char *out = captured();
    assert_int_equal(count_char(out, '\n'), 2);
    assert_non_null(strstr(out, "level=debug module=maa"));
    assert_non_null(strstr(out, "level=error module=akv"));
    assert_null(strstr(out, "\"no\""));

    /* Items apply left to right: "all" overrides modules named before it. */
    EXPECT_OK(shd_log_levels_set("maa+trace,all+error"));
    assert_int_equal(shd_log_level_get("maa"), SHD_LOG_LEVEL_ERROR);
    /* Case-insensitive, spaces around items tolerated, later duplicates win. */
    EXPECT_OK(shd_log_levels_set(" ALL+Info , maa+warn,maa+trace"));
    assert_int_equal(shd_log_level_get("other"), SHD_LOG_LEVEL_INFO);
    assert_int_equal(shd_log_level_get("maa"), SHD_LOG_LEVEL_TRACE);
    EXPECT_OK(shd_log_levels_set("all+none"));
    assert_false(shd_log_enabled(SHD_LOG_LEVEL_FATAL, "maa"));
    SHD_LOG_FATAL("maa", "silent");
    assert_string_equal(captured(), "");
    EXPECT_OK(shd_log_levels_set(""));
    assert_int_equal(shd_log_level_get("maa"), SHD_LOG_DEFAULT_LEVEL);
    shd_log_level_set_all(SHD_LOG_LEVEL_TRACE);
    assert_int_equal(shd_log_level_get("x"), SHD_LOG_LEVEL_TRACE);
    assert_false(shd_log_enabled(SHD_LOG_LEVEL_NONE, "x"));
    assert_false(shd_log_enabled((enum shd_log_level)7, "x"));
}

static void expect_bad_spec(const char *spec, const char *needle)
{
    char msg[512];
    EXPECT_ERR(shd_log_levels_set(spec), SHD_ERR_CONFIG);
    (void)shd_error_render(msg, sizeof(msg));
    if (strstr(msg, needle) == NULL) {
        fail_msg("spec '%s': message '%s' lacks '%s'", spec, msg, needle);
    }
}

static void test_bad_specs(void **state)
{
    (void)state;
    EXPECT_OK(shd_log_levels_set("all+error,maa+debug"));
    expect_bad_spec("all", "item 1: expected <module>+<level>");
    expect_bad_spec("all+", "item 1 (module all): unknown level");
    expect_bad_spec("+info", "item 1: module name must be 1 to 31 characters");
    expect_bad_spec("maa+verbose", "item 1 (module maa): unknown level");
    expect_bad_spec("all+info,,maa+debug", "item 2 is empty");
    expect_bad_spec("all+info,", "item 2 is empty");
    expect_bad_spec("all+info,m\na+debug", "item 2: module name may hold only");
    expect_bad_spec("all+info,m.a+debug", "item 2: module name may hold only");
    expect_bad_spec("all+info+debug", "item 1 (module all): unknown level");
    expect_bad_spec("abcdefghijabcdefghijabcdefghijab+info", "1 to 31 characters");
    char many[1024];
    size_t off = 0;
    for (int i = 0; i <= SHD_LOG_SPEC_MAX_MODULES; i++) {
        off += (size_t)snprintf(many + off, sizeof(many) - off, "%sm%d+info", i ? "," : "", i);
    }
    expect_bad_spec(many, "more than 32 modules");
    EXPECT_ERR(shd_log_levels_set(NULL), SHD_ERR_NULL);
    /* A rejected spec leaves the previous table in force. */
    assert_int_equal(shd_log_level_get("maa"), SHD_LOG_LEVEL_DEBUG);
    assert_int_equal(shd_log_level_get("akv"), SHD_LOG_LEVEL_ERROR);
}

static void test_level_names(void **state)
{
    (void)state;
    enum shd_log_level l = SHD_LOG_LEVEL_NONE;
    EXPECT_OK(shd_log_level_parse("warn", &l));
    assert_int_equal(l, SHD_LOG_LEVEL_WARNING);
    EXPECT_OK(shd_log_level_parse("PANIC", &l));
    assert_int_equal(l, SHD_LOG_LEVEL_FATAL);
    EXPECT_OK(shd_log_level_parse("trace", &l));
    assert_int_equal(l, SHD_LOG_LEVEL_TRACE);
    EXPECT_ERR(shd_log_level_parse("tracer", &l), SHD_ERR_CONFIG);
    EXPECT_ERR(shd_log_level_parse("", &l), SHD_ERR_CONFIG);
    EXPECT_ERR(shd_log_level_parse("informationalxxx", &l), SHD_ERR_CONFIG);
    EXPECT_ERR(shd_log_level_parse(NULL, &l), SHD_ERR_NULL);
    assert_int_equal(l, SHD_LOG_LEVEL_TRACE);
    assert_string_equal(shd_log_level_name(SHD_LOG_LEVEL_WARNING), "warning");
    assert_string_equal(shd_log_level_name((enum shd_log_level)9), "unknown");
}

static void test_file_sink(void **state)
{
    (void)state;
    char dir[] = "/tmp/shd_log_test_XXXXXX";
    char path[128];
    char other[128];
    struct stat st;

    assert_non_null(mkdtemp(dir));
    (void)snprintf(path, sizeof(path), "%s/new.log", dir);
    mode_t old_umask = umask(0);
    EXPECT_OK(shd_log_sink_file(path));
    umask(old_umask);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    SHD_LOG_ERROR("m", "to file");
    /* O_APPEND: a second open appends instead of truncating. */
    EXPECT_OK(shd_log_sink_file(path));
    SHD_LOG_ERROR("m", "again");
    shd_log_sink_stderr();
    size_t n = 0;
    char *text = (char *)shd_test_read_file(path, &n);
    assert_int_equal(count_char(text, '\n'), 2);
    assert_non_null(strstr(text, "msg=\"to file\""));
    assert_non_null(strstr(text, "msg=\"again\""));
    shd_free(text);

    /* An existing file readable by others is tightened; writable by others is refused. */
    (void)snprintf(other, sizeof(other), "%s/old.log", dir);
    int fd = open(other, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 0644), 0);
    EXPECT_OK(shd_log_sink_file(other));
    assert_int_equal(stat(other, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(fchmod(fd, 0622), 0);
    EXPECT_ERR(shd_log_sink_file(other), SHD_ERR_PERMISSION);
    (void)close(fd);
    /* Symbolic links and directories are refused. */
    char link[160];
    (void)snprintf(link, sizeof(link), "%s/link.log", dir);
    assert_int_equal(symlink(path, link), 0);
    EXPECT_ERR(shd_log_sink_file(link), SHD_ERR_IO);
    EXPECT_ERR(shd_log_sink_file(dir), SHD_ERR_IO);
    EXPECT_ERR(shd_log_sink_file("/nonexistent-dir/x.log"), SHD_ERR_IO);
    EXPECT_ERR(shd_log_sink_file(NULL), SHD_ERR_NULL);
    shd_log_sink_stderr();
    assert_int_equal(unlink(link), 0);
    assert_int_equal(unlink(other), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_header_redaction(void **state)
{
    (void)state;
    const char *v = "Bearer eyJhbGciOi";
    assert_string_equal(shd_log_header_redact("Authorization", v), "<redacted>");
    assert_string_equal(shd_log_header_redact("authorization", v), "<redacted>");
    assert_string_equal(shd_log_header_redact("PROXY-AUTHORIZATION", v), "<redacted>");
    assert_string_equal(shd_log_header_redact("Cookie", v), "<redacted>");
    assert_string_equal(shd_log_header_redact("Set-Cookie", v), "<redacted>");
    assert_string_equal(shd_log_header_redact("X-Auth-Token", v), "<redacted>");
    assert_string_equal(shd_log_header_redact("x-goog-api-key", v), "<redacted>");
    assert_string_equal(shd_log_header_redact("Client-Secret", v), "<redacted>");
    assert_string_equal(shd_log_header_redact(NULL, v), "<redacted>");
    assert_string_equal(shd_log_header_redact("Content-Type", "application/json"),
                        "application/json");
    assert_string_equal(shd_log_header_redact("Authorization-Hint", "x"), "x");
    assert_string_equal(shd_log_header_redact("Content-Type", NULL), "<null>");
}

static void test_token_fingerprint(void **state)
{
    (void)state;
    char a[SHD_LOG_FINGERPRINT_LEN];
    char b[SHD_LOG_FINGERPRINT_LEN];
    const char *tok = "secret-token";

    shd_log_token_fingerprint(tok, strlen(tok), a);
    assert_string_equal(a, "sha256:930bbdc5"); /* first 4 bytes of SHA-256("secret-token") */
    shd_log_token_fingerprint(tok, strlen(tok), b);
    assert_string_equal(a, b);
    assert_null(strstr(a, "secret"));
    shd_log_token_fingerprint("secret-tokeN", 12, b);
    assert_string_not_equal(a, b);
    shd_log_token_fingerprint(NULL, 0, b);
    assert_string_equal(b, "sha256:e3b0c442");
}

static void test_hexdump(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0x00, 0x7f, 0xff, 0x10};
    EXPECT_OK(SHD_LOG_HEXDUMP(SHD_LOG_LEVEL_ERROR, "m", "report", bytes, sizeof(bytes)));
    assert_non_null(strstr(captured(), " msg=\"report\" len=4 hex=007fff10\n"));

    uint8_t big[300];
    memset(big, 0xab, sizeof(big));
    EXPECT_OK(SHD_LOG_HEXDUMP(SHD_LOG_LEVEL_ERROR, "m", "big", big, sizeof(big)));
    const char *out = captured();
    assert_non_null(strstr(out, " len=300 hex=abab"));
    assert_non_null(strstr(out, " hex_cut=true\n"));
    assert_int_equal(strlen(strstr(out, "hex=")), 4 + 2 * SHD_LOG_HEXDUMP_MAX + 14);
    EXPECT_ERR(SHD_LOG_HEXDUMP(SHD_LOG_LEVEL_ERROR, "m", "x", (const uint8_t *)NULL, 3),
               SHD_ERR_NULL);
    /* Filtered out: nothing written, still OK. */
    EXPECT_OK(SHD_LOG_HEXDUMP(SHD_LOG_LEVEL_TRACE, "m", "quiet", bytes, sizeof(bytes)));
    assert_string_equal(captured(), "");
}

static void test_hexdump_refuses_secret(void **state)
{
    (void)state;
    const uint8_t key[] = {0xde, 0xad, 0xbe, 0xef};
    struct shd_secret *s = NULL;
    EXPECT_OK(shd_secret_from(key, sizeof(key), &s));
    EXPECT_ERR(SHD_LOG_HEXDUMP(SHD_LOG_LEVEL_ERROR, "m", "kek", s, shd_secret_len(s)),
               SHD_ERR_USAGE);
    const char *out = captured();
    assert_non_null(strstr(out, " msg=\"<secret redacted>\" label=kek\n"));
    assert_null(strstr(out, "deadbeef"));
    const struct shd_secret *cs = s;
    EXPECT_ERR(SHD_LOG_HEXDUMP(SHD_LOG_LEVEL_TRACE, "m", "kek", cs, 4), SHD_ERR_USAGE);
    shd_secret_free(&s);
}

/* One call site, hence one bucket: at most 3 lines per second. */
static void peer_caused(const char *what, int i)
{
    SHD_LOG_RATELIMITED(SHD_LOG_LEVEL_WARNING, "proxy", 1000, 3, "%s %d", what, i);
}

static void test_ratelimit(void **state)
{
    (void)state;
    for (int i = 0; i < 10; i++) {
        peer_caused("bad request", i);
    }
    const char *out = captured();
    assert_int_equal(count_char(out, '\n'), 3);
    assert_non_null(strstr(out, "\"bad request 2\"\n"));
    assert_null(strstr(out, "suppressed"));

    test_mono_ns += 1000000000u; /* a full interval: the bucket is full again */
    for (int i = 0; i < 4; i++) {
        peer_caused("again", i);
    }
    out = captured();
    assert_int_equal(count_char(out, '\n'), 3);
    assert_non_null(strstr(out, "msg=\"again 0\" suppressed=7\n"));
    assert_non_null(strstr(out, "msg=\"again 1\"\n"));
    assert_null(strstr(out, "again 3"));

    /* Refill is proportional and keeps fractions: 333 ms of 3/s is 0.999 of a token. */
    struct shd_log_ratelimit rl = SHD_LOG_RATELIMIT_INIT(1000, 3);
    uint64_t sup = 99;
    for (int i = 0; i < 3; i++) {
        assert_true(shd_log_ratelimit_take(&rl, &sup));
    }
    assert_int_equal(sup, 0);
    assert_false(shd_log_ratelimit_take(&rl, &sup));
    test_mono_ns += 333000000u;
    assert_false(shd_log_ratelimit_take(&rl, &sup));
    /* A flood 1 us apart still refills (the clock is not reset while refills round to 0):
     * 1 ms more at 3/s gives the 1 missing milli-token, so exactly one call is admitted. */
    int admitted = 0;
    uint64_t sup_admitted = 0;
    for (int i = 0; i < 1000; i++) {
        test_mono_ns += 1000u;
        if (shd_log_ratelimit_take(&rl, &sup)) {
            admitted++;
            sup_admitted = sup;
        }
    }
    assert_int_equal(admitted, 1);
    assert_true(sup_admitted >= 2);
}

static void test_log_result(void **state)
{
    (void)state;
    char want[512];
    shd_result r = shd_error_setf(SHD_ERR_BAD_SIGNATURE, "/abs/path/jwt.c", 10, "root cause");
    shd_error_wrap("middle");
    shd_error_set_foreign(SHD_FOREIGN_OPENSSL, 0x1234);
    int line = __LINE__ + 1;
    shd_result back = SHD_LOG_ERR("akv", r, "release '%s'", "k1");
    assert_int_equal(back.err, SHD_ERR_BAD_SIGNATURE);
    (void)snprintf(want, sizeof(want),
                   "ts=2026-11-26T23:59:59.123Z level=error module=akv func=test_log_result "
                   "src=log_test.c:%d msg=\"release 'k1'\" err=\"middle: root cause\" "
                   "code=\"signature verification failed\" category=CRYPTO errsrc=jwt.c:10 "
                   "foreign=openssl:0x1234\n",
                   line);
    assert_string_equal(captured(), want);
    assert_int_equal(shd_error_code(), SHD_ERR_BAD_SIGNATURE); /* state kept */

    /* A result whose code the thread state no longer holds: no stale chain. */
    shd_result other = {.err = SHD_ERR_TIMEOUT};
    back = SHD_LOG_RESULT(SHD_LOG_LEVEL_WARNING, "akv", other, "poll");
    assert_int_equal(back.err, SHD_ERR_TIMEOUT);
    const char *out = captured();
    assert_non_null(strstr(out, " msg=\"poll\" err=\"timed out\" code=\"timed out\" "
                                "category=RETRY\n"));
    /* Filtered out: nothing written, r still returned. */
    EXPECT_OK(shd_log_levels_set("all+error"));
    back = SHD_LOG_RESULT(SHD_LOG_LEVEL_INFO, "akv", r, "quiet");
    assert_int_equal(back.err, SHD_ERR_BAD_SIGNATURE);
    assert_string_equal(captured(), "");
    back = SHD_LOG_ERR("akv", SHD_OK, "fine");
    assert_int_equal(back.err, 0);
    assert_non_null(strstr(captured(), " msg=\"fine\"\n"));
}

/* The ceiling is a constant in each translation unit; here it is lowered for one function. */
static int side_effects;
static int bump(void)
{
    return ++side_effects;
}

#undef SHD_LOG_MAX_LEVEL
#define SHD_LOG_MAX_LEVEL SHD_LOG_LEVEL_INFO
static void test_compile_time_ceiling(void **state)
{
    (void)state;
    shd_log_level_set_all(SHD_LOG_LEVEL_TRACE);
    SHD_LOG_DEBUG("m", "gone %d", bump());
    SHD_LOG_TRACE("m", "gone %d", bump());
    SHD_LOG_INFO("m", "kept %d", bump());
    assert_int_equal(side_effects, 1);
    assert_int_equal(count_char(captured(), '\n'), 1);
}
#undef SHD_LOG_MAX_LEVEL
#define SHD_LOG_MAX_LEVEL SHD_LOG_LEVEL_TRACE

static void test_errno_preserved(void **state)
{
    (void)state;
    errno = ENOSPC;
    SHD_LOG_ERROR("m", "x");
    assert_int_equal(errno, ENOSPC);
    (void)captured();
}

#define THREADS 4
#define LINES_PER_THREAD 200

static void *writer(void *arg)
{
    long id = (long)(intptr_t)arg;
    for (int i = 0; i < LINES_PER_THREAD; i++) {
        SHD_LOG_KV(SHD_LOG_LEVEL_ERROR, "mt", "line", SHD_LOG_INT("thread", id),
                   SHD_LOG_INT("i", i), SHD_LOG_STR("pad", "0123456789abcdef0123456789"));
    }
    return NULL;
}

static void test_concurrent_lines_do_not_interleave(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    char dir[] = "/tmp/shd_log_mt_XXXXXX";
    char path[64];
    assert_non_null(mkdtemp(dir));
    (void)snprintf(path, sizeof(path), "%s/mt.log", dir);
    /* The production case: an O_APPEND file shared by threads, one write(2) per line. */
    EXPECT_OK(shd_log_sink_file(path));
    for (long i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    shd_log_sink_stderr();
    size_t len = 0;
    char *out = (char *)shd_test_read_file(path, &len);
    size_t lines = 0;
    for (const char *p = out; *p != '\0'; lines++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_memory_equal(p, "ts=", 3);
        assert_memory_equal(nl - 31, " pad=0123456789abcdef0123456789", 31);
        p = nl + 1;
    }
    assert_int_equal(lines, THREADS * LINES_PER_THREAD);
    shd_free(out);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_keeps_line_well_formed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels_per_module, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_specs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_sink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_redaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hexdump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hexdump_refuses_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelimit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compile_time_ceiling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errno_preserved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_lines_do_not_interleave, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
