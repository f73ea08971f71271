// Waiting in end-to-end tests for what real processes do in their own time.
#ifndef MAILFLEET_TESTS_E2E_POLL_H_
#define MAILFLEET_TESTS_E2E_POLL_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mailfleet::testing {

// Polls `done` every 50 ms until it holds or `timeout` has passed; returns
// whether it held.
inline bool PollUntil(absl::Duration timeout, const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_E2E_POLL_H_
