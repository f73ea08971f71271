#include "agent/mpa/spool_item.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mailfleet::mpa {
namespace {

// Tabs are allowed in values (an error text may hold one); no other
// control character is.
bool HasControl(absl::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return true;
  }
  return false;
}

}  // namespace

std::optional<absl::string_view> SpoolIdOfMessageFile(absl::string_view name) {
  if (!absl::ConsumeSuffix(&name, ".eml")) return std::nullopt;
  if (!ValidateSpoolId(name).ok()) return std::nullopt;
  return name;
}

std::optional<absl::string_view> SpoolIdOfItemFile(absl::string_view name) {
  if (!absl::ConsumeSuffix(&name, ".eml") && !absl::ConsumeSuffix(&name, ".env")) {
    return std::nullopt;
  }
  if (!ValidateSpoolId(name).ok()) return std::nullopt;
  return name;
}

absl::StatusOr<SpoolEnvelope> ParseSpoolEnvelope(absl::string_view text) {
  if (text.size() > kMaxEnvelopeBytes) {
    return absl::DataLossError(
        absl::StrCat("envelope larger than ", kMaxEnvelopeBytes, " bytes"));
  }
  SpoolEnvelope env;
  bool sender = false, received = false, error = false, attempts = false;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    absl::ConsumeSuffix(&line, "\r");
    if (line.empty()) continue;
    auto bad = [&](absl::string_view why) {
      return absl::DataLossError(absl::StrCat("envelope line ", number, ": ", why));
    };
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return bad("not \"key: value\"");
    }
    const absl::string_view key = line.substr(0, colon);
    absl::string_view value = line.substr(colon + 1);
    absl::ConsumePrefix(&value, " ");
    if (HasControl(value)) return bad("control character in the value");
    auto once = [&](bool& seen) {
      if (seen) return false;
      seen = true;
      return true;
    };
    if (key == "sender") {
      if (!once(sender)) return bad("second sender");
      env.sender = std::string(value);
    } else if (key == "recipient") {
      if (value.empty()) return bad("empty recipient");
      env.recipients.emplace_back(value);
    } else if (key == "received") {
      if (!once(received)) return bad("second received");
      // absl::ParseTime also takes "infinite-past", "infinite-future" and
      // blanks around the time, none of which is RFC 3339.
      std::string why = "it must start with the year and end without blanks";
      const bool plain =
          !value.empty() &&
          absl::ascii_isdigit(static_cast<unsigned char>(value.front())) &&
          !absl::ascii_isspace(static_cast<unsigned char>(value.back()));
      if (!plain ||
          !absl::ParseTime(absl::RFC3339_full, value, &env.received, &why)) {
        return bad(absl::StrCat("received is not an RFC 3339 time: ", why));
      }
    } else if (key == "error") {
      if (!once(error)) return bad("second error");
      env.error = std::string(value);
    } else if (key == "attempts") {
      if (!once(attempts)) return bad("second attempts");
      if (!absl::SimpleAtoi(value, &env.attempts) || env.attempts < 0) {
        return bad("attempts is not a count");
      }
    }
  }
  if (!sender) return absl::DataLossError("envelope has no sender line");
  if (env.recipients.empty()) return absl::DataLossError("envelope has no recipient");
  if (!received) return absl::DataLossError("envelope has no received line");
  return env;
}

std::string FormatSpoolEnvelope(const SpoolEnvelope& envelope) {
  std::string out = absl::StrCat("sender: ", envelope.sender, "\n");
  for (const std::string& r : envelope.recipients) {
    absl::StrAppend(&out, "recipient: ", r, "\n");
  }
  absl::StrAppend(&out, "received: ",
                  absl::FormatTime(absl::RFC3339_full, envelope.received,
                                   absl::UTCTimeZone()),
                  "\n");
  if (!envelope.error.empty()) absl::StrAppend(&out, "error: ", envelope.error, "\n");
  if (envelope.attempts > 0) absl::StrAppend(&out, "attempts: ", envelope.attempts, "\n");
  return out;
}

}  // namespace mailfleet::mpa
