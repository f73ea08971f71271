#!/usr/bin/env bash
# The demo: a real Postfix on loopback with deferred and held mail, an MPA
# spool beside it (written by mailfleet-mpa-sim as the MPA writes it), the
# mailfleet agent over both, and the CLI showing them; then two more
# gateways (each a Postfix and its agent) and a controller over all three,
# and the CLI showing the fleet. `demo.sh stop` removes it all.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
DEMO_DIR=${DEMO_DIR:-/tmp/mailfleet-demo}
AGENT_ADDR=${AGENT_ADDR:-127.0.0.1:17070}
TESTPOSTFIX=$BUILD_DIR/bench/fill/mailfleet-testpostfix
MPA_SIM=$BUILD_DIR/bench/fill/mailfleet-mpa-sim
SPOOL=$DEMO_DIR/mpa
AGENT=$BUILD_DIR/agent/mailfleet-agent
CLI=$BUILD_DIR/client/cli/mailfleet
CONTROLLER=$BUILD_DIR/controller/mailfleet-controller
CONTROLLER_ADDR=${CONTROLLER_ADDR:-127.0.0.1:17170}
# The other two gateways' agents.
GW2_ADDR=127.0.0.1:17072
GW3_ADDR=127.0.0.1:17073
# Prometheus metrics: each agent's and the controller's.
GW1_METRICS=127.0.0.1:19171
GW2_METRICS=127.0.0.1:19172
GW3_METRICS=127.0.0.1:19173
CONTROLLER_METRICS=127.0.0.1:19170

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

# Starts an agent (NAME ADDRESS CONFIG_DIR [FLAGS...]) and returns once it
# answers.
start_agent() {
  local name=$1 addr=$2 config=$3
  shift 3
  "$AGENT" --listen "$addr" --postfix-config-dir "$config" "$@" \
    > "$DEMO_DIR/$name-agent.log" 2>&1 &
  echo $! > "$DEMO_DIR/$name-agent.pid"
  for _ in $(seq 100); do
    "$CLI" --agent "$addr" --timeout 1s summary >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "demo: the agent of $name did not start; see $DEMO_DIR/$name-agent.log" >&2
  exit 1
}

# An MPA spool (DIR ERRORS SPOOLED) as the MPA leaves it when a template
# broke: ERRORS items in error/ (one of them malformed), SPOOLED waiting.
fill_spool() {
  local spool=$1 errors=$2 spooled=$3
  for q in outgoing error spool respool tmp; do mkdir -p "$spool/$q"; done
  "$MPA_SIM" fill --spool "$spool" --queue error --count "$errors"
  "$MPA_SIM" fill --spool "$spool" --queue spool --count "$spooled" --start-index 10000
  "$MPA_SIM" fill --spool "$spool" --queue outgoing --count 25 --start-index 20000
  "$MPA_SIM" malformed --spool "$spool" --queue error > /dev/null
}

# A private Postfix (NAME MESSAGES SEED) filled over SMTP; prints its
# config directory.
start_postfix() {
  local name=$1 count=$2 seed=$3 port
  "$TESTPOSTFIX" create --root "$DEMO_DIR/$name" > "$DEMO_DIR/$name.env"
  port=$(sed -n 's/^smtp_port=//p' "$DEMO_DIR/$name.env")
  "$TESTPOSTFIX" fill --port "$port" --count "$count" --connections 4 --seed "$seed" >&2
  "$TESTPOSTFIX" settle --root "$DEMO_DIR/$name" --timeout 300 >&2
  sed -n 's/^config_dir=//p' "$DEMO_DIR/$name.env"
}

# Starts the controller over the three gateways and returns once all three
# are connected.
start_controller() {
  cat > "$DEMO_DIR/gateways.txt" <<EOT
gateway { name: "gw1" address: "$AGENT_ADDR" labels { key: "site" value: "ams" } labels { key: "env" value: "prod" } }
gateway { name: "gw2" address: "$GW2_ADDR" labels { key: "site" value: "ams" } labels { key: "env" value: "test" } }
gateway { name: "gw3" address: "$GW3_ADDR" labels { key: "site" value: "fra" } labels { key: "env" value: "prod" } }
EOT
  "$CONTROLLER" --listen "$CONTROLLER_ADDR" --gateways "$DEMO_DIR/gateways.txt" \
    --heartbeat 2s --stale-after 6s --metrics-listen "$CONTROLLER_METRICS" \
    > "$DEMO_DIR/controller.log" 2>&1 &
  echo $! > "$DEMO_DIR/controller.pid"
  for _ in $(seq 100); do
    if [ "$("$CLI" --controller "$CONTROLLER_ADDR" --timeout 1s gateways -o json 2>/dev/null \
          | grep -o '"GATEWAY_CONNECTED"' | wc -l)" -eq 3 ]; then
      return
    fi
    sleep 0.1
  done
  echo "demo: the controller did not connect to the three agents; see $DEMO_DIR/controller.log" >&2
  exit 1
}

# Returns once none of the PIDs runs (a zombie no longer does), or fails
# after 10 s. An agent finishes what it is doing and lets go of its ports
# first.
wait_exited() {
  local pid alive
  for _ in $(seq 100); do
    alive=0
    for pid in "$@"; do
      if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
        alive=1
      fi
    done
    [ $alive -eq 0 ] && return 0
    sleep 0.1
  done
  return 1
}

stop() {
  local pids=()
  for pidfile in "$DEMO_DIR"/*.pid; do
    if [ -f "$pidfile" ]; then
      pids+=("$(cat "$pidfile")")
      rm -f "$pidfile"
    fi
  done
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  # The Postfix instances and the spools go only once nothing uses them.
  wait_exited "${pids[@]}" || true
  [ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[@]}" 2>/dev/null || true
  for gw in gw1 gw2 gw3; do
    if [ -d "$DEMO_DIR/$gw" ]; then
      "$TESTPOSTFIX" destroy --root "$DEMO_DIR/$gw"
    fi
  done
  rm -rf "$DEMO_DIR"
  echo "demo stopped"
}

start() {
  [ "$(id -u)" -eq 0 ] || { echo "demo: Postfix needs root" >&2; exit 1; }
  [ -d "$DEMO_DIR" ] && stop >/dev/null
  mkdir -p "$DEMO_DIR"
  echo "Starting a private Postfix in $DEMO_DIR/gw1 (loopback only)..."
  "$TESTPOSTFIX" create --root "$DEMO_DIR/gw1" > "$DEMO_DIR/gw1.env"
  port=$(sed -n 's/^smtp_port=//p' "$DEMO_DIR/gw1.env")
  config=$(sed -n 's/^config_dir=//p' "$DEMO_DIR/gw1.env")
  echo "Sending 2000 messages over SMTP; every next hop is a closed port, so they defer..."
  "$TESTPOSTFIX" fill --port "$port" --count 2000 --connections 4
  "$TESTPOSTFIX" settle --root "$DEMO_DIR/gw1" --timeout 300

  echo "Writing an MPA spool in $SPOOL: a broken template has filled error/, the spool is past its throttle limit..."
  fill_spool "$SPOOL" 60 1200

  echo "Starting mailfleet-agent on $AGENT_ADDR (metrics on http://$GW1_METRICS/metrics)..."
  start_agent gw1 "$AGENT_ADDR" "$config" --mpa-spool "$SPOOL" --metrics-listen "$GW1_METRICS"
  # The MPA at work meanwhile: items arrive, are processed, some fail.
  "$MPA_SIM" run --spool "$SPOOL" --rate 5 --duration 0 --error-ratio 0.2 \
    > "$DEMO_DIR/mpa-sim.log" 2>&1 &
  echo $! > "$DEMO_DIR/mpa-sim.pid"

  say mailfleet --agent "$AGENT_ADDR" hold --match @d2.example.net --field recipient --dry-run
  "$CLI" --agent "$AGENT_ADDR" hold --match @d2.example.net --field recipient --dry-run | sed -n 1,4p
  echo "..."
  # A watcher in the background sees the hold as moves, then a few new
  # messages arrive as Postfix moves them along.
  "$CLI" --agent "$AGENT_ADDR" watch --queue hold --queue incoming --queue active \
    > "$DEMO_DIR/watch.out" 2>&1 &
  watch_pid=$!
  sleep 0.5
  say mailfleet --agent "$AGENT_ADDR" hold --match @d2.example.net --field recipient --yes
  "$CLI" --agent "$AGENT_ADDR" hold --match @d2.example.net --field recipient --yes
  "$TESTPOSTFIX" fill --port "$port" --count 3 --seed 7 > /dev/null
  sleep 2
  kill -INT "$watch_pid"; wait "$watch_pid" || true
  say "mailfleet --agent $AGENT_ADDR watch --queue hold --queue incoming --queue active   # meanwhile, piped"
  sed -n 1,6p "$DEMO_DIR/watch.out"
  echo "... ($(wc -l < "$DEMO_DIR/watch.out") lines)"

  say mailfleet --agent "$AGENT_ADDR" summary
  "$CLI" --agent "$AGENT_ADDR" summary
  say mailfleet --agent "$AGENT_ADDR" ls --limit 8
  "$CLI" --agent "$AGENT_ADDR" ls --limit 8
  say mailfleet --agent "$AGENT_ADDR" ls --queue hold --limit 3 -o wide
  "$CLI" --agent "$AGENT_ADDR" ls --queue hold --limit 3 -o wide
  say mailfleet --agent "$AGENT_ADDR" ls --regex --match '^sender1[0-9]@' --field sender --limit 2 -o json
  "$CLI" --agent "$AGENT_ADDR" ls --regex --match '^sender1[0-9]@' --field sender --limit 2 -o json
  id=$("$CLI" --agent "$AGENT_ADDR" ls --limit 1 -o json | sed -n 's/.*"queueId":"\([^"]*\)".*/\1/p')
  say mailfleet --agent "$AGENT_ADDR" show "$id" --envelope-only
  "$CLI" --agent "$AGENT_ADDR" show "$id" --envelope-only

  say mailfleet --agent "$AGENT_ADDR" ls --queue mpa-error --limit 6
  "$CLI" --agent "$AGENT_ADDR" ls --queue mpa-error --limit 6
  item=$("$CLI" --agent "$AGENT_ADDR" ls --queue mpa-error --match "invalid template" --limit 1 -o json \
    | sed -n 's/.*"queueId":"\([^"]*\)".*/\1/p')
  say mailfleet --agent "$AGENT_ADDR" show "$item" --envelope-only
  "$CLI" --agent "$AGENT_ADDR" show "$item" --envelope-only
  say mailfleet --agent "$AGENT_ADDR" respool --queue mpa-error --match "invalid template" --yes
  "$CLI" --agent "$AGENT_ADDR" respool --queue mpa-error --match "invalid template" --yes
  say mailfleet --agent "$AGENT_ADDR" summary --queue mpa-error --queue mpa-respool --queue mpa-spool --top 3
  "$CLI" --agent "$AGENT_ADDR" summary --queue mpa-error --queue mpa-respool --queue mpa-spool --top 3
  say "postqueue -c $config -j | wc -l   # Postfix's own count"
  postqueue -c "$config" -j | wc -l

  echo
  echo "Now a fleet: two more gateways, each a Postfix and an MPA spool with its agent, and a controller over all three..."
  config2=$(start_postfix gw2 300 11)
  config3=$(start_postfix gw3 300 12)
  fill_spool "$DEMO_DIR/gw2-mpa" 12 40
  fill_spool "$DEMO_DIR/gw3-mpa" 1100 20
  start_agent gw2 "$GW2_ADDR" "$config2" --mpa-spool "$DEMO_DIR/gw2-mpa" --metrics-listen "$GW2_METRICS"
  start_agent gw3 "$GW3_ADDR" "$config3" --mpa-spool "$DEMO_DIR/gw3-mpa" --metrics-listen "$GW3_METRICS"
  start_controller
  local fleet=(--controller "$CONTROLLER_ADDR")
  say mailfleet --controller "$CONTROLLER_ADDR" gateways
  "$CLI" "${fleet[@]}" gateways
  say mailfleet --controller "$CONTROLLER_ADDR" summary -l site=ams
  "$CLI" "${fleet[@]}" summary -l site=ams
  say mailfleet --controller "$CONTROLLER_ADDR" ls --limit 6
  "$CLI" "${fleet[@]}" ls --limit 6
  say mailfleet --controller "$CONTROLLER_ADDR" hold --all-gateways --regex --match '^sender2[0-9]@' --field sender --yes
  "$CLI" "${fleet[@]}" hold --all-gateways --regex --match '^sender2[0-9]@' --field sender --yes
  say "kill the agent of gw3; the controller notices"
  gw3_pid=$(cat "$DEMO_DIR/gw3-agent.pid")
  kill "$gw3_pid"
  rm -f "$DEMO_DIR/gw3-agent.pid"
  sleep 1
  say mailfleet --controller "$CONTROLLER_ADDR" release --all-gateways --regex --match '^sender2[0-9]@' --field sender --yes
  "$CLI" "${fleet[@]}" release --all-gateways --regex --match '^sender2[0-9]@' --field sender --yes || true
  wait_exited "$gw3_pid" || true
  start_agent gw3 "$GW3_ADDR" "$config3" --mpa-spool "$DEMO_DIR/gw3-mpa" --metrics-listen "$GW3_METRICS"
  sleep 2
  say mailfleet --controller "$CONTROLLER_ADDR" gateways   # gw3 is back
  "$CLI" "${fleet[@]}" gateways
  say mailfleet --controller "$CONTROLLER_ADDR" health
  "$CLI" "${fleet[@]}" health
  say "curl -s http://$GW3_METRICS/metrics | grep -E '^mailfleet_(queue_messages|mpa_throttle_state)' | grep -v ' 0\$'"
  curl -s "http://$GW3_METRICS/metrics" | grep -E '^mailfleet_(queue_messages|mpa_throttle_state)' | grep -v ' 0$'
  say "curl -s http://$CONTROLLER_METRICS/metrics | grep -E '^mailfleet_controller_(gateways|gateway_queue_messages)' | grep -E 'deferred|hold|connected'"
  curl -s "http://$CONTROLLER_METRICS/metrics" \
    | grep -E '^mailfleet_controller_(gateways|gateway_queue_messages)' | grep -E 'deferred|hold|connected'

  cat <<EOT

The demo keeps running: try
  $CLI --agent $AGENT_ADDR ls --older-than 1m --min-size 100k
  $CLI --agent $AGENT_ADDR show $id
  $CLI --agent $AGENT_ADDR ls --queue mpa-error --match DLP
  $CLI --agent $AGENT_ADDR watch        # a live summary; Ctrl-C ends it
  $CLI --controller $CONTROLLER_ADDR summary
  $CLI --controller $CONTROLLER_ADDR ls -l env=prod --queue hold
  $CLI --controller $CONTROLLER_ADDR show -g gw1 $id --envelope-only
  $CLI --controller $CONTROLLER_ADDR watch
  curl -s http://$CONTROLLER_METRICS/metrics    # Prometheus metrics; agents on $GW1_METRICS, $GW2_METRICS, $GW3_METRICS
Stop it with: make demo-stop
EOT
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
