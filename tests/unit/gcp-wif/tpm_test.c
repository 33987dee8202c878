/*
 * tpm_test.c - the vTPM side of mode B (tpm.c, tpm_quote.c) and the AK chain (tpm_certchain.c)
 * against a real swtpm provisioned like a GCE vTPM (attest_fixture_tpm.h): NV reads in chunks,
 * GCE AK from the template (RSA and ECC), AK certificate check, one checked quote per bank with
 * the nonce, PCR values equal to what the TPM reads, no transient object left behind; negative
 * cases (no AK, certificate of another key, unrestricted template, bad nonce, bad TCTI); AIA
 * chain building with forged, missing and absent issuers.
 */
#include "attest_fixture_tpm.h"

#include "tpm.h"
#include "tpm_certchain.h"

struct t_state {
    struct fx f;
    struct fx_tpm t;
};

static int setup(void **state)
{
    struct t_state *s = shd_alloc(sizeof(*s));
    assert_non_null(s);
    fx_start(&s->f);
    fx_tpm_start(&s->t);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct t_state *s = *state;
    fx_tpm_stop(&s->t);
    fx_stop(&s->f);
    shd_free(s);
    return 0;
}

static struct wif_tpm *open_tpm(struct t_state *s)
{
    struct wif_tpm *w = NULL;
    EXPECT_OK(wif_tpm_open(s->t.tcti, &w));
    return w;
}

static void test_nv_read_chunks(void **state)
{
    struct t_state *s = *state;
    uint8_t data[2048];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 7 + 3);
    }
    fx_nv_put(&s->t, 0x01500000u, data, sizeof(data));

    struct wif_tpm *w = open_tpm(s);
    size_t size = 0;
    EXPECT_OK(wif_tpm_nv_size(0x01500000u, w, &size));
    assert_int_equal(size, sizeof(data));
    uint8_t *got = NULL;
    size_t len = 0;
    EXPECT_OK(wif_tpm_nv_read(0x01500000u, w, &got, &len));
    assert_int_equal(len, sizeof(data));
    assert_memory_equal(got, data, sizeof(data));
    shd_free(got);

    got = NULL;
    EXPECT_ERR(wif_tpm_nv_read(0x01500001u, w, &got, &len), SHD_ERR_NOT_FOUND);
    assert_null(got);
    EXPECT_ERR(wif_tpm_nv_size(0x01C10000u, w, &size), SHD_ERR_NOT_FOUND);
    wif_tpm_close(&w);
    assert_null(w);
    wif_tpm_close(&w); /* NULL is fine */
}

static void check_evidence(struct t_state *s, const struct wif_tpm_evidence *ev, bool ecc,
                           const uint8_t *nonce, size_t nonce_len)
{
    /* One quote per allocated bank. */
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA *cap = NULL;
    assert_int_equal(Esys_GetCapability(s->t.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                        TPM2_CAP_PCRS, 0, 1, &more, &cap),
                     TSS2_RC_SUCCESS);
    size_t banks = 0;
    for (size_t i = 0; i < cap->data.assignedPCR.count; i++) {
        const TPMS_PCR_SELECTION *sel = &cap->data.assignedPCR.pcrSelections[i];
        if ((sel->pcrSelect[0] | sel->pcrSelect[1] | sel->pcrSelect[2]) != 0) {
            assert_int_equal(ev->quotes[banks].hash_alg, sel->hash);
            banks++;
        }
    }
    Esys_Free(cap);
    assert_true(banks >= 1);
    assert_int_equal(ev->nquotes, banks);
    assert_int_equal(ev->ak_cert_len, s->f.want_ak_cert_len);
    assert_memory_equal(ev->ak_cert, s->f.want_ak_cert, ev->ak_cert_len);

    for (size_t b = 0; b < ev->nquotes; b++) {
        const struct wif_tpm_quote *q = &ev->quotes[b];
        TPMS_ATTEST at = {0};
        size_t off = 0;
        assert_int_equal(Tss2_MU_TPMS_ATTEST_Unmarshal(q->raw_quote, q->raw_quote_len, &off, &at),
                         TSS2_RC_SUCCESS);
        assert_int_equal(off, q->raw_quote_len);
        assert_int_equal(at.magic, TPM2_GENERATED_VALUE);
        assert_int_equal(at.type, TPM2_ST_ATTEST_QUOTE);
        assert_int_equal(at.extraData.size, nonce_len);
        assert_memory_equal(at.extraData.buffer, nonce, nonce_len);
        TPMT_SIGNATURE sig = {0};
        off = 0;
        assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Unmarshal(q->raw_sig, q->raw_sig_len, &off, &sig),
                         TSS2_RC_SUCCESS);
        assert_int_equal(off, q->raw_sig_len);
        assert_int_equal(sig.sigAlg, ecc ? TPM2_ALG_ECDSA : TPM2_ALG_RSASSA);

        /* The PCR values we send are the TPM's (read again here, group of PCRs 8-15). */
        TPML_PCR_SELECTION want = {.count = 1};
        want.pcrSelections[0].hash = q->hash_alg;
        want.pcrSelections[0].sizeofSelect = 3;
        want.pcrSelections[0].pcrSelect[1] = 0xFF;
        UINT32 counter = 0;
        TPML_PCR_SELECTION *got = NULL;
        TPML_DIGEST *vals = NULL;
        assert_int_equal(Esys_PCR_Read(s->t.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &want,
                                       &counter, &got, &vals),
                         TSS2_RC_SUCCESS);
        for (size_t i = 0; i < 8; i++) {
            assert_int_equal(vals->digests[i].size, q->digest_len);
            assert_memory_equal(vals->digests[i].buffer, q->pcrs[8 + i], q->digest_len);
        }
        Esys_Free(got);
        Esys_Free(vals);
    }
    assert_int_equal(fx_tpm_transients(&s->t), 0);
}

static void run_attest(struct t_state *s, bool ecc)
{
    fx_tpm_provision(&s->t, &s->f, ecc);
    struct wif_tpm *w = open_tpm(s);
    struct wif_tpm_evidence ev = {0};
    const uint8_t *nonce = (const uint8_t *)FX_NONCE;
    EXPECT_OK(wif_tpm_attest(nonce, strlen(FX_NONCE), ecc, w, &ev));
    check_evidence(s, &ev, ecc, nonce, strlen(FX_NONCE));
    /* A second round on the same context: same AK, fresh quote, still no leftovers. */
    struct wif_tpm_evidence ev2 = {0};
    const uint8_t n2[64] = {1, 2, 3};
    EXPECT_OK(wif_tpm_attest(n2, sizeof(n2), ecc, w, &ev2));
    check_evidence(s, &ev2, ecc, n2, sizeof(n2));
    wif_tpm_evidence_clear(&ev);
    wif_tpm_evidence_clear(&ev2);
    wif_tpm_evidence_clear(NULL);
    wif_tpm_close(&w);
}

static void test_attest_rsa(void **state)
{
    run_attest(*state, false);
}

static void test_attest_ecc(void **state)
{
    run_attest(*state, true);
}

/* Known answer (real-clients.md section 4.2): PCR 15 after one extend from zero. */
static void test_quote_carries_extended_pcr(void **state)
{
    struct t_state *s = *state;
    fx_tpm_provision(&s->t, &s->f, false);
    TPML_DIGEST_VALUES d = {.count = 1};
    d.digests[0].hashAlg = TPM2_ALG_SHA256;
    EXPECT_OK(shd_crypto_sha256((const uint8_t *)"measured-thing", 14, d.digests[0].digest.sha256));
    ESYS_TR pcr15 = ESYS_TR_PCR0 + 15;
    assert_int_equal(
        Esys_PCR_Extend(s->t.esys, pcr15, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d),
        TSS2_RC_SUCCESS);
    struct wif_tpm *w = open_tpm(s);
    struct wif_tpm_evidence ev = {0};
    EXPECT_OK(wif_tpm_attest((const uint8_t *)"n0nce", 5, false, w, &ev));
    size_t klen = 0;
    uint8_t *want =
        shd_test_unhex("cc96301cd05f7da63e26756bde258b057a8279cbf6c4c3d212fb0839f016a469", &klen);
    bool seen = false;
    for (size_t b = 0; b < ev.nquotes; b++) {
        if (ev.quotes[b].hash_alg == TPM2_ALG_SHA256) {
            assert_memory_equal(ev.quotes[b].pcrs[15], want, klen);
            seen = true;
        }
    }
    assert_true(seen);
    shd_free(want);
    wif_tpm_evidence_clear(&ev);
    wif_tpm_close(&w);
}

static void test_attest_no_ak(void **state)
{
    struct t_state *s = *state;
    struct wif_tpm *w = open_tpm(s);
    struct wif_tpm_evidence ev = {0};
    EXPECT_ERR(wif_tpm_attest((const uint8_t *)"n", 1, false, w, &ev), SHD_ERR_NOT_FOUND);
    assert_null(ev.ak_cert);
    wif_tpm_close(&w);
}

static void test_attest_cert_of_other_key(void **state)
{
    struct t_state *s = *state;
    fx_tpm_provision(&s->t, &s->f, false);
    /* Replace the RSA AK certificate with the ECC one: valid, but not this AK's. */
    uint8_t *ecc_cert = NULL;
    size_t ecc_len = 0;
    struct wif_tpm *w = open_tpm(s);
    EXPECT_OK(wif_tpm_nv_read(WIF_TPM_NV_AK_CERT_ECC, w, &ecc_cert, &ecc_len));
    fx_nv_put(&s->t, WIF_TPM_NV_AK_CERT_RSA, ecc_cert, ecc_len);
    struct wif_tpm_evidence ev = {0};
    EXPECT_ERR(wif_tpm_attest((const uint8_t *)"nonce", 5, false, w, &ev), SHD_ERR_BAD_CERT);
    assert_int_equal(fx_tpm_transients(&s->t), 0);
    /* Garbage instead of a certificate. */
    fx_nv_put(&s->t, WIF_TPM_NV_AK_CERT_RSA, (const uint8_t *)"not a certificate", 17);
    EXPECT_ERR(wif_tpm_attest((const uint8_t *)"nonce", 5, false, w, &ev), SHD_ERR_INPUT);
    assert_int_equal(fx_tpm_transients(&s->t), 0);
    shd_free(ecc_cert);
    wif_tpm_close(&w);
}

static void test_attest_bad_templates(void **state)
{
    struct t_state *s = *state;
    fx_tpm_provision(&s->t, &s->f, false);
    struct wif_tpm *w = open_tpm(s);
    struct wif_tpm_evidence ev = {0};

    /* Not restricted: could sign anything, must not be used for quotes. */
    TPMT_PUBLIC tmpl = fx_ak_template(false);
    tmpl.objectAttributes &= ~TPMA_OBJECT_RESTRICTED;
    uint8_t raw[sizeof(TPMT_PUBLIC)];
    size_t off = 0;
    assert_int_equal(Tss2_MU_TPMT_PUBLIC_Marshal(&tmpl, raw, sizeof(raw), &off), TSS2_RC_SUCCESS);
    fx_nv_put(&s->t, WIF_TPM_NV_AK_TEMPLATE_RSA, raw, off);
    EXPECT_ERR(wif_tpm_attest((const uint8_t *)"nonce", 5, false, w, &ev), SHD_ERR_INPUT);

    /* An ECC template where the RSA one belongs. */
    tmpl = fx_ak_template(true);
    off = 0;
    assert_int_equal(Tss2_MU_TPMT_PUBLIC_Marshal(&tmpl, raw, sizeof(raw), &off), TSS2_RC_SUCCESS);
    fx_nv_put(&s->t, WIF_TPM_NV_AK_TEMPLATE_RSA, raw, off);
    EXPECT_ERR(wif_tpm_attest((const uint8_t *)"nonce", 5, false, w, &ev), SHD_ERR_INPUT);

    /* Truncated and over-long marshalings. */
    fx_nv_put(&s->t, WIF_TPM_NV_AK_TEMPLATE_RSA, raw, off - 1);
    EXPECT_ERR(wif_tpm_attest((const uint8_t *)"nonce", 5, false, w, &ev), SHD_ERR_INPUT);
    raw[off] = 0;
    fx_nv_put(&s->t, WIF_TPM_NV_AK_TEMPLATE_RSA, raw, off + 1);
    EXPECT_ERR(wif_tpm_attest((const uint8_t *)"nonce", 5, false, w, &ev), SHD_ERR_INPUT);
    assert_int_equal(fx_tpm_transients(&s->t), 0);
    wif_tpm_close(&w);
}

static void test_attest_nonce_bounds(void **state)
{
    struct t_state *s = *state;
    struct wif_tpm *w = open_tpm(s);
    struct wif_tpm_evidence ev = {0};
    uint8_t big[WIF_TPM_NONCE_MAX + 1] = {0};
    EXPECT_ERR(wif_tpm_attest(big, 0, false, w, &ev), SHD_ERR_INPUT);
    EXPECT_ERR(wif_tpm_attest(big, sizeof(big), false, w, &ev), SHD_ERR_INPUT);
    wif_tpm_close(&w);
}

static void test_open_bad_tcti(void **state)
{
    (void)state;
    struct wif_tpm *w = NULL;
    EXPECT_ERR(wif_tpm_open("device:/nonexistent/tpmrm0", &w), SHD_ERR_TPM);
    assert_null(w);
    EXPECT_ERR(wif_tpm_open("swtpm:host=127.0.0.1,port=1", &w), SHD_ERR_TPM);
    assert_null(w);
}

static void test_certchain(void **state)
{
    struct t_state *s = *state;
    fx_tpm_provision(&s->t, &s->f, true);
    struct wif_certchain c = {0};
    EXPECT_OK(wif_certchain_fetch(s->f.want_ak_cert, s->f.want_ak_cert_len, s->f.http_mds, &c));
    assert_int_equal(c.n, 2);
    assert_int_equal(c.len[0], s->f.aia_intermediate_len);
    assert_memory_equal(c.der[0], s->f.aia_intermediate, c.len[0]);
    assert_int_equal(c.len[1], s->f.aia_root_len);
    assert_memory_equal(c.der[1], s->f.aia_root, c.len[1]);
    wif_certchain_clear(&c);

    /* The root alone has no AIA and is self-signed: empty chain. */
    EXPECT_OK(wif_certchain_fetch(s->f.aia_root, s->f.aia_root_len, s->f.http_mds, &c));
    assert_int_equal(c.n, 0);
    wif_certchain_clear(&c);
}

static void test_certchain_forged_and_missing(void **state)
{
    struct t_state *s = *state;
    fx_tpm_provision(&s->t, &s->f, false);
    struct wif_certchain c = {0};

    /* The AIA URL serves a certificate that did not sign the AK certificate. */
    uint8_t *real = s->f.aia_intermediate;
    size_t real_len = s->f.aia_intermediate_len;
    s->f.aia_intermediate = shd_memdup(s->f.aia_root, s->f.aia_root_len);
    s->f.aia_intermediate_len = s->f.aia_root_len;
    EXPECT_ERR(wif_certchain_fetch(s->f.want_ak_cert, s->f.want_ak_cert_len, s->f.http_mds, &c),
               SHD_ERR_BAD_CERT);
    assert_int_equal(c.n, 0);

    /* Not a certificate. */
    shd_free(s->f.aia_intermediate);
    s->f.aia_intermediate = shd_memdup("garbage", 7);
    s->f.aia_intermediate_len = 7;
    EXPECT_ERR(wif_certchain_fetch(s->f.want_ak_cert, s->f.want_ak_cert_len, s->f.http_mds, &c),
               SHD_ERR_INPUT);

    /* 404 at the AIA URL. */
    shd_free(s->f.aia_intermediate);
    s->f.aia_intermediate = NULL;
    EXPECT_ERR(wif_certchain_fetch(s->f.want_ak_cert, s->f.want_ak_cert_len, s->f.http_mds, &c),
               SHD_ERR_HTTP_STATUS);
    s->f.aia_intermediate = real;
    s->f.aia_intermediate_len = real_len;

    /* Not a certificate at all as the leaf. */
    EXPECT_ERR(wif_certchain_fetch((const uint8_t *)"xx", 2, s->f.http_mds, &c), SHD_ERR_INPUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nv_read_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attest_rsa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attest_ecc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quote_carries_extended_pcr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attest_no_ak, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attest_cert_of_other_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attest_bad_templates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attest_nonce_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_bad_tcti, setup, teardown),
        cmocka_unit_test_setup_teardown(test_certchain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_certchain_forged_and_missing, setup, teardown),
    };
    /* tpm2-tss logs expected failures (probing undefined NV indices) at ERROR level. */
    (void)setenv("TSS2_LOG", "all+none", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
