// Times and durations into their protobuf forms, the same for the agent,
// the controller and the CLI.
#ifndef MAILFLEET_PROTO_TIME_PROTO_H_
#define MAILFLEET_PROTO_TIME_PROTO_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace mailfleet {

// Clamped to the range a Timestamp may hold (years 1 to 9999): a damaged
// arrival record must not make a reply unprintable as JSON. `nanos` is in
// [0, 1e9).
void SetTimestampSeconds(int64_t seconds, int32_t nanos,
                         google::protobuf::Timestamp* out);
void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out);
// Seconds and nanos with the same sign, as Duration requires.
void SetDuration(absl::Duration d, google::protobuf::Duration* out);

}  // namespace mailfleet

#endif  // MAILFLEET_PROTO_TIME_PROTO_H_
