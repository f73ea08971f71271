#include "controller/config/label_selector.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "controller/config/quote.h"
#include "re2/re2.h"

namespace mailfleet::controller {
namespace {

constexpr size_t kMaxLabelLength = 63;

// Checks `text` against `pattern` (a character class bounded to 63), and
// says which of the two rules it breaks.
absl::Status ValidateLabelPart(absl::string_view what, absl::string_view text,
                               const RE2& pattern, absl::string_view chars,
                               bool may_be_empty) {
  if (RE2::FullMatch(re2::StringPiece(text.data(), text.size()), pattern)) {
    return absl::OkStatus();
  }
  if (text.empty() && !may_be_empty) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  }
  if (text.size() > kMaxLabelLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", Quote(text), " is longer than ",
                     kMaxLabelLength, " characters"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, " ", Quote(text), " has a character outside ", chars));
}

}  // namespace

absl::Status ValidateLabelKey(absl::string_view key) {
  static const RE2* const kKey = new RE2("[A-Za-z0-9._/-]{1,63}");
  return ValidateLabelPart("label key", key, *kKey, "[A-Za-z0-9._/-]",
                           /*may_be_empty=*/false);
}

absl::Status ValidateLabelValue(absl::string_view value) {
  static const RE2* const kValue = new RE2("[A-Za-z0-9._-]{0,63}");
  return ValidateLabelPart("label value", value, *kValue, "[A-Za-z0-9._-]",
                           /*may_be_empty=*/true);
}

absl::StatusOr<LabelSelector::Requirement> LabelSelector::ParseTerm(
    absl::string_view term) {
  Requirement r;
  absl::string_view key = term;
  absl::string_view value;
  size_t op = term.find_first_of("!=");
  if (op == 0 && term[0] == '!') {
    r.op = Op::kNotExists;
    key = term.substr(1);
  } else if (op == absl::string_view::npos) {
    r.op = Op::kExists;
  } else if (term[op] == '!') {
    if (op + 1 == term.size() || term[op + 1] != '=') {
      return absl::InvalidArgumentError(
          "'!' must start the term (!key) or be part of '!='");
    }
    r.op = Op::kNotEquals;
    key = term.substr(0, op);
    value = term.substr(op + 2);
  } else {
    r.op = Op::kEquals;
    key = term.substr(0, op);
    size_t width = op + 1 < term.size() && term[op + 1] == '=' ? 2 : 1;
    value = term.substr(op + width);
  }
  key = absl::StripAsciiWhitespace(key);
  value = absl::StripAsciiWhitespace(value);
  if (key.empty()) return absl::InvalidArgumentError("it has no label key");
  if (absl::Status s = ValidateLabelKey(key); !s.ok()) return s;
  if (absl::Status s = ValidateLabelValue(value); !s.ok()) return s;
  r.key = std::string(key);
  r.value = std::string(value);
  return r;
}

absl::StatusOr<LabelSelector> LabelSelector::Parse(absl::string_view text) {
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError(
        "an empty selector selects nothing; use --all-gateways");
  }
  std::vector<Requirement> requirements;
  for (absl::string_view term : absl::StrSplit(text, ',')) {
    term = absl::StripAsciiWhitespace(term);
    if (term.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("label selector ", Quote(text),
                       " has an empty term (a comma too many)"));
    }
    absl::StatusOr<Requirement> r = ParseTerm(term);
    if (!r.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "label selector term ", Quote(term), ": ", r.status().message()));
    }
    requirements.push_back(*std::move(r));
  }
  return LabelSelector(std::move(requirements));
}

bool LabelSelector::Matches(const Labels& labels) const {
  for (const Requirement& r : requirements_) {
    auto it = labels.find(r.key);
    bool present = it != labels.end();
    switch (r.op) {
      case Op::kEquals:
        if (!present || it->second != r.value) return false;
        break;
      case Op::kNotEquals:
        if (present && it->second == r.value) return false;
        break;
      case Op::kExists:
        if (!present) return false;
        break;
      case Op::kNotExists:
        if (present) return false;
        break;
    }
  }
  return true;
}

std::string LabelSelector::ToString() const {
  return absl::StrJoin(requirements_, ",",
                       [](std::string* out, const Requirement& r) {
                         switch (r.op) {
                           case Op::kEquals:
                             return absl::StrAppend(out, r.key, "=", r.value);
                           case Op::kNotEquals:
                             return absl::StrAppend(out, r.key, "!=", r.value);
                           case Op::kExists:
                             return absl::StrAppend(out, r.key);
                           case Op::kNotExists:
                             return absl::StrAppend(out, "!", r.key);
                         }
                       });
}

}  // namespace mailfleet::controller
