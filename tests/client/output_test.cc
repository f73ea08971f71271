// How results look: units, the ls table (plain and wide), the summary, the
// envelope of `show`, watch's log lines and screen, and Output's JSON lines.
#include "client/cli/output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <sstream>

#include "absl/time/time.h"
#include "client/cli/envelope_text.h"
#include "client/cli/message_table.h"
#include "client/cli/summary_table.h"
#include "client/cli/terminal_text.h"
#include "client/cli/text_table.h"
#include "client/cli/units.h"
#include "client/cli/watch_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet::cli {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1732449600);  // 2024-11-24 12:00
const DisplayContext kDisplay{kNow, absl::UTCTimeZone()};

void SetTime(absl::Time time, google::protobuf::Timestamp* timestamp) {
  timestamp->set_seconds(absl::ToUnixSeconds(time));
}

v1::Message DeferredMessage() {
  v1::Message message;
  message.set_queue_id("4XyZ1b2C3dzAB12");
  message.set_queue(v1::POSTFIX_DEFERRED);
  SetTime(kNow - absl::Hours(50), message.mutable_arrival_time());
  message.set_size(4242);
  message.set_sender("alice@example.com");
  v1::Recipient* bob = message.add_recipients();
  bob->set_address("bob@example.net");
  bob->set_delay_reason(
      "connect to mx.example.net[192.0.2.1]:25: Connection refused");
  v1::Recipient* carol = message.add_recipients();
  carol->set_address("carol@example.org");
  carol->set_delay_reason("host mx.example.org said: 452 mailbox full");
  v1::Recipient* dave = message.add_recipients();
  dave->set_address("dave@example.net");
  dave->set_delay_reason(bob->delay_reason());
  message.set_client_address("192.0.2.10");
  SetTime(kNow + absl::Minutes(5), message.mutable_next_attempt_time());
  return message;
}

TEST(UnitsTest, AgesAreCompact) {
  EXPECT_EQ(FormatAge(absl::Seconds(45)), "45s");
  EXPECT_EQ(FormatAge(absl::Seconds(200)), "3m");
  EXPECT_EQ(FormatAge(absl::Minutes(150)), "2h");
  EXPECT_EQ(FormatAge(absl::Hours(5 * 24 + 3)), "5d");
  EXPECT_EQ(FormatAge(-absl::Seconds(3)), "-");
}

TEST(UnitsTest, SizesAreHumanInPowersOf1024) {
  EXPECT_EQ(FormatSize(0), "0");
  EXPECT_EQ(FormatSize(1023), "1023");
  EXPECT_EQ(FormatSize(1024), "1.0K");
  EXPECT_EQ(FormatSize(1536), "1.5K");
  EXPECT_EQ(FormatSize(12345), "12K");
  EXPECT_EQ(FormatSize(3 << 20), "3.0M");
  EXPECT_EQ(FormatSize(int64_t{5} << 30), "5.0G");
}

TEST(TerminalTextTest, ControlCharactersCannotReachTheTerminal) {
  std::string out;
  AppendSanitized(
      "evil\x1b[2J\r\n\x7f\xc2\x9b"
      "ok \xc3\xa9",
      &out);
  EXPECT_EQ(out, "evil?[2J????ok \xc3\xa9");
}

TEST(MessageTableTest, OneRowPerMessageWithFirstRecipientAndCount) {
  MessageTable table(/*wide=*/false, kDisplay);
  std::string out;
  table.AppendHeader(&out);
  table.AppendMessage(DeferredMessage(), &out);
  v1::Message bounce;
  bounce.set_queue_id("ABCDEF123");
  bounce.set_queue(v1::POSTFIX_HOLD);
  SetTime(kNow - absl::Seconds(30), bounce.mutable_arrival_time());
  bounce.set_size(700);
  bounce.add_recipients()->set_address("postmaster@example.com");
  table.AppendMessage(bounce, &out);
  table.AppendFooter(&out);
  EXPECT_EQ(
      out,
      "QUEUE ID          QUEUE         AGE    SIZE  SENDER                 "
      "        RECIPIENTS\n"
      "4XyZ1b2C3dzAB12   deferred       2d    4.1K  alice@example.com      "
      "        bob@example.net +2\n"
      "ABCDEF123         hold          30s     700  MAILER-DAEMON          "
      "        postmaster@example.com\n"
      "-- 2 messages, 4.8K\n");
}

TEST(MessageTableTest, LongValuesPushTheRowButKeepASpace) {
  MessageTable table(/*wide=*/false, kDisplay);
  v1::Message message;
  message.set_queue_id(std::string(20, 'A'));
  message.set_queue(v1::MPA_OUTGOING);
  message.set_sender(std::string(40, 's') + "@example.com");
  std::string out;
  table.AppendMessage(message, &out);
  EXPECT_EQ(out, std::string(20, 'A') + " mpa-outgoing    -       0  " +
                     std::string(40, 's') + "@example.com \n");
}

TEST(MessageTableTest, WideShowsArrivalAndRecipientsGroupedUnderReasons) {
  MessageTable table(/*wide=*/true, kDisplay);
  std::string out;
  table.AppendHeader(&out);
  table.AppendMessage(DeferredMessage(), &out);
  const std::string indent(66, ' ');
  EXPECT_EQ(
      out,
      "QUEUE ID          QUEUE         AGE    SIZE  ARRIVAL              "
      "SENDER/RECIPIENTS\n"
      "4XyZ1b2C3dzAB12   deferred       2d    4.1K  2024-11-22 10:00:00  "
      "alice@example.com\n" +
          indent +
          "(connect to mx.example.net[192.0.2.1]:25: Connection refused)\n" +
          indent + "bob@example.net\n" + indent + "dave@example.net\n" +
          indent + "(host mx.example.org said: 452 mailbox full)\n" + indent +
          "carol@example.org\n\n");
}

TEST(EnvelopeTextTest, AlignedKeyValueLines) {
  std::string out;
  v1::Message message = DeferredMessage();
  message.mutable_recipients(1)->set_orig_address("Carol@Example.org");
  AppendEnvelopeText(message, kDisplay, &out);
  EXPECT_EQ(
      out,
      "queue id:      4XyZ1b2C3dzAB12\n"
      "queue:         deferred\n"
      "arrival:       2024-11-22 10:00:00 (2d ago)\n"
      "size:          4242 (4.1K)\n"
      "sender:        alice@example.com\n"
      "client:        192.0.2.10\n"
      "forced expire: no\n"
      "next attempt:  2024-11-24 12:05:00 (in 5m)\n"
      "recipient:     bob@example.net\n"
      "  reason:      connect to mx.example.net[192.0.2.1]:25: Connection "
      "refused\n"
      "recipient:     carol@example.org\n"
      "  original:    Carol@Example.org\n"
      "  reason:      host mx.example.org said: 452 mailbox full\n"
      "recipient:     dave@example.net\n"
      "  reason:      connect to mx.example.net[192.0.2.1]:25: Connection "
      "refused\n");
}

v1::SummaryResponse SampleSummary() {
  v1::SummaryResponse response;
  v1::AgentInfo* agent = response.mutable_agent();
  agent->set_instance_id("3f2a9c");
  agent->set_hostname("gw1.example.com");
  agent->set_postfix_version("3.7.11");
  agent->set_queue_directory("/var/spool/postfix");
  agent->set_generation(1234);
  SetTime(kNow - absl::Seconds(5), agent->mutable_last_scan_time());
  agent->mutable_last_scan_duration()->set_nanos(120000000);
  v1::QueueSummary* summary = response.mutable_summary();
  for (int minutes : {5, 10, 20, 40, 80, 160, 320, 640, 1280}) {
    summary->add_age_bucket_bounds()->set_seconds(minutes * 60);
  }
  v1::QueueStats* deferred = summary->add_queues();
  deferred->set_queue(v1::POSTFIX_DEFERRED);
  deferred->set_messages(123);
  deferred->set_bytes(1300000);
  deferred->set_recipients(150);
  SetTime(kNow - absl::Hours(75), deferred->mutable_oldest_arrival());
  for (int count : {1, 2, 0, 0, 10, 20, 30, 40, 10, 10}) {
    deferred->add_age_buckets(count);
  }
  v1::QueueStats* hold = summary->add_queues();
  hold->set_queue(v1::POSTFIX_HOLD);
  hold->set_messages(2);
  hold->set_bytes(20480);
  hold->set_recipients(2);
  SetTime(kNow - absl::Minutes(61), hold->mutable_oldest_arrival());
  for (int count : {0, 0, 0, 0, 2, 0, 0, 0, 0, 0}) hold->add_age_buckets(count);
  summary->set_total_messages(125);
  summary->set_total_bytes(1320480);
  SetTime(kNow - absl::Hours(75), summary->mutable_oldest_arrival());
  summary->set_oldest_queue_id("4XyZ1b2C3dzAB12");
  v1::DomainCount* domain = summary->add_top_domains();
  domain->set_domain("example.net");
  domain->set_recipients(100);
  domain->set_messages(90);
  v1::ReasonCount* reason = summary->add_top_delay_reasons();
  reason->set_reason(
      "connect to mx.example.net[192.0.2.1]:25: Connection refused");
  reason->set_recipients(100);
  summary->set_scan_problem_count(3);
  v1::ScanProblem* problem = summary->add_scan_problems();
  problem->set_queue(v1::POSTFIX_DEFERRED);
  problem->set_queue_id("4XyZ9");
  problem->set_reason("premature end of queue file");
  return response;
}

TEST(SummaryTableTest, AgentQueuesQshapeHistogramTopListsAndProblems) {
  std::string out;
  AppendSummaryTable(SampleSummary(), kDisplay, &out);
  EXPECT_EQ(
      out,
      "agent:      gw1.example.com (instance 3f2a9c)\n"
      "postfix:    3.7.11\n"
      "queue dir:  /var/spool/postfix\n"
      "generation: 1234\n"
      "last scan:  2024-11-24 11:59:55 (5s ago), took 120ms\n"
      "\n"
      "QUEUE     MESSAGES  SIZE  RECIPIENTS  OLDEST\n"
      "deferred       123  1.2M         150  3d\n"
      "hold             2   20K           2  1h\n"
      "TOTAL          125  1.2M         152  3d (4XyZ1b2C3dzAB12)\n"
      "\n"
      "AGE (minutes)    T  5  10  20  40  80  160  320  640  1280  1280+\n"
      "TOTAL          125  1   2   0   0  12   20   30   40    10     10\n"
      "deferred       123  1   2   0   0  10   20   30   40    10     10\n"
      "hold             2  0   0   0   0   2    0    0    0     0      0\n"
      "\n"
      "DOMAIN       RECIPIENTS  MESSAGES\n"
      "example.net         100        90\n"
      "\n"
      "RECIPIENTS  DELAY REASON\n"
      "       100  connect to mx.example.net[192.0.2.1]:25: Connection "
      "refused\n"
      "\n"
      "scan problems: 3 (first 1 shown)\n"
      "QUEUE     QUEUE ID  PROBLEM\n"
      "deferred  4XyZ9     premature end of queue file\n");
}

TEST(SummaryTableTest, EmptyQueuesSayNoMessages) {
  v1::SummaryResponse response;
  response.mutable_agent()->set_hostname("gw2");
  std::string out;
  AppendSummaryTable(response, kDisplay, &out);
  EXPECT_EQ(out, "agent:      gw2\ngeneration: 0\n\nno messages\n");
}

TEST(OutputTest, JsonListIsOneProtobufJsonObjectPerLine) {
  std::ostringstream stream;
  {
    Output out(stream, OutputFormat::kJson, kDisplay);
    out.BeginMessageList();
    ASSERT_TRUE(out.AddMessage(DeferredMessage()).ok());
    ASSERT_TRUE(out.AddMessage(v1::Message()).ok());
    ASSERT_TRUE(out.EndMessageList().ok());
  }
  std::string expected;
  ASSERT_TRUE(
      google::protobuf::util::MessageToJsonString(DeferredMessage(), &expected)
          .ok());
  EXPECT_EQ(stream.str(), expected + "\n{}\n");
}

TEST(OutputTest, EmptyTableListingHasHeaderAndZeroFooter) {
  std::ostringstream stream;
  Output out(stream, OutputFormat::kTable, kDisplay);
  out.BeginMessageList();
  ASSERT_TRUE(out.EndMessageList().ok());
  EXPECT_THAT(stream.str(), HasSubstr("QUEUE ID"));
  EXPECT_THAT(stream.str(), HasSubstr("-- 0 messages, 0\n"));
}

TEST(OutputTest, SummaryJsonIsOneLine) {
  std::ostringstream stream;
  Output out(stream, OutputFormat::kJson, kDisplay);
  ASSERT_TRUE(out.PrintSummary(SampleSummary()).ok());
  std::string expected;
  ASSERT_TRUE(
      google::protobuf::util::MessageToJsonString(SampleSummary(), &expected)
          .ok());
  EXPECT_EQ(stream.str(), expected + "\n");
  EXPECT_THAT(stream.str(), HasSubstr("\"lastScanDuration\":\"0.120s\""));
}

TEST(OutputTest, FailedStreamIsReported) {
  std::ostringstream stream;
  stream.setstate(std::ios::badbit);
  Output out(stream, OutputFormat::kJson, kDisplay);
  out.BeginMessageList();
  ASSERT_TRUE(out.AddMessage(DeferredMessage()).ok());
  EXPECT_FALSE(out.EndMessageList().ok());
}

v1::WatchEvent WatchDelta(int64_t generation, absl::Time time) {
  v1::WatchEvent event;
  event.set_instance_id("3f2a9c");
  event.set_generation(generation);
  SetTime(time, event.mutable_time());
  v1::MessageChange* moved = event.mutable_delta()->add_changes();
  moved->set_kind(v1::MessageChange::MOVED);
  moved->set_queue_id("4XyZ1b2C3dzAB12");
  moved->set_from_queue(v1::POSTFIX_DEFERRED);
  moved->set_to_queue(v1::POSTFIX_HOLD);
  *moved->mutable_message() = DeferredMessage();
  moved->mutable_message()->set_queue(v1::POSTFIX_HOLD);
  v1::MessageChange* added = event.mutable_delta()->add_changes();
  added->set_kind(v1::MessageChange::ADDED);
  added->set_queue_id("5AbC");
  added->set_to_queue(v1::MPA_ERROR);
  v1::MessageChange* removed = event.mutable_delta()->add_changes();
  removed->set_kind(v1::MessageChange::REMOVED);
  removed->set_queue_id("6\x1b[2J");  // Sanitized, like everything shown.
  removed->set_from_queue(v1::POSTFIX_ACTIVE);
  return event;
}

TEST(WatchTextTest, LogHasALinePerChangeWithTimeGenerationAndSender) {
  std::string out;
  AppendWatchLogLines(WatchDelta(43, kNow + absl::Seconds(5)), SnapshotNote(),
                      /*wide=*/false, kDisplay, &out);
  EXPECT_EQ(out,
            "12:00:05 43 moved   4XyZ1b2C3dzAB12 deferred->hold "
            "alice@example.com\n"
            "12:00:05 43 added   5AbC -->mpa-error\n"
            "12:00:05 43 removed 6?[2J active->-\n");
  out.clear();
  AppendWatchLogLines(WatchDelta(43, kNow), SnapshotNote(), /*wide=*/true,
                      kDisplay, &out);
  EXPECT_THAT(out, HasSubstr(" deferred->hold alice@example.com "
                             "bob@example.net,carol@example.org,"
                             "dave@example.net\n"));
}

TEST(WatchTextTest, LogShowsSnapshotsWhenCompleteAndNoHeartbeats) {
  v1::WatchEvent event;
  event.set_generation(42);
  SetTime(kNow, event.mutable_time());
  const SnapshotNote initial{1250, v1::WatchSnapshot::REASON_INITIAL, false};
  std::string out;
  AppendWatchLogLines(event, initial, false, kDisplay, &out);
  EXPECT_EQ(out, "");  // Not the last part.
  event.mutable_snapshot()->set_last(true);
  AppendWatchLogLines(event, initial, false, kDisplay, &out);
  EXPECT_EQ(out, "12:00:00 42 snapshot 1250 messages (initial)\n");
  out.clear();
  AppendWatchLogLines(event,
                      SnapshotNote{1, v1::WatchSnapshot::REASON_RESYNC, true},
                      false, kDisplay, &out);
  EXPECT_EQ(out, "12:00:00 42 snapshot 1 message (resync, agent restarted)\n");
  out.clear();
  event.mutable_heartbeat();
  AppendWatchLogLines(event, SnapshotNote(), false, kDisplay, &out);
  EXPECT_EQ(out, "");
}

TEST(WatchTextTest, RecentChangesKeepsTheLastFewOnly) {
  RecentChanges recent(2);
  recent.Add(WatchDelta(43, kNow), SnapshotNote(), kDisplay);
  EXPECT_THAT(recent.lines(),
              ::testing::ElementsAre("12:00:00 added   5AbC - -> mpa-error",
                                     "12:00:00 removed 6?[2J active -> -"));
  v1::WatchEvent snapshot;
  SetTime(kNow + absl::Minutes(1), snapshot.mutable_time());
  snapshot.mutable_snapshot()->set_last(true);
  recent.Add(snapshot, SnapshotNote{7, v1::WatchSnapshot::REASON_RESYNC, false},
             kDisplay);
  EXPECT_THAT(recent.lines(),
              ::testing::ElementsAre("12:00:00 removed 6?[2J active -> -",
                                     "12:01:00 snapshot 7 messages (resync)"));
}

TEST(WatchTextTest, ScreenClearsThenHeaderSummaryAndRecentChanges) {
  WatchScreenFrame frame;
  frame.host = "gw1.example.com";
  frame.instance_id = "3f2a9c";
  frame.generation = 43;
  frame.updated = kNow + absl::Seconds(5);
  frame.summary = SampleSummary().summary();
  frame.recent = {"12:00:05 moved   4XyZ1b2C3dzAB12 deferred -> hold"};
  std::string out;
  AppendWatchScreen(frame, kDisplay, &out);
  std::string summary;
  AppendQueueSummary(frame.summary,
                     DisplayContext{frame.updated, kDisplay.zone}, &summary);
  EXPECT_EQ(out, std::string(kClearScreen) +
                     "agent gw1.example.com instance 3f2a9c generation 43, "
                     "updated 12:00:05\n\n" +
                     summary +
                     "\n12:00:05 moved   4XyZ1b2C3dzAB12 deferred -> hold\n");
  EXPECT_THAT(summary, HasSubstr("deferred       123  1.2M"));
}

TEST(OutputTest, WatchEventsAreWrittenAtOnce) {
  std::ostringstream json, log;
  Output json_out(json, OutputFormat::kJson, kDisplay);
  Output log_out(log, OutputFormat::kTable, kDisplay);
  const v1::WatchEvent event = WatchDelta(43, kNow);
  ASSERT_TRUE(json_out.PrintWatchEvent(event, SnapshotNote()).ok());
  ASSERT_TRUE(log_out.PrintWatchEvent(event, SnapshotNote()).ok());
  std::string expected;
  ASSERT_TRUE(
      google::protobuf::util::MessageToJsonString(event, &expected).ok());
  // Without a Flush: each event reaches the stream as it is printed.
  EXPECT_EQ(json.str(), expected + "\n");
  const std::string lines = log.str();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 3);
}

TEST(TextTableTest, ColumnsFitTheWidestCellAndNoTrailingBlanks) {
  TextTable table({"A", "NUMBER", "TEXT"},
                  {TextTable::Align::kLeft, TextTable::Align::kRight,
                   TextTable::Align::kLeft});
  table.AddRow({"x\xc3\xa9", "7", ""});
  table.AddRow({"longer", "12345678", "t"});
  std::string out;
  table.Append(&out);
  EXPECT_EQ(out,
            "A         NUMBER  TEXT\n"
            "x\xc3\xa9             7\n"
            "longer  12345678  t\n");
}

}  // namespace
}  // namespace mailfleet::cli
