// The /metrics endpoint: Prometheus' text format over HTTP, served by
// prometheus-cpp's exposer (civetweb) on its own threads, away from gRPC.
#ifndef MAILFLEET_COMMON_METRICS_METRICS_SERVER_H_
#define MAILFLEET_COMMON_METRICS_METRICS_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server_builder.h>

#include "absl/status/statusor.h"
#include "common/metrics/action_metrics.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"

namespace mailfleet {

class MetricsServer {
 public:
  // Listens on `address` (host:port, [v6]:port; port 0 picks one).
  // INVALID_ARGUMENT for an address of another form, UNAVAILABLE when it
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address);

  // Counters and histograms that the code updates as it goes.
  prometheus::Registry& registry() { return *registry_; }
  // Adds a collector that computes its samples at each scrape; the server
  // keeps it alive.
  void Add(std::shared_ptr<prometheus::Collectable> collectable);

  // For ServerSecurityOptions::on_audit: counts the audited calls.
  std::function<void(const v1::AuditRecord&)> ActionCounter();
  // Times every RPC of the server `builder` builds.
  void InstrumentRpcs(grpc::ServerBuilder* builder);

  int port() const { return port_; }

  // Stops answering scrapes and drops the collectors (the registry stays,
  // for the counters still in use): before anything a collector reads goes
  // away. Waits for a scrape in progress; calling it again does nothing.
  void StopServing();

 private:
  MetricsServer() = default;

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ActionMetrics> actions_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_METRICS_METRICS_SERVER_H_
