// mailfleet-agent: one per gateway, beside Postfix. Reads the queue, keeps
// the index, serves mailfleet.v1.AgentService.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/dashed_flags.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "agent/actions/queue_actions.h"
#include "agent/index/queue_index.h"
#include "agent/index/queue_monitor.h"
#include "agent/metrics/agent_metrics.h"
#include "agent/mpa/spool_actions.h"
#include "agent/mpa/spool_reader.h"
#include "agent/mpa/throttle.h"
#include "agent/postfix/postfix_tools.h"
#include "agent/postfix/postfix_config.h"
#include "agent/postfix/queue_reader.h"
#include "agent/service/agent_service.h"
#include "common/fmt_absl.h"
#include "common/logging.h"
#include "common/metrics/metrics_server.h"
#include "common/os/dir_watcher.h"
#include "common/os/filesystem.h"
#include "common/os/process_runner.h"
#include "common/security/server_flags.h"
#include "common/security/server_security.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070", "address:port to serve on");
ABSL_FLAG(std::string, postfix_config_dir, "/etc/postfix",
          "the Postfix instance's config directory (postconf -c)");
ABSL_FLAG(absl::Duration, rescan_interval, absl::Seconds(60),
          "how often the whole queue is read again, correcting whatever the "
          "live updates missed");
ABSL_FLAG(absl::Duration, idle_rescan_interval, absl::Minutes(10),
          "how often the whole queue is read again while nothing at all "
          "changed in it");
ABSL_FLAG(absl::Duration, batch_window, absl::Milliseconds(200),
          "how long queue changes are gathered before they are applied as one "
          "batch (one generation)");
ABSL_FLAG(std::string, mpa_spool, "",
          "the MPA spool's root (outgoing/ error/ spool/ respool/ below it); "
          "none when empty");
ABSL_FLAG(int64_t, mpa_throttle_spool, mailfleet::mpa::ThrottleLimits().throttle_spool,
          "the MPA throttles the MTA above this many items in its spool");
ABSL_FLAG(int64_t, mpa_throttle_error, mailfleet::mpa::ThrottleLimits().throttle_error,
          "the MPA throttles the MTA above this many items in its error queue");
ABSL_FLAG(int64_t, mpa_refuse_spool, mailfleet::mpa::ThrottleLimits().refuse_spool,
          "the MPA refuses mail above this many items in its spool");
ABSL_FLAG(int, scan_threads, 0, "threads reading queue files (0: one per core)");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error");
ABSL_FLAG(bool, insecure, false,
          "serve without TLS on an address that is not loopback (logs a warning)");
ABSL_FLAG(bool, require_client_cert, true,
          "with --tls-ca, refuse clients without a certificate at the handshake");
ABSL_FLAG(std::string, metrics_listen, "",
          "IP:PORT to serve Prometheus metrics on at /metrics (plain HTTP; "
          "none when empty)");
ABSL_FLAG(std::string, controller_name, "mailfleet-controller",
          "the CN or SAN DNS name of the controller's client certificate: its "
          "calls may carry the principal it acts for, and may act");


namespace {

int Fail(const std::string& message) {
  spdlog::critical("{}", message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Big buffers (the index's tables, a scan's lists) come from mmap and go
  // back to the system when freed, instead of pinning heap pages that a
  // rescan leaves fragmented. A fixed threshold also stops glibc from
  // raising it after the first large free.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  absl::SetProgramUsageMessage(
      "mailfleet-agent --listen ADDR --postfix-config-dir DIR [--mpa-spool DIR]");
  std::vector<std::string> args = mailfleet::UnderscoreFlagNames(argc, argv);
  std::vector<char*> flag_argv = mailfleet::ArgvOf(args);
  absl::ParseCommandLine(static_cast<int>(args.size()), flag_argv.data());
  mailfleet::LogToStderr(absl::GetFlag(FLAGS_log_level));

  // Signals are taken synchronously by this thread only: SIGHUP reloads
  // the tokens and reopens the audit log.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  mailfleet::mpa::ThrottleLimits limits;
  limits.throttle_spool = absl::GetFlag(FLAGS_mpa_throttle_spool);
  limits.throttle_error = absl::GetFlag(FLAGS_mpa_throttle_error);
  limits.refuse_spool = absl::GetFlag(FLAGS_mpa_refuse_spool);
  if (auto s = mailfleet::mpa::ValidateThrottleLimits(limits); !s.ok()) {
    return Fail(std::string(s.message()));
  }

  // Metrics first: the actions and the first scan are counted from the start.
  std::unique_ptr<mailfleet::MetricsServer> metrics;
  if (const std::string address = absl::GetFlag(FLAGS_metrics_listen); !address.empty()) {
    auto started = mailfleet::MetricsServer::Start(address);
    if (!started.ok()) return Fail(std::string(started.status().message()));
    metrics = *std::move(started);
  }

  mailfleet::ServerSecurityOptions security_options;
  security_options.listen = absl::GetFlag(FLAGS_listen);
  security_options.require_client_cert = absl::GetFlag(FLAGS_require_client_cert);
  security_options.insecure = absl::GetFlag(FLAGS_insecure);
  mailfleet::SetSharedSecurityFlags(&security_options);
  security_options.policy.controller_name = absl::GetFlag(FLAGS_controller_name);
  security_options.policy.act_only_from_controller_or_local = true;
  if (metrics) security_options.on_audit = metrics->ActionCounter();
  auto security = mailfleet::ServerSecurity::Create(std::move(security_options));
  if (!security.ok()) return Fail(std::string(security.status().message()));

  mailfleet::RealProcessRunner runner;
  mailfleet::RealFilesystem fs;
  const std::string config_dir = absl::GetFlag(FLAGS_postfix_config_dir);
  auto config = mailfleet::postfix::LoadPostfixConfig(runner, config_dir);
  if (!config.ok()) return Fail(config.status().ToString());
  spdlog::info("Postfix {} at {}, queue {}", config->mail_version, config_dir,
               config->queue_directory);
  mailfleet::postfix::QueueReader reader(&fs, *config,
                                         absl::GetFlag(FLAGS_scan_threads));
  // The MPA spool, when there is one: a path that is not a directory is a
  // mistake to stop at, not an empty spool to report.
  const std::string spool_root = absl::GetFlag(FLAGS_mpa_spool);
  std::optional<mailfleet::mpa::SpoolReader> spool;
  std::optional<mailfleet::mpa::SpoolActions> spool_actions;
  if (!spool_root.empty()) {
    auto info = fs.Stat(spool_root);
    if (!info.ok() || info->type != mailfleet::FileInfo::Type::kDirectory) {
      return Fail("--mpa-spool " + spool_root + " is not a directory");
    }
    spool.emplace(&fs, spool_root);
    spool_actions.emplace(&fs, spool_root);
    spdlog::info("MPA spool at {}; throttling above {} spool or {} error items, "
                 "refusing above {}",
                 spool_root, limits.throttle_spool, limits.throttle_error,
                 limits.refuse_spool);
  }
  mailfleet::QueueIndex index(&reader, spool ? &*spool : nullptr, limits);
  auto watcher = mailfleet::NewInotifyWatcher();
  if (!watcher.ok()) return Fail("cannot watch the queue: " + watcher.status().ToString());
  mailfleet::MonitorOptions monitor_options;
  monitor_options.batch_window = absl::GetFlag(FLAGS_batch_window);
  monitor_options.rescan_interval = absl::GetFlag(FLAGS_rescan_interval);
  monitor_options.idle_rescan_interval = absl::GetFlag(FLAGS_idle_rescan_interval);
  if (monitor_options.batch_window < absl::ZeroDuration() ||
      monitor_options.rescan_interval <= absl::ZeroDuration()) {
    return Fail("--batch-window must be >= 0 and --rescan-interval > 0");
  }
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  // Read at each scrape; set once the service exists.
  std::atomic<const mailfleet::WatchHub*> watch_hub{nullptr};
  if (metrics) {
    mailfleet::AgentMetricsInfo info;
    info.hostname = host;
    info.postfix_version = config->mail_version;
    metrics->Add(std::make_shared<mailfleet::AgentMetrics>(
        &index,
        [&watch_hub] {
          const mailfleet::WatchHub* hub = watch_hub.load();
          return hub != nullptr ? hub->watcher_count() : 0;
        },
        std::move(info), metrics->registry()));
  }
  // No scrape may outlive what it reads, on any way out: the index here,
  // the service below.
  auto stop_metrics = [&metrics] {
    if (metrics) metrics->StopServing();
  };
  absl::Cleanup stop_metrics_before_index = stop_metrics;
  mailfleet::QueueMonitor monitor(&index, &fs, watcher->get(), monitor_options);
  if (auto s = monitor.Start(); !s.ok()) {
    return Fail("cannot read the queue: " + s.ToString());
  }

  mailfleet::postfix::PostfixTools tools(&runner, config_dir);
  mailfleet::QueueActions actions(&index, &tools, &fs,
                                  spool_actions ? &*spool_actions : nullptr);
  mailfleet::AgentServiceImpl service(&index, host, &actions, &tools, {},
                                      (*security)->access());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  absl::Cleanup stop_metrics_before_service = stop_metrics;
  watch_hub.store(&service.watch_hub());
  grpc::ServerBuilder builder;
  int port = 0;
  (*security)->Configure(&builder, &port);
  if (metrics) metrics->InstrumentRpcs(&builder);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    return Fail("cannot listen on " + absl::GetFlag(FLAGS_listen));
  }
  spdlog::info("serving on {} (port {})", absl::GetFlag(FLAGS_listen), port);

  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGHUP) {
      spdlog::info("signal {}: shutting down", sig);
      break;
    }
    (*security)->Reload();
  }
  service.EndWatches();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  // A postsuper run started by an action is let finish (it has its own
  // timeout): its thread still reports to the server and the index.
  if (!service.Drain(absl::Seconds(150))) {
    spdlog::warn("actions still running at exit");
  }
  monitor.Stop();
  return 0;
}
