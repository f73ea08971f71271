#!/usr/bin/env bash
# deploy_check: the deployment material under deploy/ is what it claims to
# be. Prometheus's configuration, rules and rule tests pass promtool; every
# alert and recording rule has a test; the dashboard is JSON whose queries
# are valid PromQL; the Kubernetes manifests parse, hang together and build
# with kustomize (when kubectl is here); the gateways files parse as a
# GatewaysFile; every flag the examples pass exists in the binary that gets
# it; and the systemd units pass systemd-analyze verify (when it is here).
#
# Usage: check_deploy.sh SOURCE_DIR. Runs every check, then exits 1 if any
# failed. A missing promtool, python3 (with yaml) or protoc is a failure:
# the first comes with bootstrap.sh, the others are build dependencies.
set -uo pipefail

src=${1:?usage: check_deploy.sh SOURCE_DIR}
deploy=$src/deploy
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()

# check NAME COMMAND...: runs COMMAND, showing its output; a non-zero exit
# fails NAME.
check() {
  local name=$1
  shift
  printf '== %s\n' "$name"
  if ! "$@"; then
    failed+=("$name")
    printf 'FAILED: %s\n' "$name"
  fi
}

skip() { printf '== %s\nSKIPPED: %s\n' "$1" "$2"; }

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$tool not found"; return 1; }
  done
  python3 -c 'import yaml' || { echo "python3 has no yaml module (python3-yaml)"; return 1; }
}

# promtool prints warnings (a file_sd file that does not exist) with exit
# status 0: they fail the check too.
promtool_clean() {
  local out status
  out=$(promtool "$@" 2>&1)
  status=$?
  printf '%s\n' "$out"
  [ "$status" -eq 0 ] && ! grep -q WARNING <<<"$out"
}

# Every alert fires in some test, every recording rule is evaluated in
# some test.
rules_covered() {
  python3 - "$deploy/prometheus/mailfleet-rules.yml" "$deploy/prometheus/mailfleet-rules.test.yml" <<'EOF'
import re, sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
tests = yaml.safe_load(open(sys.argv[2]))
alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
records = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
fired, evaluated = set(), set()
for t in tests["tests"]:
    for a in t.get("alert_rule_test", []):
        if a.get("exp_alerts"):
            fired.add(a["alertname"])
    for e in t.get("promql_expr_test", []):
        evaluated.update(r for r in records
                         if re.search(r"(?<![\w:])" + re.escape(r) + r"(?![\w:])", e["expr"]))
bad = [f"alert {a} never fires in a test" for a in sorted(alerts - fired)]
bad += [f"recording rule {r} is never evaluated in a test" for r in sorted(records - evaluated)]
for b in bad:
    print(b)
if not bad:
    print(f"{len(alerts)} alerts and {len(records)} recording rules, all tested")
sys.exit(1 if bad else 0)
EOF
}

# The dashboard: JSON, the datasource and gateway variables, unique panel
# ids, no overlapping panels; its queries are written out as recording rules
# (Grafana's variables replaced) for promtool to parse.
dashboard_valid() {
  python3 -m json.tool "$deploy/grafana/mailfleet.json" >/dev/null || return 1
  python3 - "$deploy/grafana/mailfleet.json" "$work/dashboard-rules.yml" <<'EOF' || return 1
import json, sys, yaml
d = json.load(open(sys.argv[1]))
bad = []
names = [v["name"] for v in d["templating"]["list"]]
for want in ("DS_PROMETHEUS", "gateway"):
    if want not in names:
        bad.append(f"no templating variable {want}")
ids, cells, rules = set(), {}, []
for p in d["panels"]:
    if p["id"] in ids:
        bad.append(f"panel id {p['id']} used twice")
    ids.add(p["id"])
    g = p["gridPos"]
    for x in range(g["x"], g["x"] + g["w"]):
        for y in range(g["y"], g["y"] + g["h"]):
            if (x, y) in cells:
                bad.append(f"panel '{p['title']}' overlaps '{cells[(x, y)]}'")
                break
            cells[(x, y)] = p["title"]
    if p["type"] == "row":
        continue
    for t in [p] + p["targets"]:
        if t.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            bad.append(f"panel '{p['title']}' does not use ${{DS_PROMETHEUS}}")
    for t in p["targets"]:
        expr = t["expr"].replace("$__rate_interval", "5m").replace("$gateway", ".+")
        rules.append({"record": f"dashboard:panel{p['id']}:{t['refId']}", "expr": expr})
for b in sorted(set(bad)):
    print(b)
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[2], "w"))
print(f"{len(ids)} panels, {len(rules)} queries")
sys.exit(1 if bad else 0)
EOF
  promtool_clean check rules "$work/dashboard-rules.yml"
}

yaml_parses() {
  local f status=0
  for f in "$deploy"/kubernetes/*.yaml; do
    if python3 -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$f"; then
      echo "$f: parses"
    else
      echo "$f: does not parse"
      status=1
    fi
  done
  return $status
}

# What a reader of the manifests takes for granted: the files kustomize
# names exist, the Service and the PodDisruptionBudget select the pods,
# every mount has its volume, and every file the container is given is
# under a mount.
manifests_consistent() {
  python3 - "$deploy/kubernetes" <<'EOF'
import os, sys, yaml
root = sys.argv[1]
load = lambda f: list(yaml.safe_load_all(open(os.path.join(root, f))))
k = load("kustomization.yaml")[0]
bad = []
docs = []
for f in k["resources"]:
    if not os.path.exists(os.path.join(root, f)):
        bad.append(f"kustomization: resource {f} missing")
    else:
        docs += load(f)
for gen in k.get("configMapGenerator", []):
    for f in gen.get("files", []):
        if not os.path.exists(os.path.join(root, f.split("=")[-1])):
            bad.append(f"kustomization: {gen['name']} file {f} missing")
by_kind = {d["kind"]: d for d in docs}
dep = by_kind["Deployment"]
pod_labels = dep["spec"]["template"]["metadata"]["labels"]
def selects(selector):
    return all(pod_labels.get(k) == v for k, v in selector.items())
if not selects(dep["spec"]["selector"]["matchLabels"]):
    bad.append("Deployment's selector does not match its pods")
if not selects(by_kind["Service"]["spec"]["selector"]):
    bad.append("Service does not select the pods")
if not selects(by_kind["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]):
    bad.append("PodDisruptionBudget does not select the pods")
spec = dep["spec"]["template"]["spec"]
volumes = {v["name"] for v in spec["volumes"]}
generated = {g["name"] for g in k.get("configMapGenerator", [])}
for v in spec["volumes"]:
    if "configMap" in v and v["configMap"]["name"] not in generated:
        bad.append(f"volume {v['name']}: ConfigMap {v['configMap']['name']} is not generated")
for c in spec["containers"]:
    mounts = [m["mountPath"].rstrip("/") + "/" for m in c["volumeMounts"]]
    for m in c["volumeMounts"]:
        if m["name"] not in volumes:
            bad.append(f"mount {m['name']} has no volume")
    ports = {p["name"] for p in c["ports"]}
    for p in by_kind["Service"]["spec"]["ports"]:
        if p["targetPort"] not in ports:
            bad.append(f"Service port {p['name']}: no container port {p['targetPort']}")
    words = list(c.get("args", []))
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        words += c.get(probe, {}).get("exec", {}).get("command", [])[1:]
    for w in words:
        path = w.split("=", 1)[-1]
        if path.startswith("/") and not any(path.startswith(m) for m in mounts):
            bad.append(f"{path} is not under any volume mount")
for b in bad:
    print(b)
if not bad:
    print("consistent")
sys.exit(1 if bad else 0)
EOF
}

gateways_parse() {
  local f status=0
  for f in "$deploy"/config/gateways.txtpb "$deploy"/kubernetes/gateways.txtpb; do
    if protoc -I"$src/proto" --encode=mailfleet.v1.GatewaysFile \
         "$src/proto/mailfleet/v1/gateways.proto" <"$f" >/dev/null; then
      echo "$f: a GatewaysFile"
    else
      echo "$f: not a GatewaysFile"
      status=1
    fi
  done
  return $status
}

# Lines of a tokens file are NAME ROLE SHA256HEX (common/security/tokens.cc).
tokens_example_valid() {
  local bad
  bad=$(sed 's/#.*//' "$deploy/config/tokens.example" | grep -v '^[[:space:]]*$' \
    | grep -Ev '^[A-Za-z0-9._@-]{1,64}[[:space:]]+(viewer|reader|operator)[[:space:]]+[0-9a-f]{64}[[:space:]]*$')
  if [ -n "$bad" ]; then
    echo "not NAME ROLE SHA256HEX: $bad"
    return 1
  fi
  echo "tokens.example: valid"
}

# flags_defined WHAT FLAG_SOURCES... <<< "ARGS": every --flag in ARGS is an
# ABSL_FLAG of one of FLAG_SOURCES (dashes are underscores there).
flags_defined() {
  local what=$1 word name status=0
  shift
  while read -r word; do
    case $word in --*) ;; *) continue ;; esac
    name=${word#--}
    name=${name%%=*}
    if grep -q "ABSL_FLAG([^,]*, *${name//-/_}," "$@"; then
      echo "$what: --$name defined"
    else
      echo "$what: --$name is not a flag of the binary"
      status=1
    fi
  done < <(tr -s '[:blank:]' '\n')
  return $status
}

# The env files as systemd reads them (for what they use, sourcing them in
# an empty environment gives the same value), and the flags written into
# the units and the manifests.
flags_exist() {
  local agent_flags=("$src/agent/main.cc" "$src/common/security/server_flags.cc")
  local controller_flags=("$src/controller/main.cc" "$src/common/security/server_flags.cc")
  local status=0
  # shellcheck disable=SC2016 # expanded by the inner bash
  env -i bash -c 'set -a; . "$1"; printf "%s\n" "$MAILFLEET_AGENT_ARGS"' _ "$deploy/config/agent.env" \
    | flags_defined agent.env "${agent_flags[@]}" || status=1
  # shellcheck disable=SC2016 # expanded by the inner bash
  env -i bash -c 'set -a; . "$1"; printf "%s\n" "$MAILFLEET_CONTROLLER_ARGS"' _ "$deploy/config/controller.env" \
    | flags_defined controller.env "${controller_flags[@]}" || status=1
  grep -h '^ExecStart=' "$deploy/systemd/mailfleet-agent.service" | cut -d' ' -f2- \
    | flags_defined mailfleet-agent.service "${agent_flags[@]}" || status=1
  grep -h '^ExecStart=' "$deploy/systemd/mailfleet-controller.service" | cut -d' ' -f2- \
    | flags_defined mailfleet-controller.service "${controller_flags[@]}" || status=1
  python3 -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    for c in d["spec"]["template"]["spec"]["containers"]:
        print("\n".join(c["args"]))' "$deploy/kubernetes/deployment.yaml" \
    | flags_defined deployment.yaml "${controller_flags[@]}" || status=1
  # The probes run the CLI, whose flags are a table in command_line.cc.
  local word
  for word in $(python3 -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    for c in d["spec"]["template"]["spec"]["containers"]:
        for p in ("readinessProbe", "livenessProbe"):
            print("\n".join(w for w in c[p]["exec"]["command"] if w.startswith("--")))' \
      "$deploy/kubernetes/deployment.yaml" | sort -u); do
    if grep -q "{\"$word\"," "$src/client/cli/command_line.cc"; then
      echo "probe: $word defined"
    else
      echo "probe: $word is not a flag of the CLI"
      status=1
    fi
  done
  return $status
}

kustomize_builds() {
  kubectl kustomize "$deploy/kubernetes" >"$work/kustomized.yaml" \
    && python3 -c 'import sys, yaml; print(len(list(yaml.safe_load_all(open(sys.argv[1])))), "objects")' \
         "$work/kustomized.yaml"
}

# systemd-analyze verify wants ExecStart's binary to exist, and reports a
# misspelt key or a bad value with exit status 0: the units are checked as
# copies whose binaries are stand-ins, and any output fails.
units_verify() {
  local unit name out status=0
  mkdir -p "$work/units/bin"
  for unit in "$deploy"/systemd/*.service; do
    name=$(basename "$unit" .service)
    printf '#!/bin/sh\nexit 0\n' >"$work/units/bin/$name"
    chmod +x "$work/units/bin/$name"
    sed "s|/usr/local/bin/$name|$work/units/bin/$name|" "$unit" >"$work/units/$name.service"
    if out=$(systemd-analyze verify "$work/units/$name.service" 2>&1) && [ -z "$out" ]; then
      echo "$name.service: verified"
    else
      printf '%s\n%s.service: systemd-analyze verify objects\n' "$out" "$name"
      status=1
    fi
  done
  return $status
}

check "tools: promtool, python3 with yaml, protoc" need promtool python3 protoc
check "promtool check config prometheus.yml" promtool_clean check config "$deploy/prometheus/prometheus.yml"
check "promtool check rules mailfleet-rules.yml" promtool_clean check rules "$deploy/prometheus/mailfleet-rules.yml"
check "promtool test rules mailfleet-rules.test.yml" promtool_clean test rules "$deploy/prometheus/mailfleet-rules.test.yml"
check "every rule has a test" rules_covered
check "grafana/mailfleet.json" dashboard_valid
check "kubernetes/*.yaml parse" yaml_parses
check "kubernetes manifests hang together" manifests_consistent
check "gateways files parse" gateways_parse
check "tokens.example" tokens_example_valid
check "flags in the examples exist" flags_exist
if command -v kubectl >/dev/null; then
  check "kubectl kustomize kubernetes/" kustomize_builds
else
  skip "kubectl kustomize kubernetes/" "kubectl not found"
fi
if command -v systemd-analyze >/dev/null; then
  check "systemd-analyze verify" units_verify
else
  skip "systemd-analyze verify" "systemd-analyze not found (the systemd package)"
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf '\ndeploy_check FAILED: %s\n' "$(IFS=,; echo "${failed[*]}")"
  exit 1
fi
printf '\ndeploy_check: all passed\n'
