#include "common/metrics/metrics_server.h"

#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/metrics/rpc_metrics.h"
#include "re2/re2.h"
#include "spdlog/spdlog.h"

namespace mailfleet {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address) {
  // civetweb binds IP literals only, and reads a bare port as every
  // interface: the address must say which one.
  static const LazyRE2 kAddress = {R"((\d+\.\d+\.\d+\.\d+|\[[0-9A-Fa-f:.]+\]):(\d{1,5}))"};
  std::string port_text;
  int port = 0;
  if (!RE2::FullMatch(address, *kAddress, nullptr, &port_text) ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics address \"", address,
        "\": give IP:PORT or [IPv6]:PORT, e.g. 127.0.0.1:9170"));
  }
  auto server = std::unique_ptr<MetricsServer>(new MetricsServer());
  server->registry_ = std::make_shared<prometheus::Registry>();
  try {
    server->exposer_ = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/2);
  } catch (const std::exception& e) {
    // civetweb says only that its context is null.
    return absl::UnavailableError(absl::StrCat(
        "cannot serve metrics on ", address,
        ": the port is in use, or the address is not one of this host's (", e.what(), ")"));
  }
  server->exposer_->RegisterCollectable(server->registry_);
  std::vector<int> ports = server->exposer_->GetListeningPorts();
  server->port_ = ports.empty() ? 0 : ports.front();
  spdlog::info("metrics on http://{}/metrics (port {})", address, server->port_);
  return server;
}

void MetricsServer::Add(std::shared_ptr<prometheus::Collectable> collectable) {
  if (exposer_ == nullptr) return;  // stopped
  exposer_->RegisterCollectable(collectable);
  collectables_.push_back(std::move(collectable));
}

void MetricsServer::StopServing() {
  exposer_.reset();
  collectables_.clear();
}

std::function<void(const v1::AuditRecord&)> MetricsServer::ActionCounter() {
  if (actions_ == nullptr) actions_ = std::make_unique<ActionMetrics>(*registry_);
  return [actions = actions_.get()](const v1::AuditRecord& record) { actions->Count(record); };
}

void MetricsServer::InstrumentRpcs(grpc::ServerBuilder* builder) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(NewRpcMetricsFactory(*registry_));
  builder->experimental().SetInterceptorCreators(std::move(creators));
}

}  // namespace mailfleet
