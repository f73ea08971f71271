#include "agent/mpa/throttle.h"

#include "absl/strings/str_cat.h"

namespace mailfleet::mpa {

absl::Status ValidateThrottleLimits(const ThrottleLimits& limits) {
  if (limits.throttle_spool <= 0 || limits.throttle_error <= 0 ||
      limits.refuse_spool <= 0) {
    return absl::InvalidArgumentError("MPA limits must be positive counts");
  }
  if (limits.throttle_spool > limits.refuse_spool) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MPA throttle limit for the spool (", limits.throttle_spool,
        ") is above its refuse limit (", limits.refuse_spool, ")"));
  }
  return absl::OkStatus();
}

Throttle JudgeThrottle(int64_t spool_items, int64_t error_items,
                       const ThrottleLimits& limits) {
  Throttle t;
  t.spool_items = spool_items;
  t.error_items = error_items;
  t.limits = limits;
  if (spool_items > limits.refuse_spool) {
    t.state = ThrottleState::kRefusing;
  } else if (spool_items > limits.throttle_spool ||
             error_items > limits.throttle_error) {
    t.state = ThrottleState::kThrottling;
  }
  return t;
}

}  // namespace mailfleet::mpa
