#!/usr/bin/env python3
"""check_arm.py - structural checks of deploy/aci/template.json (label deploy).

  check_arm.py TEMPLATE PARAMETERS_EXAMPLE

checks the template (and that the example parameters file fits it), then runs the same checks on
mutated copies of the template, each of which must be rejected (so the checks can fail).

What is checked: one Microsoft.ContainerInstance/containerGroups resource with sku Confidential,
a ccePolicy taken from a parameter, a user-assigned identity from a parameter; three containers
(skr, skr-proxy, workload); one emptyDir volume mounted at the same path in skr and skr-proxy and
in no other container; exactly one exposed port, which is the proxy's and the only container
port; skr serves its socket inside that volume and the proxy reaches it there; MAA, Key Vault and
key name come from parameters; every parameter is used and every parameters('x') is declared;
the example parameters file names only declared parameters and sets every required one.
"""
import copy
import json
import re
import sys

PARAM_REF = re.compile(r"parameters\('([A-Za-z0-9_]+)'\)")
VAR_REF = re.compile(r"variables\('([A-Za-z0-9_]+)'\)")


def strings(node):
    """Every string inside a JSON value (keys included)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def resolve(tpl, value):
    """A template value with [variables('x')] replaced when it is exactly one variable."""
    if isinstance(value, str):
        m = re.fullmatch(r"\[variables\('([A-Za-z0-9_]+)'\)\]", value)
        if m:
            return tpl.get("variables", {}).get(m.group(1))
    return value


def env_of(container):
    out = {}
    for e in container["properties"].get("environmentVariables", []):
        out[e["name"]] = e.get("value", e.get("secureValue"))
    return out


def check(tpl, params):
    errs = []

    def need(cond, msg):
        if not cond:
            errs.append(msg)
        return cond

    declared = tpl.get("parameters", {})
    used = set()
    for s in strings(tpl.get("resources", [])):
        used.update(PARAM_REF.findall(s))
    for s in strings(tpl.get("outputs", {})):
        used.update(PARAM_REF.findall(s))
    for s in strings(tpl.get("variables", {})):
        used.update(PARAM_REF.findall(s))
    need(not (used - set(declared)), f"undeclared parameters used: {sorted(used - set(declared))}")
    need(not (set(declared) - used),
         f"declared but unused parameters: {sorted(set(declared) - used)}")
    vars_used = set()
    for s in strings(tpl.get("resources", [])):
        vars_used.update(VAR_REF.findall(s))
    need(not (vars_used - set(tpl.get("variables", {}))), "undeclared variables used")

    groups = [r for r in tpl.get("resources", [])
              if r.get("type") == "Microsoft.ContainerInstance/containerGroups"]
    if not need(len(groups) == 1 and len(tpl["resources"]) == 1,
                "want exactly one resource, a containerGroups"):
        return errs
    g = groups[0]
    p = g.get("properties", {})
    need(p.get("sku") == "Confidential", "sku must be Confidential")
    need(p.get("osType") == "Linux", "osType must be Linux")
    cce = p.get("confidentialComputeProperties", {}).get("ccePolicy")
    need(cce == "[parameters('ccePolicy')]", "ccePolicy must be [parameters('ccePolicy')]")
    need(declared.get("ccePolicy", {}).get("type") == "string"
         and "defaultValue" not in declared.get("ccePolicy", {}),
         "parameter ccePolicy: a string without default")
    ident = g.get("identity", {})
    need(ident.get("type") == "UserAssigned", "identity type must be UserAssigned")
    need(list(ident.get("userAssignedIdentities", {}).keys()) == ["[parameters('identityId')]"],
         "the one user-assigned identity must be [parameters('identityId')]")

    containers = {c.get("name"): c for c in p.get("containers", [])}
    if not need(len(p.get("containers", [])) == 3
                and set(containers) == {"skr", "skr-proxy", "workload"},
                f"want containers skr, skr-proxy, workload; got {sorted(containers)}"):
        return errs
    skr, proxy, wl = containers["skr"], containers["skr-proxy"], containers["workload"]

    vols = p.get("volumes", [])
    if not need(len(vols) == 1 and vols[0].get("emptyDir") == {} and len(vols[0]) == 2,
                "want exactly one volume, an emptyDir"):
        return errs
    vname = vols[0]["name"]
    mounts = {}
    for name, c in containers.items():
        for m in c["properties"].get("volumeMounts", []):
            mounts.setdefault(name, []).append(m)
    need(set(mounts) == {"skr", "skr-proxy"},
         f"the volume must be mounted in skr and skr-proxy only; mounted in {sorted(mounts)}")
    paths = set()
    for name in ("skr", "skr-proxy"):
        ms = mounts.get(name, [])
        if need(len(ms) == 1 and ms[0].get("name") == vname and not ms[0].get("readOnly", False),
                f"{name}: one read-write mount of {vname}"):
            paths.add(resolve(tpl, ms[0].get("mountPath")))
    need(len(paths) == 1 and all(isinstance(x, str) and x.startswith("/") for x in paths),
         "skr and skr-proxy must mount the volume at the same absolute path")
    sockdir = next(iter(paths)) if len(paths) == 1 else None

    ports = p.get("ipAddress", {}).get("ports", [])
    need(len(ports) == 1, f"want exactly one exposed port; got {len(ports)}")
    cports = {n: c["properties"].get("ports", []) for n, c in containers.items()}
    need(not cports["skr"] and not cports["workload"], "skr and workload must declare no port")
    need(len(cports["skr-proxy"]) == 1 and len(ports) == 1
         and cports["skr-proxy"][0].get("port") == ports[0].get("port")
         and ports[0].get("port") == "[parameters('proxyPort')]",
         "the exposed port must be the proxy's port, [parameters('proxyPort')]")

    cmd = [resolve(tpl, a) for a in skr["properties"].get("command", [])]
    sock = None
    if need("-socket" in cmd and cmd.index("-socket") + 1 < len(cmd), "skr: -socket missing"):
        sock = cmd[cmd.index("-socket") + 1]
        need(sockdir is not None and isinstance(sock, str) and sock.startswith(sockdir + "/"),
             f"skr socket {sock} must lie in the shared volume {sockdir}")
    need("-allow-uid" in cmd, "skr: -allow-uid (SO_PEERCRED allow-list) missing")
    # The group shares one network namespace: skr on TCP would serve the workload too.
    need("-tcp=false" in cmd, "skr: -tcp=false missing (the workload could reach skr over TCP)")

    env = env_of(proxy)
    need(env.get("POLARIS_CONTAINER_KEY_TYPE") == "azure-skr", "proxy key type must be azure-skr")
    ep = env.get("POLARIS_CONTAINER_AZURE_SKR_KEY_RELEASE_ENDPOINT", "")
    need(ep == "[concat('unix:', variables('socketPath'))]"
         and sock == tpl.get("variables", {}).get("socketPath"),
         "proxy must reach skr on unix:<skr's socket>")
    for var, prm in (("POLARIS_CONTAINER_AZURE_SKR_MAA_ENDPOINT", "maaEndpoint"),
                     ("POLARIS_CONTAINER_AZURE_SKR_AKV_ENDPOINT", "akvEndpoint"),
                     ("POLARIS_CONTAINER_AZURE_SKR_KID", "keyName")):
        need(env.get(var) == f"[parameters('{prm}')]", f"proxy {var} must be parameter {prm}")
    need(env.get("POLARIS_CONTAINER_ENABLE_INPUT_ENCRYPTION") == "true", "input encryption off")
    need("127.0.0.1" in env.get("POLARIS_CONTAINER_WORKLOAD_BASE_URL", ""),
         "the proxy must reach the workload on loopback")
    need(not env_of(wl).keys() & {k for k in env if k.startswith("POLARIS_CONTAINER_AZURE")},
         "the workload must not get the key-release settings")

    # The example parameters file.
    pv = params.get("parameters", {})
    need(not (set(pv) - set(declared)),
         f"example sets undeclared {sorted(set(pv) - set(declared))}")
    required = {k for k, v in declared.items() if "defaultValue" not in v}
    need(not (required - set(pv)), f"example misses required {sorted(required - set(pv))}")
    return errs


def mutations(tpl):
    """(description, mutated template) pairs; each must fail check()."""
    def mut(desc, fn):
        t = copy.deepcopy(tpl)
        fn(t)
        return desc, t

    def props(t):
        return t["resources"][0]["properties"]

    def cont(t, name):
        return next(c for c in props(t)["containers"] if c["name"] == name)

    return [
        mut("standard sku", lambda t: props(t).__setitem__("sku", "Standard")),
        mut("literal ccePolicy", lambda t: props(t)["confidentialComputeProperties"].__setitem__(
            "ccePolicy", "")),
        mut("system identity", lambda t: t["resources"][0]["identity"].__setitem__(
            "type", "SystemAssigned")),
        mut("a second exposed port", lambda t: props(t)["ipAddress"]["ports"].append(
            {"protocol": "TCP", "port": 8080})),
        mut("skr declares 8080", lambda t: cont(t, "skr")["properties"].__setitem__(
            "ports", [{"port": 8080}])),
        mut("volume in workload", lambda t: cont(t, "workload")["properties"].__setitem__(
            "volumeMounts", [{"name": "skr-socket", "mountPath": "/run/skr"}])),
        mut("proxy mounts elsewhere", lambda t: cont(t, "skr-proxy")["properties"][
            "volumeMounts"][0].__setitem__("mountPath", "/run/other")),
        mut("volume not emptyDir", lambda t: props(t)["volumes"][0].update(
            {"emptyDir": None, "secret": {}})),
        mut("four containers", lambda t: props(t)["containers"].append(
            copy.deepcopy(cont(t, "workload")) | {"name": "extra"})),
        mut("socket outside the volume", lambda t: t["variables"].__setitem__(
            "socketPath", "/tmp/skr.sock")),
        mut("hard-coded vault", lambda t: next(
            e for e in cont(t, "skr-proxy")["properties"]["environmentVariables"]
            if e["name"] == "POLARIS_CONTAINER_AZURE_SKR_AKV_ENDPOINT").__setitem__(
            "value", "x.vault.azure.net")),
        mut("no peer allow-list", lambda t: cont(t, "skr")["properties"].__setitem__(
            "command", ["/bin/skr", "-socket", "[variables('socketPath')]"])),
        mut("skr on TCP", lambda t: cont(t, "skr")["properties"]["command"].remove(
            "-tcp=false")),
        mut("unused parameter", lambda t: t["parameters"].__setitem__(
            "spare", {"type": "string"})),
    ]


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        tpl = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        params = json.load(f)
    errs = check(tpl, params)
    for e in errs:
        print(f"FAIL: template: {e}")
    failed = len(errs) > 0
    for desc, t in mutations(tpl):
        if not check(t, params):
            print(f"FAIL: mutation '{desc}' was accepted")
            failed = True
    n = len(mutations(tpl))
    if failed:
        return 1
    print(f"check_arm: template ok; {n} mutations rejected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
