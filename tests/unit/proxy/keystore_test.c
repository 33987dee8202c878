/*
 * keystore_test.c - the keystore with its key in a forked key process (the default) and in this
 * process (--key-process=off): the ephemeral source, readiness, bounded retries with backoff
 * through the wait hook, abandoning start-up, bad material from a source, parallel unwraps from
 * two threads. For the key process: the source runs in another process that is non-dumpable and
 * has no_new_privs, this process never holds the key, a failure to obtain comes back with its
 * cause, and a killed key process makes every call fail at once.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "envelope.h"
#include "keystore.h"
#include "shd/crypto.h"
#include "shd/crypto_rsa.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd_test.h"

static unsigned g_fail_first;
static unsigned g_obtain_calls;
static unsigned g_waits;
static uint32_t g_wait_total;

static shd_result flaky_obtain(void *state, struct proxy_key_material *ret)
{
    (void)state;
    if (g_obtain_calls++ < g_fail_first) {
        SHD_BAIL_MSG(SHD_ERR_CONNECT, "key service not up yet");
    }
    EVP_PKEY *k = NULL;
    SHD_GUARD(shd_crypto_rsa_generate(2048, &k));
    *ret = (struct proxy_key_material){.private_key = k};
    return SHD_OK;
}

static shd_result public_only_obtain(void *state, struct proxy_key_material *ret)
{
    (void)state;
    EVP_PKEY *k = NULL;
    SHD_GUARD(shd_crypto_rsa_generate(2048, &k));
    /* A private key handed over as the public one, and no decryptor: refused. */
    *ret = (struct proxy_key_material){.public_key = k};
    return SHD_OK;
}

static bool count_wait(void *ctx, uint32_t ms)
{
    (void)ctx;
    g_waits++;
    g_wait_total += ms;
    return false;
}

static bool abandon_wait(void *ctx, uint32_t ms)
{
    (void)ctx;
    (void)ms;
    return true;
}

static const struct proxy_key_source FLAKY = {
    .name = "flaky", .summary = "test", .retryable = true, .obtain = flaky_obtain};
static const struct proxy_key_source PUBLIC_ONLY = {
    .name = "public-only", .summary = "test", .retryable = false, .obtain = public_only_obtain};

static void test_table(void **state)
{
    (void)state;
    assert_non_null(proxy_key_source_find("ephemeral"));
    assert_null(proxy_key_source_find("Ephemeral"));
    assert_null(proxy_key_source_find(NULL));
    assert_non_null(proxy_key_source_at(0));
}

static void ephemeral_run(bool in_process)
{
    const struct proxy_keystore_options o = {.source = proxy_key_source_find("ephemeral"),
                                             .in_process = in_process};
    struct proxy_keystore *ks = NULL;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    assert_false(proxy_keystore_ready(ks));
    const char *pem = NULL;
    EXPECT_ERR(proxy_keystore_public_pem(ks, &pem, NULL), SHD_ERR_UNAVAILABLE);
    uint8_t out[64];
    size_t n = 0;
    uint8_t ct[512] = {0};
    EXPECT_ERR(proxy_keystore_unwrap(ks, ct, sizeof(ct), out, sizeof(out), &n),
               SHD_ERR_UNAVAILABLE);
    EXPECT_OK(proxy_keystore_obtain(ks));
    assert_true(proxy_keystore_ready(ks));
    assert_int_equal(proxy_keystore_holds_key(ks), in_process);
    size_t len = 0;
    EXPECT_OK(proxy_keystore_public_pem(ks, &pem, &len));
    assert_true(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
    assert_int_equal(pem[len - 1], '\n');
    EVP_PKEY *pub = NULL;
    EXPECT_OK(proxy_envelope_recipient_load(pem, len, &pub));
    assert_int_equal(EVP_PKEY_get_bits(pub), 4096);
    /* A value wrapped to the public key comes back; a wrong ciphertext does not. */
    uint8_t *w = NULL;
    size_t w_len = 0;
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, (const uint8_t *)"k32", 3, pub,
                                          &w, &w_len));
    EXPECT_OK(proxy_keystore_unwrap(ks, w, w_len, out, sizeof(out), &n));
    assert_int_equal(n, 3);
    assert_memory_equal(out, "k32", 3);
    w[10] ^= 1;
    EXPECT_ERR(proxy_keystore_unwrap(ks, w, w_len, out, sizeof(out), &n), SHD_ERR_DECRYPT);
    shd_free(w);
    EVP_PKEY_free(pub);
    assert_string_equal(proxy_keystore_source_name(ks), "ephemeral");
    EXPECT_OK(proxy_keystore_close(ks));
    proxy_keystore_free(ks);
    proxy_keystore_free(NULL);
}

static void test_ephemeral(void **state)
{
    (void)state;
    ephemeral_run(false);
    ephemeral_run(true);
}

static void test_retries(void **state)
{
    (void)state;
    g_fail_first = 2;
    g_obtain_calls = 0;
    g_waits = 0;
    g_wait_total = 0;
    /* The holder's retry logic, observed in this process. */
    const struct proxy_keystore_options o = {.source = &FLAKY, .max_attempts = 3,
                                             .retry_base_ms = 100, .retry_max_ms = 150,
                                             .wait = count_wait, .in_process = true};
    struct proxy_keystore *ks = NULL;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    EXPECT_OK(proxy_keystore_obtain(ks));
    assert_int_equal(g_obtain_calls, 3);
    assert_int_equal(g_waits, 2);
    assert_true(g_wait_total <= 100 + 150);
    proxy_keystore_free(ks);

    g_fail_first = 10;
    g_obtain_calls = 0;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    EXPECT_ERR(proxy_keystore_obtain(ks), SHD_ERR_RETRY_EXHAUSTED);
    assert_int_equal(g_obtain_calls, 3);
    assert_false(proxy_keystore_ready(ks));
    proxy_keystore_free(ks);

    const struct proxy_keystore_options a = {.source = &FLAKY, .max_attempts = 5,
                                             .wait = abandon_wait, .in_process = true};
    g_obtain_calls = 0;
    EXPECT_OK(proxy_keystore_create(&a, &ks));
    EXPECT_ERR(proxy_keystore_obtain(ks), SHD_ERR_UNAVAILABLE);
    assert_int_equal(g_obtain_calls, 1);
    proxy_keystore_free(ks);
}

static void test_bad_material(void **state)
{
    (void)state;
    for (int in_process = 0; in_process < 2; in_process++) {
        const struct proxy_keystore_options o = {.source = &PUBLIC_ONLY,
                                                 .in_process = in_process != 0};
        struct proxy_keystore *ks = NULL;
        EXPECT_OK(proxy_keystore_create(&o, &ks));
        EXPECT_ERR(proxy_keystore_obtain(ks), SHD_ERR_INTERNAL);
        assert_false(proxy_keystore_ready(ks));
        EXPECT_OK(proxy_keystore_close(ks));
        proxy_keystore_free(ks);
    }
    struct proxy_keystore *ks = NULL;
    const struct proxy_keystore_options bad_heap = {.source = &PUBLIC_ONLY,
                                                    .secure_heap_bytes = 3000};
    EXPECT_ERR(proxy_keystore_create(&bad_heap, &ks), SHD_ERR_CONFIG);
}

/* Two threads unwrap at once: nothing serialises private-key operations. */
struct worker {
    struct proxy_keystore *ks;
    const uint8_t *w;
    size_t w_len;
    atomic_uint *ok;
};

static void *unwrap_loop(void *arg)
{
    struct worker *wk = arg;
    for (int i = 0; i < 20; i++) {
        uint8_t out[64];
        size_t n = 0;
        if (shd_is_ok(proxy_keystore_unwrap(wk->ks, wk->w, wk->w_len, out, sizeof(out), &n)) &&
            n == 5 && shd_memcmp(out, "hello", 5) == 0) {
            atomic_fetch_add(wk->ok, 1u);
        }
    }
    return NULL;
}

static void parallel_run(bool in_process)
{
    g_fail_first = 0;
    g_obtain_calls = 0;
    const struct proxy_keystore_options o = {.source = &FLAKY, .in_process = in_process};
    struct proxy_keystore *ks = NULL;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    EXPECT_OK(proxy_keystore_obtain(ks));
    const char *pem = NULL;
    size_t len = 0;
    EXPECT_OK(proxy_keystore_public_pem(ks, &pem, &len));
    EVP_PKEY *pub = NULL;
    EXPECT_OK(proxy_envelope_recipient_load(pem, len, &pub));
    uint8_t *w = NULL;
    size_t w_len = 0;
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, (const uint8_t *)"hello", 5,
                                          pub, &w, &w_len));
    atomic_uint ok = 0;
    struct worker wk = {.ks = ks, .w = w, .w_len = w_len, .ok = &ok};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, unwrap_loop, &wk), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    assert_int_equal(atomic_load(&ok), 40);
    shd_free(w);
    EVP_PKEY_free(pub);
    proxy_keystore_free(ks);
}

static void test_parallel_unwrap(void **state)
{
    (void)state;
    parallel_run(false);
    parallel_run(true);
}

/* ---- the key process ---- */

/* What the source saw where it ran: a shared page, since it runs in the key process. */
struct probe {
    pid_t pid;
    int dumpable;
    int no_new_privs;
    unsigned calls;
};

static struct probe *g_probe;
static unsigned g_local_calls; /* this process's copy: stays 0 when the source runs elsewhere */

static shd_result probe_obtain(void *state, struct proxy_key_material *ret)
{
    (void)state;
    g_local_calls++;
    g_probe->pid = getpid();
    g_probe->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    g_probe->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    g_probe->calls++;
    EVP_PKEY *k = NULL;
    SHD_GUARD(shd_crypto_rsa_generate(2048, &k));
    *ret = (struct proxy_key_material){.private_key = k};
    return SHD_OK;
}

static const struct proxy_key_source PROBE = {
    .name = "probe", .summary = "test", .obtain = probe_obtain};

static int probe_setup(void **state)
{
    (void)state;
    void *p = mmap(NULL, sizeof(struct probe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) {
        return -1;
    }
    g_probe = p;
    return 0;
}

static int probe_teardown(void **state)
{
    (void)state;
    return munmap(g_probe, sizeof(struct probe));
}

/* A fresh key process with the probe source, ready. */
static struct proxy_keystore *probe_keystore(void)
{
    *g_probe = (struct probe){.dumpable = -1, .no_new_privs = -1};
    g_local_calls = 0;
    const struct proxy_keystore_options o = {.source = &PROBE};
    struct proxy_keystore *ks = NULL;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    EXPECT_OK(proxy_keystore_obtain(ks));
    return ks;
}

static void wrap_to(const struct proxy_keystore *ks, const char *text, uint8_t **ret,
                    size_t *ret_len)
{
    const char *pem = NULL;
    size_t len = 0;
    EXPECT_OK(proxy_keystore_public_pem(ks, &pem, &len));
    EVP_PKEY *pub = NULL;
    EXPECT_OK(proxy_envelope_recipient_load(pem, len, &pub));
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, (const uint8_t *)text,
                                          strlen(text), pub, ret, ret_len));
    EVP_PKEY_free(pub);
}

static void test_key_in_another_process(void **state)
{
    (void)state;
    struct proxy_keystore *ks = probe_keystore();
    /* The source ran once, in another process, which is non-dumpable with no_new_privs. */
    assert_int_equal(g_probe->calls, 1);
    assert_int_equal(g_local_calls, 0);
    assert_true(g_probe->pid > 0);
    assert_int_not_equal(g_probe->pid, getpid());
    assert_int_equal(proxy_keystore_key_pid(ks), g_probe->pid);
    assert_int_equal(g_probe->dumpable, 0);
    assert_int_equal(g_probe->no_new_privs, 1);
    /* This process holds no key, yet a real OAEP ciphertext to its public key is unwrapped. */
    assert_false(proxy_keystore_holds_key(ks));
    uint8_t *w = NULL;
    size_t w_len = 0;
    wrap_to(ks, "a 32-byte AES key, give or take", &w, &w_len);
    uint8_t out[64];
    size_t n = 0;
    EXPECT_OK(proxy_keystore_unwrap(ks, w, w_len, out, sizeof(out), &n));
    assert_int_equal(n, 31);
    assert_memory_equal(out, "a 32-byte AES key, give or take", 31);
    /* Sizes refused here, before the key process: empty, longer than the modulus. */
    memset(out, 0x5a, sizeof(out));
    EXPECT_ERR(proxy_keystore_unwrap(ks, w, 0, out, sizeof(out), &n), SHD_ERR_DECRYPT);
    uint8_t big[257] = {0};
    EXPECT_ERR(proxy_keystore_unwrap(ks, big, sizeof(big), out, sizeof(out), &n),
               SHD_ERR_DECRYPT);
    for (size_t i = 0; i < sizeof(out); i++) {
        assert_int_equal(out[i], 0);
    }
    /* A plaintext longer than the caller's buffer: the same opaque failure. */
    EXPECT_ERR(proxy_keystore_unwrap(ks, w, w_len, out, 8, &n), SHD_ERR_DECRYPT);
    /* Still usable afterwards, and a clean exit. */
    EXPECT_OK(proxy_keystore_unwrap(ks, w, w_len, out, sizeof(out), &n));
    shd_free(w);
    EXPECT_OK(proxy_keystore_close(ks));
    EXPECT_OK(proxy_keystore_close(ks));
    EXPECT_ERR(proxy_keystore_unwrap(ks, w, w_len, out, sizeof(out), &n), SHD_ERR_UNAVAILABLE);
    proxy_keystore_free(ks);

    /* In this process (debugging): it holds the key, and there is no key process. */
    const struct proxy_keystore_options o = {.source = &PROBE, .in_process = true};
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    assert_int_equal(proxy_keystore_key_pid(ks), 0);
    assert_false(proxy_keystore_holds_key(ks));
    EXPECT_OK(proxy_keystore_obtain(ks));
    assert_true(proxy_keystore_holds_key(ks));
    assert_int_equal(g_local_calls, 1);
    proxy_keystore_free(ks);
}

static void test_killed_key_process(void **state)
{
    (void)state;
    struct proxy_keystore *ks = probe_keystore();
    uint8_t *w = NULL;
    size_t w_len = 0;
    wrap_to(ks, "k", &w, &w_len);
    uint8_t out[64];
    size_t n = 0;
    EXPECT_OK(proxy_keystore_unwrap(ks, w, w_len, out, sizeof(out), &n));
    assert_int_equal(kill(proxy_keystore_key_pid(ks), SIGKILL), 0);
    /* The first call finds it gone; then everything fails at once, without waiting. */
    EXPECT_ERR(proxy_keystore_unwrap(ks, w, w_len, out, sizeof(out), &n), SHD_ERR_UNAVAILABLE);
    assert_false(proxy_keystore_ready(ks));
    for (int i = 0; i < 3; i++) {
        EXPECT_ERR(proxy_keystore_unwrap(ks, w, w_len, out, sizeof(out), &n),
                   SHD_ERR_UNAVAILABLE);
    }
    const char *pem = NULL;
    EXPECT_ERR(proxy_keystore_public_pem(ks, &pem, NULL), SHD_ERR_UNAVAILABLE);
    /* It did not exit cleanly: close says so, every time. */
    EXPECT_ERR(proxy_keystore_close(ks), SHD_ERR_INTERNAL);
    EXPECT_ERR(proxy_keystore_close(ks), SHD_ERR_INTERNAL);
    shd_free(w);
    proxy_keystore_free(ks);
}

/* A source that takes a while, then fails for good. */
static shd_result slow_fail_obtain(void *state, struct proxy_key_material *ret)
{
    const struct timespec ts = {.tv_nsec = 300 * 1000 * 1000};
    (void)state;
    (void)ret;
    (void)nanosleep(&ts, NULL);
    SHD_BAIL_MSG(SHD_ERR_PERMISSION, "key service (test) answered 403: not for you");
}

static const struct proxy_key_source SLOW_FAIL = {
    .name = "slow-fail", .summary = "test", .obtain = slow_fail_obtain};

static void test_key_process_failure(void **state)
{
    (void)state;
    /* The cause comes back through READY, code and chain. */
    const struct proxy_keystore_options o = {.source = &SLOW_FAIL};
    struct proxy_keystore *ks = NULL;
    EXPECT_OK(proxy_keystore_create(&o, &ks));
    EXPECT_ERR(proxy_keystore_obtain(ks), SHD_ERR_PERMISSION);
    char chain[SHD_ERROR_FRAME_LEN * 2];
    (void)shd_error_render(chain, sizeof(chain));
    assert_string_equal(chain, "key process: key source slow-fail: key service (test) answered "
                               "403: not for you");
    assert_false(proxy_keystore_ready(ks));
    EXPECT_OK(proxy_keystore_close(ks));
    proxy_keystore_free(ks);

    /* Abandoned while the key process still works on it: it exits cleanly all the same. */
    const struct proxy_keystore_options a = {.source = &SLOW_FAIL, .wait = abandon_wait};
    EXPECT_OK(proxy_keystore_create(&a, &ks));
    EXPECT_ERR(proxy_keystore_obtain(ks), SHD_ERR_UNAVAILABLE);
    EXPECT_OK(proxy_keystore_close(ks));
    proxy_keystore_free(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),       cmocka_unit_test(test_ephemeral),
        cmocka_unit_test(test_retries),     cmocka_unit_test(test_bad_material),
        cmocka_unit_test(test_parallel_unwrap),
        cmocka_unit_test_setup_teardown(test_key_in_another_process, probe_setup, probe_teardown),
        cmocka_unit_test_setup_teardown(test_killed_key_process, probe_setup, probe_teardown),
        cmocka_unit_test(test_key_process_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
