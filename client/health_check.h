// gRPC health checks of an agent or the controller (grpc.health.v1): what
// `mailfleet health`, container health checks and Kubernetes probes ask.
#ifndef MAILFLEET_CLIENT_HEALTH_CHECK_H_
#define MAILFLEET_CLIENT_HEALTH_CHECK_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace mailfleet {

// OK when the server answers SERVING for `service` (empty: the server as a
// whole); UNAVAILABLE naming the status it gave otherwise, or the call's
// error.
absl::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                         const std::string& service, absl::Duration timeout);

}  // namespace mailfleet

#endif  // MAILFLEET_CLIENT_HEALTH_CHECK_H_
