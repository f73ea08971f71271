#!/bin/bash
# The demo gateway of docker/compose.yaml, as `make demo` makes one on a
# machine (scripts/demo.sh): a private Postfix that accepts mail on loopback
# only and defers all of it (every next hop is a closed port), filled over
# SMTP by mailfleet-testpostfix; optionally an MPA spool written by
# mailfleet-mpa-sim; then the agent over both. The arguments go to the agent.
#
#   DEMO_MESSAGES   messages sent at first start (default 300)
#   DEMO_SEED       the message generator's seed (default 1)
#   DEMO_MPA_SPOOL  a directory: write an MPA spool there at first start,
#                   as a broken template leaves it (DEMO_MPA_ERRORS items in
#                   error/, default 60, one of each kind malformed;
#                   DEMO_MPA_SPOOLED waiting, default 1200), and give it to
#                   the agent
#   DEMO_MPA_RATE   with a spool: a simulated MPA works on it, this many
#                   items arriving a second
#   DEMO_STATE_DIR  where the instance lives (default /var/lib/mailfleet-demo)
#
# A demo only: in a deployment Postfix runs on its own and the agent image
# runs beside it.
set -euo pipefail

state=${DEMO_STATE_DIR:-/var/lib/mailfleet-demo}
root=$state/postfix
spool=${DEMO_MPA_SPOOL:-}

if [ -f "$root/config/main.cf" ]; then
  # A restarted container keeps its files: the same instance and queue
  # start again, without more mail.
  echo "demo gateway: starting the Postfix instance in $root again"
  postfix -c "$root/config" start
else
  mkdir -p "$state"
  mailfleet-testpostfix create --root "$root" > "$state/instance.env"
  port=$(sed -n 's/^smtp_port=//p' "$state/instance.env")
  echo "demo gateway: sending ${DEMO_MESSAGES:-300} messages to Postfix on 127.0.0.1:$port"
  mailfleet-testpostfix fill --port "$port" --count "${DEMO_MESSAGES:-300}" \
    --connections 4 --seed "${DEMO_SEED:-1}"
  mailfleet-testpostfix settle --root "$root" --timeout 300
  if [ -n "$spool" ]; then
    # As scripts/demo.sh's fill_spool.
    for q in outgoing error spool respool tmp; do mkdir -p "$spool/$q"; done
    mailfleet-mpa-sim fill --spool "$spool" --queue error --count "${DEMO_MPA_ERRORS:-60}"
    mailfleet-mpa-sim fill --spool "$spool" --queue spool \
      --count "${DEMO_MPA_SPOOLED:-1200}" --start-index 10000
    mailfleet-mpa-sim fill --spool "$spool" --queue outgoing --count 25 --start-index 20000
    mailfleet-mpa-sim malformed --spool "$spool" --queue error
  fi
fi

agent_flags=(--postfix-config-dir "$root/config")
if [ -n "$spool" ]; then
  agent_flags+=(--mpa-spool "$spool")
fi
if [ -n "$spool" ] && [ -n "${DEMO_MPA_RATE:-}" ]; then
  # The MPA at work: items arrive, are processed, some fail. It and
  # Postfix's master outlive this script; compose's `init: true` gives them
  # an init that reaps them, which the agent is not.
  mailfleet-mpa-sim run --spool "$spool" --rate "$DEMO_MPA_RATE" --duration 0 \
    --error-ratio 0.2 > "$state/mpa-sim.log" 2>&1 &
fi
exec mailfleet-agent "${agent_flags[@]}" "$@"
