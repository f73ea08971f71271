#!/usr/bin/env bash
# Times a Prometheus scrape of the agent's /metrics (every queue's counts,
# bytes, ages and age buckets, computed from the index) against what a
# Postfix exporter without an index has to run for the same figures on the
# same queue: `postqueue -j` (every message, as JSON) and `qshape deferred`
# (the age buckets of one queue).
#   bench/metrics/metrics_bench.sh CONFIG_DIR [RUNS]
# Prints a Markdown table of medians.
set -euo pipefail
cd "$(dirname "$0")/../.."

CONFIG_DIR=$1
RUNS=${2:-5}
BUILD_DIR=${BUILD_DIR:-build}
AGENT=$BUILD_DIR/agent/mailfleet-agent
CLI=$BUILD_DIR/client/cli/mailfleet
GRPC_ADDR=127.0.0.1:17271
METRICS_ADDR=127.0.0.1:19271

"$AGENT" --listen "$GRPC_ADDR" --postfix-config-dir "$CONFIG_DIR" \
  --metrics-listen "$METRICS_ADDR" --log-level warn &
agent=$!
trap 'kill $agent 2>/dev/null; wait $agent 2>/dev/null || true' EXIT
until "$CLI" --agent "$GRPC_ADDR" --timeout 2s summary >/dev/null 2>&1; do
  kill -0 $agent || { echo "metrics_bench: the agent exited" >&2; exit 1; }
  sleep 0.1
done

# Seconds of wall time of one run of "$@", output discarded.
seconds() {
  local start end
  start=$(date +%s%N)
  "$@" > /dev/null
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN {printf "%.6f\n", ns / 1e9}'
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%.4f", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

scrape=() postqueue=() qshape=()
for _ in $(seq "$RUNS"); do
  scrape+=("$(seconds curl -sf "http://$METRICS_ADDR/metrics")")
  postqueue+=("$(seconds postqueue -c "$CONFIG_DIR" -j)")
  qshape+=("$(seconds qshape -c "$CONFIG_DIR" deferred)")
done
s=$(printf '%s\n' "${scrape[@]}" | median)
p=$(printf '%s\n' "${postqueue[@]}" | median)
q=$(printf '%s\n' "${qshape[@]}" | median)
messages=$(curl -sf "http://$METRICS_ADDR/metrics" \
  | awk '/^mailfleet_queue_messages\{/ {n += $2} END {print n}')
deferred=$(postqueue -c "$CONFIG_DIR" -j | grep -c '"queue_name": *"deferred"' || true)
exported=$(curl -sf "http://$METRICS_ADDR/metrics" \
  | awk '/^mailfleet_queue_messages\{queue="deferred"\}/ {print $2}')
if [ "$deferred" != "$exported" ]; then
  echo "metrics_bench: /metrics says $exported deferred, postqueue -j $deferred" >&2
  exit 1
fi

echo "Queue: $messages messages ($deferred deferred, equal in both). Median of $RUNS runs."
echo
echo "| measurement | mailfleet | baseline | ratio |"
echo "|---|---|---|---|"
awk -v s="$s" -v p="$p" -v q="$q" 'BEGIN {
  printf "| every queue'"'"'s counts, bytes, ages, age buckets | scrape of /metrics %.3f s | postqueue -j %.3f s | %.1fx faster |\n", s, p, p / s
  printf "| the same | scrape of /metrics %.3f s | qshape deferred (one queue) %.3f s | %.1fx faster |\n", s, q, q / s
}'
