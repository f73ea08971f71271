#!/bin/bash
# Checks docker/ without a Docker engine: what can be known about the
# Dockerfiles, the demo's compose file and its configuration from the
# repository alone. CI runs no engine, so this is what keeps them from
# rotting between the times someone builds them.
#
#   docker/check-dockerfiles.sh [SOURCE_DIR [BUILD_DIR]]
#
# SOURCE_DIR defaults to this script's repository. With BUILD_DIR (a built
# tree), docker/runtime-packages.sh also runs on its binaries, as the image
# build does, and every package it names must exist in apt.
#
# Checked:
# - the build stage is identical in both Dockerfiles and runs what
#   `make build` runs: scripts/bootstrap.sh, the Makefile's configure (Ninja),
#   `cmake --build` of targets that exist, `cmake --install` of targets that
#   have install rules;
# - every COPY/ADD source exists and survives .dockerignore; every file of
#   the repository survives it (the build copies the whole tree); build
#   directories and .git do not;
# - every repository script a RUN line runs exists and is executable; every
#   RUN and shell-form HEALTHCHECK parses as sh; ENTRYPOINT and CMD parse;
# - every flag given to the agent, the controller or the CLI (CMD,
#   HEALTHCHECK, compose commands and environment) is one they define; the
#   ports exposed are the ones listened on and the ones docs/METRICS.md gives;
# - every package named in an apt-get install is known to apt;
# - compose.yaml parses; every file it mounts exists; build contexts,
#   Dockerfiles, targets, named volumes and dependencies exist; certificate
#   files used are ones the pki service makes; the gateways file names
#   compose services at their agents' ports and certificate names; the
#   Prometheus configuration scrapes services at their metrics ports, and
#   passes `promtool check config` when promtool is installed;
# - the scripts in docker/ pass bash -n (and shellcheck when installed).
#
# Exit status: 0 all passed, 1 something failed. A missing python3 with
# yaml, apt-cache or promtool is a failure, not a skip: on Debian 12 after
# scripts/bootstrap.sh all three are there (promtool with prometheus,
# python3-yaml with clang), and a check that skips itself checks nothing.
# Where shellcheck is installed (bootstrap does not) it is used too.
set -euo pipefail

src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
build=${2:-}

if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "FAIL: needs python3 with the yaml module (Debian: python3-yaml)"
  exit 1
fi
if ! command -v apt-cache >/dev/null; then
  echo "FAIL: needs apt-cache (Debian 12, as the images are) to check package names"
  exit 1
fi

exec python3 - "$src" "$build" <<'PY'
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml

SRC = os.path.abspath(sys.argv[1])
BUILD = os.path.abspath(sys.argv[2]) if sys.argv[2] else ""
DOCKER = os.path.join(SRC, "docker")
DOCKERFILES = ["docker/Dockerfile.agent", "docker/Dockerfile.controller"]
BASE_IMAGES = {"debian:bookworm", "debian:bookworm-slim"}

failures = []
passed = 0


def check(ok, what):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(what)
    return ok


def read(rel):
    with open(os.path.join(SRC, rel)) as f:
        return f.read()


def exists(rel):
    return os.path.exists(os.path.join(SRC, rel))


def executable(rel):
    return os.access(os.path.join(SRC, rel), os.X_OK)


# --- .dockerignore, as Docker matches it: patterns relative to the
# context's root, `*` and `?` within a name, `**` across directories, a
# pattern matching a directory excludes all below it, `!` re-includes.
def ignore_rules():
    rules = []
    path = os.path.join(SRC, ".dockerignore")
    if not os.path.exists(path):
        return rules
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        regex = ""
        for i, part in enumerate(pattern.split("/")):
            if part == "**":
                regex += "(?:.*/)?" if i < len(pattern.split("/")) - 1 else ".*"
                continue
            piece = ""
            for c in part:
                piece += "[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c)
            regex += piece + "/"
        regex = regex.rstrip("/")
        rules.append((negate, re.compile("^" + regex + "$")))
    return rules


IGNORE = ignore_rules()


def ignored(rel):
    rel = os.path.normpath(rel)
    if rel == ".":
        return False
    parts = rel.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negate, regex in IGNORE:
        if any(regex.match(c) for c in candidates):
            result = not negate
    return result


# --- Dockerfiles


class Instruction:
    def __init__(self, line, cmd, args, raw):
        self.line, self.cmd, self.args, self.raw = line, cmd, args, raw


def parse_dockerfile(rel):
    """Instructions with continuations joined and comment lines dropped, as
    Docker reads them; and the raw lines, for comparing stages."""
    lines = read(rel).split("\n")
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("#"):
            i += 1
            continue
        start = i
        text = line
        while text.rstrip().endswith("\\"):
            text = text.rstrip()[:-1]
            i += 1
            while i < len(lines) and lines[i].lstrip().startswith("#"):
                i += 1
            if i >= len(lines):
                break
            text += lines[i]
        cmd, _, args = text.strip().partition(" ")
        out.append(Instruction(start + 1, cmd.upper(), args.strip(), (start, i)))
        i += 1
    return out, lines


def split_flags(args):
    """`--from=build --chmod=0755 a b` -> ({from: build, chmod: 0755}, 'a b')."""
    flags = {}
    rest = args
    while rest.startswith("--"):
        word, _, rest = rest.partition(" ")
        key, _, value = word[2:].partition("=")
        flags[key] = value
        rest = rest.lstrip()
    return flags, rest


def stages_of(instructions):
    """[(name, image, [instructions])], in order."""
    stages = []
    for ins in instructions:
        if ins.cmd == "FROM":
            words = ins.args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append((name, words[0], [ins]))
        elif stages:
            stages[-1][2].append(ins)
    return stages


def stage_text(lines, stage):
    """The raw lines of a stage, from the comment block right above its FROM
    to the end of its last instruction."""
    first = stage[2][0].raw[0]
    while first > 0 and lines[first - 1].lstrip().startswith("#"):
        first -= 1
    last = stage[2][-1].raw[1]
    return "\n".join(lines[first : last + 1])


def sh_parses(command, what):
    r = subprocess.run(["sh", "-n", "-c", command], capture_output=True, text=True)
    return check(r.returncode == 0, f"{what}: does not parse as sh: {r.stderr.strip()}")


def absl_flags(dirs):
    names = set()
    for d in dirs:
        for root, _, files in os.walk(os.path.join(SRC, d)):
            for f in files:
                if f.endswith(".cc"):
                    text = open(os.path.join(root, f), errors="replace").read()
                    names.update(re.findall(r"ABSL_FLAG\(\s*[^,]+,\s*(\w+)\s*,", text))
    return names


FLAGS = {
    "mailfleet-agent": absl_flags(["agent", "common"]),
    "mailfleet-controller": absl_flags(["controller", "common"]),
}


def cli_flag_known(flag):
    for root, _, files in os.walk(os.path.join(SRC, "client/cli")):
        for f in files:
            if f.endswith(".cc") and f'"{flag}"' in open(os.path.join(root, f)).read():
                return True
    return False


def check_flags(binary, words, what):
    for w in words:
        if not w.startswith("--"):
            continue
        name = w[2:].split("=")[0]
        if binary == "mailfleet":
            check(cli_flag_known("--" + name), f"{what}: the CLI has no flag --{name}")
        else:
            check(name.replace("-", "_") in FLAGS[binary],
                  f"{what}: {binary} has no flag --{name}")


def flag_value(words, flag):
    for i, w in enumerate(words):
        if w == flag and i + 1 < len(words):
            return words[i + 1]
        if w.startswith(flag + "="):
            return w.split("=", 1)[1]
    return None


def port_of(address):
    return address.rsplit(":", 1)[1] if address and ":" in address else None


cmake_text = ""
for root, dirs, files in os.walk(SRC):
    dirs[:] = [d for d in dirs if not ignored(os.path.relpath(os.path.join(root, d), SRC))]
    if "CMakeLists.txt" in files:
        cmake_text += open(os.path.join(root, "CMakeLists.txt")).read()

# What each runtime entrypoint runs: the demo gateway's script ends by
# handing its arguments to the agent.
ENTRYPOINT_BINARY = {
    "mailfleet-agent": "mailfleet-agent",
    "mailfleet-controller": "mailfleet-controller",
    "mailfleet-demo-gateway": "mailfleet-agent",
}
entry = read("docker/gateway-entrypoint.sh") if exists("docker/gateway-entrypoint.sh") else ""
check(re.search(r'^exec mailfleet-agent .*"\$@"$', entry, re.M),
      "docker/gateway-entrypoint.sh: does not end by exec'ing mailfleet-agent with its arguments")

makefile = read("Makefile")
build_dir_default = re.search(r"^BUILD_DIR \?= (\S+)", makefile, re.M)
check(build_dir_default and build_dir_default.group(1) == "build",
      "Makefile: BUILD_DIR no longer defaults to build, which the Dockerfiles build in")
check(re.search(r"^configure: \$\(BUILD_DIR\)/build.ninja", makefile, re.M),
      "Makefile: no `configure` target, which the Dockerfiles run")
check(re.search(r"^\$\(BUILD_DIR\)/build.ninja: \| deps\n\tcmake -S \. -B \$\(BUILD_DIR\) -G Ninja",
                makefile, re.M),
      "Makefile: the configure step is no longer `cmake -S . -B $(BUILD_DIR) -G Ninja` after deps")
check(re.search(r"^build: deps configure\n\tcmake --build \$\(BUILD_DIR\)$", makefile, re.M),
      "Makefile: `make build` is no longer configure then `cmake --build $(BUILD_DIR)`")
check(re.search(r"^deps:\n\t@?scripts/bootstrap.sh$", makefile, re.M),
      "Makefile: `make deps` no longer runs scripts/bootstrap.sh")

metrics_doc = read("docs/METRICS.md") if exists("docs/METRICS.md") else ""
doc_ports = re.search(r"agent gRPC (\d+), agent metrics (\d+),\s+controller gRPC (\d+), "
                      r"controller metrics (\d+)", metrics_doc)
DOC_PORTS = {}
if check(doc_ports, "docs/METRICS.md: the sentence giving the ports is gone"):
    DOC_PORTS = {"mailfleet-agent": set(doc_ports.group(1, 2)),
                 "mailfleet-controller": set(doc_ports.group(3, 4))}

apt_packages = {}  # name -> where
build_texts = {}
STAGES = {}  # Dockerfile -> [(name, image, instructions)]

for rel in DOCKERFILES:
    if not check(exists(rel), f"{rel}: missing"):
        continue
    instructions, lines = parse_dockerfile(rel)
    stages = stages_of(instructions)
    STAGES[rel] = stages
    names = set()
    for name, image, body in stages:
        where = f"{rel}:{body[0].line}"
        check(image in BASE_IMAGES or image in names,
              f"{where}: FROM {image}: neither {sorted(BASE_IMAGES)} nor an earlier stage")
        names.add(name)
    check(stages and stages[0][0] == "build" and stages[0][1] == "debian:bookworm",
          f"{rel}: the first stage is not `FROM debian:bookworm AS build`")
    if not stages:
        continue
    build_stage = stages[0]
    build_texts[rel] = stage_text(lines, build_stage)
    build_run = "\n".join(i.args for i in build_stage[2] if i.cmd == "RUN")

    # The build stage does what `make build` does, in this order.
    order = [
        ("RUN", r"^scripts/bootstrap\.sh$"),
        ("COPY", r"^\. \.$"),
        ("RUN", r"^make configure$"),
        ("RUN", r"^(--\S+ +)*cmake --build build --target "),
        ("RUN", r"^DESTDIR=\S+ cmake --install build "),
    ]
    at = 0
    for ins in build_stage[2]:
        if at < len(order) and ins.cmd == order[at][0] and re.search(order[at][1], ins.args):
            at += 1
    check(at == len(order),
          f"{rel}: the build stage does not run, in order, bootstrap, COPY . ., make configure, "
          f"cmake --build build --target ..., cmake --install build (missing: {order[at:] if at < len(order) else ''})")
    check(exists("scripts/bootstrap.sh") and executable("scripts/bootstrap.sh"),
          "scripts/bootstrap.sh: missing or not executable")

    targets = []
    m = re.search(r"cmake --build build --target ((?:[\w.+-]+[ \t]*)+)", build_run)
    if m:
        targets = m.group(1).split()
    for t in targets:
        check(re.search(r"add_executable\(\s*" + re.escape(t) + r"[\s)]", cmake_text),
              f"{rel}: the build target {t} is no add_executable() in any CMakeLists.txt")

    for name, image, body in stages:
        entrypoint = None
        cmd_words = []
        cmd_set = False
        env = {}
        exposed = set()
        for ins in body:
            where = f"{rel}:{ins.line}"
            if ins.cmd in ("COPY", "ADD"):
                flags, rest = split_flags(ins.args)
                words = shlex.split(rest)
                sources = words[:-1]
                check(len(words) >= 2, f"{where}: {ins.cmd} without a source and a destination")
                if "from" in flags:
                    check(flags["from"] in [s[0] for s in stages[: stages.index((name, image, body))]],
                          f"{where}: --from={flags['from']} is not an earlier stage")
                    if flags["from"] == "build":
                        for s in sources:
                            base = os.path.basename(s.rstrip("/"))
                            check(s.startswith("/out/") and base in build_run,
                                  f"{where}: {s} is not something the build stage writes to /out")
                            if s.startswith("/out/usr/local/bin/"):
                                check(base in targets, f"{where}: {base} is not built by the build stage")
                                check(re.search(r"install\(\s*TARGETS\s+" + re.escape(base) + r"[\s)]",
                                                cmake_text),
                                      f"{where}: {base} has no install(TARGETS ...) rule, so "
                                      "`cmake --install` does not put it in /out/usr/local/bin")
                else:
                    check(ins.cmd == "COPY" or not re.match(r"https?://", rest),
                          f"{where}: ADD of a URL: not reproducible")
                    for s in sources:
                        check(exists(s), f"{where}: COPY source {s} does not exist")
                        check(not ignored(s), f"{where}: COPY source {s} is excluded by .dockerignore")
            elif ins.cmd == "RUN":
                flags, body_cmd = split_flags(ins.args)
                sh_parses(body_cmd, f"{where}: RUN")
                for script in re.findall(r"(?<![\w/.])((?:scripts|docker|deploy)/[\w./-]+)", body_cmd):
                    check(exists(script) and executable(script),
                          f"{where}: {script} is run but is missing or not executable")
                    check(not ignored(script), f"{where}: {script} is run but excluded by .dockerignore")
                for m in re.finditer(r"apt-get install((?:\s+(?:\\\s*)?[^\s;&|]+)+)", body_cmd):
                    for w in m.group(1).split():
                        if not w.startswith("-") and "$" not in w and ")" not in w:
                            apt_packages.setdefault(w, where)
            elif ins.cmd == "HEALTHCHECK":
                m = re.search(r"\bCMD\s+(.*)$", ins.args, re.S)
                if check(m, f"{where}: HEALTHCHECK without CMD"):
                    hc = m.group(1)
                    if not hc.startswith("["):
                        sh_parses(hc, f"{where}: HEALTHCHECK")
                        words = hc.split()
                        check(words[0] == "mailfleet" and words[-1] == "health",
                              f"{where}: the health check is not `mailfleet ... health`")
                        check_flags("mailfleet", words, f"{where}: HEALTHCHECK")
                        check(any(f'"health"' in open(os.path.join(SRC, "client/cli", f)).read()
                                  for f in os.listdir(os.path.join(SRC, "client/cli")) if f.endswith(".cc")),
                              f"{where}: the CLI has no `health` command")
            elif ins.cmd in ("ENTRYPOINT", "CMD"):
                try:
                    value = json.loads(ins.args)
                    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
                except ValueError:
                    ok = False
                if check(ok, f"{where}: {ins.cmd} is not in exec (JSON) form"):
                    if ins.cmd == "ENTRYPOINT":
                        entrypoint = value[0] if value else None
                        if not cmd_set:
                            cmd_words = []  # an inherited CMD is dropped
                    else:
                        cmd_words = value
                        cmd_set = True
            elif ins.cmd == "ENV":
                for pair in shlex.split(ins.args):
                    k, _, v = pair.partition("=")
                    env[k] = v
            elif ins.cmd == "EXPOSE":
                exposed.update(ins.args.split())
        if entrypoint:
            binary = ENTRYPOINT_BINARY.get(entrypoint)
            if check(binary, f"{rel} stage {name}: unknown entrypoint {entrypoint}"):
                check_flags(binary, cmd_words, f"{rel} stage {name}: CMD")
                check_flags("mailfleet", env.get("MAILFLEET_HEALTHCHECK_FLAGS", "").split(),
                            f"{rel} stage {name}: MAILFLEET_HEALTHCHECK_FLAGS")
                listen = port_of(flag_value(cmd_words, "--listen"))
                metrics = port_of(flag_value(cmd_words, "--metrics-listen"))
                if cmd_words:
                    check(exposed == {listen, metrics},
                          f"{rel} stage {name}: EXPOSE {sorted(exposed)} is not the CMD's ports "
                          f"{listen} and {metrics}")
                    check(port_of(env.get("MAILFLEET_HEALTHCHECK_ADDR")) == listen,
                          f"{rel} stage {name}: MAILFLEET_HEALTHCHECK_ADDR is not the --listen port")
                    if DOC_PORTS:
                        check(exposed == DOC_PORTS[binary],
                              f"{rel} stage {name}: ports {sorted(exposed)} are not docs/METRICS.md's "
                              f"{sorted(DOC_PORTS[binary])}")

if len(build_texts) == 2:
    a, b = build_texts.values()
    check(a == b, "the build stages of Dockerfile.agent and Dockerfile.controller differ: "
                  "keep them identical, so that BuildKit builds them once")

# --- .dockerignore: the build copies the whole tree, so no file of the
# repository may be left out; the build trees and .git must be.
check(exists(".dockerignore"), ".dockerignore: missing")
for d in ("build", "build-asan", "build-fuzz", ".git"):
    check(ignored(d), f".dockerignore: {d}/ is not excluded")
r = subprocess.run(["git", "-C", SRC, "ls-files", "--cached", "--others", "--exclude-standard"],
                   capture_output=True, text=True)
if r.returncode == 0:
    files = [f for f in r.stdout.splitlines() if os.path.exists(os.path.join(SRC, f))]
else:
    # Not a git checkout: every file but the build trees, .git and caches,
    # which are meant to be left out.
    files = []
    for root, dirs, fs in os.walk(SRC):
        if root == SRC:
            dirs[:] = [d for d in dirs if not d.startswith(("build", ".git", ".cache"))]
            fs = [f for f in fs if f != "compile_commands.json"]
        files += [os.path.relpath(os.path.join(root, f), SRC) for f in fs]
left_out = [f for f in files if ignored(f)]
check(not left_out, f".dockerignore excludes files of the repository: {left_out[:10]}")

# --- compose.yaml
COMPOSE = "docker/compose.yaml"
compose = None
try:
    compose = yaml.safe_load(read(COMPOSE))
    check(isinstance(compose, dict) and isinstance(compose.get("services"), dict),
          f"{COMPOSE}: no services")
except (OSError, yaml.YAMLError) as e:
    check(False, f"{COMPOSE}: does not parse: {e}")

if compose and isinstance(compose.get("services"), dict):
    services = compose["services"]
    volumes_declared = set((compose.get("volumes") or {}).keys())

    def mounts(svc):
        """[(host path or volume name, container path, is_bind)]"""
        out = []
        for v in svc.get("volumes") or []:
            if isinstance(v, dict):
                out.append((v.get("source"), v.get("target"), v.get("type") == "bind"))
            else:
                parts = v.split(":")
                bind = parts[0].startswith((".", "/", "~"))
                out.append((parts[0], parts[1] if len(parts) > 1 else parts[0], bind))
        return out

    def host_file(svc, container_path):
        for source, target, bind in mounts(svc):
            if bind and target == container_path:
                return os.path.normpath(os.path.join(DOCKER, source))
        return None

    def words_of(svc):
        c = svc.get("command") or []
        return shlex.split(c) if isinstance(c, str) else [str(w) for w in c]

    image_binary = {}  # image name -> binary its entrypoint runs
    service_binary = {}
    for name, svc in services.items():
        b = svc.get("build")
        if not b:
            continue
        ctx = os.path.normpath(os.path.join(DOCKER, b.get("context", ".")))
        dockerfile = os.path.relpath(os.path.join(ctx, b.get("dockerfile", "Dockerfile")), SRC)
        check(os.path.isdir(ctx), f"{COMPOSE}: {name}: build context {b.get('context')} missing")
        if not check(dockerfile in STAGES, f"{COMPOSE}: {name}: {dockerfile} is not a checked Dockerfile"):
            continue
        stages = STAGES[dockerfile]
        target = b.get("target", stages[-1][0])
        stage_names = [s[0] for s in stages]
        if not check(target in stage_names, f"{COMPOSE}: {name}: no stage {target} in {dockerfile}"):
            continue
        # The entrypoint in force in that stage, following its FROM chain.
        entry_of = {}
        for sname, image, body in stages:
            e = entry_of.get(image)
            for ins in body:
                if ins.cmd == "ENTRYPOINT":
                    try:
                        e = json.loads(ins.args)[0]
                    except (ValueError, IndexError):
                        e = None
            entry_of[sname] = e
        binary = ENTRYPOINT_BINARY.get(entry_of.get(target))
        service_binary[name] = binary
        if svc.get("image"):
            image_binary[svc["image"]] = binary

    for name, svc in services.items():
        where = f"{COMPOSE}: {name}"
        for dep in svc.get("depends_on") or []:
            check(dep in services, f"{where}: depends on {dep}, which is no service")
        for source, target, bind in mounts(svc):
            if bind:
                check(os.path.exists(os.path.normpath(os.path.join(DOCKER, source))),
                      f"{where}: mounts {source}, which does not exist")
            else:
                check(source in volumes_declared, f"{where}: volume {source} is not declared")
        binary = service_binary.get(name) or image_binary.get(svc.get("image"))
        entrypoint_override = svc.get("entrypoint")
        if binary and not entrypoint_override:
            check_flags(binary, words_of(svc), f"{where}: command")
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        check_flags("mailfleet", str(env.get("MAILFLEET_HEALTHCHECK_FLAGS", "")).split(),
                    f"{where}: MAILFLEET_HEALTHCHECK_FLAGS")

    # The certificates the pki service makes, and those the others use.
    made_agents = {}
    made_controller = False
    pki_uid = None
    for name, svc in services.items():
        text = " ".join(words_of(svc))
        if "make-fleet-certs.sh" in text:
            script = re.search(r"(\S*make-fleet-certs\.sh)", text).group(1)
            check(host_file(svc, script) and os.access(host_file(svc, script), os.X_OK),
                  f"{COMPOSE}: {name}: runs {script}, which is not a mounted executable file")
            for spec in re.findall(r"--agent[ =](\S+)", text):
                agent, _, sans = spec.partition(":")
                made_agents[agent] = {agent} | {s.split(":")[-1] for s in sans.split(",") if s}
            made_controller = True
            m = re.search(r"chown (\d+)(?::\d+)? \S*controller\.key", text)
            pki_uid = m.group(1) if m else None
    controller_uid = re.search(r"^ARG MAILFLEET_UID=(\d+)", read("docker/Dockerfile.controller"), re.M)
    if pki_uid and controller_uid:
        check(pki_uid == controller_uid.group(1),
              f"{COMPOSE}: the controller's key is given to uid {pki_uid}, the controller runs as "
              f"{controller_uid.group(1)}")
    for name, svc in services.items():
        text = yaml.safe_dump({"c": svc.get("command"), "e": svc.get("environment")})
        for agent in re.findall(r"/pki/agent-([\w.@-]+)\.(?:pem|key)", text):
            check(agent in made_agents, f"{COMPOSE}: {name} uses agent-{agent}'s certificate, "
                                        "which the pki service does not make")
        if re.search(r"/pki/controller\.(pem|key)", text):
            check(made_controller, f"{COMPOSE}: {name} uses the controller's certificate, not made")

    # The gateways file: compose services, at their agents' ports, by a name
    # their certificates carry.
    gateway_by_host = {}
    for name, svc in services.items():
        if service_binary.get(name) != "mailfleet-controller":
            continue
        gw_path = flag_value(words_of(svc), "--gateways")
        gw_file = host_file(svc, gw_path) if gw_path else None
        if not check(gw_file and os.path.exists(gw_file),
                     f"{COMPOSE}: {name}: --gateways {gw_path} is not a mounted file"):
            continue
        entries = re.findall(r'name:\s*"([^"]+)"\s*address:\s*"([^"]+)"', open(gw_file).read())
        check(entries, f"{gw_file}: no gateways")
        for gw_name, address in entries:
            host, port = address.rsplit(":", 1)
            gateway_by_host[host] = gw_name
            gw = services.get(host)
            if not check(gw is not None, f"{gw_file}: {address}: {host} is no compose service"):
                continue
            words = words_of(gw)
            check(port_of(flag_value(words, "--listen")) == port,
                  f"{gw_file}: {address}: {host}'s agent does not listen on port {port}")
            cert = flag_value(words, "--tls-cert") or ""
            m = re.search(r"agent-([\w.@-]+)\.pem$", cert)
            check(m and host in made_agents.get(m.group(1), set()),
                  f"{gw_file}: {address}: {host}'s certificate ({cert}) does not name {host}")

    # Prometheus: services at their metrics ports, rule files mounted.
    for name, svc in services.items():
        if not str(svc.get("image", "")).startswith("prom/prometheus"):
            continue
        check(":" in svc["image"] and not svc["image"].endswith(":latest"),
              f"{COMPOSE}: {name}: pin Prometheus's version")
        conf_file = host_file(svc, "/etc/prometheus/prometheus.yml")
        if not check(conf_file and os.path.exists(conf_file),
                     f"{COMPOSE}: {name}: no prometheus.yml mounted"):
            continue
        try:
            conf = yaml.safe_load(open(conf_file))
        except yaml.YAMLError as e:
            check(False, f"{conf_file}: does not parse: {e}")
            continue
        rule_hosts = []
        for rule in conf.get("rule_files") or []:
            h = host_file(svc, rule)
            check(h is not None, f"{conf_file}: rule file {rule} is not mounted into {name}")
            if h:
                rule_hosts.append(h)
        # The rules select on the job names of deploy/'s configuration, and
        # match an agent's figures to the controller's by `gateway`.
        deploy_conf = os.path.join(SRC, "deploy/prometheus/prometheus.yml")
        jobs = {j.get("job_name") for j in conf.get("scrape_configs") or []}
        if os.path.exists(deploy_conf):
            deploy_jobs = {j.get("job_name")
                           for j in yaml.safe_load(open(deploy_conf)).get("scrape_configs") or []}
            check(jobs == deploy_jobs, f"{conf_file}: jobs {sorted(jobs)} are not "
                                       f"deploy/prometheus/prometheus.yml's {sorted(deploy_jobs)}")
        for job in conf.get("scrape_configs") or []:
            for sc in job.get("static_configs") or []:
                for t in sc.get("targets") or []:
                    host, port = t.rsplit(":", 1)
                    if job.get("job_name") == "mailfleet-agent":
                        check((sc.get("labels") or {}).get("gateway") == gateway_by_host.get(host),
                              f"{conf_file}: target {t}: its gateway label is not the gateways "
                              f"file's name for {host} ({gateway_by_host.get(host)})")
                    target = services.get(host)
                    if check(target is not None, f"{conf_file}: target {t}: {host} is no service"):
                        check(port_of(flag_value(words_of(target), "--metrics-listen")) == port,
                              f"{conf_file}: target {t}: {host} serves no metrics on port {port}")
        promtool = shutil.which("promtool")
        check(promtool, f"{conf_file}: promtool is not installed (scripts/bootstrap.sh installs it)")
        if promtool and all(os.path.exists(h) for h in rule_hosts):
            with tempfile.TemporaryDirectory() as tmp:
                conf["rule_files"] = rule_hosts
                path = os.path.join(tmp, "prometheus.yml")
                with open(path, "w") as f:
                    yaml.safe_dump(conf, f)
                r = subprocess.run([promtool, "check", "config", path], capture_output=True, text=True)
                check(r.returncode == 0,
                      f"{conf_file}: promtool check config: {(r.stdout + r.stderr).strip()}")

# --- packages: one apt-cache for all of them (each call loads apt's whole
# cache, a second or more).
def known_to_apt(packages):
    r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + sorted(packages),
                       capture_output=True, text=True)
    return set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))


derived = {}  # package -> image
if BUILD:
    sets = {
        "agent": ["agent/mailfleet-agent", "client/cli/mailfleet"],
        "controller": ["controller/mailfleet-controller", "client/cli/mailfleet"],
        "demo": ["bench/fill/mailfleet-testpostfix", "bench/fill/mailfleet-mpa-sim"],
    }
    for image, bins in sets.items():
        paths = [os.path.join(BUILD, b) for b in bins]
        if not all(os.path.exists(p) for p in paths):
            print(f"note: {image}'s binaries are not in {BUILD}: runtime-packages.sh not run on them")
            continue
        r = subprocess.run([os.path.join(DOCKER, "runtime-packages.sh")] + paths,
                           capture_output=True, text=True)
        if check(r.returncode == 0, f"runtime-packages.sh on {image}'s binaries: {r.stderr.strip()}"):
            for pkg in r.stdout.split():
                derived.setdefault(pkg, image)
            print(f"{image} image's libraries come from: {' '.join(r.stdout.split())}")
else:
    print("note: no BUILD_DIR given: runtime-packages.sh not run")

known = known_to_apt(set(apt_packages) | set(derived))
for pkg, where in sorted(apt_packages.items()):
    check(pkg in known,
          f"{where}: package {pkg} is not known to apt (a typo, or apt-get update not run)")
for pkg, image in sorted(derived.items()):
    check(pkg in known, f"runtime-packages.sh: {pkg} ({image} image) is not known to apt")

# --- the scripts
for f in sorted(os.listdir(DOCKER)):
    if not f.endswith(".sh"):
        continue
    rel = f"docker/{f}"
    check(executable(rel), f"{rel}: not executable")
    r = subprocess.run(["bash", "-n", os.path.join(SRC, rel)], capture_output=True, text=True)
    check(r.returncode == 0, f"{rel}: bash -n: {r.stderr.strip()}")
    if shutil.which("shellcheck"):
        r = subprocess.run(["shellcheck", os.path.join(SRC, rel)], capture_output=True, text=True)
        check(r.returncode == 0, f"{rel}: shellcheck:\n{r.stdout.strip()}")

failures = list(dict.fromkeys(failures))  # one line per distinct failure
for f in failures:
    print(f"FAIL: {f}")
print(f"{passed} checks passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
PY
