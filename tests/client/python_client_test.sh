#!/usr/bin/env bash
# The README's Python example (client/python/fleet_report.py) run for real:
# stubs generated from the repo's protos, the agent report against
# fake_agent (which lists by queue only: its deferred messages are every
# i with i % 6 < 3, ids as tests/client/sample_messages.cc makes them), the
# controller report against a small fake ControllerService written with
# the generated stubs (checking the token arrives), in plaintext and over
# TLS with a client certificate (deploy/make-fleet-certs.sh), and the
# failures: a token refused off loopback without TLS, a gRPC error as one
# line.
#   python_client_test.sh FAKE_AGENT SOURCE_DIR
set -euo pipefail

fake_agent=$1
src=$2
messages=24000  # 12,000 deferred: two hold requests of at most 10,000 ids

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Debian's interpreter, the one python3-grpcio is for (a pyenv or venv
# python3 first on PATH may not have it).
python=/usr/bin/python3
if ! "$python" -c 'import grpc, google.protobuf' 2>/dev/null; then
  fail "$python cannot import grpc: install python3-grpcio and python3-protobuf (run scripts/bootstrap.sh)"
fi

tmp=$(mktemp -d)
agent_pid=
controller_pid=
cleanup() {
  # EOF on their stdin ends both fakes; kill what is left.
  exec 3>&- 4>&-
  for pid in $agent_pid $controller_pid; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

"$src/client/python/generate.sh" "$tmp/stubs" || fail "generate.sh failed"
export PYTHONPATH=$tmp/stubs
report() { "$python" "$src/client/python/fleet_report.py" "$@"; }

# Starts "$@" with its stdin on fd $1 (kept open here), waits for the
# address it prints first, and sets $started_pid and $started_address.
start() {
  local fd=$1 name=$2
  shift 2
  mkfifo "$tmp/$name.in"
  # Not holding the other fake's stdin open: each must see its own EOF.
  "$@" < "$tmp/$name.in" > "$tmp/$name.out" 2> "$tmp/$name.err" 3>&- 4>&- &
  started_pid=$!
  eval "exec $fd> \"$tmp/$name.in\""
  for _ in $(seq 100); do
    started_address=$(head -n 1 "$tmp/$name.out")
    [ -n "$started_address" ] && return 0
    kill -0 "$started_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$tmp/$name.err" >&2
  fail "$name did not print its address"
}

# --- The agent report, a page of 5000 at a time, and a dry-run hold.
start 3 agent "$fake_agent" "$messages" 2
agent_pid=$started_pid
agent=$started_address
report --agent "$agent" --older-than 0 --page-size 5000 \
  --hold-matching example.com --dry-run > "$tmp/agent.txt" \
  || fail "the agent report failed"
head -n 3 "$tmp/agent.txt"
echo ...
tail -n 3 "$tmp/agent.txt"

expected=()
for ((i = 0; i < messages; i++)); do
  if ((i % 6 < 3)); then
    printf -v id '4Xk%07dz%05X' "$i" $((i * 7919 % 0xfffff))
    expected+=("$id")
  fi
done
listed=$(grep -E '^4Xk[0-9]{7}z[0-9A-F]{5} ' "$tmp/agent.txt" | awk '{print $1}')
[ "$listed" = "$(printf '%s\n' "${expected[@]}")" ] \
  || fail "listed $(grep -c . <<<"$listed") ids, expected the ${#expected[@]} deferred ones in order"
grep -q '^4Xk0000000z00000 .* sender0@example.com  *user0+0@dest0.example.net$' "$tmp/agent.txt" \
  || fail "no line 'QUEUE-ID AGE SENDER FIRST-RECIPIENT' for the first message"
grep -qx 'total: 0 messages, 0 bytes' "$tmp/agent.txt" || fail "no summary line"
grep -qx "${#expected[@]} deferred messages older than 0 minutes" "$tmp/agent.txt" \
  || fail "no count line"
grep -qx "would hold ${#expected[@]} messages matching 'example.com'" "$tmp/agent.txt" \
  || fail "no dry-run line"
if grep -q '^held' "$tmp/agent.txt"; then fail "--dry-run held messages"; fi

# --- A real hold: the ids counted, then held.
report --agent "$agent" --hold-matching example.com > "$tmp/hold.txt" \
  || fail "the hold failed"
grep -qx "held ${#expected[@]}, failed 0" "$tmp/hold.txt" || { cat "$tmp/hold.txt"; fail "no held line"; }

# --- The controller report, against a fake ControllerService.
cat > "$tmp/fake_controller.py" <<'EOF'
import sys
from concurrent import futures
import grpc
from mailfleet.v1 import controller_pb2, controller_pb2_grpc, types_pb2

class Controller(controller_pb2_grpc.ControllerServiceServicer):
    def check(self, context):
        if ("authorization", "Bearer s3cret") not in context.invocation_metadata():
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "no token")
    def ListGateways(self, request, context):
        self.check(context)
        return controller_pb2.ListGatewaysResponse(gateways=[
            controller_pb2.Gateway(name="gw1", address="gw1.example.net:7070",
                                   state=controller_pb2.GATEWAY_CONNECTED,
                                   summary=types_pb2.QueueSummary(total_messages=7)),
            controller_pb2.Gateway(name="gw2", address="gw2.example.net:7070",
                                   state=controller_pb2.GATEWAY_UNREACHABLE)])
    def Summary(self, request, context):
        self.check(context)
        total = types_pb2.QueueSummary(total_messages=7, total_bytes=7000, queues=[
            types_pb2.QueueStats(queue=types_pb2.POSTFIX_DEFERRED, messages=5, bytes=5000),
            types_pb2.QueueStats(queue=types_pb2.MPA_ERROR, messages=2, bytes=2000)])
        return controller_pb2.FleetSummaryResponse(total=total, failures=[
            controller_pb2.GatewayFailure(gateway="gw2", error="not synced")])

# A plaintext port, and a TLS one that requires a client certificate.
certs = sys.argv[1]
read = lambda name: open(f"{certs}/{name}", "rb").read()
tls = grpc.ssl_server_credentials([(read("controller.key"), read("controller.pem"))],
                                  root_certificates=read("ca.pem"), require_client_auth=True)
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
controller_pb2_grpc.add_ControllerServiceServicer_to_server(Controller(), server)
port = server.add_insecure_port("127.0.0.1:0")
tls_port = server.add_secure_port("127.0.0.1:0", tls)
server.start()
print(f"127.0.0.1:{port} 127.0.0.1:{tls_port}", flush=True)
sys.stdin.read()
server.stop(0)
EOF
"$src/deploy/make-fleet-certs.sh" "$tmp/certs" --operator alice > /dev/null \
  || fail "make-fleet-certs.sh failed"
start 4 controller "$python" "$tmp/fake_controller.py" "$tmp/certs"
controller_pid=$started_pid
read -r controller controller_tls <<<"$started_address"
tls=(--tls-ca "$tmp/certs/ca.pem" --tls-cert "$tmp/certs/operator-alice.pem"
     --tls-key "$tmp/certs/operator-alice.key")
MAILFLEET_TOKEN=s3cret report "$controller" > "$tmp/controller.txt" \
  || fail "the controller report failed"
cat "$tmp/controller.txt"
# The same over TLS, by the name in the controller's certificate.
MAILFLEET_TOKEN=s3cret report "${tls[@]}" --tls-server-name mailfleet-controller \
  "$controller_tls" > "$tmp/controller-tls.txt" || fail "the controller report over TLS failed"
diff -u "$tmp/controller.txt" "$tmp/controller-tls.txt" || fail "the report over TLS differs"
diff -u - "$tmp/controller.txt" <<'EOF' || fail "unexpected controller report"
gw1              gw1.example.net:7070         connected           7 messages
gw2              gw2.example.net:7070         unreachable         0 messages
deferred            5 messages           5000 bytes
mpa-error           2 messages           2000 bytes
total: 7 messages, 7000 bytes
not counted: gw2: not synced
EOF

# --- Failures: one line on stderr, and a failed exit.
# A token without TLS off loopback is refused before any call.
if MAILFLEET_TOKEN=s3cret report 192.0.2.1:7071 > /dev/null 2> "$tmp/err.txt"; then
  fail "sent a token without TLS off loopback"
fi
grep -qx 'fleet_report: refusing to send a token without TLS to 192.0.2.1:7071: give --tls-ca' \
  "$tmp/err.txt" || { cat "$tmp/err.txt"; fail "no refusal line"; }
# A gRPC error: the code's name and the details.
if report "$controller" > /dev/null 2> "$tmp/err.txt"; then
  fail "a call without the token succeeded"
fi
grep -qx "fleet_report: UNAUTHENTICATED from $controller: no token" "$tmp/err.txt" \
  || { cat "$tmp/err.txt"; fail "no one-line gRPC error"; }
# TLS that cannot be set up fails likewise: a server name the certificate
# does not have, no client certificate, a CA file that is not there.
for flags in "--tls-server-name wrong.example.net ${tls[*]}" "--tls-ca $tmp/certs/ca.pem"; do
  # shellcheck disable=SC2086  # the paths have no spaces: mktemp's
  if MAILFLEET_TOKEN=s3cret report $flags "$controller_tls" > /dev/null 2> "$tmp/err.txt"; then
    fail "the report over TLS succeeded with $flags"
  fi
  if ! grep -q "^fleet_report: UNAVAILABLE from $controller_tls: " "$tmp/err.txt" \
      || [ "$(wc -l < "$tmp/err.txt")" -ne 1 ]; then
    cat "$tmp/err.txt"
    fail "no one-line error with $flags"
  fi
done
if report --tls-ca "$tmp/certs/ca.pem" --tls-cert "$tmp/certs/operator-alice.pem" \
    "$controller_tls" > /dev/null 2> "$tmp/err.txt"; then
  fail "the report ran with --tls-cert but no --tls-key"
fi
grep -q "error: --tls-cert and --tls-key go together, with --tls-ca" "$tmp/err.txt" \
  || { cat "$tmp/err.txt"; fail "no usage error for --tls-cert without --tls-key"; }
if report --tls-ca "$tmp/no-such-ca.pem" "$controller_tls" > /dev/null 2> "$tmp/err.txt"; then
  fail "the report ran without its CA file"
fi
grep -qx "fleet_report: .*No such file or directory: '$tmp/no-such-ca.pem'" "$tmp/err.txt" \
  || { cat "$tmp/err.txt"; fail "no one-line error for a missing CA file"; }

echo "PASS"
