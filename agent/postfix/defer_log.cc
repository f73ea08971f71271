#include "agent/postfix/defer_log.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "agent/postfix/address_format.h"

namespace mailfleet::postfix {
namespace {

constexpr absl::string_view kMailerDaemon = "(MAILER-DAEMON)";

void Finish(DeferEntry& e, std::vector<DeferEntry>& out) {
  if (e.address.empty()) e.address = "(recipient address unavailable)";
  if (e.reason.empty()) e.reason = "(description unavailable)";
  out.push_back(std::move(e));
  e = DeferEntry();
}

// "name = value" with blanks around both trimmed; false if there is no '='
// or no name.
bool SplitNameValue(absl::string_view line, absl::string_view& name,
                    absl::string_view& value) {
  size_t eq = line.find('=');
  if (eq == absl::string_view::npos) return false;
  name = absl::StripAsciiWhitespace(line.substr(0, eq));
  value = absl::StripAsciiWhitespace(line.substr(eq + 1));
  return !name.empty();
}

}  // namespace

std::vector<DeferEntry> ParseDeferLog(absl::string_view text, bool utf8) {
  std::vector<DeferEntry> out;
  DeferEntry entry;
  bool in_entry = false;
  std::string line;
  // Postfix drops an entry that no blank line ends: the writer may still be
  // appending to it. A last line without its newline is still a line to
  // Postfix, though, and ends the entry if it is blank.
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const absl::string_view raw = text.substr(0, nl);
    text.remove_prefix(nl == absl::string_view::npos ? text.size() : nl + 1);
    // Postfix reads each line as a C string: it ends at a NUL, and a line
    // that starts with one counts as blank.
    line.assign(raw.data(), std::min(raw.size(), raw.find('\0')));
    if (line.empty()) {
      if (in_entry) Finish(entry, out);
      in_entry = false;
      continue;
    }
    MakePrintable(line, utf8);
    in_entry = true;
    if (absl::ascii_isalnum(static_cast<unsigned char>(line[0]))) {
      absl::string_view name, value;
      if (!SplitNameValue(line, name, value)) continue;
      if (name == "recipient") {
        entry.address = value.empty() ? std::string(kMailerDaemon)
                                      : std::string(value);
      } else if (name == "original_recipient") {
        entry.orig_address = value.empty() ? std::string(kMailerDaemon)
                                           : std::string(value);
      } else if (name == "reason") {
        entry.reason = std::string(value);
      }
      continue;
    }
    // Old style: "<address>: reason".
    if (line[0] != '<') continue;
    size_t close = line.find(">: ", 1);
    if (close == std::string::npos) continue;
    entry.address = close == 1 ? std::string(kMailerDaemon)
                               : line.substr(1, close - 1);
    absl::string_view reason(line);
    reason.remove_prefix(close + 2);
    entry.reason = std::string(absl::StripLeadingAsciiWhitespace(reason));
  }
  return out;
}

}  // namespace mailfleet::postfix
