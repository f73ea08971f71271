#include "proto/time_proto.h"

#include <ctime>

namespace mailfleet {
namespace {

constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

}  // namespace

void SetTimestampSeconds(int64_t seconds, int32_t nanos,
                         google::protobuf::Timestamp* out) {
  if (seconds < kMinTimestampSeconds) seconds = kMinTimestampSeconds, nanos = 0;
  if (seconds > kMaxTimestampSeconds) seconds = kMaxTimestampSeconds, nanos = 0;
  out->set_seconds(seconds);
  out->set_nanos(nanos);
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const timespec ts = absl::ToTimespec(t);
  SetTimestampSeconds(ts.tv_sec, static_cast<int32_t>(ts.tv_nsec), out);
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  // Truncated toward zero, so that the remainder has the seconds' sign.
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
}

}  // namespace mailfleet
