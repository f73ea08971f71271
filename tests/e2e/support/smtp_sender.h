// A minimal SMTP client that pushes test mail into a Postfix instance on
// loopback as fast as the server takes it: several connections in parallel,
// many transactions per connection, PIPELINING when the server offers it.
// Every reply is checked; the first failure names the message and the reply.
#ifndef MAILFLEET_TESTS_E2E_SUPPORT_SMTP_SENDER_H_
#define MAILFLEET_TESTS_E2E_SUPPORT_SMTP_SENDER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace mailfleet::testing {

struct TestMessage {
  // Envelope addresses exactly as they go between < and > in MAIL FROM and
  // RCPT TO, quoting included ("\"john smith\"@example.org"). An empty
  // sender is the null sender <>.
  std::string sender;
  std::vector<std::string> recipients;
  // The RFC 5322 message with CRLF line endings, not dot-stuffed (the sender
  // does that).
  std::string data;
};

// Sends `messages` to 127.0.0.1:`port` over up to `connections` parallel
// connections and returns once every message was accepted (250 after the
// end of data), or with the first failure. Thread-safe.
absl::Status SendMessages(int port, const std::vector<TestMessage>& messages,
                          int connections);

// `data` with SMTP dot-stuffing applied and the end-of-data line appended;
// a missing final CRLF is added. Exposed for tests.
std::string DotStuffedData(const std::string& data);

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_E2E_SUPPORT_SMTP_SENDER_H_
