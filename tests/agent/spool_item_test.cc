#include "agent/mpa/spool_item.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet::mpa {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SpoolIdTest, AcceptsExactlyTheDesignsSyntax) {
  EXPECT_TRUE(ValidateSpoolId("a").ok());
  EXPECT_TRUE(ValidateSpoolId("20261130T101500.4711_gw1-a.b").ok());
  EXPECT_TRUE(ValidateSpoolId(std::string(128, 'x')).ok());
  EXPECT_FALSE(ValidateSpoolId("").ok());
  EXPECT_FALSE(ValidateSpoolId(std::string(129, 'x')).ok());
  for (const char* bad : {"a/b", "../x", "a b", "a\nb", "caf\xc3\xa9", "a;rm", "a*"}) {
    absl::Status s = ValidateSpoolId(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("only letters, digits")) << bad;
  }
}

TEST(SpoolIdTest, FindsItemsByTheirMessageFile) {
  EXPECT_EQ(SpoolIdOfMessageFile("abc-1.eml"), "abc-1");
  EXPECT_EQ(SpoolIdOfMessageFile("abc-1.env"), std::nullopt);
  EXPECT_EQ(SpoolIdOfMessageFile(".eml"), std::nullopt);
  EXPECT_EQ(SpoolIdOfMessageFile("a b.eml"), std::nullopt);
  EXPECT_EQ(SpoolIdOfMessageFile("abc.eml.tmp"), std::nullopt);
}

TEST(SpoolEnvelopeTest, ReadsEveryKeyAndIgnoresUnknownOnes) {
  auto env = ParseSpoolEnvelope(
      "sender: alice@example.com\n"
      "recipient: bob@example.net\r\n"
      "recipient: carol@example.org\n"
      "received: 2026-11-30T10:15:00.25+01:00\n"
      "x-future: whatever\n"
      "\n"
      "error: template \"invoice\" is invalid: unknown field {{total}}\n"
      "attempts: 3\n");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->sender, "alice@example.com");
  EXPECT_THAT(env->recipients, ElementsAre("bob@example.net", "carol@example.org"));
  EXPECT_EQ(env->received,
            absl::FromCivil(absl::CivilSecond(2026, 11, 30, 9, 15, 0), absl::UTCTimeZone()) +
                absl::Milliseconds(250));
  EXPECT_EQ(env->error, "template \"invoice\" is invalid: unknown field {{total}}");
  EXPECT_EQ(env->attempts, 3);
}

TEST(SpoolEnvelopeTest, TheNullSenderIsAnEmptyValue) {
  auto env = ParseSpoolEnvelope("sender:\nrecipient: a@b\nreceived: 2026-11-30T10:00:00Z\n");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->sender, "");
  EXPECT_EQ(env->attempts, 0);
}

TEST(SpoolEnvelopeTest, RefusesWhatIsNotExactlyWellFormed) {
  const std::string ok_tail = "recipient: a@b\nreceived: 2026-11-30T10:00:00Z\n";
  struct Case {
    std::string text;
    std::string says;
  } cases[] = {
      {"", "no sender line"},
      {"sender: a@b\nreceived: 2026-11-30T10:00:00Z\n", "no recipient"},
      {"sender: a@b\nrecipient: a@b\n", "no received line"},
      {"sender a@b\n" + ok_tail, "line 1: not \"key: value\""},
      {": x\n" + ok_tail, "line 1: not"},
      {"sender: a@b\nsender: c@d\n" + ok_tail, "line 2: second sender"},
      {"sender: a@b\nrecipient:\n" + ok_tail, "line 2: empty recipient"},
      {"sender: a@b\nrecipient: a@b\nreceived: yesterday\n", "line 3: received is not"},
      // absl::ParseTime's own words for the ends of time are no RFC 3339.
      {"sender: a@b\nrecipient: a@b\nreceived: infinite-past\n", "received is not"},
      {"sender: a@b\nrecipient: a@b\nreceived: infinite-future\n", "received is not"},
      {"sender: a@b\nrecipient: a@b\nreceived: 2026-11-30T10:00:00Z \n",
       "received is not"},
      {"sender: a@b\nattempts: -1\n" + ok_tail, "line 2: attempts is not a count"},
      {"sender: a@b\nattempts: 2x\n" + ok_tail, "attempts is not a count"},
      {"sender: a@b\nerror: x\nerror: y\n" + ok_tail, "line 3: second error"},
      {std::string("sender: a\0b\n", 12) + ok_tail, "line 1: control character"},
      {"sender: a@b\n" + ok_tail + "received: 2026-11-30T10:00:00Z\n", "second received"},
      {std::string(kMaxEnvelopeBytes + 1, 'x'), "larger than"},
  };
  for (const Case& c : cases) {
    auto env = ParseSpoolEnvelope(c.text);
    ASSERT_FALSE(env.ok()) << c.says;
    EXPECT_EQ(env.status().code(), absl::StatusCode::kDataLoss) << c.says;
    EXPECT_THAT(env.status().message(), HasSubstr(c.says));
  }
}

TEST(SpoolEnvelopeTest, WhatTheWriterFormatsReadsBackTheSame) {
  SpoolEnvelope env;
  env.sender = "alice@example.com";
  env.recipients = {"bob@example.net", "\"odd one\"@example.org"};
  env.received = absl::FromUnixMicros(1764494100123456);
  env.error = "decryption failed: no key for\tbob@example.net";
  env.attempts = 2;
  auto back = ParseSpoolEnvelope(FormatSpoolEnvelope(env));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->sender, env.sender);
  EXPECT_EQ(back->recipients, env.recipients);
  EXPECT_EQ(back->received, env.received);
  EXPECT_EQ(back->error, env.error);
  EXPECT_EQ(back->attempts, env.attempts);
}

// Found by fuzz_spool_envelope (Format after Parse must read back the
// same): absl::ParseTime took field widths RFC 3339 does not, and an offset
// could push the year out of four digits in UTC, which the writer then
// wrote as "-1-12-31T..." that no parse accepts.
TEST(SpoolEnvelopeTest, ReceivedIsRfc3339DigitForDigit) {
  const std::string head = "sender: a@b\nrecipient: c@d\nreceived: ";
  for (const char* bad : {"2026-1-3T1:0:0Z", "12026-11-30T10:00:00Z",
                          "2026-11-30T10:00:00+0100", "2026-11-30T10:00:00+01",
                          "2026-11-30T10:00:00.Z", "2026-11-30 10:00:00Z",
                          "2026-11-30T10:00:00", "2026-02-30T10:00:00Z"}) {
    auto env = ParseSpoolEnvelope(head + bad + "\n");
    EXPECT_THAT(env.status().message(), HasSubstr("line 3: received is not"))
        << bad;
  }
  for (const char* good :
       {"2026-11-30t10:00:00z", "2026-11-30T10:00:00.5-12:00",
        "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z"}) {
    EXPECT_TRUE(ParseSpoolEnvelope(head + good + "\n").ok()) << good;
  }
}

TEST(SpoolEnvelopeTest, ReceivedOutsideFourDigitYearsInUtcIsRefused) {
  const std::string head = "sender: a@b\nrecipient: c@d\nreceived: ";
  EXPECT_THAT(ParseSpoolEnvelope(head + "0000-01-01T00:00:00+00:01\n")
                  .status()
                  .message(),
              HasSubstr("received is in the year -1 in UTC"));
  EXPECT_THAT(ParseSpoolEnvelope(head + "9999-12-31T23:59:59-00:01\n")
                  .status()
                  .message(),
              HasSubstr("year 10000"));
}

TEST(SpoolEnvelopeTest, EarlyYearsAreWrittenWithFourDigits) {
  auto env = ParseSpoolEnvelope(
      "sender: a@b\nrecipient: c@d\nreceived: 0999-01-01T00:30:00+00:30\n");
  ASSERT_TRUE(env.ok()) << env.status();
  const std::string text = FormatSpoolEnvelope(*env);
  EXPECT_THAT(text, HasSubstr("received: 0999-01-01T00:00:00+00:00\n"));
  auto back = ParseSpoolEnvelope(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->received, env->received);
}

}  // namespace
}  // namespace mailfleet::mpa
