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

// RFC 3339's date-time (section 5.6), digit for digit. absl::ParseTime is
// looser: fields of any width ("2026-1-3T1:0:0Z", a five-digit year),
// "+01" and "+0100" offsets, blanks, "infinite-past". It still checks the
// ranges (month 13, February 30) once the shape is right.
bool HasRfc3339Shape(absl::string_view value) {
  constexpr absl::string_view kDateTime = "0000-00-00T00:00:00";
  if (value.size() < kDateTime.size()) return false;
  for (size_t i = 0; i < kDateTime.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    const bool ok = kDateTime[i] == '0'   ? absl::ascii_isdigit(c)
                    : kDateTime[i] == 'T' ? c == 'T' || c == 't'
                                          : c == kDateTime[i];
    if (!ok) return false;
  }
  value.remove_prefix(kDateTime.size());
  if (absl::ConsumePrefix(&value, ".")) {
    size_t digits = 0;
    while (digits < value.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(value[digits]))) {
      ++digits;
    }
    if (digits == 0) return false;
    value.remove_prefix(digits);
  }
  if (value == "Z" || value == "z") return true;
  return value.size() == 6 && (value[0] == '+' || value[0] == '-') &&
         absl::ascii_isdigit(static_cast<unsigned char>(value[1])) &&
         absl::ascii_isdigit(static_cast<unsigned char>(value[2])) &&
         value[3] == ':' &&
         absl::ascii_isdigit(static_cast<unsigned char>(value[4])) &&
         absl::ascii_isdigit(static_cast<unsigned char>(value[5]));
}

// The writer puts times in UTC with a four-digit year (RFC3339_full's %Y
// has no width: the year 999 would come out as "999").
constexpr absl::string_view kReceivedFormat = "%E4Y-%m-%d%ET%H:%M:%E*S%Ez";

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
      std::string why = "expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM)";
      if (!HasRfc3339Shape(value) ||
          !absl::ParseTime(absl::RFC3339_full, value, &env.received, &why)) {
        return bad(absl::StrCat("received is not an RFC 3339 time: ", why));
      }
      // An offset can carry 0000-01-01 or 9999-12-31 past the years that
      // four digits hold in UTC, the only zone the writer writes: a move
      // would turn such an envelope into one that no longer reads.
      const int64_t year =
          absl::ToCivilYear(env.received, absl::UTCTimeZone()).year();
      if (year < 0 || year > 9999) {
        return bad(absl::StrCat("received is in the year ", year,
                                " in UTC, outside 0000 to 9999"));
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
  absl::StrAppend(
      &out, "received: ",
      absl::FormatTime(kReceivedFormat, envelope.received, absl::UTCTimeZone()),
      "\n");
  if (!envelope.error.empty()) absl::StrAppend(&out, "error: ", envelope.error, "\n");
  if (envelope.attempts > 0) absl::StrAppend(&out, "attempts: ", envelope.attempts, "\n");
  return out;
}

}  // namespace mailfleet::mpa
