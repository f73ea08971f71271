// Frees gRPC objects away from gRPC's own threads. A channel (or the
// ClientContext of a call made on it) freed in a callback of gRPC 1.51's
// callback API may drop the last reference to the completion queue whose
// thread runs that callback; the thread then joins itself and gRPC aborts
// ("assertion failed: prior > 0"). Fan-outs and relays end in such
// callbacks, so what they hold is handed here instead.
#ifndef MAILFLEET_CONTROLLER_SERVICE_RELEASE_OFF_GRPC_H_
#define MAILFLEET_CONTROLLER_SERVICE_RELEASE_OFF_GRPC_H_

#include <memory>

namespace mailfleet::controller {

// Drops `object` on a thread of its own (one for the process, started on
// first use), soon.
void ReleaseOffGrpcThreads(std::shared_ptr<void> object);

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_SERVICE_RELEASE_OFF_GRPC_H_
