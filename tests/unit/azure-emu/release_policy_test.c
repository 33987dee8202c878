/*
 * release_policy_test.c - Key Vault release policy evaluator: every operator positive and
 * negative, lenient comparisons, dotted paths, nesting, authority matching, malformed policies
 * with their exact errors, limits and allocation failures. The checked-in policy and its script:
 * release_policy_files_test.c.
 *
 * JSON in the tables is written with single quotes for readability; q() turns them into double
 * quotes (a literal quote in a value is written \u0027).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "release_policy.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd_test.h"

#define ISS "https://maa.test"
#define POL(conds) "{'version':'1.0.0','anyOf':[{'authority':'" ISS "','allOf':[" conds "]}]}"
#define C(claim, op, val) "{'claim':'" claim "','" op "':" val "}"
#define DENY "Key release policy not satisfied for authority '" ISS "': "
#define HD "91e00e3b9a71fb2ba15dfc184c2da52f7c78bb0e58b01c4628e90fb58f429fa5"
#define A10 "aaaaaaaaaa"

static const char base_claims[] =
    "{'iss':'" ISS "','x-ms-attestation-type':'sevsnpvm',"
    "'x-ms-compliance-status':'azure-compliant-uvm','x-ms-sevsnpvm-hostdata':'" HD "',"
    "'x-ms-sevsnpvm-is-debuggable':false,'x-ms-sevsnpvm-vmpl':0,'x-ms-sevsnpvm-snpfw-svn':8,"
    "'neg':-5,'nullc':null,'realc':1.5,"
    "'x-ms-sevsnpvm-uvm-endorsement':{'x-ms-sevsnpvm-guestsvn':'100'},"
    "'x-ms-runtime':{'keys':[{'kty':'RSA'}],'vm-configuration':{'secure-boot':true}},"
    "'weird':'a\\u0027b\\\\c\\u0001','long':'" A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 "'}";

/* Single-quoted JSON to JSON (fresh buffer). */
static char *q(const char *s)
{
    char *out = shd_strdup(s);

    assert_non_null(out);
    for (char *p = out; *p != '\0'; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    return out;
}

static json_t *load_claims(const char *single_quoted)
{
    SHD_CLEANUP_FREE char *text = q(single_quoted);
    json_error_t err;
    json_t *claims = json_loads(text, 0, &err);

    if (claims == NULL) {
        fail_msg("claims JSON: %s", err.text);
    }
    return claims;
}

struct eval_case {
    const char *policy;  /* single-quoted JSON */
    const char *issuer;  /* NULL: ISS */
    const char *message; /* NULL: expect allowed; else the exact denial */
};

/* clang-format off: the tables keep one case per entry, readable as policy text */
static const struct eval_case eval_cases[] = {
    /* equals: strings (case-insensitive), booleans and numbers against their string forms */
    {POL(C("x-ms-attestation-type", "equals", "'sevsnpvm'")), NULL, NULL},
    {POL(C("x-ms-attestation-type", "equals", "'SevSnpVm'")), NULL, NULL},
    {POL(C("x-ms-attestation-type", "equals", "'sgx'")), NULL,
     DENY "claim 'x-ms-attestation-type' is 'sevsnpvm': condition equals 'sgx' not met"},
    {POL(C("x-ms-attestation-type", "equals", "'sevsnpvm '")), NULL,
     DENY "claim 'x-ms-attestation-type' is 'sevsnpvm': condition equals 'sevsnpvm ' not met"},
    {POL(C("x-ms-sevsnpvm-is-debuggable", "equals", "false")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-is-debuggable", "equals", "'false'")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-is-debuggable", "equals", "'FALSE'")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-is-debuggable", "equals", "true")), NULL,
     DENY "claim 'x-ms-sevsnpvm-is-debuggable' is 'false': condition equals 'true' not met"},
    {POL(C("x-ms-sevsnpvm-is-debuggable", "equals", "'0'")), NULL,
     DENY "claim 'x-ms-sevsnpvm-is-debuggable' is 'false': condition equals '0' not met"},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "0")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "'0'")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "1")), NULL,
     DENY "claim 'x-ms-sevsnpvm-vmpl' is '0': condition equals '1' not met"},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "'00'")), NULL,
     DENY "claim 'x-ms-sevsnpvm-vmpl' is '0': condition equals '00' not met"},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "false")), NULL,
     DENY "claim 'x-ms-sevsnpvm-vmpl' is '0': condition equals 'false' not met"},
    {POL(C("x-ms-sevsnpvm-uvm-endorsement.x-ms-sevsnpvm-guestsvn", "equals", "100")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-hostdata", "equals", "'" HD "'")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-hostdata", "equals",
           "'91E00E3B9A71FB2BA15DFC184C2DA52F7C78BB0E58B01C4628E90FB58F429FA5'")),
     NULL, NULL},
    {POL(C("x-ms-sevsnpvm-hostdata", "equals", "'" HD "0'")), NULL,
     DENY "claim 'x-ms-sevsnpvm-hostdata' is '" HD "': condition equals '" HD "0' not met"},
    {POL(C("nope", "equals", "'x'")), NULL,
     DENY "claim 'nope' is missing: condition equals 'x' not met"},
    {POL(C("x-ms-runtime", "equals", "'x'")), NULL,
     DENY "claim 'x-ms-runtime' is an object: condition equals 'x' not met"},
    {POL(C("x-ms-runtime.keys", "equals", "'x'")), NULL,
     DENY "claim 'x-ms-runtime.keys' is an array: condition equals 'x' not met"},
    {POL(C("nullc", "equals", "'null'")), NULL,
     DENY "claim 'nullc' is null: condition equals 'null' not met"},
    {POL(C("realc", "equals", "'1.5'")), NULL,
     DENY "claim 'realc' is a non-integer number: condition equals '1.5' not met"},
    /* token values are escaped and cut in messages */
    {POL(C("weird", "equals", "'x'")), NULL,
     DENY "claim 'weird' is 'a\\x27b\\x5cc\\x01': condition equals 'x' not met"},
    {POL(C("long", "equals", "'x'")), NULL,
     DENY "claim 'long' is '" A10 A10 A10 A10 A10 A10 A10 A10 A10 "aaaaaa...': condition equals "
          "'x' not met"},
    {POL(C("weird", "equals", "'a\\u0027B\\\\c\\u0001'")), NULL, NULL},
    /* notEquals */
    {POL(C("x-ms-attestation-type", "notEquals", "'sgx'")), NULL, NULL},
    {POL(C("x-ms-attestation-type", "notEquals", "'SEVSNPVM'")), NULL,
     DENY "claim 'x-ms-attestation-type' is 'sevsnpvm': condition notEquals 'SEVSNPVM' not met"},
    {POL(C("x-ms-sevsnpvm-is-debuggable", "notEquals", "true")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-is-debuggable", "notEquals", "'false'")), NULL,
     DENY "claim 'x-ms-sevsnpvm-is-debuggable' is 'false': condition notEquals 'false' not met"},
    {POL(C("x-ms-sevsnpvm-vmpl", "notEquals", "1")), NULL, NULL},
    {POL(C("nope", "notEquals", "'x'")), NULL,
     DENY "claim 'nope' is missing: condition notEquals 'x' not met"},
    {POL(C("x-ms-runtime", "notEquals", "'x'")), NULL,
     DENY "claim 'x-ms-runtime' is an object: condition notEquals 'x' not met"},
    /* ordering operators on numbers and numeric strings */
    {POL(C("x-ms-sevsnpvm-snpfw-svn", "less", "9")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-snpfw-svn", "less", "8")), NULL,
     DENY "claim 'x-ms-sevsnpvm-snpfw-svn' is '8': condition less '8' not met"},
    {POL(C("x-ms-sevsnpvm-snpfw-svn", "lessOrEquals", "8")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-snpfw-svn", "lessOrEquals", "7")), NULL,
     DENY "claim 'x-ms-sevsnpvm-snpfw-svn' is '8': condition lessOrEquals '7' not met"},
    {POL(C("x-ms-sevsnpvm-snpfw-svn", "greater", "7")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-snpfw-svn", "greater", "8")), NULL,
     DENY "claim 'x-ms-sevsnpvm-snpfw-svn' is '8': condition greater '8' not met"},
    {POL(C("x-ms-sevsnpvm-snpfw-svn", "greaterOrEquals", "8")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-snpfw-svn", "greaterOrEquals", "'9'")), NULL,
     DENY "claim 'x-ms-sevsnpvm-snpfw-svn' is '8': condition greaterOrEquals '9' not met"},
    {POL(C("x-ms-sevsnpvm-snpfw-svn", "greaterOrEquals", "'8'")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-uvm-endorsement.x-ms-sevsnpvm-guestsvn", "greaterOrEquals", "100")), NULL,
     NULL},
    {POL(C("x-ms-sevsnpvm-uvm-endorsement.x-ms-sevsnpvm-guestsvn", "greater", "'100'")), NULL,
     DENY "claim 'x-ms-sevsnpvm-uvm-endorsement.x-ms-sevsnpvm-guestsvn' is '100': condition "
          "greater '100' not met"},
    {POL(C("neg", "less", "0")), NULL, NULL},
    {POL(C("neg", "less", "'-4'")), NULL, NULL},
    {POL(C("neg", "less", "-5")), NULL, DENY "claim 'neg' is '-5': condition less '-5' not met"},
    {POL(C("x-ms-attestation-type", "less", "5")), NULL,
     DENY "claim 'x-ms-attestation-type' is 'sevsnpvm' (not an integer): condition less '5' not "
          "met"},
    {POL(C("x-ms-sevsnpvm-is-debuggable", "lessOrEquals", "1")), NULL,
     DENY "claim 'x-ms-sevsnpvm-is-debuggable' is 'false' (not an integer): condition "
          "lessOrEquals '1' not met"},
    {POL(C("realc", "greater", "1")), NULL,
     DENY "claim 'realc' is a non-integer number: condition greater '1' not met"},
    {POL(C("nope", "greaterOrEquals", "0")), NULL,
     DENY "claim 'nope' is missing: condition greaterOrEquals '0' not met"},
    /* exists */
    {POL(C("x-ms-sevsnpvm-vmpl", "exists", "true")), NULL, NULL},
    {POL(C("x-ms-runtime.keys", "exists", "true")), NULL, NULL},
    {POL(C("nullc", "exists", "true")), NULL, NULL},
    {POL(C("nope", "exists", "true")), NULL,
     DENY "claim 'nope' is missing: condition exists 'true' not met"},
    {POL(C("nope", "exists", "false")), NULL, NULL},
    {POL(C("nope", "exists", "'FALSE'")), NULL, NULL},
    {POL(C("x-ms-sevsnpvm-vmpl", "exists", "false")), NULL,
     DENY "claim 'x-ms-sevsnpvm-vmpl' is '0': condition exists 'false' not met"},
    {POL(C("x-ms-runtime", "exists", "false")), NULL,
     DENY "claim 'x-ms-runtime' is an object: condition exists 'false' not met"},
    /* dotted paths: present, missing intermediate, non-object intermediate */
    {POL(C("x-ms-runtime.vm-configuration.secure-boot", "equals", "true")), NULL, NULL},
    {POL(C("x-ms-runtime.nope.secure-boot", "equals", "true")), NULL,
     DENY "claim 'x-ms-runtime.nope.secure-boot' is missing: condition equals 'true' not met"},
    {POL(C("x-ms-sevsnpvm-vmpl.x", "equals", "0")), NULL,
     DENY "claim 'x-ms-sevsnpvm-vmpl.x' is missing: condition equals '0' not met"},
    {POL(C("x-ms-runtime.keys.kty", "equals", "'RSA'")), NULL,
     DENY "claim 'x-ms-runtime.keys.kty' is missing: condition equals 'RSA' not met"},
    {POL(C("x-ms-runtime.nope.x", "exists", "false")), NULL, NULL},
    /* allOf stops at the first failure; anyOf reports its first alternative */
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "0") "," C("x-ms-sevsnpvm-vmpl", "equals", "2") "," C(
         "x-ms-sevsnpvm-vmpl", "equals", "3")),
     NULL, DENY "claim 'x-ms-sevsnpvm-vmpl' is '0': condition equals '2' not met"},
    {"{'version':'1.0.0','anyOf':[{'authority':'" ISS "','anyOf':["
     "{'allOf':[" C("x-ms-attestation-type", "equals", "'sgx'") "," C(
         "x-ms-sevsnpvm-vmpl", "equals",
         "0") "]},"
              "{'allOf':[" C("x-ms-attestation-type", "equals",
                             "'sevsnpvm'") "," C("x-ms-sevsnpvm-vmpl", "equals", "0") "]}"
                                                                                      "]}]}",
     NULL, NULL},
    {"{'version':'1.0.0','anyOf':[{'authority':'" ISS "','anyOf':["
     "{'allOf':[" C("x-ms-attestation-type", "equals",
                    "'sgx'") "]},"
                             "{'allOf':[" C("x-ms-sevsnpvm-vmpl", "equals", "0") "," C(
                                 "x-ms-sevsnpvm-vmpl", "equals", "1") "]}]}]}",
     NULL,
     DENY "no anyOf alternative met (2 tried); first: claim 'x-ms-attestation-type' is "
          "'sevsnpvm': condition equals 'sgx' not met"},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "0") ",{'anyOf':[" C("nope", "exists", "true") "," C(
         "x-ms-sevsnpvm-is-debuggable", "equals", "false") "]}"),
     NULL, NULL},
    {POL("{'anyOf':[" C("nope", "exists", "true") "]}"), NULL,
     DENY "no anyOf alternative met (1 tried); first: claim 'nope' is missing: condition exists "
          "'true' not met"},
    /* authorities: issuer selects the entries; scheme/host case and one trailing slash */
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "0")), "https://maa.test/", NULL},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "0")), "HTTPS://MAA.Test", NULL},
    {"{'version':'1.0.0','anyOf':[{'authority':'https://MAA.test/','allOf':[" C(
         "x-ms-sevsnpvm-vmpl", "equals", "0") "]}]}",
     NULL, NULL},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "0")), "https://maa.test//",
     "Key release policy: no authority matches the token issuer 'https://maa.test//'"},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "0")), "http://maa.test",
     "Key release policy: no authority matches the token issuer 'http://maa.test'"},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "0")), "https://evil.test",
     "Key release policy: no authority matches the token issuer 'https://evil.test'"},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "0")), "https://maa.test.evil",
     "Key release policy: no authority matches the token issuer 'https://maa.test.evil'"},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "0")), "https://maa.test\x01",
     "Key release policy: no authority matches the token issuer 'https://maa.test\\x01'"},
    {POL(C("x-ms-sevsnpvm-vmpl", "equals", "0")), "",
     "Key release policy: no authority matches the token issuer ''"},
    {"{'version':'1.0.0','anyOf':[{'authority':'https://maa.test/Tenant','allOf':[" C(
         "x-ms-sevsnpvm-vmpl", "equals", "0") "]}]}",
     "https://maa.test/tenant",
     "Key release policy: no authority matches the token issuer 'https://maa.test/tenant'"},
    {"{'version':'1.0.0','anyOf':["
     "{'authority':'https://other.test','allOf':[" C(
         "x-ms-sevsnpvm-vmpl", "equals",
         "1") "]},"
              "{'authority':'" ISS "','allOf':[" C("x-ms-sevsnpvm-vmpl", "equals", "0") "]}]}",
     NULL, NULL},
    {"{'version':'1.0.0','anyOf':["
     "{'authority':'https://other.test','allOf':[" C(
         "x-ms-sevsnpvm-vmpl", "equals",
         "0") "]},"
              "{'authority':'" ISS "','allOf':[" C("x-ms-sevsnpvm-vmpl", "equals", "1") "]}]}",
     NULL, DENY "claim 'x-ms-sevsnpvm-vmpl' is '0': condition equals '1' not met"},
    {"{'version':'1.0.0','anyOf':["
     "{'authority':'" ISS "','allOf':[" C("x-ms-sevsnpvm-vmpl", "equals",
                                          "2") "]},"
                                               "{'authority':'" ISS "/','allOf':[" C(
                                                   "x-ms-sevsnpvm-vmpl", "equals", "0") "]}]}",
     NULL, NULL},
    {"{'version':'1.0.0','anyOf':["
     "{'authority':'" ISS "','allOf':[" C("x-ms-sevsnpvm-vmpl", "equals",
                                          "2") "]},"
                                               "{'authority':'" ISS "/','allOf':[" C(
                                                   "x-ms-sevsnpvm-vmpl", "equals", "3") "]}]}",
     NULL, DENY "claim 'x-ms-sevsnpvm-vmpl' is '0': condition equals '2' not met"},
    /* keywords are case-insensitive */
    {"{'VERSION':'1.0.0','anyof':[{'Authority':'" ISS "','allof':[{'Claim':'x-ms-sevsnpvm-vmpl',"
     "'EQUALS':0},{'anyof':[{'claim':'nope','Exists':false}]}]}]}",
     NULL, NULL},
};
/* clang-format on */

static void test_eval_table(void **state)
{
    (void)state;
    json_t *claims = load_claims(base_claims);

    for (size_t i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
        const struct eval_case *c = &eval_cases[i];
        SHD_CLEANUP_FREE char *policy = q(c->policy);
        struct aemu_release_verdict v;

        shd_result r = aemu_release_policy_check(policy, strlen(policy),
                                                 c->issuer ? c->issuer : ISS, claims, &v);
        if (shd_is_err(r) || v.allowed != (c->message == NULL) ||
            strcmp(v.message, c->message ? c->message : "") != 0) {
            char err[512];
            (void)shd_error_render(err, sizeof(err));
            print_error("case %zu: %s\n  result: %s\n  got:    %s\n  want:   %s\n", i, policy,
                        shd_is_err(r) ? err : "ok", v.allowed ? "(allowed)" : v.message,
                        c->message ? c->message : "(allowed)");
            json_decref(claims);
            fail();
        }
    }
    json_decref(claims);
}

struct bad_case {
    const char *policy; /* single-quoted JSON */
    const char *error;  /* exact rendered error */
};

#define KRP "Key Release Policy: "
#define AT0 " (at anyOf[0].allOf[0])"

/* clang-format off */
static const struct bad_case bad_cases[] = {
    {"", KRP "invalid JSON: '[' or '{' expected near end of file (line 1, column 0)"},
    {"{", KRP "invalid JSON: string or '}' expected near end of file (line 1, column 1)"},
    {POL(C("a", "equals", "1")) " x",
     KRP "invalid JSON: end of file expected near 'x' (line 1, column 99)"},
    {"{'version':'1.0.0','version':'1.0.0'}",
     KRP "invalid JSON: duplicate object key near '\"version\"' (line 1, column 28)"},
    {"[]", KRP "the policy must be a JSON object"},
    {"{'anyOf':[]}", KRP "missing 'version' property"},
    {"{'version':1,'anyOf':[]}", KRP "'version' must be a string"},
    {"{'version':'0.2','anyOf':[]}", KRP "unsupported version '0.2' (only '1.0.0')"},
    {"{'version':'1.0.2','anyOf':[]}", KRP "unsupported version '1.0.2' (only '1.0.0')"},
    {"{'version':'1.0.0'}", KRP "'anyOf' must be a non-empty array of authorities"},
    {"{'version':'1.0.0','anyOf':[]}", KRP "'anyOf' must be a non-empty array of authorities"},
    {"{'version':'1.0.0','anyOf':{}}", KRP "'anyOf' must be a non-empty array of authorities"},
    {"{'version':'1.0.0','allOf':[]}", KRP "'allOf' is not allowed here"},
    {"{'version':'1.0.0','Version':'1.0.0'}", KRP "duplicate property 'version'"},
    {"{'version':'1.0.0','anyOf':[],'foo':1}", KRP "unknown property 'foo'"},
    {"{'version':'1.0.0','\\u0001':1}", KRP "unknown property '\\x01'"},
    {"{'version':'1.0.0','anyOf':['x']}", KRP "an authority entry must be an object (at anyOf[0])"},
    {"{'version':'1.0.0','anyOf':[{'allOf':[" C("a", "exists", "true") "]}]}",
     KRP "missing 'authority' string (at anyOf[0])"},
    {"{'version':'1.0.0','anyOf':[{'authority':1,'allOf':[" C("a", "exists", "true") "]}]}",
     KRP "missing 'authority' string (at anyOf[0])"},
    {"{'version':'1.0.0','anyOf':[{'authority':'http://maa.test','allOf':[" C("a", "exists",
                                                                             "true") "]}]}",
     KRP "authority 'http://maa.test' is not an https URL (at anyOf[0])"},
    {"{'version':'1.0.0','anyOf':[{'authority':'https://','allOf':[" C("a", "exists",
                                                                       "true") "]}]}",
     KRP "authority 'https://' is not an https URL (at anyOf[0])"},
    {"{'version':'1.0.0','anyOf':[{'authority':'https:///x','allOf':[" C("a", "exists",
                                                                        "true") "]}]}",
     KRP "authority 'https:///x' is not an https URL (at anyOf[0])"},
    {"{'version':'1.0.0','anyOf':[{'authority':'https://u@maa.test','allOf':[" C("a", "exists",
                                                                                "true") "]}]}",
     KRP "authority 'https://u@maa.test' is not an https URL (at anyOf[0])"},
    {"{'version':'1.0.0','anyOf':[{'authority':'https://maa.test?x','allOf':[" C("a", "exists",
                                                                                "true") "]}]}",
     KRP "authority 'https://maa.test?x' is not an https URL (at anyOf[0])"},
    {"{'version':'1.0.0','anyOf':[{'authority':'https://maa test','allOf':[" C("a", "exists",
                                                                              "true") "]}]}",
     KRP "authority 'https://maa test' is not an https URL (at anyOf[0])"},
    {"{'version':'1.0.0','anyOf':[{'authority':'" ISS "'}]}",
     KRP "an authority needs exactly one of 'anyOf' or 'allOf' (at anyOf[0])"},
    {"{'version':'1.0.0','anyOf':[{'authority':'" ISS "','allOf':[" C("a", "exists", "true")
     "],'anyOf':[" C("a", "exists", "true") "]}]}",
     KRP "an authority needs exactly one of 'anyOf' or 'allOf' (at anyOf[0])"},
    {"{'version':'1.0.0','anyOf':[{'authority':'" ISS "','claim':'a','exists':true}]}",
     KRP "'claim' is not allowed here (at anyOf[0])"},
    {POL(""), KRP "'allOf' must be a non-empty array of conditions (at anyOf[0])"},
    {"{'version':'1.0.0','anyOf':[{'authority':'" ISS "','anyOf':{}}]}",
     KRP "'anyOf' must be a non-empty array of conditions (at anyOf[0])"},
    {POL("'x'"), KRP "a condition must be an object" AT0},
    {POL("{}"), KRP "condition without 'claim', 'anyOf' or 'allOf'" AT0},
    {POL("{'equals':'x'}"), KRP "condition without 'claim', 'anyOf' or 'allOf'" AT0},
    {POL("{'claim':'a'}"), KRP "condition without an operator" AT0},
    {POL("{'claim':'a','equal':'x'}"), KRP "unknown property 'equal'" AT0},
    {POL("{'claim':'a','condition':'equals','value':'x'}"), KRP "unknown property 'condition'" AT0},
    {POL("{'claim':'a','equals':'x','notEquals':'y'}"),
     KRP "more than one operator ('equals' and 'notEquals')" AT0},
    {POL("{'claim':'a','exists':true,'less':1}"),
     KRP "more than one operator ('less' and 'exists')" AT0},
    {POL("{'claim':'a','equals':'x','EQUALS':'y'}"), KRP "duplicate property 'equals'" AT0},
    {POL("{'claim':1,'equals':'x'}"), KRP "'claim' must be a non-empty string" AT0},
    {POL("{'claim':'','equals':'x'}"), KRP "'claim' must be a non-empty string" AT0},
    {POL("{'claim':'a..b','equals':'x'}"), KRP "empty segment in claim path 'a..b'" AT0},
    {POL("{'claim':'.a','equals':'x'}"), KRP "empty segment in claim path '.a'" AT0},
    {POL("{'claim':'a.','equals':'x'}"), KRP "empty segment in claim path 'a.'" AT0},
    {POL("{'claim':'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q','equals':'x'}"),
     KRP "claim path with more than 16 segments" AT0},
    {POL(C("a", "equals", "null")), KRP "'equals' needs a string, an integer, true or false" AT0},
    {POL(C("a", "equals", "1.5")), KRP "'equals' needs a string, an integer, true or false" AT0},
    {POL(C("a", "notEquals", "{}")),
     KRP "'notEquals' needs a string, an integer, true or false" AT0},
    {POL(C("a", "equals", "[]")), KRP "'equals' needs a string, an integer, true or false" AT0},
    {POL(C("a", "less", "'abc'")),
     KRP "'less' needs an integer or a string holding a decimal integer" AT0},
    {POL(C("a", "lessOrEquals", "' 1'")),
     KRP "'lessOrEquals' needs an integer or a string holding a decimal integer" AT0},
    {POL(C("a", "greater", "'+1'")),
     KRP "'greater' needs an integer or a string holding a decimal integer" AT0},
    {POL(C("a", "greaterOrEquals", "true")),
     KRP "'greaterOrEquals' needs an integer or a string holding a decimal integer" AT0},
    {POL(C("a", "greater", "1.5")),
     KRP "'greater' needs an integer or a string holding a decimal integer" AT0},
    {POL(C("a", "less", "'99999999999999999999'")),
     KRP "'less' needs an integer or a string holding a decimal integer" AT0},
    {POL(C("a", "exists", "1")), KRP "'exists' needs true or false" AT0},
    {POL(C("a", "exists", "'yes'")), KRP "'exists' needs true or false" AT0},
    {POL("{'anyOf':[" C("a", "exists", "true") "],'allOf':[" C("a", "exists", "true") "]}"),
     KRP "'anyOf' and 'allOf' in one condition" AT0},
    {POL("{'claim':'a','anyOf':[" C("a", "exists", "true") "]}"),
     KRP "'claim' next to 'anyOf'" AT0},
    {POL("{'equals':'a','allOf':[" C("a", "exists", "true") "]}"),
     KRP "'equals' next to 'allOf'" AT0},
    {POL("{'anyOf':[]}"), KRP "'anyOf' must be a non-empty array of conditions" AT0},
    {POL("{'allOf':[" C("a", "exists", "true") ",{'anyOf':[{'claim':'a','exists':true,"
         "'exists ':1}]}]}"),
     KRP "unknown property 'exists ' (at anyOf[0].allOf[0].allOf[1].anyOf[0])"},
};
/* clang-format on */

static void test_malformed_table(void **state)
{
    (void)state;
    json_t *claims = load_claims(base_claims);

    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        SHD_CLEANUP_FREE char *policy = q(bad_cases[i].policy);
        struct aemu_release_policy *p = NULL;
        struct aemu_release_verdict v;
        char err[512];

        shd_result r = aemu_release_policy_parse(policy, strlen(policy), &p);
        (void)shd_error_render(err, sizeof(err));
        if (r.err != SHD_ERR_INPUT || p != NULL || strcmp(err, bad_cases[i].error) != 0) {
            print_error("case %zu: %s\n  code: %d\n  got:  %s\n  want: %s\n", i, policy, r.err, err,
                        bad_cases[i].error);
            aemu_release_policy_free(&p);
            json_decref(claims);
            fail();
        }
        /* The one-shot check rejects it the same way. */
        EXPECT_ERR(aemu_release_policy_check(policy, strlen(policy), ISS, claims, &v),
                   SHD_ERR_INPUT);
    }
    json_decref(claims);
}

/* A policy whose authority group holds `levels - 1` nested allOf groups around one condition. */
static char *nested_policy(int levels)
{
    char buf[4096];
    size_t o = (size_t)snprintf(buf, sizeof(buf),
                                "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS
                                "\",\"allOf\":[");
    for (int i = 1; i < levels; i++) {
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{\"allOf\":[");
    }
    o += (size_t)snprintf(buf + o, sizeof(buf) - o,
                          "{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"equals\":0}");
    for (int i = 1; i < levels; i++) {
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "]}");
    }
    (void)snprintf(buf + o, sizeof(buf) - o, "]}]}");
    char *out = shd_strdup(buf);
    assert_non_null(out);
    return out;
}

static void test_nesting_limit(void **state)
{
    (void)state;
    json_t *claims = load_claims(base_claims);
    struct aemu_release_verdict v;
    char err[512];
    SHD_CLEANUP_FREE char *ok = nested_policy(AEMU_RELEASE_POLICY_MAX_DEPTH);
    SHD_CLEANUP_FREE char *deep = nested_policy(AEMU_RELEASE_POLICY_MAX_DEPTH + 1);

    EXPECT_OK(aemu_release_policy_check(ok, strlen(ok), ISS, claims, &v));
    assert_true(v.allowed);
    EXPECT_ERR(aemu_release_policy_check(deep, strlen(deep), ISS, claims, &v), SHD_ERR_INPUT);
    (void)shd_error_render(err, sizeof(err));
    assert_string_equal(err,
                        KRP "conditions nested deeper than 8 levels (at anyOf[0].allOf[0]"
                            ".allOf[0].allOf[0].allOf[0].allOf[0].allOf[0].allOf[0].allOf[0])");
    json_decref(claims);
}

/* A policy with n conditions in its authority's allOf, padded with spaces to `pad` bytes. */
static char *wide_policy(size_t n, size_t pad)
{
    static const char head[] =
        "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":[";
    static const char cond[] = "{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"equals\":0},";
    size_t len = sizeof(head) - 1 + n * (sizeof(cond) - 1) + 3;
    size_t cap = (len > pad ? len : pad) + 1;
    char *buf = shd_alloc(cap);
    size_t o = 0;

    assert_non_null(buf);
    shd_memcpy(buf, head, sizeof(head) - 1);
    o += sizeof(head) - 1;
    for (size_t i = 0; i < n; i++) {
        shd_memcpy(buf + o, cond, sizeof(cond) - 1);
        o += sizeof(cond) - 1;
    }
    shd_memcpy(buf + o - 1, "]}]}", 4);
    o += 3;
    while (o < pad) {
        buf[o++] = ' ';
    }
    buf[o] = '\0';
    return buf;
}

static void test_size_and_count_limits(void **state)
{
    (void)state;
    json_t *claims = load_claims(base_claims);
    struct aemu_release_verdict v;
    char err[512];
    SHD_CLEANUP_FREE char *most = wide_policy(AEMU_RELEASE_POLICY_MAX_NODES - 1, 0);
    SHD_CLEANUP_FREE char *many = wide_policy(AEMU_RELEASE_POLICY_MAX_NODES, 0);
    SHD_CLEANUP_FREE char *full = wide_policy(1, AEMU_RELEASE_POLICY_MAX_BYTES);
    SHD_CLEANUP_FREE char *big = wide_policy(1, AEMU_RELEASE_POLICY_MAX_BYTES + 1);

    EXPECT_OK(aemu_release_policy_check(most, strlen(most), ISS, claims, &v));
    assert_true(v.allowed);
    EXPECT_ERR(aemu_release_policy_check(many, strlen(many), ISS, claims, &v), SHD_ERR_INPUT);
    (void)shd_error_render(err, sizeof(err));
    assert_string_equal(err, KRP "more than 1024 conditions (at anyOf[0].allOf[1023])");
    assert_int_equal(strlen(full), AEMU_RELEASE_POLICY_MAX_BYTES);
    EXPECT_OK(aemu_release_policy_check(full, strlen(full), ISS, claims, &v));
    assert_true(v.allowed);
    EXPECT_ERR(aemu_release_policy_check(big, strlen(big), ISS, claims, &v), SHD_ERR_TOO_LARGE);
    (void)shd_error_render(err, sizeof(err));
    assert_string_equal(err, KRP "larger than 65536 bytes");

    /* A claim path of 256 bytes is fine, 257 is not. */
    char path[300];
    shd_memcpy(path, "{\"claim\":\"", 10);
    for (size_t i = 10; i < 10 + 257; i++) {
        path[i] = 'p';
    }
    shd_memcpy(path + 267, "\",\"exists\":false}", 18);
    char text[600];
    (void)snprintf(text, sizeof(text),
                   "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":[%s]}]}",
                   path);
    EXPECT_ERR(aemu_release_policy_check(text, strlen(text), ISS, claims, &v), SHD_ERR_INPUT);
    (void)shd_error_render(err, sizeof(err));
    assert_string_equal(err, KRP "claim path longer than 256 bytes" AT0);
    shd_memmove(path + 266, path + 267, 18);
    (void)snprintf(text, sizeof(text),
                   "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":[%s]}]}",
                   path);
    EXPECT_OK(aemu_release_policy_check(text, strlen(text), ISS, claims, &v));
    assert_true(v.allowed);
    json_decref(claims);
}

static void test_api_contract(void **state)
{
    (void)state;
    json_t *claims = load_claims(base_claims);
    json_t *array = json_array();
    struct aemu_release_policy *p = NULL;
    struct aemu_release_verdict v = {.allowed = true, .message = "untouched"};
    SHD_CLEANUP_FREE char *text =
        q("{'version':'1.0.0','anyOf':["
          "{'authority':'https://a.test/','allOf':[" C(
              "x", "exists", "false") "]},"
                                      "{'authority':'" ISS
                                      "','anyOf':[" C("x", "exists", "false") "]}]}");

    EXPECT_ERR(aemu_release_policy_parse(NULL, 0, &p), SHD_ERR_NULL);
    EXPECT_ERR(aemu_release_policy_parse(text, strlen(text), NULL), SHD_ERR_NULL);
    /* Not NUL-terminated: only len bytes are read. */
    EXPECT_ERR(aemu_release_policy_parse(text, strlen(text) - 1, &p), SHD_ERR_INPUT);
    assert_null(p);
    EXPECT_OK(aemu_release_policy_parse(text, strlen(text), &p));
    assert_int_equal(aemu_release_policy_authority_count(p), 2);
    assert_string_equal(aemu_release_policy_authority(p, 0), "https://a.test/");
    assert_string_equal(aemu_release_policy_authority(p, 1), ISS);

    EXPECT_ERR(aemu_release_policy_evaluate(NULL, ISS, claims, &v), SHD_ERR_NULL);
    EXPECT_ERR(aemu_release_policy_evaluate(p, NULL, claims, &v), SHD_ERR_NULL);
    EXPECT_ERR(aemu_release_policy_evaluate(p, ISS, NULL, &v), SHD_ERR_NULL);
    EXPECT_ERR(aemu_release_policy_evaluate(p, ISS, claims, NULL), SHD_ERR_NULL);
    EXPECT_ERR(aemu_release_policy_evaluate(p, ISS, array, &v), SHD_ERR_INPUT);
    /* Outputs are written only on success. */
    assert_true(v.allowed);
    assert_string_equal(v.message, "untouched");
    EXPECT_OK(aemu_release_policy_evaluate(p, "https://a.test", claims, &v));
    assert_true(v.allowed);
    assert_string_equal(v.message, "");

    aemu_release_policy_free(&p);
    assert_null(p);
    aemu_release_policy_free(&p);
    aemu_release_policy_free(NULL);
    json_decref(array);
    json_decref(claims);
}

/* Fails every allocation in turn: each attempt either succeeds or reports out of memory. */
static void test_allocation_failures(void **state)
{
    (void)state;
    SHD_CLEANUP_FREE char *text =
        q("{'version':'1.0.0','anyOf':[{'authority':'https://a.test','anyOf':[{'allOf':[" C(
            "x.y", "equals",
            "'v'") "," C("n", "less", "'5'") "]}," C("e", "exists",
                                                     "true") "]},"
                                                             "{'authority':'" ISS
                                                             "','allOf':[" C("z", "greaterOrEquals",
                                                                             "1") "]}]}");
    bool done = false;

    for (long n = 0; !done && n < 200; n++) {
        struct aemu_release_policy *p = NULL;

        shd_mem_fail_after(n);
        shd_result r = aemu_release_policy_parse(text, strlen(text), &p);
        shd_mem_fail_after(-1);
        if (shd_is_ok(r)) {
            assert_int_equal(aemu_release_policy_authority_count(p), 2);
            aemu_release_policy_free(&p);
            done = true;
            continue;
        }
        assert_int_equal(r.err, SHD_ERR_NOMEM);
        assert_null(p);
    }
    assert_true(done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_table),    cmocka_unit_test(test_malformed_table),
        cmocka_unit_test(test_nesting_limit), cmocka_unit_test(test_size_and_count_limits),
        cmocka_unit_test(test_api_contract),  cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
