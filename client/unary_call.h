// What every call of both clients does the same way: its deadline and
// token, and a unary call with its status mapped to absl.
#ifndef MAILFLEET_CLIENT_UNARY_CALL_H_
#define MAILFLEET_CLIENT_UNARY_CALL_H_

#include <grpcpp/client_context.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/grpc_status.h"
#include "common/security/authorizer.h"
#include "common/status_macros.h"

namespace mailfleet {

// A deadline `timeout` from now (none when infinite: a Watch), and the
// bearer token when there is one.
inline void PrepareCall(grpc::ClientContext* context, absl::Duration timeout,
                        const std::string& token) {
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  AddBearerToken(context, token);
}

// One call of `rpc` on `stub` with `timeout` and `token`.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> CallUnary(
    Stub& stub,
    grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&, Response*),
    const Request& request, absl::Duration timeout, const std::string& token) {
  grpc::ClientContext context;
  PrepareCall(&context, timeout, token);
  Response response;
  MF_RETURN_IF_ERROR(FromGrpcStatus((stub.*rpc)(&context, request, &response)));
  return response;
}

}  // namespace mailfleet

#endif  // MAILFLEET_CLIENT_UNARY_CALL_H_
