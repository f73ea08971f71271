// The units operators type and read: ages ("90s", "2h", "3d", "1w") and
// sizes ("10k", "2M", powers of 1024), parsed from flags and printed in
// tables.
#ifndef MAILFLEET_CLIENT_CLI_UNITS_H_
#define MAILFLEET_CLIENT_CLI_UNITS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mailfleet::cli {

// Whole numbers with a unit, s m h d or w, optionally several ("1h30m").
absl::StatusOr<absl::Duration> ParseAge(absl::string_view text);

// A whole number of bytes with an optional k, M or G suffix (any case),
// powers of 1024: "10k" is 10240.
absl::StatusOr<int64_t> ParseByteSize(absl::string_view text);

// A whole number greater than zero.
absl::StatusOr<int64_t> ParsePositiveCount(absl::string_view text);

// The largest whole unit, rounded down: "45s", "3m", "2h", "5d"; "-" for a
// negative age (a clock ahead of ours).
void AppendAge(absl::Duration age, std::string* out);
std::string FormatAge(absl::Duration age);

// Like `ls -h`: "512", "1.5K", "12K", "3.0M", "4G".
void AppendSize(int64_t bytes, std::string* out);
std::string FormatSize(int64_t bytes);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_UNITS_H_
