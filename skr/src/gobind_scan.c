/*
 * gobind_scan.c - the scanner half of gobind: Go's encoding/json scanner state machine (a port of
 * the behaviour of scanner.go: states, contexts of the error texts, quoteChar) and
 * Decoder.readValue's treatment of the end of input.
 */
#include <stdio.h>
#include <string.h>

#include "gobind.h"
#include "gobind_int.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* ---------------------------------------------------------------------------------------------
 * Scanner
 * ------------------------------------------------------------------------------------------- */

enum scan_state {
    S_BEGIN_VALUE = 0,
    S_BEGIN_VALUE_OR_EMPTY,
    S_BEGIN_STRING_OR_EMPTY,
    S_BEGIN_STRING,
    S_END_VALUE,
    S_END_TOP,
    S_IN_STRING,
    S_IN_STRING_ESC,
    S_IN_STRING_ESC_U,
    S_NEG,
    S_ZERO,
    S_ONE,
    S_DOT,
    S_DOT0,
    S_E,
    S_ESIGN,
    S_E0,
    S_LIT,
};

enum parse_kind {
    P_OBJECT_KEY = 0,
    P_OBJECT_VALUE,
    P_ARRAY_VALUE,
};

enum step_result {
    R_CONTINUE = 0,
    R_END,       /* the value ended before this byte (Go scanEnd) */
    R_END_CLOSE, /* this closing bracket ended the top-level value */
    R_ERROR,
};

struct scanner {
    enum scan_state st;
    uint8_t *stack; /* enum parse_kind per level */
    size_t depth;
    unsigned esc_u;       /* hex digits of \uXXXX seen */
    const char *lit;      /* remaining bytes of true/false/null */
    const char *lit_name; /* "true", "false", "null" */
    char err[128];
};

/* Go strconv.IsPrint for runes U+0000..U+00FF. */
static bool go_is_print_latin1(unsigned r)
{
    if (r < 0x20 || r == 0x7f) {
        return false;
    }
    if (r >= 0x80 && r <= 0xa0) {
        return false;
    }
    return r != 0xad;
}

/* encoding/json quoteChar: the byte as a Go rune literal. */
static void quote_char(uint8_t c, char *out, size_t n)
{
    if (c == '\'') {
        (void)snprintf(out, n, "'\\''");
        return;
    }
    if (c == '"') {
        (void)snprintf(out, n, "'\"'");
        return;
    }
    static const struct {
        uint8_t c;
        const char *esc;
    } ESCAPES[] = {{'\a', "\\a"}, {'\b', "\\b"}, {'\f', "\\f"}, {'\n', "\\n"},
                   {'\r', "\\r"}, {'\t', "\\t"}, {'\v', "\\v"}, {'\\', "\\\\"}};
    for (size_t i = 0; i < sizeof(ESCAPES) / sizeof(ESCAPES[0]); i++) {
        if (ESCAPES[i].c == c) {
            (void)snprintf(out, n, "'%s'", ESCAPES[i].esc);
            return;
        }
    }
    if (c < 0x80) {
        if (go_is_print_latin1(c)) {
            (void)snprintf(out, n, "'%c'", (char)c);
        } else {
            (void)snprintf(out, n, "'\\x%02x'", c);
        }
        return;
    }
    /* string(c) of a byte >= 0x80 is the rune U+0080..U+00FF. */
    if (go_is_print_latin1(c)) {
        (void)snprintf(out, n, "'%c%c'", (char)(0xc0 | (c >> 6)), (char)(0x80 | (c & 0x3f)));
    } else {
        (void)snprintf(out, n, "'\\u%04x'", c);
    }
}

static enum step_result scan_error(struct scanner *s, uint8_t c, const char *context)
{
    char q[16];
    quote_char(c, q, sizeof(q));
    (void)snprintf(s->err, sizeof(s->err), "invalid character %s %s", q, context);
    return R_ERROR;
}

static enum step_result scan_push(struct scanner *s, uint8_t c, enum parse_kind k)
{
    if (s->depth >= SKR_GOBIND_MAX_DEPTH) {
        return scan_error(s, c, "exceeded max depth");
    }
    s->stack[s->depth++] = (uint8_t)k;
    return R_CONTINUE;
}

static enum step_result scan_pop(struct scanner *s)
{
    s->depth--;
    s->st = s->depth == 0 ? S_END_TOP : S_END_VALUE;
    return s->depth == 0 ? R_END_CLOSE : R_CONTINUE;
}

static enum step_result step(struct scanner *s, uint8_t c);

static enum step_result end_value(struct scanner *s, uint8_t c)
{
    if (s->depth == 0) {
        /* Complete before this byte; Go's stateEndTop records "after top-level value" for a
         * non-space byte but still ends the value, and the Decoder never reports it. */
        s->st = S_END_TOP;
        return R_END;
    }
    if (skr_gobind_is_space(c)) {
        s->st = S_END_VALUE;
        return R_CONTINUE;
    }
    uint8_t *top = &s->stack[s->depth - 1];
    switch ((enum parse_kind)*top) {
    case P_OBJECT_KEY:
        if (c == ':') {
            *top = P_OBJECT_VALUE;
            s->st = S_BEGIN_VALUE;
            return R_CONTINUE;
        }
        return scan_error(s, c, "after object key");
    case P_OBJECT_VALUE:
        if (c == ',') {
            *top = P_OBJECT_KEY;
            s->st = S_BEGIN_STRING;
            return R_CONTINUE;
        }
        if (c == '}') {
            return scan_pop(s);
        }
        return scan_error(s, c, "after object key:value pair");
    case P_ARRAY_VALUE:
        if (c == ',') {
            s->st = S_BEGIN_VALUE;
            return R_CONTINUE;
        }
        if (c == ']') {
            return scan_pop(s);
        }
        return scan_error(s, c, "after array element");
    default:
        return scan_error(s, c, "");
    }
}

static enum step_result begin_literal(struct scanner *s, const char *name)
{
    s->lit_name = name;
    s->lit = name + 1;
    s->st = S_LIT;
    return R_CONTINUE;
}

static enum step_result begin_value(struct scanner *s, uint8_t c)
{
    if (skr_gobind_is_space(c)) {
        return R_CONTINUE;
    }
    switch (c) {
    case '{':
        s->st = S_BEGIN_STRING_OR_EMPTY;
        return scan_push(s, c, P_OBJECT_KEY);
    case '[':
        s->st = S_BEGIN_VALUE_OR_EMPTY;
        return scan_push(s, c, P_ARRAY_VALUE);
    case '"':
        s->st = S_IN_STRING;
        return R_CONTINUE;
    case '-':
        s->st = S_NEG;
        return R_CONTINUE;
    case '0':
        s->st = S_ZERO;
        return R_CONTINUE;
    case 't':
        return begin_literal(s, "true");
    case 'f':
        return begin_literal(s, "false");
    case 'n':
        return begin_literal(s, "null");
    default:
        break;
    }
    if (c >= '1' && c <= '9') {
        s->st = S_ONE;
        return R_CONTINUE;
    }
    return scan_error(s, c, "looking for beginning of value");
}

static enum step_result state_zero(struct scanner *s, uint8_t c)
{
    if (c == '.') {
        s->st = S_DOT;
        return R_CONTINUE;
    }
    if (c == 'e' || c == 'E') {
        s->st = S_E;
        return R_CONTINUE;
    }
    return end_value(s, c);
}

static enum step_result state_esign(struct scanner *s, uint8_t c)
{
    if (skr_gobind_is_digit(c)) {
        s->st = S_E0;
        return R_CONTINUE;
    }
    return scan_error(s, c, "in exponent of numeric literal");
}

static enum step_result step(struct scanner *s, uint8_t c)
{
    switch (s->st) {
    case S_BEGIN_VALUE:
        return begin_value(s, c);
    case S_BEGIN_VALUE_OR_EMPTY:
        if (skr_gobind_is_space(c)) {
            return R_CONTINUE;
        }
        if (c == ']') {
            return end_value(s, c);
        }
        return begin_value(s, c);
    case S_BEGIN_STRING_OR_EMPTY:
        if (skr_gobind_is_space(c)) {
            return R_CONTINUE;
        }
        if (c == '}') {
            s->stack[s->depth - 1] = P_OBJECT_VALUE;
            return end_value(s, c);
        }
        /* fall through to S_BEGIN_STRING */
        __attribute__((fallthrough));
    case S_BEGIN_STRING:
        if (skr_gobind_is_space(c)) {
            return R_CONTINUE;
        }
        if (c == '"') {
            s->st = S_IN_STRING;
            return R_CONTINUE;
        }
        return scan_error(s, c, "looking for beginning of object key string");
    case S_END_VALUE:
        return end_value(s, c);
    case S_END_TOP:
        return R_END;
    case S_IN_STRING:
        if (c == '"') {
            s->st = S_END_VALUE;
            return R_CONTINUE;
        }
        if (c == '\\') {
            s->st = S_IN_STRING_ESC;
            return R_CONTINUE;
        }
        if (c < 0x20) {
            return scan_error(s, c, "in string literal");
        }
        return R_CONTINUE;
    case S_IN_STRING_ESC:
        if (strchr("bfnrt\\/\"", c) != NULL && c != '\0') {
            s->st = S_IN_STRING;
            return R_CONTINUE;
        }
        if (c == 'u') {
            s->st = S_IN_STRING_ESC_U;
            s->esc_u = 0;
            return R_CONTINUE;
        }
        return scan_error(s, c, "in string escape code");
    case S_IN_STRING_ESC_U:
        if (!skr_gobind_is_hex(c)) {
            return scan_error(s, c, "in \\u hexadecimal character escape");
        }
        if (++s->esc_u == 4) {
            s->st = S_IN_STRING;
        }
        return R_CONTINUE;
    case S_NEG:
        if (c == '0') {
            s->st = S_ZERO;
            return R_CONTINUE;
        }
        if (c >= '1' && c <= '9') {
            s->st = S_ONE;
            return R_CONTINUE;
        }
        return scan_error(s, c, "in numeric literal");
    case S_ONE:
        if (skr_gobind_is_digit(c)) {
            return R_CONTINUE;
        }
        return state_zero(s, c);
    case S_ZERO:
        return state_zero(s, c);
    case S_DOT:
        if (skr_gobind_is_digit(c)) {
            s->st = S_DOT0;
            return R_CONTINUE;
        }
        return scan_error(s, c, "after decimal point in numeric literal");
    case S_DOT0:
        if (skr_gobind_is_digit(c)) {
            return R_CONTINUE;
        }
        if (c == 'e' || c == 'E') {
            s->st = S_E;
            return R_CONTINUE;
        }
        return end_value(s, c);
    case S_E:
        if (c == '+' || c == '-') {
            s->st = S_ESIGN;
            return R_CONTINUE;
        }
        return state_esign(s, c);
    case S_ESIGN:
        return state_esign(s, c);
    case S_E0:
        if (skr_gobind_is_digit(c)) {
            return R_CONTINUE;
        }
        return end_value(s, c);
    case S_LIT:
        if (c == (uint8_t)*s->lit) {
            s->lit++;
            if (*s->lit == '\0') {
                s->st = S_END_VALUE;
            }
            return R_CONTINUE;
        } else {
            char context[64];
            (void)snprintf(context, sizeof(context), "in literal %s (expecting '%c')", s->lit_name,
                           *s->lit);
            return scan_error(s, c, context);
        }
    default:
        return scan_error(s, c, "");
    }
}

shd_result skr_gobind_scan_first_value(const uint8_t *p, size_t n, size_t *ret_end)
{
    struct scanner s = {.st = S_BEGIN_VALUE};
    s.stack = shd_alloc(SKR_GOBIND_MAX_DEPTH);
    SHD_ENSURE(s.stack != NULL, SHD_ERR_NOMEM);
    shd_result r = SHD_OK;
    for (size_t i = 0; i < n; i++) {
        enum step_result sr = step(&s, p[i]);
        if (sr == R_END) {
            *ret_end = i;
            goto out;
        }
        if (sr == R_END_CLOSE) {
            *ret_end = i + 1;
            goto out;
        }
        if (sr == R_ERROR) {
            r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "%s", s.err);
            goto out;
        }
    }
    /* At EOF Go feeds one space: a number or literal may end there. */
    if (step(&s, ' ') == R_END) {
        *ret_end = n;
        goto out;
    }
    bool non_space = false;
    for (size_t i = 0; i < n && !non_space; i++) {
        non_space = !skr_gobind_is_space(p[i]);
    }
    r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "%s",
                       non_space ? "unexpected EOF" : "EOF");
out:
    shd_free(s.stack);
    return r;
}
