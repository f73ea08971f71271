#include "tests/e2e/support/message_generator.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace mailfleet::testing {
namespace {

constexpr int kDomainCount = 300;
constexpr int kSenderCount = 1000;
// Postfix splits lines longer than line_length_limit (default 2048) into
// continuation records; long lines are made comfortably longer than that.
constexpr int kLongLineMin = 2100;
constexpr int64_t kFirstDate = 1700000000;  // 2023-11-14, arbitrary but fixed

// splitmix64: small, fast and fully specified here, so that sequences do not
// depend on the standard library's (implementation-defined) distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // In [0, n); the modulo bias is irrelevant for test data.
  int Below(int n) {
    return static_cast<int>(Next() % static_cast<uint64_t>(n));
  }
  int Between(int lo, int hi) { return lo + Below(hi - lo + 1); }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(static_cast<int>(N))];
  }

 private:
  uint64_t state_;
};

const char* const kWords[] = {
    "queue",   "deferred", "relay",    "gateway", "invoice",  "meeting",
    "report",  "quarter",  "delivery", "status",  "message",  "account",
    "payment", "shipment", "schedule", "update",  "review",   "network",
    "the",     "and",      "for",      "with",    "from",     "about",
    "please",  "thanks",   "regards",  "today",   "tomorrow", "attached"};

const char* const kEightBitLines[] = {
    "Gr\xC3\xBC\xC3\x9F"
    "e aus K\xC3\xB6ln, sch\xC3\xB6ne \xC3\x9C"
    "berraschung.",
    "Caf\xC3\xA9, na\xC3\xAFve fa\xC3\xA7"
    "ade, d\xC3\xA9j\xC3\xA0 vu \xE2\x80\x94 "
    "\xC3\xA0 bient\xC3\xB4t.",
    "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82, "
    "\xD0\xBA\xD0\xB0\xD0\xBA "
    "\xD0\xB4\xD0\xB5\xD0\xBB\xD0\xB0?",
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD"
    "\xE3\x82\xB9\xE3\x83\x88",
    "Latin-1 bytes, not UTF-8: caf\xE9 na\xEFve \xFC"
    "ber"};

const char* const kDotLines[] = {".", ".leading dot", "..two leading dots",
                                 ". a sentence after a dot", ".\t.tab"};

// About fifty sending domains, each with a few dozen senders.
std::string SenderAddress(int k) {
  return absl::StrCat("sender", k, "@mail", k % 53, ".example.com");
}

// u^3 puts about a quarter of all picks on the first five domains and leaves
// the last ones rare.
int SkewedIndex(Rng& rng, int n) {
  double u = rng.Unit();
  return std::min(n - 1, static_cast<int>(n * u * u * u));
}

std::string PickSender(Rng& rng) {
  double r = rng.Unit();
  if (r < 0.03) return "";  // the null sender
  if (r < 0.05) {
    const auto& quoted = QuotedLocalParts();
    return absl::StrCat(quoted[rng.Below(static_cast<int>(quoted.size()))],
                        "@example.org");
  }
  double u = rng.Unit();
  return SenderAddress(static_cast<int>(kSenderCount * u * u));
}

std::vector<std::string> PickRecipients(Rng& rng) {
  int count = rng.Between(1, 5);
  std::vector<std::string> recipients;
  const auto& domains = RecipientDomains();
  const auto& quoted = QuotedLocalParts();
  while (static_cast<int>(recipients.size()) < count) {
    std::string local = rng.Chance(0.03)
                            ? quoted[rng.Below(static_cast<int>(quoted.size()))]
                            : absl::StrCat("user", rng.Below(20000));
    std::string address =
        absl::StrCat(local, "@", domains[SkewedIndex(rng, kDomainCount)]);
    if (std::find(recipients.begin(), recipients.end(), address) ==
        recipients.end()) {
      recipients.push_back(std::move(address));
    }
  }
  return recipients;
}

std::string Subject(Rng& rng, int64_t index) {
  switch (rng.Below(8)) {
    case 0:
      return absl::StrCat("Invoice ", 100000 + index);
    case 1:
      return absl::StrCat("Weekly newsletter #", rng.Below(300));
    case 2:
      return absl::StrCat("Re: meeting about the ", rng.Pick(kWords));
    case 3:
      return absl::StrCat("Your order ", index * 7 + 3, " has shipped");
    case 4:
      return "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=";
    case 5:
      return absl::StrCat("[list-", rng.Below(20), "] digest, vol ", index);
    case 6:
      return absl::StrCat("Fwd: ", rng.Pick(kWords), " ", rng.Pick(kWords));
    default:
      return "";
  }
}

// Most messages are a few KB; a few percent reach 50 to 200 KB.
int TargetSize(Rng& rng) {
  double r = rng.Unit();
  if (r < 0.85) return rng.Between(1024, 8 * 1024);
  if (r < 0.98) return rng.Between(8 * 1024, 50 * 1024);
  return rng.Between(50 * 1024, 200 * 1024);
}

std::string WordLine(Rng& rng, int length) {
  std::string line;
  while (static_cast<int>(line.size()) < length) {
    absl::StrAppend(&line, line.empty() ? "" : " ", rng.Pick(kWords));
  }
  return line;
}

void AddHeaders(Rng& rng, int64_t index, uint32_t seed,
                const TestMessage& message, bool eight_bit, std::string* out) {
  std::string from =
      message.sender.empty()
          ? "Mail Delivery System <MAILER-DAEMON@mailfleet-test.localdomain>"
          : message.sender;
  absl::StrAppend(out, "From: ", from, "\r\n");
  // A long To: header is folded, as mail clients do.
  absl::StrAppend(out, "To: ", absl::StrJoin(message.recipients, ",\r\n    "),
                  "\r\n");
  if (std::string subject = Subject(rng, index); !subject.empty()) {
    absl::StrAppend(out, "Subject: ", subject, "\r\n");
  }
  absl::StrAppend(
      out, "Date: ",
      absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000",
                       absl::FromUnixSeconds(kFirstDate + index * 3),
                       absl::UTCTimeZone()),
      "\r\n");
  absl::StrAppend(out, "Message-ID: <", seed, ".", index,
                  "@generator.mailfleet.test>\r\n");
  if (rng.Chance(0.2)) {
    absl::StrAppend(out, "In-Reply-To: <", seed, ".", rng.Below(1000000),
                    "@generator.mailfleet.test>\r\n");
  }
  if (rng.Chance(0.15)) {
    absl::StrAppend(out, "List-Id: <news", rng.Below(10),
                    ".lists.example.com>\r\nPrecedence: bulk\r\n");
  }
  if (rng.Chance(0.05)) absl::StrAppend(out, "X-Priority: 1\r\n");
  absl::StrAppend(out, "MIME-Version: 1.0\r\n");
  absl::StrAppend(out, eight_bit
                           ? "Content-Type: text/plain; charset=utf-8\r\n"
                             "Content-Transfer-Encoding: 8bit\r\n"
                           : "Content-Type: text/plain; charset=us-ascii\r\n"
                             "Content-Transfer-Encoding: 7bit\r\n");
  absl::StrAppend(out, "X-Mailfleet-Index: ", index, "\r\n\r\n");
}

}  // namespace

const std::vector<std::string>& RecipientDomains() {
  static const auto* domains = [] {
    auto* d = new std::vector<std::string>();
    for (int i = 0; i < kDomainCount; ++i) {
      d->push_back(absl::StrCat("d", i, ".example.net"));
    }
    return d;
  }();
  return *domains;
}

const std::vector<std::string>& QuotedLocalParts() {
  static const auto* parts = new std::vector<std::string>{
      "\"john smith\"", "\"sales, europe\"",   "\"a..b\"",
      "\"x@y\"",        "\"semi;colon\"",      "\"(paren)\"",
      "\"<angle>\"",    "\"quote\\\"inside\"", "\"colon:name\"",
      "\".leading\"",   "\"trailing.\"",       "\"[brackets]\""};
  return *parts;
}

TestMessage GenerateMessage(int64_t index, uint32_t seed) {
  Rng rng((static_cast<uint64_t>(seed) << 32) ^
          (static_cast<uint64_t>(index) * 0xD1B54A32D192ED03ULL));
  TestMessage message;
  message.sender = PickSender(rng);
  message.recipients = PickRecipients(rng);
  const int target = TargetSize(rng);
  const bool eight_bit = rng.Chance(0.1);
  const bool long_line = rng.Chance(0.06);
  const bool dot_lines = rng.Chance(0.1);

  std::string& data = message.data;
  data.reserve(target + 512);
  AddHeaders(rng, index, seed, message, eight_bit, &data);
  absl::StrAppend(&data, "Hello,\r\n\r\n", WordLine(rng, 60), "\r\n");
  if (dot_lines) {
    for (int i = rng.Between(1, 3); i > 0; --i) {
      absl::StrAppend(&data, rng.Pick(kDotLines), "\r\n");
    }
  }
  if (eight_bit) {
    for (int i = rng.Between(1, 3); i > 0; --i) {
      absl::StrAppend(&data, rng.Pick(kEightBitLines), "\r\n");
    }
  }
  if (long_line) {
    absl::StrAppend(&data, WordLine(rng, rng.Between(kLongLineMin, 9000)),
                    "\r\n");
  }
  while (static_cast<int>(data.size()) < target) {
    absl::StrAppend(&data, WordLine(rng, rng.Between(20, 76)), "\r\n");
  }
  absl::StrAppend(&data, "-- \r\nmailfleet test generator\r\n");
  return message;
}

std::vector<TestMessage> GenerateVariedMessages(int count, uint32_t seed,
                                                int64_t first_index) {
  std::vector<TestMessage> messages;
  messages.reserve(std::max(count, 0));
  for (int i = 0; i < count; ++i) {
    messages.push_back(GenerateMessage(first_index + i, seed));
  }
  return messages;
}

}  // namespace mailfleet::testing
