// The MPA spool's items, as DESIGN.md describes them: `<queue>/<id>.eml`
// (the raw RFC 5322 message) with its envelope in `<queue>/<id>.env`, lines
// of `key: value` (sender, recipient repeated, received in RFC 3339, error,
// attempts). The writer creates the .env first and renames the .eml into
// place last, so an item exists exactly when its .eml does.
//
// Everything here is hostile input until checked: ids are validated
// against their exact syntax before they go near a path, and an envelope
// that is not exactly well-formed is refused with the line that is wrong.
#ifndef MAILFLEET_AGENT_MPA_SPOOL_ITEM_H_
#define MAILFLEET_AGENT_MPA_SPOOL_ITEM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/queue_id.h"

namespace mailfleet::mpa {

inline constexpr size_t kMaxSpoolIdLength = kMaxMpaItemIdLength;
// Larger envelopes are refused unread: a few thousand recipients fit.
inline constexpr size_t kMaxEnvelopeBytes = 1 << 20;

// OK if `id` is [A-Za-z0-9._-]{1,128}; the error says what is wrong.
inline absl::Status ValidateSpoolId(absl::string_view id) {
  return ValidateMpaItemId(id);
}

// The item id of a directory entry named "<id>.eml", if it is one.
std::optional<absl::string_view> SpoolIdOfMessageFile(absl::string_view name);
// The same for "<id>.eml" or "<id>.env": a file whose change concerns an
// item.
std::optional<absl::string_view> SpoolIdOfItemFile(absl::string_view name);

struct SpoolEnvelope {
  std::string sender;  // empty: the null sender
  std::vector<std::string> recipients;
  absl::Time received = absl::InfinitePast();
  std::string error;  // why processing failed (error queue)
  int64_t attempts = 0;
};

// Parses an item's .env. Unknown keys are ignored (a newer MPA may add
// some); a line without "key: ", a repeated single-valued key, a bad time
// or count, a control character, no sender line, no recipient or no
// received line are refused (DATA_LOSS, naming the line).
absl::StatusOr<SpoolEnvelope> ParseSpoolEnvelope(absl::string_view text);

// The .env text for `envelope`, as the MPA writes it (for the simulator
// and tests). Values must not contain line breaks.
std::string FormatSpoolEnvelope(const SpoolEnvelope& envelope);

}  // namespace mailfleet::mpa

#endif  // MAILFLEET_AGENT_MPA_SPOOL_ITEM_H_
