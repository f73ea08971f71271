// Reading a GetMessage stream, the same from an agent and from the
// controller (which forwards its agent's stream): one envelope, then the
// content chunk by chunk, checked for order along the way.
#ifndef MAILFLEET_CLIENT_MESSAGE_STREAM_H_
#define MAILFLEET_CLIENT_MESSAGE_STREAM_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/sync_stream.h>

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "mailfleet/v1/agent.pb.h"

namespace mailfleet {

using EnvelopeCallback = std::function<void(const v1::Message&)>;
using ContentCallback = std::function<absl::Status(absl::string_view chunk)>;

// Reads `reader` (a call on `context` for `request`) to its end: `on_envelope`
// once, then `on_content` for each chunk unless only the envelope was asked
// for. A stream out of order, or an error from `on_content`, cancels the
// call and is returned ahead of the stream's own status. `sender` names the
// other side in errors ("agent 10.0.0.1:7443").
absl::Status ReadMessageStream(
    grpc::ClientContext& context,
    grpc::ClientReaderInterface<v1::GetMessageResponse>& reader,
    absl::string_view sender, const v1::GetMessageRequest& request,
    const EnvelopeCallback& on_envelope, const ContentCallback& on_content);

}  // namespace mailfleet

#endif  // MAILFLEET_CLIENT_MESSAGE_STREAM_H_
