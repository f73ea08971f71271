// The MPA's throttle state, judged the way the MPA judges it: it slows the
// MTA down when its spool or its error queue passes a limit, and refuses
// mail when the spool holds more than it can work off.
#ifndef MAILFLEET_AGENT_MPA_THROTTLE_H_
#define MAILFLEET_AGENT_MPA_THROTTLE_H_

#include <cstdint>

#include "absl/status/status.h"

namespace mailfleet::mpa {

// The agent's copy of the MPA's limits: they should match its
// configuration. Counts above a limit pass it.
struct ThrottleLimits {
  int64_t throttle_spool = 1000;
  int64_t throttle_error = 1000;
  int64_t refuse_spool = 2000;
};

// INVALID_ARGUMENT unless every limit is positive and throttling starts no
// later than refusing.
absl::Status ValidateThrottleLimits(const ThrottleLimits& limits);

enum class ThrottleState { kNormal, kThrottling, kRefusing };

struct Throttle {
  ThrottleState state = ThrottleState::kNormal;
  int64_t spool_items = 0;
  int64_t error_items = 0;
  ThrottleLimits limits;

  bool operator==(const Throttle& o) const {
    return state == o.state && spool_items == o.spool_items &&
           error_items == o.error_items &&
           limits.throttle_spool == o.limits.throttle_spool &&
           limits.throttle_error == o.limits.throttle_error &&
           limits.refuse_spool == o.limits.refuse_spool;
  }
  bool operator!=(const Throttle& o) const { return !(*this == o); }
};

Throttle JudgeThrottle(int64_t spool_items, int64_t error_items,
                       const ThrottleLimits& limits);

}  // namespace mailfleet::mpa

#endif  // MAILFLEET_AGENT_MPA_THROTTLE_H_
