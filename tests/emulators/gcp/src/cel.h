/*
 * cel.h - the subset of the Common Expression Language that workload identity providers use
 * for attribute mappings and attribute conditions (gcp-identity.md 4.5, 9):
 *
 *   expr    := or
 *   or      := and ( "||" and )*
 *   and     := rel ( "&&" rel )*
 *   rel     := add [ ( "==" | "!=" | "in" ) add ]
 *   add     := unary ( "+" unary )*            string concatenation (and integer addition)
 *   unary   := "!" unary | member
 *   member  := primary ( "." IDENT | "[" expr "]" )*
 *   primary := IDENT | STRING | INT | "true" | "false" | "null" | "(" expr ")"
 *            | "[" [ expr ( "," expr )* ] "]"
 *
 * Strings are single- or double-quoted with the escapes \\ \' \" \n \t \r. Values are JSON
 * (jansson): variables are JSON documents (assertion = the token claims; attribute, google =
 * the mapped attributes). Semantics follow CEL: "&&"/"||" short-circuit and absorb an error
 * on the other side when one side decides (false && err = false, true || err = true); "==" on
 * values of different types is false; "x in list" compares with "=="; "k in map" tests a key;
 * selecting a missing field, "!" or "&&" on a non-bool, "+" on mixed types are evaluation
 * errors. An attribute condition that does not evaluate to true (false or error) rejects.
 *
 * Limits: source GEMU_CEL_MAX_SOURCE bytes (Google: 4096 for a condition), nesting
 * GEMU_CEL_MAX_DEPTH, GEMU_CEL_MAX_NODES nodes, string results GEMU_CEL_MAX_STRING bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "shd/result.h"

#define GEMU_CEL_MAX_SOURCE 4096u
#define GEMU_CEL_MAX_DEPTH 32u
#define GEMU_CEL_MAX_NODES 512u
#define GEMU_CEL_MAX_STRING 8192u

struct gemu_cel;

/* A variable in scope during evaluation (value borrowed). */
struct gemu_cel_var {
    const char *name;
    const json_t *value;
};

/*
 * Compiles src. SHD_ERR_INPUT with a message "<what> at offset N" for a syntax error,
 * SHD_ERR_TOO_LARGE over the limits. *ret: gemu_cel_free.
 */
SHD_RESULT gemu_cel_parse(const char *src, struct gemu_cel **ret);

/* Frees a compiled expression (NULL is fine). */
void gemu_cel_free(struct gemu_cel *cel);

/*
 * Evaluates with the given variables (an identifier not among them is an error). *ret is a new
 * JSON value (json_decref). SHD_ERR_INPUT with a message for evaluation errors.
 */
SHD_RESULT gemu_cel_eval(const struct gemu_cel *cel, const struct gemu_cel_var *vars, size_t nvars,
                         json_t **ret);

/* Evaluates and requires a bool result (SHD_ERR_INPUT "not a bool" otherwise). */
SHD_RESULT gemu_cel_eval_bool(const struct gemu_cel *cel, const struct gemu_cel_var *vars,
                              size_t nvars, bool *ret);
