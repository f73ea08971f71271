// mailfleet-controller: watches the gateways listed in --gateways (one
// Watch stream per agent) and serves the fleet's state over gRPC. SIGHUP
// reloads the gateways file (a file with errors is reported and the fleet
// kept as it was) and the tokens, and reopens the audit log.
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/dashed_flags.h"
#include "common/listen_address.h"
#include "common/metrics/metrics_server.h"
#include "common/security/server_flags.h"
#include "common/security/server_security.h"
#include "common/security/tls.h"
#include "common/fmt_absl.h"
#include "common/logging.h"
#include "controller/config/gateways_file.h"
#include "controller/fleet/fleet.h"
#include "controller/metrics/controller_metrics.h"
#include "controller/service/controller_service.h"
#include "controller/service/fleet_watch.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7071", "address:port to serve on");
ABSL_FLAG(std::string, gateways, "",
          "the gateways file (a GatewaysFile in protobuf text format); "
          "SIGHUP reloads it");
ABSL_FLAG(absl::Duration, heartbeat, absl::Seconds(5),
          "heartbeat asked of every agent (1s to 10m)");
ABSL_FLAG(absl::Duration, stale_after, absl::Seconds(15),
          "a gateway silent this long is stale; twice this long, reconnected");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error");
ABSL_FLAG(bool, insecure, false,
          "serve, and call agents, without TLS on addresses that are not "
          "loopback (logs a warning)");
ABSL_FLAG(std::string, metrics_listen, "",
          "IP:PORT to serve Prometheus metrics on at /metrics (plain HTTP; "
          "none when empty)");
ABSL_FLAG(bool, require_client_cert, false,
          "with --tls-ca, refuse operators without a certificate at the "
          "handshake");


namespace {

int Fail(const std::string& message) {
  spdlog::critical("{}", message);
  return 1;
}

// Without --tls-ca the controller talks to agents in plaintext: only on
// loopback, unless --insecure says the network is trusted.
absl::Status CheckPlaintextAgents(const std::vector<mailfleet::controller::Gateway>& gateways,
                                  bool agents_over_tls, bool insecure) {
  if (insecure || agents_over_tls) return absl::OkStatus();
  for (const mailfleet::controller::Gateway& g : gateways) {
    if (!mailfleet::IsLoopbackAddress(g.address)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "gateway ", g.name, ": ", g.address,
          " is not a loopback address, and agents are called without TLS; "
          "give --tls-ca (and --tls-cert, --tls-key), or pass --insecure if "
          "the network between them is trusted"));
    }
  }
  return absl::OkStatus();
}

// The gateways file, read and checked.
absl::StatusOr<std::vector<mailfleet::controller::Gateway>> LoadGateways(
    const std::string& path, bool agents_over_tls, bool insecure) {
  auto gateways = mailfleet::controller::LoadGatewaysFile(path);
  if (!gateways.ok()) return gateways.status();
  if (auto s = CheckPlaintextAgents(*gateways, agents_over_tls, insecure); !s.ok()) {
    return s;
  }
  return gateways;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("mailfleet-controller --listen ADDR --gateways FILE");
  std::vector<std::string> args = mailfleet::UnderscoreFlagNames(argc, argv);
  std::vector<char*> flag_argv = mailfleet::ArgvOf(args);
  absl::ParseCommandLine(static_cast<int>(args.size()), flag_argv.data());
  mailfleet::LogToStderr(absl::GetFlag(FLAGS_log_level));

  // Signals are taken synchronously by this thread only.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Metrics first: audited calls are counted from the start.
  std::unique_ptr<mailfleet::MetricsServer> metrics;
  if (const std::string address = absl::GetFlag(FLAGS_metrics_listen); !address.empty()) {
    auto started = mailfleet::MetricsServer::Start(address);
    if (!started.ok()) return Fail(std::string(started.status().message()));
    metrics = *std::move(started);
  }

  const std::string listen = absl::GetFlag(FLAGS_listen);
  mailfleet::ServerSecurityOptions security_options;
  security_options.listen = listen;
  mailfleet::SetSharedSecurityFlags(&security_options);
  const mailfleet::TlsFiles tls = security_options.tls;
  security_options.require_client_cert = absl::GetFlag(FLAGS_require_client_cert);
  security_options.insecure = absl::GetFlag(FLAGS_insecure);
  if (metrics) security_options.on_audit = metrics->ActionCounter();
  auto security = mailfleet::ServerSecurity::Create(std::move(security_options));
  if (!security.ok()) return Fail(std::string(security.status().message()));
  // The same certificate, as a client, is what agents know the controller
  // by.
  auto agent_credentials = mailfleet::MakeChannelCredentials(tls);
  if (!agent_credentials.ok()) {
    return Fail(std::string(agent_credentials.status().message()));
  }
  const std::string path = absl::GetFlag(FLAGS_gateways);
  if (path.empty()) return Fail("--gateways FILE is required");
  mailfleet::controller::LinkOptions options;
  options.heartbeat = absl::GetFlag(FLAGS_heartbeat);
  options.stale_after = absl::GetFlag(FLAGS_stale_after);
  options.client.credentials = *agent_credentials;
  if (auto s = mailfleet::controller::CheckLinkOptions(options); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  const bool insecure = absl::GetFlag(FLAGS_insecure);
  const bool agents_over_tls = !tls.ca.empty();
  auto gateways = LoadGateways(path, agents_over_tls, insecure);
  if (!gateways.ok()) return Fail(std::string(gateways.status().message()));

  // The hub outlives the fleet, whose links call it until they stop.
  mailfleet::controller::FleetWatchHub hub;
  mailfleet::controller::Fleet fleet(options, hub.ChangeCallback());
  hub.OnApply(fleet, fleet.Apply(*gateways));
  spdlog::info("watching {} gateways from {}", gateways->size(), path);
  if (metrics) metrics->Add(std::make_shared<mailfleet::controller::ControllerMetrics>(&fleet));
  // No scrape may outlive the fleet it reads, on any way out.
  absl::Cleanup stop_metrics = [&metrics] {
    if (metrics) metrics->StopServing();
  };

  mailfleet::controller::ServiceOptions service_options;
  service_options.client.credentials = *agent_credentials;
  service_options.access = (*security)->access();
  mailfleet::controller::ControllerServiceImpl service(&fleet, &hub, service_options);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  (*security)->Configure(&builder, &port);
  if (metrics) metrics->InstrumentRpcs(&builder);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return Fail("cannot listen on " + listen);
  spdlog::info("serving on {} (port {})", listen, port);

  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGHUP) {
      spdlog::info("signal {}: shutting down", sig);
      break;
    }
    (*security)->Reload();
    auto reloaded = LoadGateways(path, agents_over_tls, insecure);
    if (!reloaded.ok()) {
      spdlog::error("SIGHUP: {} not reloaded, keeping {} gateways: {}", path,
                    fleet.Gateways().size(), reloaded.status().message());
      continue;
    }
    hub.OnApply(fleet, fleet.Apply(*reloaded));
  }
  // Watches never end on their own, and a fleet Act waits for its agents:
  // both are ended first, or the server's Shutdown would wait for them.
  hub.Shutdown();
  service.CancelCalls();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}
