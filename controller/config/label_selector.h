// Labels on gateways and the selectors that pick gateways by them
// (`site=ams,env!=test`), with the syntax of Kubernetes' equality-based
// selectors. The label syntax lives here too, so that the gateways file and
// a selector can never disagree on what a key or value may be.
//
// A LabelSelector is immutable once parsed and safe to share between
// threads.
#ifndef MAILFLEET_CONTROLLER_CONFIG_LABEL_SELECTOR_H_
#define MAILFLEET_CONTROLLER_CONFIG_LABEL_SELECTOR_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mailfleet::controller {

// A gateway's labels, sorted by key.
using Labels = std::map<std::string, std::string>;

// OK if `key` is [A-Za-z0-9._/-]{1,63}; else INVALID_ARGUMENT saying so.
absl::Status ValidateLabelKey(absl::string_view key);
// OK if `value` is [A-Za-z0-9._-]{0,63}; else INVALID_ARGUMENT saying so.
absl::Status ValidateLabelValue(absl::string_view value);

// A conjunction of comma-separated requirements, each one of
//   key=value  key==value   the label is present with that value
//   key!=value              the label is absent or has another value
//   key                     the label is present (any value)
//   !key                    the label is absent
// Whitespace around terms and operators is ignored. Keys and values follow
// the label syntax above; `env=` asks for an empty value.
class LabelSelector {
 public:
  // INVALID_ARGUMENT naming the offending term for a malformed term, and for
  // an empty selector: one that selects everything is better asked for
  // explicitly (--all-gateways) than reached by an empty flag value.
  static absl::StatusOr<LabelSelector> Parse(absl::string_view text);

  // True if `labels` meet every requirement.
  bool Matches(const Labels& labels) const;

  // The canonical form, requirements in the order given: `==` becomes `=`
  // and whitespace goes, so that Parse(ToString()) is the same selector.
  std::string ToString() const;

 private:
  enum class Op { kEquals, kNotEquals, kExists, kNotExists };
  struct Requirement {
    std::string key;
    Op op;
    std::string value;  // for kEquals and kNotEquals
  };
  static absl::StatusOr<Requirement> ParseTerm(absl::string_view term);

  explicit LabelSelector(std::vector<Requirement> requirements)
      : requirements_(std::move(requirements)) {}

  std::vector<Requirement> requirements_;  // never empty
};

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_CONFIG_LABEL_SELECTOR_H_
