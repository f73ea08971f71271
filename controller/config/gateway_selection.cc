#include "controller/config/gateway_selection.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/config/quote.h"

namespace mailfleet::controller {

absl::StatusOr<std::vector<std::string>> SelectGateways(
    const std::vector<Gateway>& gateways, const std::vector<std::string>& names,
    const std::optional<LabelSelector>& selector, bool all) {
  int ways = !names.empty() + selector.has_value() + all;
  if (ways != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        ways == 0 ? "no gateways selected" : "more than one selection given",
        ": give gateway names, a label selector, or all gateways"));
  }
  std::vector<std::string> selected;
  if (!names.empty()) {
    std::set<absl::string_view> known;
    for (const Gateway& g : gateways) known.insert(g.name);
    std::vector<absl::string_view> unknown;
    for (const std::string& name : names) {
      if (known.count(name) == 0 &&
          std::find(unknown.begin(), unknown.end(), name) == unknown.end()) {
        unknown.push_back(name);
      }
    }
    if (!unknown.empty()) {
      return absl::NotFoundError(absl::StrCat(
          unknown.size() == 1 ? "no gateway named " : "no gateways named ",
          absl::StrJoin(unknown, ", ",
                        [](std::string* out, absl::string_view name) {
                          absl::StrAppend(out, Quote(name));
                        })));
    }
    std::set<absl::string_view> wanted(names.begin(), names.end());
    for (const Gateway& g : gateways) {
      if (wanted.count(g.name) > 0) selected.push_back(g.name);
    }
    return selected;
  }
  for (const Gateway& g : gateways) {
    if (all || selector->Matches(g.labels)) selected.push_back(g.name);
  }
  if (selected.empty() && selector.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "no gateway matches the label selector ", Quote(selector->ToString())));
  }
  return selected;
}

}  // namespace mailfleet::controller
