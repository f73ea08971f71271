// Fuzzes the defer-logfile parser. The input is the file; it is parsed as
// with SMTPUTF8 off and on (which changes the bytes that stay printable).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/strings/string_view.h"
#include "agent/postfix/defer_log.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool utf8 : {false, true}) {
    std::vector<mailfleet::postfix::DeferEntry> entries =
        mailfleet::postfix::ParseDeferLog(text, utf8);
    // An entry needs at least one non-blank line and the blank line ending it.
    Check(entries.size() <= text.size() / 2);
    for (const mailfleet::postfix::DeferEntry& e : entries) {
      // Postfix's placeholders fill in what is missing.
      Check(!e.address.empty() && !e.reason.empty());
      for (absl::string_view field :
           {absl::string_view(e.address), absl::string_view(e.orig_address),
            absl::string_view(e.reason)}) {
        for (char c : field) {
          const auto u = static_cast<unsigned char>(c);
          // Made printable: no control characters survive, and without
          // SMTPUTF8 nothing outside ASCII does either.
          Check(u >= 0x20 && u != 0x7f && (utf8 || u < 0x80));
        }
      }
    }
  }
  return 0;
}
