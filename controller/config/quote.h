// How the controller's config errors show a value the user gave.
#ifndef MAILFLEET_CONTROLLER_CONFIG_QUOTE_H_
#define MAILFLEET_CONTROLLER_CONFIG_QUOTE_H_

#include <cstddef>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace mailfleet::controller {

// `s` in single quotes, C-escaped and cut after 80 bytes, so that a long or
// binary value in a file or flag can neither flood nor forge a log line.
inline std::string Quote(absl::string_view s) {
  constexpr size_t kMaxShown = 80;
  if (s.size() <= kMaxShown) return absl::StrCat("'", absl::CEscape(s), "'");
  return absl::StrCat("'", absl::CEscape(s.substr(0, kMaxShown)), "...'");
}

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_CONFIG_QUOTE_H_
