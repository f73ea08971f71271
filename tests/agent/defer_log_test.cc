#include "agent/postfix/defer_log.h"

#include "agent/postfix/address_format.h"
#include "gtest/gtest.h"

namespace mailfleet::postfix {
namespace {

TEST(DeferLogTest, ParsesNameValueEntries) {
  auto entries = ParseDeferLog(
      "recipient=bob@example.net\n"
      "offset=235\n"
      "dsn_orig_rcpt=rfc822;bob@example.net\n"
      "status=4.4.1\n"
      "action=delayed\n"
      "reason=connect to 127.0.0.1[127.0.0.1]:9: Connection refused\n"
      "\n"
      "recipient = carol@example.org\n"
      "original_recipient = list@example.org\n"
      "reason = host x said: 451 try later\n"
      "\n",
      true);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].address, "bob@example.net");
  EXPECT_EQ(entries[0].reason,
            "connect to 127.0.0.1[127.0.0.1]:9: Connection refused");
  EXPECT_EQ(entries[1].address, "carol@example.org");
  EXPECT_EQ(entries[1].orig_address, "list@example.org");
  EXPECT_EQ(entries[1].reason, "host x said: 451 try later");
}

TEST(DeferLogTest, OldStyleLinesAndPlaceholders) {
  auto entries = ParseDeferLog(
      "<old@example.com>: mailbox full\n\n"
      "status=4.0.0\n\n"
      "recipient=\nreason=x\n\n",
      true);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].address, "old@example.com");
  EXPECT_EQ(entries[0].reason, "mailbox full");
  EXPECT_EQ(entries[1].address, "(recipient address unavailable)");
  EXPECT_EQ(entries[1].reason, "(description unavailable)");
  EXPECT_EQ(entries[2].address, "(MAILER-DAEMON)");
}

TEST(DeferLogTest, EntryWithoutClosingBlankLineIsStillBeingWritten) {
  auto entries = ParseDeferLog("recipient=a@b\nreason=x\n\nrecipient=c@d\nreason=y\n",
                               true);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].address, "a@b");
}

// Found by running fuzz_defer_log's corpus through `postqueue -j`: a last
// line without a newline that starts with a NUL is blank to Postfix and
// ends the entry before it; the parser used to drop that line unread.
TEST(DeferLogTest, UnterminatedLastLineStartingWithANulEndsTheEntry) {
  constexpr char kLog[] = "recipient=a@b\nreason=x\n\nrecipient=c@d\n\0junk";
  auto entries = ParseDeferLog(std::string(kLog, sizeof(kLog) - 1), true);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].address, "c@d");
  EXPECT_EQ(entries[1].reason, "(description unavailable)");
  // Without the NUL that line is not blank, and nothing ends the entry.
  EXPECT_EQ(
      ParseDeferLog("recipient=a@b\nreason=x\n\nrecipient=c@d\njunk", true)
          .size(),
      1u);
}

TEST(DeferLogTest, LinesEndAtANul) {
  constexpr char kLog[] = "recipient=a@b\0junk\nreason=x\n\n";
  auto entries = ParseDeferLog(std::string(kLog, sizeof(kLog) - 1), true);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].address, "a@b");
}

TEST(DeferLogTest, UnprintableBytesBecomeQuestionMarks) {
  auto entries = ParseDeferLog("recipient=a@b\nreason=bad\x01 \xff text \xc3\xa9\n\n",
                               true);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].reason, "bad? ? text \xc3\xa9");
  entries = ParseDeferLog("recipient=a@b\nreason=\xc3\xa9\n\n", false);
  EXPECT_EQ(entries[0].reason, "??");
}

TEST(AddressFormatTest, QuotesLocalPartsThatAreNotDotStrings) {
  EXPECT_EQ(QuoteLocalPart("john.doe@example.com"), "john.doe@example.com");
  EXPECT_EQ(QuoteLocalPart("john smith@example.com"), "\"john smith\"@example.com");
  EXPECT_EQ(QuoteLocalPart("a..b@example.com"), "\"a..b\"@example.com");
  EXPECT_EQ(QuoteLocalPart(".a@example.com"), "\".a\"@example.com");
  EXPECT_EQ(QuoteLocalPart("a\"b@example.com"), "\"a\\\"b\"@example.com");
  EXPECT_EQ(QuoteLocalPart("x@y@example.com"), "\"x@y\"@example.com");
  EXPECT_EQ(QuoteLocalPart("@route,@r2:us er@example.com"),
            "@route,@r2:\"us er\"@example.com");
  EXPECT_EQ(QuoteLocalPart("MAILER-DAEMON"), "MAILER-DAEMON");
  // 8-bit clean, as Postfix 3.7 quotes: no quoting, no backslashes.
  EXPECT_EQ(QuoteLocalPart("jos\xc3\xa9@example.com"), "jos\xc3\xa9@example.com");
  EXPECT_EQ(QuoteLocalPart("jos\xc3\xa9 x@example.com"), "\"jos\xc3\xa9 x\"@example.com");
}

}  // namespace
}  // namespace mailfleet::postfix
