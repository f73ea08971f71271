// How Postfix shows addresses and logfile text: the RFC 822 quoting of a
// local part, and the replacement of unprintable bytes. The agent's answers
// must equal `postqueue -j` byte for byte, so these follow Postfix's rules
// (quote_822_local(3), printable(3)) rather than any newer RFC.
#ifndef MAILFLEET_AGENT_POSTFIX_ADDRESS_FORMAT_H_
#define MAILFLEET_AGENT_POSTFIX_ADDRESS_FORMAT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace mailfleet::postfix {

// `address` with its local part (after any source route, before the last
// '@') turned into a quoted string unless it is an RFC 822 dot-string.
std::string QuoteLocalPart(absl::string_view address);
// The same into `*out`, reusing its capacity (a scan quotes every address).
void QuoteLocalPartInto(absl::string_view address, std::string* out);

// Replaces, in place, every byte that is not printable ASCII with '?'; with
// `utf8` set, multi-byte UTF-8 sequences are kept as Postfix keeps them when
// SMTPUTF8 is enabled.
void MakePrintable(std::string& text, bool utf8);

}  // namespace mailfleet::postfix

#endif  // MAILFLEET_AGENT_POSTFIX_ADDRESS_FORMAT_H_
