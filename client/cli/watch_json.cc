#include "client/cli/watch_json.h"

#include <google/protobuf/util/json_util.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "client/cli/message_json.h"
#include "common/status_macros.h"

namespace mailfleet::cli {
namespace {

// Protobuf's printer writes members in field number order, each after a
// comma but the first; `first` tracks that for one object.
void AppendName(absl::string_view quoted_name_colon, bool* first,
                std::string* out) {
  if (!*first) out->push_back(',');
  *first = false;
  out->append(quoted_name_colon.data(), quoted_name_colon.size());
}

// An enum value by name, or as a number when this build does not know it.
template <typename IsValid, typename NameOf>
void AppendEnum(int value, IsValid is_valid, NameOf name_of, std::string* out) {
  if (is_valid(value)) {
    out->push_back('"');
    out->append(name_of(value));
    out->push_back('"');
  } else {
    absl::StrAppend(out, value);
  }
}

void AppendQueueKind(int value, std::string* out) {
  AppendEnum(
      value, v1::QueueKind_IsValid,
      [](int v) { return v1::QueueKind_Name(static_cast<v1::QueueKind>(v)); },
      out);
}

absl::Status AppendProtoJson(const google::protobuf::Message& message,
                             std::string* out) {
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot print as JSON: ", status.message().ToString()));
  }
  out->append(json);
  return absl::OkStatus();
}

absl::Status AppendSnapshotJson(const v1::WatchSnapshot& snapshot,
                                std::string* out) {
  out->push_back('{');
  bool first = true;
  if (snapshot.reason() != 0) {
    AppendName("\"reason\":", &first, out);
    AppendEnum(
        snapshot.reason(), v1::WatchSnapshot::Reason_IsValid,
        [](int v) {
          return v1::WatchSnapshot::Reason_Name(
              static_cast<v1::WatchSnapshot::Reason>(v));
        },
        out);
  }
  if (snapshot.has_agent()) {
    AppendName("\"agent\":", &first, out);
    MF_RETURN_IF_ERROR(AppendProtoJson(snapshot.agent(), out));
  }
  if (snapshot.has_summary()) {
    AppendName("\"summary\":", &first, out);
    MF_RETURN_IF_ERROR(AppendProtoJson(snapshot.summary(), out));
  }
  if (snapshot.messages_size() > 0) {
    AppendName("\"messages\":[", &first, out);
    for (int i = 0; i < snapshot.messages_size(); ++i) {
      if (i > 0) out->push_back(',');
      MF_RETURN_IF_ERROR(AppendMessageJson(snapshot.messages(i), out));
    }
    out->push_back(']');
  }
  if (snapshot.last()) AppendName("\"last\":true", &first, out);
  out->push_back('}');
  return absl::OkStatus();
}

absl::Status AppendChangeJson(const v1::MessageChange& change,
                              std::string* out) {
  out->push_back('{');
  bool first = true;
  if (change.kind() != 0) {
    AppendName("\"kind\":", &first, out);
    AppendEnum(
        change.kind(), v1::MessageChange::Kind_IsValid,
        [](int v) {
          return v1::MessageChange::Kind_Name(
              static_cast<v1::MessageChange::Kind>(v));
        },
        out);
  }
  if (!change.queue_id().empty()) {
    AppendName("\"queueId\":", &first, out);
    AppendJsonString(change.queue_id(), out);
  }
  if (change.from_queue() != 0) {
    AppendName("\"fromQueue\":", &first, out);
    AppendQueueKind(change.from_queue(), out);
  }
  if (change.to_queue() != 0) {
    AppendName("\"toQueue\":", &first, out);
    AppendQueueKind(change.to_queue(), out);
  }
  if (change.has_message()) {
    AppendName("\"message\":", &first, out);
    MF_RETURN_IF_ERROR(AppendMessageJson(change.message(), out));
  }
  out->push_back('}');
  return absl::OkStatus();
}

absl::Status AppendDeltaJson(const v1::WatchDelta& delta, std::string* out) {
  out->push_back('{');
  bool first = true;
  if (delta.changes_size() > 0) {
    AppendName("\"changes\":[", &first, out);
    for (int i = 0; i < delta.changes_size(); ++i) {
      if (i > 0) out->push_back(',');
      MF_RETURN_IF_ERROR(AppendChangeJson(delta.changes(i), out));
    }
    out->push_back(']');
  }
  if (delta.has_summary()) {
    AppendName("\"summary\":", &first, out);
    MF_RETURN_IF_ERROR(AppendProtoJson(delta.summary(), out));
  }
  out->push_back('}');
  return absl::OkStatus();
}

absl::Status AppendEventFields(const v1::WatchEvent& event, std::string* out) {
  out->push_back('{');
  bool first = true;
  if (!event.instance_id().empty()) {
    AppendName("\"instanceId\":", &first, out);
    AppendJsonString(event.instance_id(), out);
  }
  if (event.generation() != 0) {
    // int64 as a string, as the JSON mapping has it.
    AppendName("\"generation\":\"", &first, out);
    absl::StrAppend(out, event.generation());
    out->push_back('"');
  }
  if (event.has_time()) {
    AppendName("\"time\":\"", &first, out);
    MF_RETURN_IF_ERROR(AppendTimestamp(event.time(), out));
    out->push_back('"');
  }
  switch (event.event_case()) {
    case v1::WatchEvent::kSnapshot:
      AppendName("\"snapshot\":", &first, out);
      MF_RETURN_IF_ERROR(AppendSnapshotJson(event.snapshot(), out));
      break;
    case v1::WatchEvent::kDelta:
      AppendName("\"delta\":", &first, out);
      MF_RETURN_IF_ERROR(AppendDeltaJson(event.delta(), out));
      break;
    case v1::WatchEvent::kHeartbeat:
      AppendName("\"heartbeat\":", &first, out);
      MF_RETURN_IF_ERROR(AppendProtoJson(event.heartbeat(), out));
      break;
    case v1::WatchEvent::EVENT_NOT_SET:
      break;
  }
  out->push_back('}');
  return absl::OkStatus();
}

}  // namespace

absl::Status AppendWatchEventJson(const v1::WatchEvent& event,
                                  std::string* out) {
  const size_t before = out->size();
  absl::Status status = AppendEventFields(event, out);
  if (!status.ok()) {
    out->resize(before);
    return absl::InvalidArgumentError(absl::StrCat("watch event of generation ",
                                                   event.generation(), ": ",
                                                   status.message()));
  }
  return absl::OkStatus();
}

}  // namespace mailfleet::cli
