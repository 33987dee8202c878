/*
 * attest_fixture_tpm.h - a swtpm child for the attestation tests and its GCE-style provisioning
 * (gcp-identity.md section 2.1, real-clients.md section 4.4): AK templates in NV 0x01C10001
 * (RSA) / 0x01C10003 (ECC), AK certificates in 0x01C10000 / 0x01C10002, issued by a test
 * "EK/AK CA Intermediate" whose root and intermediate are served by the fake MDS at AIA URLs.
 * Every object the provisioning loads is flushed (three transient slots, no resource manager).
 */
#pragma once

#include <dirent.h>

#include "attest_fixture.h"

#define FX_NV_ATTRS                                                                                \
    (TPMA_NV_PPWRITE | TPMA_NV_WRITEDEFINE | TPMA_NV_PPREAD | TPMA_NV_OWNERREAD |                  \
     TPMA_NV_AUTHREAD | TPMA_NV_NO_DA | TPMA_NV_PLATFORMCREATE)
#define FX_AK_ATTRS                                                                                \
    (TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_FIXEDTPM |                    \
     TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH)

struct fx_tpm {
    pid_t pid;
    uint16_t port;
    char dir[64];
    char tcti[96];
    TSS2_TCTI_CONTEXT *tctx;
    ESYS_CONTEXT *esys;
};

static inline bool fx_port_free(uint16_t port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(s);
    return ok;
}

static inline uint16_t fx_pick_ports(void)
{
    for (int i = 0; i < 50; i++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t al = sizeof(a);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
        close(s);
        uint16_t p = ntohs(a.sin_port);
        if (p < 65535 && fx_port_free(p) && fx_port_free((uint16_t)(p + 1))) {
            return p;
        }
    }
    fail_msg("no free port pair");
    return 0;
}

static inline bool fx_port_accepts(uint16_t port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(s);
    return ok;
}

static inline void fx_tpm_esys(struct fx_tpm *t)
{
    assert_int_equal(Tss2_TctiLdr_Initialize(t->tcti, &t->tctx), TSS2_RC_SUCCESS);
    assert_int_equal(Esys_Initialize(&t->esys, t->tctx, NULL), TSS2_RC_SUCCESS);
}

static inline void fx_tpm_esys_close(struct fx_tpm *t)
{
    Esys_Finalize(&t->esys);
    Tss2_TctiLdr_Finalize(&t->tctx);
}

/* Starts swtpm (real-clients.md section 4.1) on a fresh state directory. */
static inline void fx_tpm_start(struct fx_tpm *t)
{
    shd_memzero(t, sizeof(*t));
    (void)snprintf(t->dir, sizeof(t->dir), "/tmp/wif-attest-tpm-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    t->port = fx_pick_ports();
    char server[64];
    char ctrl[64];
    char state[96];
    (void)snprintf(server, sizeof(server), "type=tcp,port=%u", t->port);
    (void)snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%u", t->port + 1);
    (void)snprintf(state, sizeof(state), "dir=%s", t->dir);
    t->pid = fork();
    assert_true(t->pid >= 0);
    if (t->pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        execlp("swtpm", "swtpm", "socket", "--tpm2", "--server", server, "--ctrl", ctrl,
               "--tpmstate", state, "--flags", "not-need-init,startup-clear", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && !fx_port_accepts(t->port); i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    assert_true(fx_port_accepts(t->port));
    (void)snprintf(t->tcti, sizeof(t->tcti), "swtpm:host=127.0.0.1,port=%u", t->port);
    fx_tpm_esys(t);
}

static inline void fx_tpm_stop(struct fx_tpm *t)
{
    if (t->esys != NULL) {
        fx_tpm_esys_close(t);
    }
    if (t->pid > 0) {
        (void)kill(t->pid, SIGTERM);
        (void)waitpid(t->pid, NULL, 0);
    }
    /* swtpm keeps a flat directory: its state file and a lock file. */
    DIR *d = opendir(t->dir);
    assert_non_null(d);
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            assert_int_equal(unlinkat(dirfd(d), e->d_name, 0), 0);
        }
    }
    closedir(d);
    assert_int_equal(rmdir(t->dir), 0);
}

/* Number of transient objects loaded (there must be none after our code ran). */
static inline uint32_t fx_tpm_transients(struct fx_tpm *t)
{
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA *cap = NULL;
    assert_int_equal(Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                        TPM2_CAP_HANDLES, TPM2_TRANSIENT_FIRST, 16, &more, &cap),
                     TSS2_RC_SUCCESS);
    uint32_t n = cap->data.handles.count;
    Esys_Free(cap);
    return n;
}

static inline TPMT_PUBLIC fx_ak_template(bool ecc)
{
    TPMT_PUBLIC p = {0};
    p.nameAlg = TPM2_ALG_SHA256;
    p.objectAttributes = FX_AK_ATTRS;
    if (ecc) {
        p.type = TPM2_ALG_ECC;
        p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
        p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    } else {
        p.type = TPM2_ALG_RSA;
        p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
        p.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
        p.parameters.rsaDetail.keyBits = 2048;
    }
    return p;
}

/* Defines (replacing) an NV index under the platform hierarchy and writes data into it. */
static inline void fx_nv_put(struct fx_tpm *t, uint32_t index, const uint8_t *data, size_t len)
{
    ESYS_TR h = ESYS_TR_NONE;
    if (Esys_TR_FromTPMPublic(t->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &h) ==
        TSS2_RC_SUCCESS) {
        assert_int_equal(Esys_NV_UndefineSpace(t->esys, ESYS_TR_RH_PLATFORM, h, ESYS_TR_PASSWORD,
                                               ESYS_TR_NONE, ESYS_TR_NONE),
                         TSS2_RC_SUCCESS);
    }
    const TPM2B_AUTH auth = {0};
    TPM2B_NV_PUBLIC pub = {0};
    pub.nvPublic.nvIndex = index;
    pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
    pub.nvPublic.attributes = FX_NV_ATTRS;
    pub.nvPublic.dataSize = (UINT16)len;
    assert_int_equal(Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_PLATFORM, ESYS_TR_PASSWORD,
                                         ESYS_TR_NONE, ESYS_TR_NONE, &auth, &pub, &h),
                     TSS2_RC_SUCCESS);
    for (size_t off = 0; off < len;) {
        TPM2B_MAX_NV_BUFFER buf = {0};
        size_t n = len - off < 1024 ? len - off : 1024;
        buf.size = (UINT16)n;
        shd_memcpy(buf.buffer, data + off, n);
        assert_int_equal(Esys_NV_Write(t->esys, ESYS_TR_RH_PLATFORM, h, ESYS_TR_PASSWORD,
                                       ESYS_TR_NONE, ESYS_TR_NONE, &buf, (UINT16)off),
                         TSS2_RC_SUCCESS);
        off += n;
    }
    assert_int_equal(Esys_TR_Close(t->esys, &h), TSS2_RC_SUCCESS);
}

/* The public key the template gives (CreatePrimary, then flush). */
static inline EVP_PKEY *fx_ak_pubkey(struct fx_tpm *t, const TPMT_PUBLIC *tmpl)
{
    const TPM2B_SENSITIVE_CREATE sens = {0};
    const TPM2B_DATA outside = {0};
    const TPML_PCR_SELECTION pcr = {0};
    TPM2B_PUBLIC in = {.publicArea = *tmpl};
    ESYS_TR h = ESYS_TR_NONE;
    TPM2B_PUBLIC *out = NULL;
    TPM2B_CREATION_DATA *cd = NULL;
    TPM2B_DIGEST *ch = NULL;
    TPMT_TK_CREATION *tk = NULL;
    assert_int_equal(Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD,
                                        ESYS_TR_NONE, ESYS_TR_NONE, &sens, &in, &outside, &pcr, &h,
                                        &out, &cd, &ch, &tk),
                     TSS2_RC_SUCCESS);
    assert_int_equal(Esys_FlushContext(t->esys, h), TSS2_RC_SUCCESS);
    EVP_PKEY *key = NULL;
    if (out->publicArea.type == TPM2_ALG_RSA) {
        const uint8_t e[] = {1, 0, 1};
        EXPECT_OK(shd_crypto_rsa_pubkey_from_ne(out->publicArea.unique.rsa.buffer,
                                                out->publicArea.unique.rsa.size, e, 3, &key));
    } else {
        assert_int_equal(out->publicArea.unique.ecc.x.size, 32);
        EXPECT_OK(shd_crypto_ec_pubkey_from_xy(SHD_CRYPTO_CURVE_P256,
                                               out->publicArea.unique.ecc.x.buffer,
                                               out->publicArea.unique.ecc.y.buffer, 32, &key));
    }
    Esys_Free(out);
    Esys_Free(cd);
    Esys_Free(ch);
    Esys_Free(tk);
    return key;
}

/* A certificate for pub, issued by (issuer, ikey) or self-signed when issuer is NULL. */
static inline X509 *fx_cert(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *ikey, bool ca,
                            const char *aia)
{
    X509 *c = X509_new();
    assert_non_null(c);
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), (long)(random() & 0xFFFFFF) + 1);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 86400);
    X509_NAME *n = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c, issuer != NULL ? X509_get_subject_name(issuer) : n);
    X509_set_pubkey(c, pub);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : c, c, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                                              ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    X509_add_ext(c, ext, -1);
    X509_EXTENSION_free(ext);
    if (aia != NULL) {
        char v[256];
        (void)snprintf(v, sizeof(v), "caIssuers;URI:%s", aia);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_info_access, v);
        assert_non_null(ext);
        X509_add_ext(c, ext, -1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(c, ikey, EVP_sha256()) > 0);
    return c;
}

static inline uint8_t *fx_der(X509 *c, size_t *ret_len)
{
    uint8_t *der = NULL;
    EXPECT_OK(shd_crypto_x509_export_der(c, &der, ret_len));
    return der;
}

/*
 * Provisions both AKs like GCE. The AK certificates' AIA points at the intermediate, the
 * intermediate's at the root (both served by the fake MDS). f->want_ak_cert gets the DER of
 * the AK certificate for the algorithm `want_ecc`.
 */
static inline void fx_tpm_provision(struct fx_tpm *t, struct fx *f, bool want_ecc)
{
    EVP_PKEY *root_key = NULL;
    EVP_PKEY *int_key = NULL;
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &root_key));
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &int_key));
    X509 *root = fx_cert("EK/AK CA Root", root_key, NULL, root_key, true, NULL);
    X509 *inter = fx_cert("EK/AK CA Intermediate", int_key, root, root_key, true,
                          "http://" FX_AIA_HOST "/ca/root.crt");
    shd_free(f->aia_root);
    shd_free(f->aia_intermediate);
    f->aia_root = fx_der(root, &f->aia_root_len);
    f->aia_intermediate = fx_der(inter, &f->aia_intermediate_len);

    for (int ecc = 0; ecc <= 1; ecc++) {
        TPMT_PUBLIC tmpl = fx_ak_template(ecc != 0);
        uint8_t raw[sizeof(TPMT_PUBLIC)];
        size_t off = 0;
        assert_int_equal(Tss2_MU_TPMT_PUBLIC_Marshal(&tmpl, raw, sizeof(raw), &off),
                         TSS2_RC_SUCCESS);
        fx_nv_put(t, ecc ? 0x01C10003u : 0x01C10001u, raw, off);
        EVP_PKEY *ak = fx_ak_pubkey(t, &tmpl);
        X509 *akc = fx_cert("fx-instance-ak", ak, inter, int_key, false,
                            "http://" FX_AIA_HOST "/ca/intermediate.crt");
        size_t dl = 0;
        uint8_t *der = fx_der(akc, &dl);
        fx_nv_put(t, ecc ? 0x01C10002u : 0x01C10000u, der, dl);
        if ((ecc != 0) == want_ecc) {
            shd_free(f->want_ak_cert);
            f->want_ak_cert = der;
            f->want_ak_cert_len = dl;
        } else {
            shd_free(der);
        }
        X509_free(akc);
        EVP_PKEY_free(ak);
    }
    X509_free(root);
    X509_free(inter);
    EVP_PKEY_free(root_key);
    EVP_PKEY_free(int_key);
}
