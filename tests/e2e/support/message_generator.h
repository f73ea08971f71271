// Deterministic test mail for filling a Postfix queue, varied enough to
// exercise a queue-file reader and postqueue's quoting: 1 to 5 recipients
// spread over a few hundred domains (a few bulk-like, many rare), a pool of
// about a thousand senders plus the null sender, quoted local parts with
// RFC 822 specials, sizes from 1 KB to 200 KB (mostly small), lines longer
// than Postfix's line_length_limit (stored as continuation records), lines
// starting with '.', and 8-bit text.
#ifndef MAILFLEET_TESTS_E2E_SUPPORT_MESSAGE_GENERATOR_H_
#define MAILFLEET_TESTS_E2E_SUPPORT_MESSAGE_GENERATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/e2e/support/smtp_sender.h"

namespace mailfleet::testing {

// Every recipient domain the generator uses ("d0.example.net", ...), most
// used first: the first few take a large share of all recipients.
const std::vector<std::string>& RecipientDomains();

// Quoted local parts (SMTP form, quotes included) that the generator mixes
// into senders and recipients; Postfix 3.7's smtpd accepts each of them.
const std::vector<std::string>& QuotedLocalParts();

// Message number `index` of the sequence for `seed`. Depends on nothing but
// its arguments, so any slice of a sequence can be regenerated on its own.
TestMessage GenerateMessage(int64_t index, uint32_t seed);

// Messages first_index .. first_index + count - 1 of the sequence for `seed`.
std::vector<TestMessage> GenerateVariedMessages(int count, uint32_t seed,
                                                int64_t first_index = 0);

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_E2E_SUPPORT_MESSAGE_GENERATOR_H_
