#include "bench/controller/bench_queue.h"

#include <cstdlib>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/testing/queue_file_builder.h"

namespace mailfleet::bench {
namespace {

// SMTP form to the queue file's: cleanup(8) stores `"john smith"@d` as
// `john smith@d`.
std::string Unquoted(const std::string& address) {
  if (address.empty() || address[0] != '"') return address;
  const size_t close = address.rfind('"');
  std::string out;
  for (size_t i = 1; i < close; ++i) {
    if (address[i] == '\\' && i + 1 < close) ++i;
    out.push_back(address[i]);
  }
  return out + address.substr(close + 1);
}

std::string DomainOf(const std::string& address) {
  const size_t at = address.rfind('@');
  return at == std::string::npos ? "" : address.substr(at + 1);
}

// A delay reason of the kinds a busy gateway shows, one per domain: the
// remote side's fault, so every recipient at a domain shares it.
std::string ReasonFor(const std::string& domain) {
  const size_t h = std::hash<std::string>()(domain);
  const int host = static_cast<int>(h % 250) + 1;
  switch (h % 5) {
    case 0:
      return absl::StrFormat("connect to mx.%s[192.0.2.%d]:25: Connection timed out",
                             domain, host);
    case 1:
      return absl::StrFormat(
          "host mx.%s[192.0.2.%d] said: 451 4.7.1 Greylisted, please try again "
          "later (in reply to RCPT TO command)",
          domain, host);
    case 2:
      return absl::StrFormat(
          "host mx.%s[192.0.2.%d] said: 452 4.2.2 Mailbox full (in reply to RCPT "
          "TO command)",
          domain, host);
    case 3:
      return absl::StrFormat(
          "Host or domain name not found. Name service error for name=%s "
          "type=MX: Host not found, try again",
          domain);
    default:
      return absl::StrFormat("connect to mx.%s[192.0.2.%d]:25: Connection refused",
                             domain, host);
  }
}

}  // namespace

std::vector<BenchMessage> BuildBenchQueue(int count, uint32_t seed, absl::Time now) {
  std::vector<BenchMessage> queue;
  queue.reserve(count);
  const int64_t five_days = 5 * 24 * 3600;
  for (int i = 0; i < count; ++i) {
    testing::TestMessage m = testing::GenerateMessage(i, seed);
    BenchMessage b;
    b.sender = Unquoted(m.sender);
    for (const auto& r : m.recipients) b.recipients.push_back(Unquoted(r));
    // The headers only: the index skips content by its length, so the
    // body's bytes would cost the host memory and the benchmark nothing.
    std::vector<std::string> lines;
    for (absl::string_view line : absl::StrSplit(m.data, "\r\n")) {
      if (line.empty()) break;
      lines.emplace_back(line.substr(0, 2000));
    }
    b.arrival = now - absl::Seconds((static_cast<int64_t>(i) * 7919) % five_days);
    b.next_attempt = now + absl::Minutes(5 + i % 60);
    b.queue_file = testing::QueueFileBuilder::Simple(
        b.sender, b.recipients, lines, absl::ToUnixSeconds(b.arrival));
    for (const auto& r : b.recipients) {
      absl::StrAppend(&b.defer_log, "recipient=", r, "\noffset=", 200 + i % 300,
                      "\ndsn_orig_rcpt=rfc822;", r,
                      "\nstatus=4.4.1\naction=delayed\nreason=", ReasonFor(DomainOf(r)),
                      "\n\n");
    }
    queue.push_back(std::move(b));
  }
  return queue;
}

std::string BenchQueueId(int gateway, int message) {
  return absl::StrFormat("%X%04X%05X", message % 16, gateway, message);
}

std::pair<std::string, int> DomainNearest(const std::vector<BenchMessage>& queue,
                                          int wanted) {
  std::map<std::string, int> messages;
  for (const auto& m : queue) {
    std::set<std::string> domains;
    for (const auto& r : m.recipients) domains.insert(DomainOf(r));
    for (const auto& d : domains) ++messages[d];
  }
  std::pair<std::string, int> best{"", 0};
  for (const auto& [domain, n] : messages) {
    if (best.first.empty() || std::abs(n - wanted) < std::abs(best.second - wanted)) {
      best = {domain, n};
    }
  }
  return best;
}

}  // namespace mailfleet::bench
