#include "controller/service/fleet_calls.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/request_checks.h"

namespace mailfleet::controller {

std::vector<GatewayTarget> TargetsOf(const std::vector<GatewayView>& views) {
  std::vector<GatewayTarget> targets;
  targets.reserve(views.size());
  for (const GatewayView& v : views) targets.push_back({v.config.name, v.config.address});
  return targets;
}

absl::StatusOr<FanOutOptions> FanOutOptionsFor(const ServiceOptions& service,
                                               FanOutRegistry* registry,
                                               const grpc::CallbackServerContext& context,
                                               const Principal& principal,
                                               const google::protobuf::Duration* timeout,
                                               absl::Duration fallback) {
  FanOutOptions options;
  options.principal = principal;
  options.client = service.client;
  options.max_parallel = std::max(service.max_parallel_calls, 1);
  options.registry = registry;
  options.timeout = fallback;
  if (timeout != nullptr) {
    absl::StatusOr<absl::Duration> given = FromProto(*timeout, "timeout");
    if (!given.ok()) return given.status();
    if (*given > kMaxGatewayTimeout) {
      return absl::InvalidArgumentError(
          absl::StrCat("timeout ", absl::FormatDuration(*given), " is longer than ",
                       absl::FormatDuration(kMaxGatewayTimeout)));
    }
    if (*given > absl::ZeroDuration()) options.timeout = *given;
  }
  // A call without a deadline has the time_point's maximum.
  if (context.deadline() != std::chrono::system_clock::time_point::max()) {
    options.deadline = absl::FromChrono(context.deadline());
  }
  return options;
}

}  // namespace mailfleet::controller
