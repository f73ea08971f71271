#!/usr/bin/python3
"""A mailfleet queue report, for operators' scripts.

  fleet_report.py ADDRESS           the controller: each gateway, fleet totals
  fleet_report.py --agent ADDRESS   an agent: queue counts, then its deferred
                                    mail older than --older-than minutes
      [--hold-matching PATTERN]     and hold that mail where PATTERN matches
      [--dry-run]                   (or only count it)

Stubs: client/python/generate.sh OUT_DIR, then PYTHONPATH=OUT_DIR.
A token in $MAILFLEET_TOKEN is sent as `authorization: Bearer TOKEN`.
"""
import argparse, os, sys, time

import grpc
from mailfleet.v1 import agent_pb2, agent_pb2_grpc, controller_pb2, controller_pb2_grpc, types_pb2

p = argparse.ArgumentParser(description="mailfleet queue report")
p.add_argument("address", help="host:port of the controller (or the agent)")
p.add_argument("--agent", action="store_true", help="ADDRESS is an agent's")
for flag in ("--tls-ca", "--tls-cert", "--tls-key"):  # PEM files, as for the CLI
    p.add_argument(flag, metavar="FILE")
p.add_argument("--tls-server-name", metavar="NAME", help="the name in the server's certificate")
p.add_argument("--older-than", type=int, default=60, metavar="MINUTES")
p.add_argument("--page-size", type=int, default=1000)
p.add_argument("--hold-matching", metavar="PATTERN")
p.add_argument("--dry-run", action="store_true", help="count what would be held")
args = p.parse_args()
if (args.tls_cert or args.tls_key) and not (args.tls_ca and args.tls_cert and args.tls_key):
    p.error("--tls-cert and --tls-key go together, with --tls-ca")

# As the CLI does: a token never crosses the network in clear.
token = os.environ.get("MAILFLEET_TOKEN", "").strip()
loopback = args.address.startswith(("127.", "localhost:", "[::1]:", "unix:"))
if token and not args.tls_ca and not loopback:
    sys.exit(f"fleet_report: refusing to send a token without TLS to {args.address}: give --tls-ca")
auth = [("authorization", f"Bearer {token}")] if token else []

def open_channel():
    options = [("grpc.max_receive_message_length", 64 << 20)]  # as the CLI's
    if not args.tls_ca:
        return grpc.insecure_channel(args.address, options)
    if args.tls_server_name:
        options.append(("grpc.ssl_target_name_override", args.tls_server_name))
    read = lambda path: open(path, "rb").read() if path else None
    tls = grpc.ssl_channel_credentials(read(args.tls_ca), read(args.tls_key), read(args.tls_cert))
    return grpc.secure_channel(args.address, tls, options)

def queue_name(kind):  # POSTFIX_DEFERRED -> deferred, MPA_ERROR -> mpa-error
    return types_pb2.QueueKind.Name(kind).removeprefix("POSTFIX_").lower().replace("_", "-")

def print_summary(summary):
    for q in summary.queues:
        print(f"{queue_name(q.queue):12} {q.messages:8} messages {q.bytes:14} bytes")
    print(f"total: {summary.total_messages} messages, {summary.total_bytes} bytes")

def agent_report(agent):
    print_summary(agent.Summary(agent_pb2.SummaryRequest(), metadata=auth, timeout=30).summary)
    # Deferred mail older than --older-than minutes, a page at a time.
    old = types_pb2.Filter(queues=[types_pb2.POSTFIX_DEFERRED])
    old.min_age.FromSeconds(args.older_than * 60)
    request = agent_pb2.ListRequest(filter=old, page_size=args.page_size)
    listed, now = 0, time.time()
    while True:
        page = agent.List(request, metadata=auth, timeout=30)
        for m in page.messages:
            age = int(now - m.arrival_time.seconds) // 60
            first = m.recipients[0].address if m.recipients else "-"
            print(f"{m.queue_id:18} {age:6}m {m.sender:30} {first}")
        listed += len(page.messages)
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    print(f"{listed} deferred messages older than {args.older_than} minutes")
    if not args.hold_matching:
        return
    # Count first (a dry run), then hold exactly the messages counted, by
    # queue id, 10,000 a request (an agent takes at most 100,000).
    old.pattern = args.hold_matching
    hold = agent_pb2.ActRequest(action=agent_pb2.ACTION_HOLD, dry_run=True,
                                selector=agent_pb2.Selector(filter=old))
    counted = agent.Act(hold, metadata=auth, timeout=60)
    print(f"would hold {counted.matched} messages matching {args.hold_matching!r}")
    if args.dry_run:
        return
    hold.dry_run, ids, held, failures = False, list(counted.queue_ids), 0, []
    for i in range(0, len(ids), 10000):
        hold.selector.CopyFrom(agent_pb2.Selector(queue_ids=ids[i:i + 10000],
                                                  filter=types_pb2.Filter(queues=old.queues)))
        done = agent.Act(hold, metadata=auth, timeout=600)
        held += done.succeeded
        failures += done.failures
    print(f"held {held}, failed {len(failures)}")
    for failure in failures:
        print(f"  {failure.queue_id}: {failure.reason}")

def controller_report(controller):
    listed = controller.ListGateways(controller_pb2.ListGatewaysRequest(), metadata=auth, timeout=30)
    for g in listed.gateways:
        state = controller_pb2.GatewayState.Name(g.state).removeprefix("GATEWAY_").lower()
        print(f"{g.name:16} {g.address:28} {state:12} {g.summary.total_messages:8} messages")
    fleet = controller.Summary(controller_pb2.FleetSummaryRequest(), metadata=auth, timeout=30)
    print_summary(fleet.total)
    for f in fleet.failures:
        print(f"not counted: {f.gateway}: {f.error}")

try:
    if args.agent:
        agent_report(agent_pb2_grpc.AgentServiceStub(open_channel()))
    else:
        controller_report(controller_pb2_grpc.ControllerServiceStub(open_channel()))
except grpc.RpcError as e:  # one line: the status code's name and the details
    sys.exit(f"fleet_report: {e.code().name} from {args.address}: {e.details()}")
except OSError as e:  # a TLS file that cannot be read
    sys.exit(f"fleet_report: {e}")
