#include "controller/service/fleet_calls.h"

#include "common/request_checks.h"

namespace mailfleet::controller {

std::vector<GatewayTarget> TargetsOf(const std::vector<GatewayView>& views) {
  std::vector<GatewayTarget> targets;
  targets.reserve(views.size());
  for (const GatewayView& v : views) targets.push_back({v.config.name, v.config.address});
  return targets;
}

absl::StatusOr<FanOutOptions> FanOutOptionsFor(const ServiceOptions& service,
                                               const google::protobuf::Duration* timeout,
                                               absl::Duration fallback) {
  FanOutOptions options;
  options.client = service.client;
  options.max_parallel = service.max_parallel_calls;
  options.timeout = fallback;
  if (timeout != nullptr) {
    absl::StatusOr<absl::Duration> given = FromProto(*timeout, "timeout");
    if (!given.ok()) return given.status();
    if (*given > absl::ZeroDuration()) options.timeout = *given;
  }
  return options;
}

}  // namespace mailfleet::controller
