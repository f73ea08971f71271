// A server-streaming reply that ends at once with an error: what a
// streaming RPC returns when the caller may not have it.
#ifndef MAILFLEET_COMMON_SECURITY_REFUSED_STREAM_H_
#define MAILFLEET_COMMON_SECURITY_REFUSED_STREAM_H_

#include <grpcpp/support/server_callback.h>

#include "absl/status/status.h"

namespace mailfleet {

template <typename Response>
class RefusedStream : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RefusedStream(const absl::Status& why) {
    this->Finish(grpc::Status(static_cast<grpc::StatusCode>(why.code()),
                              std::string(why.message())));
  }
  void OnDone() override { delete this; }
};

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_SECURITY_REFUSED_STREAM_H_
