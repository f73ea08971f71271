#include "client/message_stream.h"

#include "absl/strings/str_cat.h"
#include "client/grpc_status.h"
#include "common/status_macros.h"

namespace mailfleet {

absl::Status ReadMessageStream(
    grpc::ClientContext& context,
    grpc::ClientReaderInterface<v1::GetMessageResponse>& reader,
    absl::string_view sender, const v1::GetMessageRequest& request,
    const EnvelopeCallback& on_envelope, const ContentCallback& on_content) {
  const std::string& queue_id = request.queue_id();
  bool have_envelope = false;
  absl::Status local;  // A failure on this side; it wins over the stream's.
  v1::GetMessageResponse part;
  while (local.ok() && reader.Read(&part)) {
    switch (part.part_case()) {
      case v1::GetMessageResponse::kEnvelope:
        if (have_envelope) {
          local = absl::InternalError(absl::StrCat(
              sender, " sent a second envelope for ", queue_id));
        } else {
          have_envelope = true;
          on_envelope(part.envelope());
        }
        break;
      case v1::GetMessageResponse::kContent:
        if (!have_envelope) {
          local = absl::InternalError(absl::StrCat(
              sender, " sent content before the envelope of ", queue_id));
        } else if (request.envelope_only()) {
          local = absl::InternalError(
              absl::StrCat(sender, " sent content for ", queue_id,
                           " although only the envelope was asked for"));
        } else {
          local = on_content(part.content());
        }
        break;
      case v1::GetMessageResponse::PART_NOT_SET:
        local = absl::InternalError(
            absl::StrCat(sender, " sent an empty part for ", queue_id));
        break;
    }
  }
  if (!local.ok()) {
    context.TryCancel();
    while (reader.Read(&part)) {
    }
  }
  grpc::Status finished = reader.Finish();
  MF_RETURN_IF_ERROR(local);
  MF_RETURN_IF_ERROR(FromGrpcStatus(finished));
  if (!have_envelope) {
    return absl::InternalError(
        absl::StrCat(sender, " sent no envelope for ", queue_id));
  }
  return absl::OkStatus();
}

}  // namespace mailfleet
