#!/usr/bin/env bash
# Installs what mailfleet needs to build, test and demo on Debian 12.
# Idempotent: only missing packages are installed, and apt's lists are
# refreshed only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev libre2-dev libgtest-dev libgmock-dev
  postfix time procps curl
  clang libclang-rt-14-dev
  openssl libssl-dev python3-yaml
  python3-grpcio python3-protobuf
  prometheus-cpp-dev
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi
echo "bootstrap: installing ${missing[*]}"
# Postfix must not configure or start a system instance: every test and the
# demo run private instances with their own config and queue directories.
echo "postfix postfix/main_mailer_type select No configuration" \
  | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
# Nor may Prometheus start a system server on :9090: the metrics test runs
# its own. A policy-rc.d that says "not now" is how Debian keeps packages
# from starting services; one already there (containers have one) is left
# alone.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Only promtool and the prometheus binary are wanted: no server at boot.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then
  systemctl disable prometheus.service >/dev/null 2>&1 || true
fi
