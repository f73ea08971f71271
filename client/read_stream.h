// Reading a server stream to its end, the same for every streaming call of
// both clients: each item to a callback, the stream cancelled and drained
// when the callback fails or the caller's WatchControl is cancelled.
#ifndef MAILFLEET_CLIENT_READ_STREAM_H_
#define MAILFLEET_CLIENT_READ_STREAM_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/sync_stream.h>

#include "absl/status/status.h"
#include "client/agent_client.h"
#include "client/grpc_status.h"

namespace mailfleet {

// Calls `on_item` for each item of `reader` (a call on `context`), in order,
// until the stream ends. An error from `on_item` cancels the call and is
// returned ahead of the stream's own status; so does a cancelled `control`
// (may be null), which returns OK, no item passed on after it.
template <typename Item, typename Callback>
absl::Status ReadStreamToEnd(grpc::ClientContext& context,
                             grpc::ClientReaderInterface<Item>& reader,
                             const Callback& on_item,
                             const WatchControl* control = nullptr) {
  absl::Status local;  // A failure on this side; it wins over the stream's.
  bool stopped = false;
  Item item;
  while (reader.Read(&item)) {
    // An item read just before a Cancel() stays unseen.
    if ((control != nullptr && control->cancelled()) ||
        !(local = on_item(item)).ok()) {
      stopped = true;
      break;
    }
  }
  if (stopped) {
    // The stream has to be cancelled and drained before Finish.
    context.TryCancel();
    while (reader.Read(&item)) {
    }
  }
  grpc::Status finished = reader.Finish();
  if (!local.ok()) return local;
  if (control != nullptr && control->cancelled()) return absl::OkStatus();
  return FromGrpcStatus(finished);
}

}  // namespace mailfleet

#endif  // MAILFLEET_CLIENT_READ_STREAM_H_
