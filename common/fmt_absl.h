// Lets spdlog/fmt 9 print absl::string_view and absl::Status, which Debian's
// Abseil does not alias to the std types.
#ifndef MAILFLEET_COMMON_FMT_ABSL_H_
#define MAILFLEET_COMMON_FMT_ABSL_H_

#include <spdlog/fmt/fmt.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename Context>
  auto format(absl::string_view s, Context& ctx) const {
    return fmt::formatter<fmt::string_view>::format(
        fmt::string_view(s.data(), s.size()), ctx);
  }
};

template <>
struct fmt::formatter<absl::Status> : fmt::formatter<fmt::string_view> {
  template <typename Context>
  auto format(const absl::Status& s, Context& ctx) const {
    std::string text = s.ToString();
    return fmt::formatter<fmt::string_view>::format(
        fmt::string_view(text.data(), text.size()), ctx);
  }
};

#endif  // MAILFLEET_COMMON_FMT_ABSL_H_
