// The one message filter behind every query and action: queues, a pattern
// (case-insensitive substring or RE2 regex) over chosen fields, age and size
// bounds. Compiled once, then matched against any message representation
// that offers Message's accessors (the index's compact records do).
//
// A compiled Filter is immutable and safe to share between threads.
#ifndef MAILFLEET_COMMON_FILTER_H_
#define MAILFLEET_COMMON_FILTER_H_

#include <bitset>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/queue_kind.h"

namespace re2 {
class RE2;
}

namespace mailfleet {

enum class MatchField : uint8_t {
  kQueueId = 1,
  kSender,
  kRecipient,  // address and original address
  kDelayReason,
  kClientAddress,
};
inline constexpr int kMatchFieldCount = 6;

// Longest pattern accepted; longer ones are refused, not truncated.
inline constexpr size_t kMaxPatternLength = 1024;
// RE2 matches in time linear in the text, times the compiled program's
// size: a short pattern such as (?:.?){1000}x compiles to 9,000
// instructions and costs 100 ms per 4 KiB of text, over every message of a
// queue. Everyday patterns compile to well under 1,000.
inline constexpr int kMaxRegexProgramSize = 2000;

struct FilterSpec {
  std::vector<QueueKind> queues;  // all when empty
  std::string pattern;            // none when empty
  bool regex = false;
  std::vector<MatchField> fields;  // all when empty
  absl::Duration min_age = absl::ZeroDuration();  // zero: unbounded
  absl::Duration max_age = absl::ZeroDuration();  // zero: unbounded
  int64_t min_size = 0;                           // zero: unbounded
  int64_t max_size = 0;                           // zero: unbounded
};

class Filter {
 public:
  // A filter that selects everything.
  Filter();
  // INVALID_ARGUMENT with the reason for a bad regex, negative or crossed
  // bounds, or an over-long pattern.
  static absl::StatusOr<Filter> Compile(const FilterSpec& spec);

  bool AdmitsQueue(QueueKind q) const { return queues_[static_cast<int>(q)]; }
  bool has_pattern() const { return !pattern_.empty(); }
  bool SelectsEverything() const;

  // True if `m` passes every condition, ages measured at `now`.
  template <typename M>
  bool Matches(const M& m, absl::Time now) const;

  // True if the pattern matches `text` (always true without a pattern).
  bool MatchesText(absl::string_view text) const;

 private:
  bool UsesField(MatchField f) const { return fields_[static_cast<int>(f)]; }
  template <typename M>
  bool MatchesPattern(const M& m) const;

  std::bitset<kQueueKindCount> queues_;
  std::bitset<kMatchFieldCount> fields_;
  std::string pattern_;  // lower-cased for substring matching
  std::shared_ptr<const re2::RE2> regex_;
  absl::Duration min_age_ = absl::ZeroDuration();
  absl::Duration max_age_ = absl::ZeroDuration();
  int64_t min_size_ = 0;
  int64_t max_size_ = 0;
};

template <typename M>
bool Filter::Matches(const M& m, absl::Time now) const {
  if (!AdmitsQueue(m.queue_kind())) return false;
  if (min_size_ > 0 && m.size_bytes() < min_size_) return false;
  if (max_size_ > 0 && m.size_bytes() > max_size_) return false;
  if (min_age_ > absl::ZeroDuration() && now - m.arrival() < min_age_) {
    return false;
  }
  if (max_age_ > absl::ZeroDuration() && now - m.arrival() > max_age_) {
    return false;
  }
  return pattern_.empty() || MatchesPattern(m);
}

template <typename M>
bool Filter::MatchesPattern(const M& m) const {
  if (UsesField(MatchField::kQueueId) && MatchesText(m.id())) return true;
  if (UsesField(MatchField::kSender) && MatchesText(m.sender_address())) {
    return true;
  }
  if (UsesField(MatchField::kClientAddress) && MatchesText(m.client())) {
    return true;
  }
  const bool rcpt = UsesField(MatchField::kRecipient);
  const bool reason = UsesField(MatchField::kDelayReason);
  if (!rcpt && !reason) return false;
  for (size_t i = 0, n = m.recipient_count(); i < n; ++i) {
    if (rcpt && (MatchesText(m.recipient_address(i)) ||
                 MatchesText(m.recipient_orig_address(i)))) {
      return true;
    }
    if (reason && MatchesText(m.recipient_delay_reason(i))) return true;
  }
  return false;
}

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_FILTER_H_
