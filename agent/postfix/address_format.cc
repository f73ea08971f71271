#include "agent/postfix/address_format.h"

namespace mailfleet::postfix {
namespace {

bool IsSpecial(unsigned char c) {
  switch (c) {
    case '(': case ')': case '<': case '>': case '@': case ',': case ';':
    case ':': case '\\': case '"': case '[': case ']':
      return true;
    default:
      return false;
  }
}

// An RFC 822 dot-string: atoms separated by single dots, no leading or
// trailing dot, no blanks, controls or specials. Postfix quotes 8-bit-clean
// (QUOTE_FLAG_DEFAULT): bytes above 127 neither force quoting nor get a
// backslash.
bool IsDotString(absl::string_view local) {
  if (local.empty() || local[0] == '.' || local.back() == '.') return false;
  for (size_t i = 0; i < local.size(); ++i) {
    unsigned char c = local[i];
    if (c == '.' && i + 1 < local.size() && local[i + 1] == '.') return false;
    if (c == ' ' || c < 32 || c == 127 || IsSpecial(c)) return false;
  }
  return true;
}

}  // namespace

std::string QuoteLocalPart(absl::string_view address) {
  std::string out;
  QuoteLocalPartInto(address, &out);
  return out;
}

void QuoteLocalPartInto(absl::string_view address, std::string* out) {
  // A source route ("@a,@b:user@c") is kept as it is, in front.
  size_t start = 0;
  if (!address.empty() && address[0] == '@') {
    size_t colon = address.find(':');
    if (colon != absl::string_view::npos) start = colon + 1;
  }
  size_t end = address.rfind('@');
  if (end == absl::string_view::npos || end < start) end = address.size();
  absl::string_view local = address.substr(start, end - start);
  // Postfix scans the local part only up to an embedded NUL.
  if (IsDotString(local.substr(0, local.find('\0')))) {
    out->assign(address.data(), address.size());
    return;
  }
  out->assign(address.data(), start);
  out->push_back('"');
  for (unsigned char c : local) {
    if (c == 0) break;
    if (c == '"' || c == '\\' || c == '\r') out->push_back('\\');
    out->push_back(static_cast<char>(c));
  }
  out->push_back('"');
  absl::string_view rest = address.substr(end);
  out->append(rest.data(), rest.size());
}

void MakePrintable(std::string& text, bool utf8) {
  const size_t n = text.size();
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = text[i];
    if (c >= 32 && c < 127) continue;
    if (utf8 && c >= 194 && c <= 254 && i + 1 < n &&
        static_cast<unsigned char>(text[i + 1]) >= 128 &&
        static_cast<unsigned char>(text[i + 1]) < 192) {
      // Keep the lead byte and every continuation byte after it.
      while (i + 1 < n && static_cast<unsigned char>(text[i + 1]) >= 128 &&
             static_cast<unsigned char>(text[i + 1]) < 192) {
        ++i;
      }
      continue;
    }
    text[i] = '?';
  }
}

}  // namespace mailfleet::postfix
