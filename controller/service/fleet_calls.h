// What the fanned-out RPCs share: the gateways a selection names as call
// targets, and a request's per-gateway timeout as fan-out options.
#ifndef MAILFLEET_CONTROLLER_SERVICE_FLEET_CALLS_H_
#define MAILFLEET_CONTROLLER_SERVICE_FLEET_CALLS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "controller/fleet/fleet.h"
#include "controller/service/controller_service.h"
#include "controller/service/fan_out.h"
#include "google/protobuf/duration.pb.h"

namespace mailfleet::controller {

std::vector<GatewayTarget> TargetsOf(const std::vector<GatewayView>& views);

// The longest per-gateway timeout a request may ask for.
inline constexpr absl::Duration kMaxGatewayTimeout = absl::Hours(1);

// `timeout` (`fallback` when unset; refused when negative, malformed or
// over kMaxGatewayTimeout), bounded by the deadline of `context`'s call,
// with the service's client options and parallelism, cancelled through
// `registry`, made for `principal`.
absl::StatusOr<FanOutOptions> FanOutOptionsFor(const ServiceOptions& service,
                                               FanOutRegistry* registry,
                                               const grpc::CallbackServerContext& context,
                                               const Principal& principal,
                                               const google::protobuf::Duration* timeout,
                                               absl::Duration fallback);

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_SERVICE_FLEET_CALLS_H_
