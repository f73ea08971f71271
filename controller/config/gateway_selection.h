// Which gateways a query or action goes to: named ones, those a label
// selector matches, or all of them.
#ifndef MAILFLEET_CONTROLLER_CONFIG_GATEWAY_SELECTION_H_
#define MAILFLEET_CONTROLLER_CONFIG_GATEWAY_SELECTION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/config/gateways_file.h"
#include "controller/config/label_selector.h"

namespace mailfleet::controller {

// The names of the selected gateways, in `gateways`' (the file's) order,
// each once. Exactly one way of selecting must be given: `names`
// (non-empty), `selector`, or `all`; none or several is INVALID_ARGUMENT.
// NOT_FOUND, naming them, for names not in `gateways`, and for a selector
// that matches no gateway: asking for something absent is a mistake worth
// saying, not an empty answer. `all` of an empty fleet is an empty list.
absl::StatusOr<std::vector<std::string>> SelectGateways(
    const std::vector<Gateway>& gateways, const std::vector<std::string>& names,
    const std::optional<LabelSelector>& selector, bool all);

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_CONFIG_GATEWAY_SELECTION_H_
