// `watch -o json`: one WatchEvent per line, byte for byte what
// google::protobuf::util::MessageToJsonString prints, but with the messages
// of snapshot parts and of changes (a thousand in a part, as many as a bulk
// hold moves in a delta) printed by AppendMessageJson; the small rest
// (agent, summary, summary updates, heartbeats) goes through protobuf.
// tests/client/message_json_test.cc pins the equality down.
#ifndef MAILFLEET_CLIENT_CLI_WATCH_JSON_H_
#define MAILFLEET_CLIENT_CLI_WATCH_JSON_H_

#include <string>

#include "absl/status/status.h"
#include "mailfleet/v1/agent.pb.h"

namespace mailfleet::cli {

// Appends `event` as one JSON object (no newline). Fails as
// MessageToJsonString does (a timestamp out of range); `out` is then left
// as it was.
absl::Status AppendWatchEventJson(const v1::WatchEvent& event,
                                  std::string* out);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_WATCH_JSON_H_
