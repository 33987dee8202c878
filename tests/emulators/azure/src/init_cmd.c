/*
 * init_cmd.c - command line of `azure-emu init` (an option table, STYLE.md rule 4).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "init.h"
#include "shd/errors.h"
#include "shd/safety.h"
#include "shd/snp_report.h"

struct init_option {
    const char *name;
    bool has_arg;
    shd_result (*apply)(const char *arg, struct aemu_init_opts *o);
    const char *help;
};

static int init_hex_nibble(char c)
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

static shd_result opt_state(const char *arg, struct aemu_init_opts *o)
{
    o->state_dir = arg;
    return SHD_OK;
}

static shd_result opt_product(const char *arg, struct aemu_init_opts *o)
{
    if (strcmp(arg, "Milan") == 0) {
        o->product = SHD_SNP_PRODUCT_MILAN;
        return SHD_OK;
    }
    if (strcmp(arg, "Genoa") == 0) {
        o->product = SHD_SNP_PRODUCT_GENOA;
        return SHD_OK;
    }
    SHD_BAIL_MSG(SHD_ERR_CONFIG, "--product must be Milan or Genoa");
}

/* 16 hex digits, the u64 as THIM's tcbm prints it (e.g. 7308000000000003). */
static shd_result opt_tcb(const char *arg, struct aemu_init_opts *o)
{
    SHD_ENSURE_MSG(strlen(arg) == 16, SHD_ERR_CONFIG, "--tcb takes exactly 16 hex digits");
    uint64_t v = 0;
    for (size_t i = 0; i < 16; i++) {
        int d = init_hex_nibble(arg[i]);
        SHD_ENSURE_MSG(d >= 0, SHD_ERR_CONFIG, "--tcb takes exactly 16 hex digits");
        v = (v << 4) | (uint64_t)d;
    }
    o->has_tcb = true;
    o->reported_tcb = v;
    return SHD_OK;
}

static shd_result opt_measurement(const char *arg, struct aemu_init_opts *o)
{
    SHD_ENSURE_MSG(strlen(arg) == 2 * SHD_SNP_MEASUREMENT_LEN, SHD_ERR_CONFIG,
                   "--measurement takes exactly 96 hex digits");
    for (size_t i = 0; i < SHD_SNP_MEASUREMENT_LEN; i++) {
        int hi = init_hex_nibble(arg[2 * i]);
        int lo = init_hex_nibble(arg[2 * i + 1]);
        SHD_ENSURE_MSG(hi >= 0 && lo >= 0, SHD_ERR_CONFIG, "--measurement is not hex");
        o->measurement[i] = (uint8_t)((hi << 4) | lo);
    }
    o->has_measurement = true;
    return SHD_OK;
}

static shd_result opt_security_policy(const char *arg, struct aemu_init_opts *o)
{
    o->security_policy_path = arg;
    return SHD_OK;
}

static shd_result opt_debug(const char *arg, struct aemu_init_opts *o)
{
    (void)arg;
    o->debug = true;
    return SHD_OK;
}

static shd_result opt_vmpl(const char *arg, struct aemu_init_opts *o)
{
    SHD_ENSURE_MSG(arg[0] >= '0' && arg[0] <= '3' && arg[1] == '\0', SHD_ERR_CONFIG,
                   "--vmpl takes 0, 1, 2 or 3");
    o->vmpl = (uint32_t)(arg[0] - '0');
    return SHD_OK;
}

static shd_result opt_force(const char *arg, struct aemu_init_opts *o)
{
    (void)arg;
    o->force = true;
    return SHD_OK;
}

static const struct init_option init_options[] = {
    {"--state", true, opt_state, "DIR       state directory to create (required)"},
    {"--product", true, opt_product, "NAME    Milan (default) or Genoa"},
    {"--tcb", true, opt_tcb, "HEX         reported TCB, 16 hex digits (default per product)"},
    {"--measurement", true, opt_measurement, "HEX launch measurement, 96 hex digits (random)"},
    {"--security-policy", true, opt_security_policy,
     "FILE Rego policy text; HOST_DATA = SHA-256 of it (default: built-in)"},
    {"--debug", false, opt_debug, "            set the guest policy DEBUG bit"},
    {"--vmpl", true, opt_vmpl, "N          VMPL the reports claim (0-3, default 0)"},
    {"--force", false, opt_force, "           overwrite a non-empty state directory"},
};

static void init_usage(FILE *out)
{
    fprintf(out, "Usage: azure-emu init --state DIR [options]\n\n"
                 "Creates the test CA, server certificate, MAA and AAD signing keys, the\n"
                 "simulated SEV-SNP chip (DIR/snp) and the ACI security context\n"
                 "(DIR/security-context).\n\nOptions:\n");
    for (size_t i = 0; i < sizeof(init_options) / sizeof(init_options[0]); i++) {
        fprintf(out, "  %s %s\n", init_options[i].name, init_options[i].help);
    }
    fprintf(out, "  --help              this text\n");
}

static const struct init_option *init_option_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(init_options) / sizeof(init_options[0]); i++) {
        if (strlen(init_options[i].name) == len && strncmp(init_options[i].name, name, len) == 0) {
            return &init_options[i];
        }
    }
    return NULL;
}

/* Accepts "--opt value" and "--opt=value". Returns 0, or 2 after printing a usage error. */
static int init_parse(int argc, char **argv, struct aemu_init_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - a) : strlen(a);
        const struct init_option *opt = init_option_find(a, name_len);
        if (opt == NULL) {
            fprintf(stderr, "azure-emu init: unknown option '%.*s'\n", (int)name_len, a);
            return 2;
        }
        const char *arg = NULL;
        if (opt->has_arg) {
            if (eq != NULL) {
                arg = eq + 1;
            } else if (i + 1 < argc) {
                arg = argv[++i];
            } else {
                fprintf(stderr, "azure-emu init: %s needs a value\n", opt->name);
                return 2;
            }
        } else if (eq != NULL) {
            fprintf(stderr, "azure-emu init: %s takes no value\n", opt->name);
            return 2;
        }
        if (shd_is_err(opt->apply(arg, o))) {
            char msg[512];
            shd_error_render(msg, sizeof(msg));
            fprintf(stderr, "azure-emu init: %s\n", msg);
            return 2;
        }
    }
    if (o->state_dir == NULL) {
        fprintf(stderr, "azure-emu init: --state DIR is required\n");
        return 2;
    }
    return 0;
}

int aemu_cmd_init(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            init_usage(stdout);
            return 0;
        }
    }
    struct aemu_init_opts o = {.product = SHD_SNP_PRODUCT_MILAN};
    int rc = init_parse(argc, argv, &o);
    if (rc != 0) {
        init_usage(stderr);
        return rc;
    }
    /* Private keys are written 0600 explicitly; the umask covers anything else we create. */
    umask(077);
    if (shd_is_err(aemu_init_run(&o))) {
        char msg[1024];
        shd_error_render(msg, sizeof(msg));
        fprintf(stderr, "azure-emu init: %s\n", msg);
        return 1;
    }
    printf("azure-emu init: state written to %s\n", o.state_dir);
    return 0;
}
