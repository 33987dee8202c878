#!/usr/bin/env python3
"""arm_render.py - evaluates one container of deploy/aci/template.json for given parameters, so
that the rehearsal runs exactly the command line and environment the template deploys.

  arm_render.py TEMPLATE CONTAINER NAME=VALUE...

prints a JSON object {"command": [...] or null, "env": {NAME: VALUE}, "mounts": {vol: path}}.
Only the ARM functions the template uses are implemented: parameters, variables, concat, string
(an unknown function, a missing parameter or a type error is an error, never a guess).
"""
import json
import re
import sys

TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z][A-Za-z0-9]*)\s*\(|(?P<str>'(?:[^']|'')*')|"
                   r"(?P<int>-?[0-9]+)|(?P<close>\))|(?P<comma>,))")


class Evaluator:
    def __init__(self, tpl, params):
        self.tpl = tpl
        self.params = params

    def value(self, v):
        if isinstance(v, str) and v.startswith("[") and not v.startswith("[[") and v.endswith("]"):
            return self.expr(v[1:-1])
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        return v

    def expr(self, text):
        val, pos = self.call(text, 0)
        if text[pos:].strip():
            raise ValueError(f"trailing text in expression: {text!r}")
        return val

    def call(self, text, pos):
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"bad expression at {pos}: {text!r}")
        if m.group("str") is not None:
            return m.group("str")[1:-1].replace("''", "'"), m.end()
        if m.group("int") is not None:
            return int(m.group("int")), m.end()
        if m.group("name") is None:
            raise ValueError(f"unexpected token at {pos}: {text!r}")
        fn, pos, args = m.group("name"), m.end(), []
        while True:
            m = TOKEN.match(text, pos)
            if m and m.group("close") is not None:
                pos = m.end()
                break
            arg, pos = self.call(text, pos)
            args.append(arg)
            m = TOKEN.match(text, pos)
            if m and m.group("comma") is not None:
                pos = m.end()
        return self.apply(fn, args), pos

    def apply(self, fn, args):
        if fn == "parameters":
            (name,) = args
            decl = self.tpl["parameters"][name]
            if name in self.params:
                raw = self.params[name]
                return int(raw) if decl["type"] == "int" else (
                    json.loads(raw) if decl["type"] == "array" else raw)
            if "defaultValue" not in decl:
                raise ValueError(f"parameter {name} has no value")
            return self.value(decl["defaultValue"])
        if fn == "variables":
            (name,) = args
            return self.value(self.tpl["variables"][name])
        if fn == "concat":
            if not all(isinstance(a, str) for a in args):
                raise ValueError(f"concat of non-strings: {args!r}")
            return "".join(args)
        if fn == "string":
            (a,) = args
            return a if isinstance(a, str) else json.dumps(a)
        raise ValueError(f"ARM function {fn}() is not supported here")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        tpl = json.load(f)
    params = dict(a.split("=", 1) for a in sys.argv[3:])
    ev = Evaluator(tpl, params)
    group = tpl["resources"][0]["properties"]
    c = next(x for x in group["containers"] if x["name"] == sys.argv[2])["properties"]
    out = {
        "command": ev.value(c["command"]) if "command" in c else None,
        "env": {e["name"]: ev.value(e["value"]) for e in c.get("environmentVariables", [])},
        "mounts": {m["name"]: ev.value(m["mountPath"]) for m in c.get("volumeMounts", [])},
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
