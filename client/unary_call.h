// What every call of both clients does the same way: its deadline, and a
// unary call with its status mapped to absl.
#ifndef MAILFLEET_CLIENT_UNARY_CALL_H_
#define MAILFLEET_CLIENT_UNARY_CALL_H_

#include <grpcpp/client_context.h>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/grpc_status.h"
#include "common/status_macros.h"

namespace mailfleet {

// `timeout` from now; none when infinite (a Watch).
inline void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
}

// One call of `rpc` on `stub` with `timeout`.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> CallUnary(
    Stub& stub,
    grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&, Response*),
    const Request& request, absl::Duration timeout) {
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  Response response;
  MF_RETURN_IF_ERROR(FromGrpcStatus((stub.*rpc)(&context, request, &response)));
  return response;
}

}  // namespace mailfleet

#endif  // MAILFLEET_CLIENT_UNARY_CALL_H_
