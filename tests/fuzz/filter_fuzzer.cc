// Fuzzes compiling a filter (queues, fields, pattern as substring or RE2
// regex, age and size bounds) and matching it against a message, both read
// from the input, and checks substring matching against a plain lower-case
// search. The input is text, so that seeds can be written by hand:
//
//   line 1   the pattern (may be empty)
//   line 2   options: "regex", "q=N" (a queue kind), "f=N" (a match field),
//            "min_age=S", "max_age=S" (seconds), "min_size=N", "max_size=N"
//   line 3   the message: queue kind, size, age in seconds
//   line 4-6 queue id, sender, client address
//   more     recipients: "address TAB original address TAB delay reason"
//
// Numbers are taken as they are, negative and out-of-range ones included:
// Compile must refuse what it cannot use.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/filter.h"
#include "common/message.h"

namespace {

using ::mailfleet::Filter;
using ::mailfleet::FilterSpec;
using ::mailfleet::MatchField;
using ::mailfleet::Message;
using ::mailfleet::QueueKind;

void Check(bool ok) {
  if (!ok) std::abort();
}

int64_t Number(absl::string_view s) {
  int64_t n = 0;
  return absl::SimpleAtoi(s, &n) ? n : 0;
}

void ParseOptions(absl::string_view line, FilterSpec& spec) {
  for (absl::string_view token : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    if (token == "regex") spec.regex = true;
    if (absl::ConsumePrefix(&token, "q=")) {
      // Truncated to the enum's byte as a caller's cast would.
      spec.queues.push_back(static_cast<QueueKind>(Number(token)));
    } else if (absl::ConsumePrefix(&token, "f=")) {
      spec.fields.push_back(static_cast<MatchField>(Number(token)));
    } else if (absl::ConsumePrefix(&token, "min_age=")) {
      spec.min_age = absl::Seconds(Number(token));
    } else if (absl::ConsumePrefix(&token, "max_age=")) {
      spec.max_age = absl::Seconds(Number(token));
    } else if (absl::ConsumePrefix(&token, "min_size=")) {
      spec.min_size = Number(token);
    } else if (absl::ConsumePrefix(&token, "max_size=")) {
      spec.max_size = Number(token);
    }
  }
}

bool ContainsLower(absl::string_view haystack, absl::string_view needle) {
  return absl::AsciiStrToLower(haystack).find(absl::AsciiStrToLower(needle)) !=
         std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<absl::string_view> lines = absl::StrSplit(input, '\n');
  lines.resize(std::max<size_t>(lines.size(), 6));

  FilterSpec spec;
  spec.pattern = std::string(lines[0]);
  ParseOptions(lines[1], spec);

  Message m;
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  std::vector<absl::string_view> numbers =
      absl::StrSplit(lines[2], ' ', absl::SkipEmpty());
  numbers.resize(std::max<size_t>(numbers.size(), 3));
  // A message from the index always has a queue it knows.
  const int64_t queue = Number(numbers[0]);
  m.queue = queue >= 0 && queue < mailfleet::kQueueKindCount
                ? static_cast<QueueKind>(queue)
                : QueueKind::kDeferred;
  m.size = Number(numbers[1]);
  m.arrival_time = now - absl::Seconds(Number(numbers[2]));
  m.queue_id = std::string(lines[3]);
  m.sender = std::string(lines[4]);
  m.client_address = std::string(lines[5]);
  for (size_t i = 6; i < lines.size(); ++i) {
    std::vector<std::string> parts = absl::StrSplit(lines[i], '\t');
    parts.resize(std::max<size_t>(parts.size(), 3));
    m.recipients.push_back({parts[0], parts[1], parts[2]});
  }

  absl::StatusOr<Filter> filter = Filter::Compile(spec);
  if (!filter.ok()) {
    Check(absl::IsInvalidArgument(filter.status()));
    return 0;
  }
  const bool matches = filter->Matches(m, now);
  Check(filter->has_pattern() == !spec.pattern.empty());
  if (filter->SelectsEverything()) Check(matches);
  for (absl::string_view text : {m.id(), m.sender_address(), m.client(),
                                 absl::string_view(spec.pattern)}) {
    const bool hit = filter->MatchesText(text);
    if (!spec.regex) Check(hit == ContainsLower(text, spec.pattern));
  }
  for (const mailfleet::Recipient& r : m.recipients) {
    const bool hit = filter->MatchesText(r.delay_reason);
    if (!spec.regex) Check(hit == ContainsLower(r.delay_reason, spec.pattern));
  }
  return 0;
}
