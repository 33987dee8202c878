/*
 * config.c - one option table, five sources (defaults, endpoints.json, config file,
 * environment, command line), applied in rising precedence through the same parsers.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/file.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/parse.h"
#include "shd/safety.h"

enum layer {
    LAYER_DEFAULT = 0,
    LAYER_ENDPOINTS,
    LAYER_FILE,
    LAYER_ENV,
    LAYER_FLAGS,
};

static const char *const LAYER_NAMES[] = {"default", "endpoints file", "config file", "environment",
                                          "command line"};

enum opt_kind {
    OPT_STR = 0, /* any non-empty string without control characters */
    OPT_PATH,    /* an absolute path */
    OPT_URL,     /* http(s)://host[:port][/path], stored without a trailing '/' */
    OPT_BOOL,
    OPT_PORT,     /* 0..65535 */
    OPT_LIFETIME, /* seconds, 1..43200 (IAM's maximum) */
    OPT_MODE,     /* tpm | launcher */
    OPT_OCTAL,    /* socket mode */
    OPT_UIDS,
    OPT_GIDS,
    OPT_LOGLEVEL,
};

struct opt {
    const char *name;
    enum opt_kind kind;
    size_t off;
    const char *endpoints_key; /* key in gcp-emu's endpoints.json, or NULL */
    const char *help;
};

#define F(field) offsetof(struct wif_config, field)

static const struct opt OPTS[] = {
    {"config", OPT_PATH, F(config_file), NULL, "JSON config file (keys: option names)"},
    {"endpoints", OPT_PATH, F(endpoints_file), NULL,
     "gcp-emu endpoints.json: verifier, sts, iam, kms, mds, tcti, ca, project, zone, ..."},
    {"mode", OPT_MODE, F(mode), NULL, "attestation source: tpm (default) or launcher"},
    {"tcti", OPT_STR, F(tcti), "tcti", "TPM TCTI (default device:/dev/tpmrm0)"},
    {"ak-ecc", OPT_BOOL, F(ak_ecc), NULL, "use the GCE ECC P-256 AK instead of RSA"},
    {"event-log", OPT_STR, F(event_log), NULL, "firmware event log (\"\" sends none)"},
    {"launcher-token", OPT_PATH, F(launcher_token), NULL, "launcher token file (mode launcher)"},
    {"launcher-socket", OPT_PATH, F(launcher_socket), NULL, "launcher teeserver socket"},
    {"audience", OPT_STR, F(audience), "audience",
     "workload identity provider: //iam.googleapis.com/projects/N/locations/global/"
     "workloadIdentityPools/P/providers/X"},
    {"attestation-audience", OPT_STR, F(attestation_audience), NULL,
     "aud of the attestation token sent to STS (default https://sts.googleapis.com)"},
    {"service-account", OPT_STR, F(service_account), "service_account",
     "impersonate this service account (IAM generateAccessToken)"},
    {"sa-lifetime", OPT_LIFETIME, F(sa_lifetime_s), NULL,
     "lifetime in seconds asked for impersonated tokens (default 3600)"},
    {"verifier-url", OPT_URL, F(verifier_url), "verifier", "Google Cloud Attestation base URL"},
    {"verifier-issuer", OPT_URL, F(verifier_issuer), NULL,
     "expected issuer of attestation tokens (default https://confidentialcomputing.googleapis.com)"},
    {"sts-url", OPT_URL, F(sts_url), "sts", "STS base URL"},
    {"iam-url", OPT_URL, F(iam_url), "iam", "IAM Credentials base URL"},
    {"kms-url", OPT_URL, F(kms_url), "kms", "Cloud KMS base URL"},
    {"mds-url", OPT_URL, F(mds_url), "mds", "metadata server base URL"},
    {"ca-file", OPT_PATH, F(ca_file), "ca", "PEM trust anchors (default SSL_CERT_FILE)"},
    {"connect-to", OPT_STR, F(connect_to), NULL, "HOST:PORT:CONNECT-HOST:CONNECT-PORT[,...]"},
    {"project", OPT_STR, F(project), "project", "project id (default: metadata server)"},
    {"project-number", OPT_STR, F(project_number), "project_number", "project number"},
    {"zone", OPT_STR, F(zone), "zone", "zone, for the metadata look-alike"},
    {"location", OPT_STR, F(location), NULL, "attestation region (default: zone minus -x)"},
    {"socket", OPT_PATH, F(socket_path), NULL, "API Unix socket (default " WIF_DEFAULT_SOCKET ")"},
    {"socket-mode", OPT_OCTAL, F(socket_mode), NULL, "octal mode of the socket (default 0660)"},
    {"allow-uid", OPT_UIDS, F(allow_uids), NULL, "comma-separated uids allowed on the socket"},
    {"allow-gid", OPT_GIDS, F(allow_gids), NULL, "comma-separated gids allowed on the socket"},
    {"metadata-port", OPT_PORT, F(metadata_port), NULL,
     "serve a GCE metadata-server look-alike on 127.0.0.1:PORT (0: off)"},
    {"token-file", OPT_PATH, F(token_file), NULL,
     "keep the attestation token in this file (0600, for external_account credentials)"},
    {"key-dir", OPT_PATH, F(key_dir), NULL, "wrapped_key_file must lie inside this directory"},
    {"kms-rsa-key-version", OPT_STR, F(kms_rsa_key_version), "kms_rsa_key_version",
     "informational: an RSA key version (from endpoints.json)"},
    {"kms-sym-key", OPT_STR, F(kms_sym_key), "kms_sym_key",
     "default --kms-key of wrap-key (from endpoints.json)"},
    {"log-level", OPT_LOGLEVEL, F(log_level), NULL,
     "log level of every module (default info); WIF_LOG=all+info,sts+debug refines"},
    {"help", OPT_BOOL, F(help), NULL, "show this help"},
    {"version", OPT_BOOL, F(version), NULL, "print the version"},
};

#define NOPTS (sizeof(OPTS) / sizeof(OPTS[0]))

struct load_state {
    enum layer uid_layer; /* source that last set each list */
    enum layer gid_layer;
    bool uid_set;
    bool gid_set;
};

/* ---- value parsers ---- */

static bool has_ctl(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return true;
        }
    }
    return false;
}

static shd_result set_string(char **field, const char *v)
{
    char *copy = shd_strdup(v);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    shd_free(*field);
    *field = copy;
    return SHD_OK;
}

static shd_result set_url(char **field, const char *v)
{
    bool https = strncmp(v, "https://", 8) == 0;
    SHD_ENSURE_MSG(https || strncmp(v, "http://", 7) == 0, SHD_ERR_CONFIG,
                   "an http:// or https:// URL expected");
    const char *host = v + (https ? 8 : 7);
    SHD_ENSURE_MSG(*host != '\0' && *host != '/', SHD_ERR_CONFIG, "URL without a host");
    SHD_ENSURE_MSG(strpbrk(v, "?# \\") == NULL, SHD_ERR_CONFIG,
                   "URL must not carry a query, fragment, space or backslash");
    size_t len = strlen(v);
    while (len > 0 && v[len - 1] == '/') {
        len--;
    }
    char *copy = shd_strndup(v, len);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    shd_free(*field);
    *field = copy;
    return SHD_OK;
}

static shd_result parse_bool(const char *v, bool *ret)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *ret = true;
        return SHD_OK;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *ret = false;
        return SHD_OK;
    }
    SHD_BAIL_MSG(SHD_ERR_CONFIG, "true or false expected");
}

_Static_assert(sizeof(uid_t) == sizeof(uint32_t), "uid_t is 32 bits");
_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "gid_t is 32 bits");

/* Comma-separated decimal ids appended to ids[*n]. */
static shd_result add_ids(const char *v, uint32_t *ids, size_t *n)
{
    const char *p = v;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char num[16];
        SHD_ENSURE_MSG(len > 0 && len < sizeof(num), SHD_ERR_CONFIG, "numeric id expected");
        shd_memcpy(num, p, len);
        num[len] = '\0';
        uint64_t id = 0;
        SHD_ENSURE_MSG(shd_is_ok(shd_parse_uint(num, 10, UINT32_MAX - 1u, &id)), SHD_ERR_CONFIG,
                       "numeric id expected");
        SHD_ENSURE_MSG(*n < WIF_MAX_ALLOW_IDS, SHD_ERR_CONFIG, "more than %u ids",
                       WIF_MAX_ALLOW_IDS);
        ids[(*n)++] = (uint32_t)id;
        if (comma == NULL) {
            return SHD_OK;
        }
        p = comma + 1;
    }
}

static shd_result opt_set(const struct opt *o, const char *v, enum layer layer,
                          struct load_state *st, struct wif_config *cfg)
{
    uint8_t *base = (uint8_t *)cfg;
    void *field = base + o->off;
    SHD_ENSURE_MSG(strlen(v) <= WIF_CONFIG_VALUE_MAX, SHD_ERR_CONFIG, "value too long");
    SHD_ENSURE_MSG(!has_ctl(v), SHD_ERR_CONFIG, "value contains control characters");
    uint64_t n = 0;
    switch (o->kind) {
    case OPT_STR:
        /* --event-log "" is meaningful (no event log); elsewhere empty means unset. */
        if (v[0] == '\0' && strcmp(o->name, "event-log") != 0) {
            shd_free(*(char **)field);
            *(char **)field = NULL;
            return SHD_OK;
        }
        return set_string(field, v);
    case OPT_PATH:
        SHD_ENSURE_MSG(v[0] == '/', SHD_ERR_CONFIG, "an absolute path expected");
        return set_string(field, v);
    case OPT_URL:
        return set_url(field, v);
    case OPT_BOOL:
        return parse_bool(v, field);
    case OPT_PORT:
        SHD_ENSURE_MSG(shd_is_ok(shd_parse_uint(v, 10, 65535, &n)), SHD_ERR_CONFIG,
                       "a port number 0..65535 expected");
        *(uint16_t *)field = (uint16_t)n;
        return SHD_OK;
    case OPT_LIFETIME:
        SHD_ENSURE_MSG(shd_is_ok(shd_parse_uint(v, 10, 43200, &n)) && n > 0, SHD_ERR_CONFIG,
                       "seconds 1..43200 expected");
        *(uint32_t *)field = (uint32_t)n;
        return SHD_OK;
    case OPT_MODE:
        if (strcmp(v, "tpm") == 0) {
            cfg->mode = WIF_MODE_TPM;
        } else if (strcmp(v, "launcher") == 0) {
            cfg->mode = WIF_MODE_LAUNCHER;
        } else {
            SHD_BAIL_MSG(SHD_ERR_CONFIG, "tpm or launcher expected");
        }
        return SHD_OK;
    case OPT_OCTAL:
        SHD_ENSURE_MSG(shd_is_ok(shd_parse_uint(v, 8, 0777, &n)), SHD_ERR_CONFIG,
                       "an octal mode expected");
        SHD_ENSURE_MSG((n & 0007u) == 0, SHD_ERR_CONFIG, "mode must not grant access to others");
        cfg->socket_mode = (mode_t)n;
        return SHD_OK;
    case OPT_UIDS:
        if (!st->uid_set || st->uid_layer != layer) {
            cfg->nallow_uids = 0;
            st->uid_set = true;
            st->uid_layer = layer;
        }
        return add_ids(v, (uint32_t *)cfg->allow_uids, &cfg->nallow_uids);
    case OPT_GIDS:
        if (!st->gid_set || st->gid_layer != layer) {
            cfg->nallow_gids = 0;
            st->gid_set = true;
            st->gid_layer = layer;
        }
        return add_ids(v, (uint32_t *)cfg->allow_gids, &cfg->nallow_gids);
    case OPT_LOGLEVEL: {
        enum shd_log_level level;
        SHD_ENSURE_MSG(shd_is_ok(shd_log_level_parse(v, &level)), SHD_ERR_CONFIG,
                       "one of none, fatal, error, warning, info, debug, trace expected");
        return set_string(field, v);
    }
    default:
        shd_misuse("unknown option kind");
    }
}

/* Sets an option, wrapping any error with the option name and the source. */
static shd_result opt_apply(const struct opt *o, const char *v, enum layer layer,
                            struct load_state *st, struct wif_config *cfg)
{
    shd_result r = opt_set(o, v, layer, st, cfg);
    if (shd_is_err(r) && r.err != SHD_ERR_NOMEM) {
        char cause[SHD_ERROR_FRAME_LEN];
        (void)shd_error_render(cause, sizeof(cause));
        return shd_error_setf(layer == LAYER_FLAGS ? SHD_ERR_USAGE : SHD_ERR_CONFIG, __FILE__,
                              __LINE__, "invalid value for %s%s (%s): %s",
                              layer == LAYER_FLAGS ? "--" : "", o->name, LAYER_NAMES[layer], cause);
    }
    return r;
}

/* Matches a name against an option name, '_' standing for '-'. */
static bool name_eq(const char *opt_name, const char *name, size_t len)
{
    if (strlen(opt_name) != len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i] == '_' ? '-' : name[i];
        if (c != opt_name[i]) {
            return false;
        }
    }
    return true;
}

static const struct opt *opt_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (name_eq(OPTS[i].name, name, len)) {
            return &OPTS[i];
        }
    }
    return NULL;
}

/* ---- sources ---- */

static const char *env_default(void *ctx, const char *name)
{
    (void)ctx;
    return secure_getenv(name);
}

static void env_name(const struct opt *o, char out[static 64])
{
    size_t n = 0;
    const char prefix[] = "GCP_WIF_";
    for (size_t i = 0; prefix[i] != '\0'; i++) {
        out[n++] = prefix[i];
    }
    for (const char *p = o->name; *p != '\0' && n < 63; p++) {
        char c = *p == '-' ? '_' : *p;
        out[n++] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    out[n] = '\0';
}

static bool opt_is_meta(const struct opt *o)
{
    return o->off == F(help) || o->off == F(version);
}

static shd_result apply_env(wif_getenv_fn get, void *ctx, struct load_state *st,
                            struct wif_config *cfg)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (opt_is_meta(&OPTS[i])) {
            continue;
        }
        char name[64];
        env_name(&OPTS[i], name);
        const char *v = get(ctx, name);
        if (v != NULL && v[0] != '\0') {
            SHD_GUARD(opt_apply(&OPTS[i], v, LAYER_ENV, st, cfg));
        }
    }
    return SHD_OK;
}

static shd_result json_load(const char *path, json_t **ret)
{
    uint8_t *text = NULL;
    size_t len = 0;
    SHD_GUARD_CTX(shd_file_read(path, WIF_CONFIG_FILE_MAX, 0, &text, &len), "reading %s", path);
    shd_result r = shd_json_parse((const char *)text, len, NULL, ret);
    shd_free_wipe(text, len + 1);
    if (shd_is_err(r)) {
        shd_error_wrap("parsing %s", path);
        return r;
    }
    if (!json_is_object(*ret)) {
        json_decref(*ret);
        *ret = NULL;
        SHD_BAIL_MSG(SHD_ERR_CONFIG, "%s: a JSON object expected", path);
    }
    return SHD_OK;
}

static shd_result apply_endpoints(const char *path, struct load_state *st, struct wif_config *cfg)
{
    SHD_CLEANUP_JSON json_t *doc = NULL;
    SHD_GUARD(json_load(path, &doc));
    for (size_t i = 0; i < NOPTS; i++) {
        if (OPTS[i].endpoints_key == NULL) {
            continue;
        }
        const json_t *v = json_object_get(doc, OPTS[i].endpoints_key);
        if (v == NULL || json_is_null(v)) {
            continue; /* the emulator leaves out what it does not serve (tcti without swtpm) */
        }
        SHD_ENSURE_MSG(json_is_string(v), SHD_ERR_CONFIG, "%s: \"%s\" is not a string", path,
                       OPTS[i].endpoints_key);
        const char *s = json_string_value(v);
        if (s[0] != '\0') {
            SHD_GUARD(opt_apply(&OPTS[i], s, LAYER_ENDPOINTS, st, cfg));
        }
    }
    return SHD_OK;
}

static shd_result apply_file_value(const struct opt *o, const json_t *v, struct load_state *st,
                                   struct wif_config *cfg)
{
    char num[32];
    if (json_is_string(v)) {
        SHD_ENSURE_MSG(strlen(json_string_value(v)) == json_string_length(v), SHD_ERR_CONFIG,
                       "%s: NUL in string", o->name);
        return opt_apply(o, json_string_value(v), LAYER_FILE, st, cfg);
    }
    if (json_is_boolean(v)) {
        return opt_apply(o, json_is_true(v) ? "true" : "false", LAYER_FILE, st, cfg);
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        (void)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        return opt_apply(o, num, LAYER_FILE, st, cfg);
    }
    SHD_BAIL_MSG(SHD_ERR_CONFIG, "config file: \"%s\" has a value of the wrong type", o->name);
}

static shd_result apply_file(json_t *doc, struct load_state *st, struct wif_config *cfg)
{
    const char *key = NULL;
    json_t *v = NULL;
    json_object_foreach(doc, key, v)
    {
        const struct opt *o = opt_find(key, strlen(key));
        SHD_ENSURE_MSG(o != NULL && !opt_is_meta(o) && o->off != F(config_file), SHD_ERR_CONFIG,
                       "config file: unknown option \"%s\"", key);
        if (json_is_array(v) && (o->kind == OPT_UIDS || o->kind == OPT_GIDS)) {
            size_t i = 0;
            json_t *e = NULL;
            json_array_foreach(v, i, e)
            {
                SHD_GUARD(apply_file_value(o, e, st, cfg));
            }
            continue;
        }
        SHD_GUARD(apply_file_value(o, v, st, cfg));
    }
    return SHD_OK;
}

/* ---- command line ---- */

struct flag_val {
    const struct opt *opt;
    const char *value;
};

struct flag_set {
    struct flag_val *vals;
    size_t n;
    char **extra;
    size_t nextra;
};

static void flag_set_clear(struct flag_set *fs)
{
    shd_free(fs->vals);
    wif_config_extra_free(fs->extra);
    shd_memzero(fs, sizeof(*fs));
}

static const struct wif_config_extra *extra_find(const struct wif_config_extra *extra,
                                                 const char *name, size_t len)
{
    for (size_t i = 0; extra != NULL && extra[i].name != NULL; i++) {
        if (strlen(extra[i].name) == len && strncmp(extra[i].name, name, len) == 0) {
            return &extra[i];
        }
    }
    return NULL;
}

static shd_result extra_push(const char *name, size_t len, const char *value, struct flag_set *fs)
{
    size_t vlen = value != NULL ? strlen(value) + 1 : 0;
    char *s = shd_alloc(len + vlen + 1);
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    shd_memcpy(s, name, len);
    if (value != NULL) {
        s[len] = '=';
        shd_memcpy(s + len + 1, value, vlen - 1);
    }
    fs->extra[fs->nextra++] = s;
    return SHD_OK;
}

static shd_result flags_scan(int argc, const char *const argv[], int first,
                             const struct wif_config_extra *extra, struct flag_set *fs)
{
    size_t cap = argc > first ? (size_t)(argc - first) : 0;
    fs->vals = shd_alloc_array(cap + 1, sizeof(*fs->vals));
    fs->extra = shd_alloc_array(cap + 1, sizeof(*fs->extra));
    SHD_ENSURE(fs->vals != NULL && fs->extra != NULL, SHD_ERR_NOMEM);
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        SHD_ENSURE_REF(arg);
        if (strcmp(arg, "--") == 0) {
            SHD_ENSURE_MSG(i + 1 == argc, SHD_ERR_USAGE, "unexpected argument \"%s\"", argv[i + 1]);
            break;
        }
        if (strcmp(arg, "-h") == 0) {
            arg = "--help";
        }
        SHD_ENSURE_MSG(strncmp(arg, "--", 2) == 0 && arg[2] != '\0' && arg[2] != '=', SHD_ERR_USAGE,
                       "unexpected argument \"%s\"", arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const char *value = eq != NULL ? eq + 1 : NULL;
        const struct wif_config_extra *x = extra_find(extra, name, len);
        const struct opt *o = x == NULL ? opt_find(name, len) : NULL;
        SHD_ENSURE_MSG(x != NULL || o != NULL, SHD_ERR_USAGE, "unknown option --%.*s", (int)len,
                       name);
        bool takes_value = x != NULL ? x->takes_value : o->kind != OPT_BOOL;
        if (takes_value && value == NULL) {
            SHD_ENSURE_MSG(i + 1 < argc && argv[i + 1] != NULL, SHD_ERR_USAGE,
                           "option --%.*s needs a value", (int)len, name);
            value = argv[++i];
        }
        if (x != NULL) {
            SHD_ENSURE_MSG(takes_value || value == NULL, SHD_ERR_USAGE,
                           "option --%.*s takes no value", (int)len, name);
            SHD_GUARD(extra_push(name, len, value, fs));
            continue;
        }
        fs->vals[fs->n++] = (struct flag_val){o, value != NULL ? value : "true"};
    }
    return SHD_OK;
}

/* The last value of an option on the command line, or NULL. */
static const char *flag_last(const struct flag_set *fs, size_t off)
{
    const char *v = NULL;
    for (size_t i = 0; i < fs->n; i++) {
        if (fs->vals[i].opt->off == off) {
            v = fs->vals[i].value;
        }
    }
    return v;
}

static shd_result defaults(struct wif_config *cfg)
{
    cfg->mode = WIF_MODE_TPM;
    cfg->socket_mode = 0660;
    cfg->sa_lifetime_s = WIF_DEFAULT_SA_LIFETIME_S;
    SHD_GUARD(set_string(&cfg->socket_path, WIF_DEFAULT_SOCKET));
    SHD_GUARD(set_string(&cfg->sts_url, WIF_DEFAULT_STS_URL));
    SHD_GUARD(set_string(&cfg->iam_url, WIF_DEFAULT_IAM_URL));
    SHD_GUARD(set_string(&cfg->kms_url, WIF_DEFAULT_KMS_URL));
    SHD_GUARD(set_string(&cfg->verifier_url, WIF_ATTEST_DEFAULT_VERIFIER_URL));
    SHD_GUARD(set_string(&cfg->verifier_issuer, WIF_ATTEST_DEFAULT_VERIFIER_URL));
    SHD_GUARD(set_string(&cfg->mds_url, WIF_ATTEST_DEFAULT_MDS_URL));
    SHD_GUARD(set_string(&cfg->log_level, "info"));
    return SHD_OK;
}

shd_result wif_config_load(int argc, const char *const argv[], int first, wif_getenv_fn getenv_fn,
                           void *getenv_ctx, const struct wif_config_extra *extra,
                           struct wif_config *ret, char ***ret_extra)
{
    SHD_ENSURE_REF(argv);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(extra == NULL || ret_extra != NULL, SHD_ERR_NULL);
    SHD_ENSURE(first >= 0, SHD_ERR_USAGE);
    wif_getenv_fn get = getenv_fn != NULL ? getenv_fn : env_default;
    SHD_CLEANUP(wif_config_clear) struct wif_config cfg = {0};
    SHD_CLEANUP(flag_set_clear) struct flag_set fs = {0};
    struct load_state st = {0};
    SHD_GUARD(defaults(&cfg));
    SHD_GUARD(flags_scan(argc, argv, first, extra, &fs));

    /* Where the config file and endpoints.json are: command line, then environment, then (for
     * the endpoints) the config file. */
    const char *config_path = flag_last(&fs, F(config_file));
    if (config_path == NULL) {
        config_path = get(getenv_ctx, "GCP_WIF_CONFIG");
    }
    SHD_CLEANUP_JSON json_t *file = NULL;
    if (config_path != NULL && config_path[0] != '\0') {
        SHD_ENSURE_MSG(config_path[0] == '/', SHD_ERR_USAGE,
                       "invalid value for --config: an absolute path expected");
        SHD_GUARD(json_load(config_path, &file));
    }
    const char *endpoints = flag_last(&fs, F(endpoints_file));
    if (endpoints == NULL) {
        endpoints = get(getenv_ctx, "GCP_WIF_ENDPOINTS");
    }
    if ((endpoints == NULL || endpoints[0] == '\0') && file != NULL) {
        endpoints = json_string_value(json_object_get(file, "endpoints"));
    }
    if (endpoints != NULL && endpoints[0] != '\0') {
        SHD_ENSURE_MSG(endpoints[0] == '/', SHD_ERR_USAGE,
                       "invalid value for --endpoints: an absolute path expected");
        SHD_GUARD(apply_endpoints(endpoints, &st, &cfg));
    }
    if (file != NULL) {
        SHD_GUARD(apply_file(file, &st, &cfg));
    }
    SHD_GUARD(apply_env(get, getenv_ctx, &st, &cfg));
    for (size_t i = 0; i < fs.n; i++) {
        SHD_GUARD(opt_apply(fs.vals[i].opt, fs.vals[i].value, LAYER_FLAGS, &st, &cfg));
    }
    if (ret_extra != NULL) {
        *ret_extra = SHD_TAKE_PTR(fs.extra);
        fs.nextra = 0;
    }
    *ret = cfg;
    shd_memzero(&cfg, sizeof(cfg));
    return SHD_OK;
}

shd_result wif_config_check_serve(const struct wif_config *cfg)
{
    SHD_ENSURE_REF(cfg);
    SHD_ENSURE_MSG(cfg->audience != NULL, SHD_ERR_CONFIG,
                   "no workload identity provider: set --audience (or GCP_WIF_AUDIENCE, or "
                   "\"audience\" in the config or endpoints file)");
    SHD_ENSURE_MSG(strncmp(cfg->audience, "//iam.googleapis.com/", 21) == 0 ||
                       strncmp(cfg->audience, "https://iam.googleapis.com/", 27) == 0,
                   SHD_ERR_CONFIG,
                   "--audience must be the provider's full resource name "
                   "(//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/"
                   "providers/X)");
    SHD_ENSURE_MSG(cfg->socket_path != NULL, SHD_ERR_CONFIG, "no --socket");
    return SHD_OK;
}

void wif_config_clear(struct wif_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    char **strings[] = {
        &cfg->tcti,
        &cfg->event_log,
        &cfg->launcher_token,
        &cfg->launcher_socket,
        &cfg->audience,
        &cfg->attestation_audience,
        &cfg->service_account,
        &cfg->verifier_url,
        &cfg->verifier_issuer,
        &cfg->sts_url,
        &cfg->iam_url,
        &cfg->kms_url,
        &cfg->mds_url,
        &cfg->ca_file,
        &cfg->connect_to,
        &cfg->project,
        &cfg->project_number,
        &cfg->zone,
        &cfg->location,
        &cfg->socket_path,
        &cfg->token_file,
        &cfg->key_dir,
        &cfg->log_level,
        &cfg->endpoints_file,
        &cfg->config_file,
        &cfg->kms_rsa_key_version,
        &cfg->kms_sym_key,
    };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        shd_free(*strings[i]);
    }
    shd_memzero(cfg, sizeof(*cfg));
}

void wif_config_extra_free(char **extra)
{
    if (extra == NULL) {
        return;
    }
    for (size_t i = 0; extra[i] != NULL; i++) {
        shd_free(extra[i]);
    }
    shd_free(extra);
}

void wif_config_usage(FILE *out)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &OPTS[i];
        char env[64];
        env_name(o, env);
        (void)fprintf(out, "  --%s%s\n      %s", o->name, o->kind == OPT_BOOL ? "" : " VALUE",
                      o->help);
        if (!opt_is_meta(o)) {
            (void)fprintf(out, " [%s]", env);
        }
        (void)fputc('\n', out);
    }
}
