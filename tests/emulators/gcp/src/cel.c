/*
 * cel.c - parser and evaluator of the CEL subset in cel.h: a recursive-descent parser into a
 * node arena, and a tree-walking evaluator over jansson values.
 */
#include "cel.h"

#include <stdint.h>
#include <string.h>

#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

enum cel_kind {
    CEL_IDENT = 1,
    CEL_STR,
    CEL_INT,
    CEL_BOOL,
    CEL_NULL,
    CEL_LIST,   /* a = first item (linked by next), -1 when empty */
    CEL_SELECT, /* a = operand, s = field */
    CEL_INDEX,  /* a = operand, b = index */
    CEL_NOT,
    CEL_AND,
    CEL_OR,
    CEL_EQ,
    CEL_NE,
    CEL_IN,
    CEL_ADD,
};

struct cel_node {
    enum cel_kind kind;
    int a;
    int b;
    int next;
    char *s;
    size_t slen;
    int64_t i;
    bool bv;
};

struct gemu_cel {
    struct cel_node *nodes;
    size_t n;
    int root;
};

/* ------------------------------------------------------------------------------------------ */
/* Parser                                                                                      */

struct cel_parser {
    const char *src;
    size_t len;
    size_t pos;
    unsigned depth;
    struct gemu_cel *cel;
};

static void cel_skip_ws(struct cel_parser *p)
{
    while (p->pos < p->len && (p->src[p->pos] == ' ' || p->src[p->pos] == '\t' ||
                               p->src[p->pos] == '\n' || p->src[p->pos] == '\r')) {
        p->pos++;
    }
}

/* Consumes tok (after white space) if it is next; keywords must not run into an identifier. */
static bool cel_accept(struct cel_parser *p, const char *tok)
{
    cel_skip_ws(p);
    size_t n = strlen(tok);
    if (p->len - p->pos < n || strncmp(p->src + p->pos, tok, n) != 0) {
        return false;
    }
    char c = p->pos + n < p->len ? p->src[p->pos + n] : '\0';
    bool word = (tok[0] >= 'a' && tok[0] <= 'z');
    if (word &&
        ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
        return false;
    }
    /* "=" alone, "!" of "!=", "&" or "|" alone are not the tokens asked for. */
    if (strcmp(tok, "!") == 0 && c == '=') {
        return false;
    }
    p->pos += n;
    return true;
}

static shd_result cel_error(const struct cel_parser *p, const char *what)
{
    return shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "%s at offset %zu", what, p->pos);
}

static shd_result cel_node_new(struct cel_parser *p, enum cel_kind kind, int *ret)
{
    struct gemu_cel *c = p->cel;
    SHD_ENSURE_MSG(c->n < GEMU_CEL_MAX_NODES, SHD_ERR_TOO_LARGE, "expression too complex");
    struct cel_node *nd = &c->nodes[c->n];
    shd_memzero(nd, sizeof(*nd));
    nd->kind = kind;
    nd->a = -1;
    nd->b = -1;
    nd->next = -1;
    *ret = (int)c->n++;
    return SHD_OK;
}

static shd_result cel_binary(struct cel_parser *p, enum cel_kind kind, int a, int b, int *ret)
{
    int n = 0;
    SHD_GUARD(cel_node_new(p, kind, &n));
    p->cel->nodes[n].a = a;
    p->cel->nodes[n].b = b;
    *ret = n;
    return SHD_OK;
}

static shd_result cel_expr(struct cel_parser *p, int *ret);

static shd_result cel_string(struct cel_parser *p, int *ret)
{
    char q = p->src[p->pos++];
    struct shd_buf b;
    shd_buf_init(GEMU_CEL_MAX_STRING, 0, &b);
    shd_result r = SHD_OK;
    for (;;) {
        if (p->pos >= p->len) {
            r = cel_error(p, "unterminated string");
            break;
        }
        char c = p->src[p->pos++];
        if (c == q) {
            break;
        }
        if (c == '\n' || c == '\r') {
            r = cel_error(p, "newline in string");
            break;
        }
        if (c == '\\') {
            char e = p->pos < p->len ? p->src[p->pos++] : '\0';
            switch (e) {
            case '\\':
            case '\'':
            case '"':
                c = e;
                break;
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            default:
                r = cel_error(p, "unsupported escape");
                break;
            }
            if (shd_is_err(r)) {
                break;
            }
        }
        r = shd_buf_append(&c, 1, &b);
        if (shd_is_err(r)) {
            break;
        }
    }
    int n = 0;
    if (shd_is_ok(r)) {
        r = cel_node_new(p, CEL_STR, &n);
    }
    if (shd_is_ok(r)) {
        struct cel_node *nd = &p->cel->nodes[n];
        nd->slen = shd_buf_len(&b);
        nd->s = shd_strndup(shd_buf_str(&b), nd->slen);
        r = nd->s != NULL ? SHD_OK : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    }
    shd_buf_free(&b);
    SHD_GUARD(r);
    *ret = n;
    return SHD_OK;
}

static bool cel_ident_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* An identifier into a new node of kind (CEL_IDENT or the field of a CEL_SELECT). */
static shd_result cel_ident(struct cel_parser *p, enum cel_kind kind, int *ret)
{
    cel_skip_ws(p);
    size_t start = p->pos;
    while (p->pos < p->len && cel_ident_char(p->src[p->pos], p->pos == start)) {
        p->pos++;
    }
    if (p->pos == start) {
        return cel_error(p, "identifier expected");
    }
    int n = 0;
    SHD_GUARD(cel_node_new(p, kind, &n));
    struct cel_node *nd = &p->cel->nodes[n];
    nd->slen = p->pos - start;
    nd->s = shd_strndup(p->src + start, nd->slen);
    SHD_ENSURE(nd->s != NULL, SHD_ERR_NOMEM);
    *ret = n;
    return SHD_OK;
}

static shd_result cel_int(struct cel_parser *p, int *ret)
{
    int64_t v = 0;
    size_t start = p->pos;
    while (p->pos < p->len && p->src[p->pos] >= '0' && p->src[p->pos] <= '9') {
        int d = p->src[p->pos] - '0';
        if (v > (INT64_MAX - d) / 10) {
            return cel_error(p, "integer too large");
        }
        v = v * 10 + d;
        p->pos++;
    }
    if (p->pos - start > 1 && p->src[start] == '0') {
        return cel_error(p, "leading zero");
    }
    int n = 0;
    SHD_GUARD(cel_node_new(p, CEL_INT, &n));
    p->cel->nodes[n].i = v;
    *ret = n;
    return SHD_OK;
}

static shd_result cel_list(struct cel_parser *p, int *ret)
{
    int n = 0;
    SHD_GUARD(cel_node_new(p, CEL_LIST, &n));
    int last = -1;
    if (!cel_accept(p, "]")) {
        do {
            int item = 0;
            SHD_GUARD(cel_expr(p, &item));
            if (last < 0) {
                p->cel->nodes[n].a = item;
            } else {
                p->cel->nodes[last].next = item;
            }
            last = item;
        } while (cel_accept(p, ","));
        if (!cel_accept(p, "]")) {
            return cel_error(p, "']' expected");
        }
    }
    *ret = n;
    return SHD_OK;
}

static shd_result cel_primary(struct cel_parser *p, int *ret)
{
    cel_skip_ws(p);
    if (p->pos >= p->len) {
        return cel_error(p, "unexpected end of expression");
    }
    char c = p->src[p->pos];
    if (c == '\'' || c == '"') {
        return cel_string(p, ret);
    }
    if (c >= '0' && c <= '9') {
        return cel_int(p, ret);
    }
    if (cel_accept(p, "(")) {
        SHD_GUARD(cel_expr(p, ret));
        return cel_accept(p, ")") ? SHD_OK : cel_error(p, "')' expected");
    }
    if (cel_accept(p, "[")) {
        return cel_list(p, ret);
    }
    int n = 0;
    bool is_true = cel_accept(p, "true");
    if (is_true || cel_accept(p, "false")) {
        SHD_GUARD(cel_node_new(p, CEL_BOOL, &n));
        p->cel->nodes[n].bv = is_true;
        *ret = n;
        return SHD_OK;
    }
    if (cel_accept(p, "null")) {
        SHD_GUARD(cel_node_new(p, CEL_NULL, &n));
        *ret = n;
        return SHD_OK;
    }
    if (cel_ident_char(c, true)) {
        return cel_ident(p, CEL_IDENT, ret);
    }
    return cel_error(p, "unexpected character");
}

static shd_result cel_member(struct cel_parser *p, int *ret)
{
    int x = 0;
    SHD_GUARD(cel_primary(p, &x));
    for (;;) {
        if (cel_accept(p, ".")) {
            int sel = 0;
            SHD_GUARD(cel_ident(p, CEL_SELECT, &sel));
            p->cel->nodes[sel].a = x;
            x = sel;
        } else if (cel_accept(p, "[")) {
            int idx = 0;
            SHD_GUARD(cel_expr(p, &idx));
            if (!cel_accept(p, "]")) {
                return cel_error(p, "']' expected");
            }
            SHD_GUARD(cel_binary(p, CEL_INDEX, x, idx, &x));
        } else {
            break;
        }
    }
    *ret = x;
    return SHD_OK;
}

static shd_result cel_unary(struct cel_parser *p, int *ret)
{
    if (cel_accept(p, "!")) {
        SHD_ENSURE_MSG(++p->depth <= GEMU_CEL_MAX_DEPTH, SHD_ERR_TOO_LARGE,
                       "expression nested too deeply");
        int x = 0;
        SHD_GUARD(cel_unary(p, &x));
        p->depth--;
        return cel_binary(p, CEL_NOT, x, -1, ret);
    }
    return cel_member(p, ret);
}

static shd_result cel_add(struct cel_parser *p, int *ret)
{
    int x = 0;
    SHD_GUARD(cel_unary(p, &x));
    while (cel_accept(p, "+")) {
        int y = 0;
        SHD_GUARD(cel_unary(p, &y));
        SHD_GUARD(cel_binary(p, CEL_ADD, x, y, &x));
    }
    *ret = x;
    return SHD_OK;
}

static shd_result cel_rel(struct cel_parser *p, int *ret)
{
    int x = 0;
    SHD_GUARD(cel_add(p, &x));
    enum cel_kind k = 0;
    if (cel_accept(p, "==")) {
        k = CEL_EQ;
    } else if (cel_accept(p, "!=")) {
        k = CEL_NE;
    } else if (cel_accept(p, "in")) {
        k = CEL_IN;
    }
    if (k != 0) {
        int y = 0;
        SHD_GUARD(cel_add(p, &y));
        SHD_GUARD(cel_binary(p, k, x, y, &x));
    }
    *ret = x;
    return SHD_OK;
}

static shd_result cel_and(struct cel_parser *p, int *ret)
{
    int x = 0;
    SHD_GUARD(cel_rel(p, &x));
    while (cel_accept(p, "&&")) {
        int y = 0;
        SHD_GUARD(cel_rel(p, &y));
        SHD_GUARD(cel_binary(p, CEL_AND, x, y, &x));
    }
    *ret = x;
    return SHD_OK;
}

static shd_result cel_expr(struct cel_parser *p, int *ret)
{
    SHD_ENSURE_MSG(++p->depth <= GEMU_CEL_MAX_DEPTH, SHD_ERR_TOO_LARGE,
                   "expression nested too deeply");
    int x = 0;
    SHD_GUARD(cel_and(p, &x));
    while (cel_accept(p, "||")) {
        int y = 0;
        SHD_GUARD(cel_and(p, &y));
        SHD_GUARD(cel_binary(p, CEL_OR, x, y, &x));
    }
    p->depth--;
    *ret = x;
    return SHD_OK;
}

void gemu_cel_free(struct gemu_cel *cel)
{
    if (cel == NULL) {
        return;
    }
    for (size_t i = 0; i < cel->n; i++) {
        shd_free(cel->nodes[i].s);
    }
    shd_free(cel->nodes);
    shd_free(cel);
}

shd_result gemu_cel_parse(const char *src, struct gemu_cel **ret)
{
    SHD_ENSURE_REF(src);
    SHD_ENSURE_REF(ret);
    size_t len = strlen(src);
    SHD_ENSURE_MSG(len <= GEMU_CEL_MAX_SOURCE, SHD_ERR_TOO_LARGE, "expression longer than %u bytes",
                   GEMU_CEL_MAX_SOURCE);
    struct gemu_cel *cel = shd_alloc(sizeof(*cel));
    SHD_ENSURE(cel != NULL, SHD_ERR_NOMEM);
    cel->nodes = shd_alloc_array(GEMU_CEL_MAX_NODES, sizeof(cel->nodes[0]));
    if (cel->nodes == NULL) {
        shd_free(cel);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    struct cel_parser p = {.src = src, .len = len, .cel = cel};
    shd_result r = cel_expr(&p, &cel->root);
    if (shd_is_ok(r)) {
        cel_skip_ws(&p);
        if (p.pos != p.len) {
            r = cel_error(&p, "unexpected trailing input");
        }
    }
    if (shd_is_err(r)) {
        gemu_cel_free(cel);
        return r;
    }
    *ret = cel;
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Evaluation                                                                                  */

struct cel_env {
    const struct gemu_cel *cel;
    const struct gemu_cel_var *vars;
    size_t nvars;
};

static shd_result cel_eval(const struct cel_env *env, int idx, json_t **ret);

static shd_result cel_new(json_t *v, json_t **ret)
{
    SHD_ENSURE(v != NULL, SHD_ERR_NOMEM);
    *ret = v;
    return SHD_OK;
}

static shd_result cel_eval_bool(const struct cel_env *env, int idx, bool *ret)
{
    json_t *v = NULL;
    SHD_GUARD(cel_eval(env, idx, &v));
    bool ok = json_is_boolean(v);
    bool b = json_is_true(v);
    json_decref(v);
    SHD_ENSURE_MSG(ok, SHD_ERR_INPUT, "no matching overload: operand is not a bool");
    *ret = b;
    return SHD_OK;
}

/* CEL && and ||: an error on one side is absorbed when the other side decides. */
static shd_result cel_logic(const struct cel_env *env, const struct cel_node *nd, json_t **ret)
{
    bool decide = nd->kind == CEL_OR; /* the value that decides alone */
    bool l = false;
    shd_result rl = cel_eval_bool(env, nd->a, &l);
    if (shd_is_ok(rl) && l == decide) {
        return cel_new(json_boolean(decide), ret);
    }
    bool r = false;
    shd_result rr = cel_eval_bool(env, nd->b, &r);
    if (shd_is_ok(rr) && r == decide) {
        shd_error_clear();
        return cel_new(json_boolean(decide), ret);
    }
    SHD_GUARD(rl);
    SHD_GUARD(rr);
    return cel_new(json_boolean(!decide), ret);
}

/* CEL equality on JSON values: different types are unequal; integers, strings, bools, null,
 * lists and maps compare structurally (json_equal). */
static bool cel_equal(const json_t *a, const json_t *b)
{
    if (json_typeof(a) != json_typeof(b)) {
        bool ab = json_is_boolean(a) && json_is_boolean(b);
        return ab && json_is_true(a) == json_is_true(b);
    }
    return json_equal(a, b) != 0;
}

static shd_result cel_in(const json_t *x, const json_t *coll, json_t **ret)
{
    if (json_is_array(coll)) {
        size_t i = 0;
        const json_t *v = NULL;
        json_array_foreach(coll, i, v)
        {
            if (cel_equal(x, v)) {
                return cel_new(json_true(), ret);
            }
        }
        return cel_new(json_false(), ret);
    }
    if (json_is_object(coll)) {
        SHD_ENSURE_MSG(json_is_string(x), SHD_ERR_INPUT, "no matching overload for 'in'");
        return cel_new(json_boolean(json_object_get(coll, json_string_value(x)) != NULL), ret);
    }
    SHD_BAIL_MSG(SHD_ERR_INPUT, "no matching overload for 'in'");
}

static shd_result cel_plus(const json_t *a, const json_t *b, json_t **ret)
{
    if (json_is_string(a) && json_is_string(b)) {
        size_t la = json_string_length(a);
        size_t lb = json_string_length(b);
        SHD_ENSURE_MSG(la + lb <= GEMU_CEL_MAX_STRING, SHD_ERR_INPUT, "string too long");
        char *s = shd_alloc(la + lb + 1);
        SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
        shd_memcpy(s, json_string_value(a), la);
        shd_memcpy(s + la, json_string_value(b), lb);
        json_t *v = json_stringn_nocheck(s, la + lb);
        shd_free(s);
        return cel_new(v, ret);
    }
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a);
        json_int_t y = json_integer_value(b);
        json_int_t z = 0;
        SHD_ENSURE_MSG(!__builtin_add_overflow(x, y, &z), SHD_ERR_INPUT, "integer overflow");
        return cel_new(json_integer(z), ret);
    }
    if (json_is_array(a) && json_is_array(b)) {
        json_t *v = json_array();
        SHD_ENSURE(v != NULL, SHD_ERR_NOMEM);
        if (json_array_extend(v, (json_t *)(uintptr_t)a) != 0 ||
            json_array_extend(v, (json_t *)(uintptr_t)b) != 0) {
            json_decref(v);
            SHD_BAIL(SHD_ERR_NOMEM);
        }
        return cel_new(v, ret);
    }
    SHD_BAIL_MSG(SHD_ERR_INPUT, "no matching overload for '+'");
}

static shd_result cel_select(const json_t *obj, const char *field, json_t **ret)
{
    SHD_ENSURE_MSG(json_is_object(obj), SHD_ERR_INPUT, "cannot select field '%s' of a non-map",
                   field);
    json_t *v = json_object_get(obj, field);
    SHD_ENSURE_MSG(v != NULL, SHD_ERR_INPUT, "no such key: %s", field);
    *ret = json_incref(v);
    return SHD_OK;
}

static shd_result cel_index(const json_t *x, const json_t *i, json_t **ret)
{
    if (json_is_object(x) && json_is_string(i)) {
        return cel_select(x, json_string_value(i), ret);
    }
    if (json_is_array(x) && json_is_integer(i)) {
        json_int_t k = json_integer_value(i);
        SHD_ENSURE_MSG(k >= 0 && (size_t)k < json_array_size(x), SHD_ERR_INPUT,
                       "index out of range");
        *ret = json_incref(json_array_get(x, (size_t)k));
        return SHD_OK;
    }
    SHD_BAIL_MSG(SHD_ERR_INPUT, "no matching overload for index");
}

static shd_result cel_eval_pair(const struct cel_env *env, const struct cel_node *nd, json_t **ret)
{
    json_t *a = NULL;
    json_t *b = NULL;
    SHD_GUARD(cel_eval(env, nd->a, &a));
    shd_result r = cel_eval(env, nd->b, &b);
    if (shd_is_ok(r)) {
        switch (nd->kind) {
        case CEL_EQ:
            r = cel_new(json_boolean(cel_equal(a, b)), ret);
            break;
        case CEL_NE:
            r = cel_new(json_boolean(!cel_equal(a, b)), ret);
            break;
        case CEL_IN:
            r = cel_in(a, b, ret);
            break;
        case CEL_ADD:
            r = cel_plus(a, b, ret);
            break;
        case CEL_INDEX:
            r = cel_index(a, b, ret);
            break;
        default:
            r = shd_error_set(SHD_ERR_INTERNAL, __FILE__, __LINE__);
            break;
        }
    }
    json_decref(a);
    json_decref(b);
    return r;
}

static shd_result cel_eval(const struct cel_env *env, int idx, json_t **ret)
{
    SHD_ENSURE(idx >= 0 && (size_t)idx < env->cel->n, SHD_ERR_INTERNAL);
    const struct cel_node *nd = &env->cel->nodes[idx];
    switch (nd->kind) {
    case CEL_IDENT:
        for (size_t i = 0; i < env->nvars; i++) {
            if (strcmp(env->vars[i].name, nd->s) == 0 && env->vars[i].value != NULL) {
                *ret = json_incref((json_t *)(uintptr_t)env->vars[i].value);
                return SHD_OK;
            }
        }
        SHD_BAIL_MSG(SHD_ERR_INPUT, "undeclared reference to '%s'", nd->s);
    case CEL_STR:
        return cel_new(json_stringn_nocheck(nd->s, nd->slen), ret);
    case CEL_INT:
        return cel_new(json_integer(nd->i), ret);
    case CEL_BOOL:
        return cel_new(json_boolean(nd->bv), ret);
    case CEL_NULL:
        return cel_new(json_null(), ret);
    case CEL_LIST: {
        json_t *arr = json_array();
        SHD_ENSURE(arr != NULL, SHD_ERR_NOMEM);
        for (int it = nd->a; it >= 0; it = env->cel->nodes[it].next) {
            json_t *v = NULL;
            shd_result r = cel_eval(env, it, &v);
            if (shd_is_ok(r) && json_array_append_new(arr, v) != 0) {
                r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
            }
            if (shd_is_err(r)) {
                json_decref(arr);
                return r;
            }
        }
        *ret = arr;
        return SHD_OK;
    }
    case CEL_SELECT: {
        json_t *x = NULL;
        SHD_GUARD(cel_eval(env, nd->a, &x));
        shd_result r = cel_select(x, nd->s, ret);
        json_decref(x);
        return r;
    }
    case CEL_NOT: {
        bool b = false;
        SHD_GUARD(cel_eval_bool(env, nd->a, &b));
        return cel_new(json_boolean(!b), ret);
    }
    case CEL_AND:
    case CEL_OR:
        return cel_logic(env, nd, ret);
    case CEL_EQ:
    case CEL_NE:
    case CEL_IN:
    case CEL_ADD:
    case CEL_INDEX:
        return cel_eval_pair(env, nd, ret);
    default:
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
}

shd_result gemu_cel_eval(const struct gemu_cel *cel, const struct gemu_cel_var *vars, size_t nvars,
                         json_t **ret)
{
    SHD_ENSURE_REF(cel);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(vars != NULL || nvars == 0, SHD_ERR_NULL);
    struct cel_env env = {.cel = cel, .vars = vars, .nvars = nvars};
    return cel_eval(&env, cel->root, ret);
}

shd_result gemu_cel_eval_bool(const struct gemu_cel *cel, const struct gemu_cel_var *vars,
                              size_t nvars, bool *ret)
{
    SHD_ENSURE_REF(ret);
    json_t *v = NULL;
    SHD_GUARD(gemu_cel_eval(cel, vars, nvars, &v));
    bool ok = json_is_boolean(v);
    bool b = json_is_true(v);
    json_decref(v);
    SHD_ENSURE_MSG(ok, SHD_ERR_INPUT, "expression result is not a bool");
    *ret = b;
    return SHD_OK;
}
