// Text for a terminal: strings from the queue (which anyone who can send
// mail controls) made harmless, columns padded, times shown in the
// operator's zone.
#ifndef MAILFLEET_CLIENT_CLI_TERMINAL_TEXT_H_
#define MAILFLEET_CLIENT_CLI_TERMINAL_TEXT_H_

#include <google/protobuf/timestamp.pb.h>

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mailfleet::cli {

// What tables measure ages from and show times in; fixed in tests.
struct DisplayContext {
  absl::Time now;
  absl::TimeZone zone;
};

// Appends `text` with control characters (C0, DEL, and the UTF-8 encoded C1
// range) replaced by '?', so that a sender or a delay reason cannot move
// the cursor or inject terminal escape sequences.
void AppendSanitized(absl::string_view text, std::string* out);

// AppendSanitized, then spaces up to `width` characters (counting UTF-8
// code points); always at least one space after text that fills the width.
void AppendPaddedLeft(absl::string_view text, size_t width, std::string* out);

// Spaces, then `text` (plain ASCII: numbers, units) ending at `width`.
void AppendPaddedRight(absl::string_view text, size_t width, std::string* out);

// Code points in `text` (its width in most terminals).
size_t TextWidth(absl::string_view text);

// "2024-11-24 12:00:00" in the display zone.
void AppendTime(absl::Time time, const DisplayContext& display,
                std::string* out);

absl::Time ToTime(const google::protobuf::Timestamp& timestamp);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_TERMINAL_TEXT_H_
