/*
 * snpsim.c - the SEV-SNP report simulator (see snpsim.h for the state layout).
 *
 * The report is built as a struct and serialized by shared/snp_report.c, so the simulator and
 * our parser agree on the layout by construction; the real-hardware vectors in the parser's
 * tests pin that layout to silicon.
 */
#include "snpsim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_ecdsa.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/snp_report.h"

#define SNPSIM_MAX_FILE (64u * 1024u) /* chip.json and PEM files are a few KiB */

struct snpsim {
    EVP_PKEY *vcek;
    enum shd_snp_product product;
    struct shd_snp_report tmpl; /* every field except version, report_data, cpuid, signature */
};

SHD_DEFINE_CLEANUP(EVP_PKEY, EVP_PKEY_free, snpsim_pkey_freep)
SHD_DEFINE_CLEANUP(BIO, BIO_free, snpsim_bio_freep)
SHD_DEFINE_CLEANUP(X509, X509_free, snpsim_x509_freep)
SHD_DEFINE_CLEANUP(json_t, json_decref, snpsim_json_freep)

struct snpsim_file {
    uint8_t *data;
    size_t len;
};

static void snpsim_file_wipe(struct snpsim_file *f)
{
    shd_free_wipe(f->data, f->len);
    f->data = NULL;
    f->len = 0;
}

/* Reads dir/name (at most SNPSIM_MAX_FILE bytes). With secret, refuses group/world access. */
static shd_result snpsim_read(const char *dir, const char *name, bool secret,
                              struct snpsim_file *ret)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    SHD_ENSURE_MSG(n > 0 && (size_t)n < sizeof(path), SHD_ERR_CONFIG, "path too long: %s", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        shd_result r = shd_error_set_errno(e == ENOENT ? SHD_ERR_NOT_FOUND : SHD_ERR_IO, e,
                                           __FILE__, __LINE__);
        shd_error_wrap("open %s", path);
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (uint64_t)st.st_size > SNPSIM_MAX_FILE) {
        close(fd);
        SHD_BAIL_MSG(SHD_ERR_IO, "%s: not a regular file of at most %u bytes", path,
                     SNPSIM_MAX_FILE);
    }
    if (secret && (st.st_mode & 077) != 0) {
        close(fd);
        SHD_BAIL_MSG(SHD_ERR_PERMISSION, "%s: private key readable by group or others", path);
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = shd_alloc(len + 1);
    if (buf == NULL) {
        close(fd);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    size_t got = 0;
    while (got < len) {
        ssize_t k = read(fd, buf + got, len - got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            int e = errno;
            close(fd);
            shd_free_wipe(buf, len + 1);
            return shd_error_set_errno(SHD_ERR_IO, k == 0 ? EIO : e, __FILE__, __LINE__);
        }
        got += (size_t)k;
    }
    close(fd);
    ret->data = buf;
    ret->len = len;
    return SHD_OK;
}

static int snpsim_hex_nibble(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes exactly n bytes of hex from the string member key of obj. */
static shd_result snpsim_json_hex(const json_t *obj, const char *key, uint8_t *out, size_t n)
{
    const char *s = json_string_value(json_object_get(obj, key));
    SHD_ENSURE_MSG(s != NULL && strlen(s) == 2 * n, SHD_ERR_CONFIG,
                   "chip.json: \"%s\" must be %zu hex digits", key, 2 * n);
    for (size_t i = 0; i < n; i++) {
        int hi = snpsim_hex_nibble(s[2 * i]);
        int lo = snpsim_hex_nibble(s[2 * i + 1]);
        SHD_ENSURE_MSG(hi >= 0 && lo >= 0, SHD_ERR_CONFIG, "chip.json: \"%s\" is not hex", key);
        out[i] = (uint8_t)((hi << 4) | lo);
    }
    return SHD_OK;
}

/* Reads a non-negative integer member no larger than max. */
static shd_result snpsim_json_uint(const json_t *obj, const char *key, uint64_t max, uint64_t *ret)
{
    const json_t *v = json_object_get(obj, key);
    SHD_ENSURE_MSG(json_is_integer(v) && json_integer_value(v) >= 0 &&
                       (uint64_t)json_integer_value(v) <= max,
                   SHD_ERR_CONFIG, "chip.json: \"%s\" must be an integer in [0, %llu]", key,
                   (unsigned long long)max);
    *ret = (uint64_t)json_integer_value(v);
    return SHD_OK;
}

static shd_result snpsim_parse_product(const json_t *chip, enum shd_snp_product *ret)
{
    const char *p = json_string_value(json_object_get(chip, "product"));
    SHD_ENSURE_MSG(p != NULL, SHD_ERR_CONFIG, "chip.json: \"product\" missing");
    if (strcmp(p, "Milan") == 0) {
        *ret = SHD_SNP_PRODUCT_MILAN;
        return SHD_OK;
    }
    if (strcmp(p, "Genoa") == 0) {
        *ret = SHD_SNP_PRODUCT_GENOA;
        return SHD_OK;
    }
    SHD_BAIL_MSG(SHD_ERR_CONFIG, "chip.json: unsupported product \"%s\"", p);
}

static shd_result snpsim_parse_chip(const json_t *chip, struct snpsim *sim)
{
    struct shd_snp_report *t = &sim->tmpl;
    uint8_t tcb_le[8];
    uint64_t v = 0;

    SHD_ENSURE_MSG(json_is_object(chip), SHD_ERR_CONFIG, "chip.json: not an object");
    SHD_GUARD(snpsim_parse_product(chip, &sim->product));
    SHD_GUARD(snpsim_json_hex(chip, "chip_id", t->chip_id, sizeof(t->chip_id)));
    SHD_GUARD(snpsim_json_hex(chip, "measurement", t->measurement, sizeof(t->measurement)));
    SHD_GUARD(snpsim_json_hex(chip, "host_data", t->host_data, sizeof(t->host_data)));
    SHD_GUARD(snpsim_json_hex(chip, "report_id", t->report_id, sizeof(t->report_id)));
    /* "reported_tcb" is the u64 printed big-endian (THIM's tcbm form). */
    SHD_GUARD(snpsim_json_hex(chip, "reported_tcb", tcb_le, sizeof(tcb_le)));
    for (size_t i = 0; i < 8; i++) {
        v = (v << 8) | tcb_le[i];
    }
    struct shd_snp_tcb decoded;
    SHD_GUARD_CTX(shd_snp_tcb_decode(v, sim->product, &decoded), "chip.json: reported_tcb");
    t->current_tcb = t->reported_tcb = t->committed_tcb = t->launch_tcb = v;

    SHD_GUARD(snpsim_json_uint(chip, "policy", UINT32_MAX, &t->policy));
    SHD_ENSURE_MSG(shd_snp_policy_is_valid(t->policy), SHD_ERR_CONFIG,
                   "chip.json: policy 0x%llx is not a valid guest policy",
                   (unsigned long long)t->policy);
    const json_t *debug = json_object_get(chip, "debug");
    SHD_ENSURE_MSG(json_is_boolean(debug) &&
                       json_is_true(debug) == shd_snp_policy_debug_allowed(t->policy),
                   SHD_ERR_CONFIG, "chip.json: \"debug\" must be a boolean matching policy bit 19");
    SHD_GUARD(snpsim_json_uint(chip, "vmpl", 3, &v));
    t->vmpl = (uint32_t)v;
    SHD_GUARD(snpsim_json_uint(chip, "guest_svn", UINT32_MAX, &v));
    t->guest_svn = (uint32_t)v;
    SHD_GUARD(snpsim_json_uint(chip, "platform_info", 0xff, &t->platform_info));
    SHD_GUARD(snpsim_json_uint(chip, "fw_major", 0xff, &v));
    t->current_major = t->committed_major = (uint8_t)v;
    SHD_GUARD(snpsim_json_uint(chip, "fw_minor", 0xff, &v));
    t->current_minor = t->committed_minor = (uint8_t)v;
    SHD_GUARD(snpsim_json_uint(chip, "fw_build", 0xff, &v));
    t->current_build = t->committed_build = (uint8_t)v;

    t->signature_algo = SHD_SNP_SIG_ALGO_ECDSA_P384_SHA384;
    t->signer_info = 0; /* VCEK, chip id not masked, no author key */
    memset(t->report_id_ma, 0xff, sizeof(t->report_id_ma)); /* no migration agent */
    return SHD_OK;
}

static shd_result snpsim_load_chip(const char *dir, struct snpsim *sim)
{
    struct snpsim_file f = {0};
    SHD_GUARD(snpsim_read(dir, "snp/chip.json", false, &f));
    json_error_t jerr;
    SHD_CLEANUP(snpsim_json_freep)
    json_t *chip = json_loadb((const char *)f.data, f.len, JSON_REJECT_DUPLICATES, &jerr);
    snpsim_file_wipe(&f);
    SHD_ENSURE_MSG(chip != NULL, SHD_ERR_CONFIG, "chip.json: %s (line %d)", jerr.text, jerr.line);
    return snpsim_parse_chip(chip, sim);
}

static shd_result snpsim_load_key(const char *dir, struct snpsim *sim)
{
    struct snpsim_file f = {0};
    SHD_GUARD(snpsim_read(dir, "snp/vcek.key", true, &f));
    SHD_CLEANUP(snpsim_pkey_freep) EVP_PKEY *key = NULL;
    /* shd_crypto_privkey_load wipes the PEM text on every path; free what is left. */
    shd_result r = shd_crypto_privkey_load(f.data, f.len, &key);
    snpsim_file_wipe(&f);
    SHD_GUARD_CTX(r, "vcek.key");
    SHD_ENSURE_MSG(shd_crypto_key_kind(key) == SHD_CRYPTO_KEY_EC_P384, SHD_ERR_BAD_KEY,
                   "vcek.key: not an EC P-384 key");

    /* The key must be the one the VCEK certificate (and hence MAA) vouches for. */
    struct snpsim_file cf = {0};
    SHD_GUARD(snpsim_read(dir, "snp/vcek.pem", false, &cf));
    SHD_CLEANUP(snpsim_bio_freep) BIO *cbio = BIO_new_mem_buf(cf.data, (int)cf.len);
    SHD_CLEANUP(snpsim_x509_freep) X509 *cert = NULL;
    if (cbio != NULL) {
        cert = PEM_read_bio_X509(cbio, NULL, NULL, NULL);
    }
    snpsim_file_wipe(&cf);
    SHD_ENSURE_MSG(cert != NULL, SHD_ERR_BAD_CERT, "vcek.pem: no certificate");
    SHD_ENSURE_MSG(EVP_PKEY_eq(X509_get0_pubkey(cert), key) == 1, SHD_ERR_BAD_KEY,
                   "vcek.key does not match vcek.pem");
    sim->vcek = SHD_TAKE_PTR(key);
    return SHD_OK;
}

shd_result snpsim_open(const char *dir, struct snpsim **ret)
{
    SHD_ENSURE_REF(dir);
    SHD_ENSURE_REF(ret);
    struct snpsim *sim = shd_alloc(sizeof(*sim));
    SHD_ENSURE(sim != NULL, SHD_ERR_NOMEM);
    shd_result r = snpsim_load_chip(dir, sim);
    if (shd_is_ok(r)) {
        r = snpsim_load_key(dir, sim);
    }
    if (shd_is_err(r)) {
        shd_error_wrap("snp simulator %s", dir);
        snpsim_free(&sim);
        return r;
    }
    *ret = sim;
    return SHD_OK;
}

/* CPUID family/model/stepping a v3 report carries for each product (§1.2, §7 item 2). */
static void snpsim_cpuid(enum shd_snp_product product, struct shd_snp_report *rep)
{
    rep->cpuid_fam_id = 0x19;
    rep->cpuid_mod_id = product == SHD_SNP_PRODUCT_GENOA ? 0x11 : 0x01;
    rep->cpuid_step = 0x01;
}

shd_result snpsim_get_report(struct snpsim *sim, const uint8_t report_data[static 64],
                             uint32_t version, uint8_t out[static SNPSIM_REPORT_LEN])
{
    SHD_ENSURE_REF(sim);
    SHD_ENSURE_REF(report_data);
    SHD_ENSURE_REF(out);
    SHD_ENSURE_MSG(version == 2 || version == 3, SHD_ERR_UNSUPPORTED,
                   "snp simulator: report version %u not supported (2 or 3)", version);

    struct shd_snp_report rep = sim->tmpl;
    rep.version = version;
    shd_memcpy(rep.report_data, report_data, SHD_SNP_REPORT_DATA_LEN);
    if (version >= 3) {
        snpsim_cpuid(sim->product, &rep);
    }
    /* Serialize with a zero signature area, then sign bytes 0..0x29F in place (§1.2). */
    uint8_t buf[SHD_SNP_REPORT_LEN];
    SHD_GUARD(shd_snp_report_serialize(&rep, buf));
    SHD_GUARD(shd_crypto_snp_sign_report(sim->vcek, buf, sizeof(buf)));
    shd_memcpy(out, buf, SHD_SNP_REPORT_LEN);
    return SHD_OK;
}

void snpsim_free(struct snpsim **sim)
{
    if (sim == NULL || *sim == NULL) {
        return;
    }
    /* EVP_PKEY_free clears the private scalar (BN_clear_free) before releasing it. */
    EVP_PKEY_free((*sim)->vcek);
    shd_free_wipe(*sim, sizeof(**sim));
    *sim = NULL;
}
