// Fuzzes the MPA envelope (.env) parser. What it accepts, FormatSpoolEnvelope
// must write back into text that parses to the same envelope: the spool
// writer rewrites an item's envelope that way when it moves the item.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "agent/mpa/spool_item.h"

namespace {

namespace mpa = ::mailfleet::mpa;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Same(const mpa::SpoolEnvelope& a, const mpa::SpoolEnvelope& b) {
  return a.sender == b.sender && a.recipients == b.recipients &&
         a.received == b.received && a.error == b.error &&
         a.attempts == b.attempts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<mpa::SpoolEnvelope> env = mpa::ParseSpoolEnvelope(text);
  if (!env.ok()) {
    Check(absl::IsDataLoss(env.status()));
    return 0;
  }
  Check(!env->recipients.empty() && env->attempts >= 0);
  Check(env->received != absl::InfinitePast() &&
        env->received != absl::InfiniteFuture());
  const std::string written = mpa::FormatSpoolEnvelope(*env);
  absl::StatusOr<mpa::SpoolEnvelope> again = mpa::ParseSpoolEnvelope(written);
  Check(again.ok() && Same(*env, *again));
  return 0;
}
