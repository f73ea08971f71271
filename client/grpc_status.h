// The one place where a gRPC status becomes an absl::Status on the client
// side: same code, same message, so callers (and users) see what the server
// said.
#ifndef MAILFLEET_CLIENT_GRPC_STATUS_H_
#define MAILFLEET_CLIENT_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace mailfleet {

absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace mailfleet

#endif  // MAILFLEET_CLIENT_GRPC_STATUS_H_
