#include "common/filter.h"

#include <re2/re2.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace mailfleet {
namespace {

// `needle` is already lower-case. Queue fields are short, so a first-byte
// scan beats building any search structure.
bool ContainsIgnoreCase(absl::string_view haystack, absl::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  const char first = needle[0];
  const size_t last = haystack.size() - needle.size();
  for (size_t i = 0; i <= last; ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(haystack[i])) != first) {
      continue;
    }
    size_t j = 1;
    while (j < needle.size() &&
           absl::ascii_tolower(static_cast<unsigned char>(haystack[i + j])) ==
               needle[j]) {
      ++j;
    }
    if (j == needle.size()) return true;
  }
  return false;
}

}  // namespace

Filter::Filter() {
  queues_.set();
  fields_.set();
}

absl::StatusOr<Filter> Filter::Compile(const FilterSpec& spec) {
  Filter f;
  if (!spec.queues.empty()) {
    f.queues_.reset();
    for (QueueKind q : spec.queues) {
      // Any byte can reach here cast to a QueueKind; one past the known
      // queues would make the bitset throw.
      const int i = static_cast<int>(q);
      if (q == QueueKind::kUnknown || i >= kQueueKindCount) {
        return absl::InvalidArgumentError(
            absl::StrCat("filter names an unknown queue (", i, ")"));
      }
      f.queues_.set(i);
    }
  }
  if (!spec.fields.empty()) {
    f.fields_.reset();
    for (MatchField m : spec.fields) {
      int i = static_cast<int>(m);
      if (i < 1 || i >= kMatchFieldCount) {
        return absl::InvalidArgumentError(
            absl::StrCat("filter names an unknown match field (", i, ")"));
      }
      f.fields_.set(i);
    }
  }
  if (spec.pattern.size() > kMaxPatternLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("pattern is ", spec.pattern.size(),
                     " bytes long; the limit is ", kMaxPatternLength));
  }
  if (spec.regex && spec.pattern.empty()) {
    return absl::InvalidArgumentError("regex is set but the pattern is empty");
  }
  if (spec.regex) {
    RE2::Options options;
    options.set_case_sensitive(false);
    options.set_log_errors(false);
    auto re = std::make_shared<RE2>(spec.pattern, options);
    if (!re->ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid regular expression '", spec.pattern, "': ", re->error()));
    }
    if (re->ProgramSize() > kMaxRegexProgramSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "regular expression is too costly to match (", re->ProgramSize(),
          " RE2 instructions; the limit is ", kMaxRegexProgramSize,
          "): make its repetitions smaller"));
    }
    f.regex_ = std::move(re);
  }
  f.pattern_ = absl::AsciiStrToLower(spec.pattern);
  if (spec.min_age < absl::ZeroDuration() || spec.max_age < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("age bounds must not be negative");
  }
  if (spec.max_age > absl::ZeroDuration() && spec.min_age > spec.max_age) {
    return absl::InvalidArgumentError(absl::StrCat(
        "minimum age ", absl::FormatDuration(spec.min_age),
        " is greater than maximum age ", absl::FormatDuration(spec.max_age)));
  }
  if (spec.min_size < 0 || spec.max_size < 0) {
    return absl::InvalidArgumentError("size bounds must not be negative");
  }
  if (spec.max_size > 0 && spec.min_size > spec.max_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("minimum size ", spec.min_size,
                     " is greater than maximum size ", spec.max_size));
  }
  f.min_age_ = spec.min_age;
  f.max_age_ = spec.max_age;
  f.min_size_ = spec.min_size;
  f.max_size_ = spec.max_size;
  return f;
}

bool Filter::SelectsEverything() const {
  return queues_.all() && pattern_.empty() && min_age_ == absl::ZeroDuration() &&
         max_age_ == absl::ZeroDuration() && min_size_ == 0 && max_size_ == 0;
}

bool Filter::MatchesText(absl::string_view text) const {
  if (pattern_.empty()) return true;
  if (regex_) {
    return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *regex_);
  }
  return ContainsIgnoreCase(text, pattern_);
}

}  // namespace mailfleet
