// A hand-written JSON printer for v1::Message, the one type `ls -o json`
// prints by the hundred thousand. Its output is byte for byte what
// google::protobuf::util::MessageToJsonString prints with default options
// (protobuf 3.21's converter: lowerCamelCase names, enum names, RFC 3339
// timestamps, int64 as strings, defaults omitted, its particular escaping),
// at a small fraction of the cost: no reflection, no re-serialization.
// tests/client/message_json_test.cc pins the equality down.
#ifndef MAILFLEET_CLIENT_CLI_MESSAGE_JSON_H_
#define MAILFLEET_CLIENT_CLI_MESSAGE_JSON_H_

#include <google/protobuf/timestamp.pb.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "mailfleet/v1/types.pb.h"

namespace mailfleet::cli {

// Appends `message` as one JSON object (no newline). Fails, as
// MessageToJsonString does, when a timestamp is outside 0001..9999 or its
// nanos outside 0..999999999; `out` is then left as it was.
absl::Status AppendMessageJson(const v1::Message& message, std::string* out);

// Appends `text` as a quoted JSON string, escaped as protobuf's JSON printer
// escapes: control characters, '"', '\\', '<', '>', DEL, C1 controls and a
// few invisible code points as \uXXXX; invalid UTF-8 sequences dropped.
void AppendJsonString(absl::string_view text, std::string* out);

// Appends the RFC 3339 form protobuf prints ("2024-05-01T12:00:00.250Z":
// 0, 3, 6 or 9 fractional digits), without quotes. Fails out of range.
absl::Status AppendTimestamp(const google::protobuf::Timestamp& timestamp,
                             std::string* out);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_MESSAGE_JSON_H_
