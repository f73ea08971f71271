#!/usr/bin/env bash
# Builds a real Postfix queue of COUNT deferred messages (default 100000)
# over SMTP, runs every benchmark against it, and removes it. Results go to
# stdout in the Markdown that docs/BENCHMARKS.md records.
#   make bench              # or: COUNT=20000 RUNS=3 bench/run_all.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
COUNT=${COUNT:-100000}
RUNS=${RUNS:-5}
ROOT=${ROOT:-/tmp/mailfleet-bench-$COUNT}
TESTPOSTFIX=$BUILD_DIR/bench/fill/mailfleet-testpostfix
# The CA and certificates of the listing's mTLS rows, made afresh each run.
TLS_DIR=$(mktemp -d /tmp/mailfleet-bench-tls-XXXXXX)

# KEEP=1 leaves the queue for another run (it takes minutes to fill).
cleanup() {
  rm -rf "$TLS_DIR"
  [ "${KEEP:-0}" = 1 ] || "$TESTPOSTFIX" destroy --root "$ROOT" >/dev/null 2>&1 || true
}
trap cleanup EXIT

if [ ! -f "$ROOT/config/main.cf" ]; then
  rm -rf "$ROOT"
  "$TESTPOSTFIX" create --root "$ROOT" > "$ROOT.env"
  port=$(sed -n 's/^smtp_port=//p' "$ROOT.env")
  echo "filling $ROOT with $COUNT messages over SMTP..." >&2
  "$TESTPOSTFIX" fill --port "$port" --count "$COUNT" --connections 8 >&2
  "$TESTPOSTFIX" settle --root "$ROOT" --timeout 900 >&2
fi

echo "Machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); Postfix $(postconf -c "$ROOT/config" -h mail_version); $(date -u +%F)."
echo
"$BUILD_DIR/bench/listing/mailfleet-bench-listing" \
  --postfix-config-dir "$ROOT/config" \
  --agent-bin "$BUILD_DIR/agent/mailfleet-agent" \
  --cli-bin "$BUILD_DIR/client/cli/mailfleet" --runs "$RUNS" \
  --tls-dir "$TLS_DIR" --certs-script deploy/make-fleet-certs.sh
echo
"$BUILD_DIR/bench/actions/mailfleet-bench-actions" \
  --postfix-config-dir "$ROOT/config" \
  --agent-bin "$BUILD_DIR/agent/mailfleet-agent" \
  --cli-bin "$BUILD_DIR/client/cli/mailfleet" --runs "${ACTION_RUNS:-3}"
echo
"$BUILD_DIR/bench/watch/mailfleet-bench-watch" \
  --postfix-config-dir "$ROOT/config" \
  --agent-bin "$BUILD_DIR/agent/mailfleet-agent"
echo
bench/metrics/metrics_bench.sh "$ROOT/config" "$RUNS"
echo
# The MPA spool: builds a spool of its own under /tmp, needs no Postfix.
"$BUILD_DIR/bench/mpa/mailfleet-bench-mpa" --runs "$RUNS"
echo
# The controller over 500 gateways (agents in-process, 3,000 messages each);
# builds a 3,000-message Postfix of its own for the baseline. Needs about
# 3.5 GiB of memory for the agents.
"$BUILD_DIR/bench/controller/mailfleet-bench-controller" \
  --agents-bin "$BUILD_DIR/bench/controller/mailfleet-bench-agents" \
  --controller-bin "$BUILD_DIR/controller/mailfleet-controller" --runs "$RUNS"
