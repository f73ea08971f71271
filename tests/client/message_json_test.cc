// AppendMessageJson and AppendWatchEventJson must print exactly what
// MessageToJsonString prints.
#include "client/cli/message_json.h"

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/cli/watch_json.h"
#include "gtest/gtest.h"
#include "mailfleet/v1/agent.pb.h"
#include "mailfleet/v1/types.pb.h"

namespace mailfleet::cli {
namespace {

std::string Reference(const google::protobuf::Message& message) {
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return json;
}

std::string Fast(const v1::Message& message) {
  std::string json;
  absl::Status status = AppendMessageJson(message, &json);
  EXPECT_TRUE(status.ok()) << status;
  return json;
}

// Appends code point `cp` as UTF-8 (also surrogates, which makes it invalid).
void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

class RandomText {
 public:
  explicit RandomText(uint32_t seed, bool valid_utf8)
      : rng_(seed), valid_utf8_(valid_utf8) {}

  std::string Next(int max_length) {
    std::string text;
    const int pieces = Pick(0, max_length);
    for (int i = 0; i < pieces; ++i) AppendPiece(&text);
    return text;
  }

  int Pick(int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(rng_);
  }

 private:
  void AppendPiece(std::string* text) {
    // Code points protobuf's printer treats specially, and ordinary ones.
    static constexpr uint32_t kSpecial[] = {
        0x00,    0x01,    0x08,    0x09,   0x0a,    0x0b,    0x0c,    0x0d,
        0x1f,    '"',     '\\',    '/',    '<',     '>',     '&',     '=',
        '\'',    0x7f,    0x80,    0x85,   0x9f,    0xa0,    0xad,    0xe9,
        0x600,   0x603,   0x6dd,   0x70f,  0x17b4,  0x17b5,  0x200b,  0x200f,
        0x2028,  0x202e,  0x2060,  0x2064, 0x206a,  0x206f,  0x20ac,  0xfeff,
        0xfff9,  0xfffb,  0xfffd,  0xffff, 0x1d173, 0x1d17a, 0x1f600, 0xe0001,
        0xe0020, 0xe007f, 0x10ffff};
    switch (Pick(0, valid_utf8_ ? 5 : 8)) {
      case 0:
      case 1:
        text->push_back(static_cast<char>(Pick(0x20, 0x7e)));
        break;
      case 2:
        AppendUtf8(kSpecial[Pick(0, std::size(kSpecial) - 1)], text);
        break;
      case 3:
        text->push_back(static_cast<char>(Pick(0, 0x7f)));
        break;
      case 4: {
        uint32_t cp = Pick(0x80, 0x10ffff);
        if (cp >= 0xd800 && cp <= 0xdfff) cp += 0x800;  // Not a surrogate.
        AppendUtf8(cp, text);
        break;
      }
      case 5:
        text->append("user@example.com");
        break;
      case 6:
        // Any byte at all: stray continuations, 0xf8..0xff, cut sequences.
        text->push_back(static_cast<char>(Pick(0x80, 0xff)));
        break;
      case 7:
        // Surrogates and beyond-Unicode sequences.
        AppendUtf8(Pick(0xd800, 0xdfff), text);
        break;
      case 8: {
        // An overlong form of an ASCII character.
        const uint32_t c = Pick(0, 0x7f);
        text->push_back(static_cast<char>(0xc0 | (c >> 6)));
        text->push_back(static_cast<char>(0x80 | (c & 0x3f)));
        break;
      }
    }
  }

  std::mt19937 rng_;
  bool valid_utf8_;
};

v1::Message RandomMessage(RandomText& random) {
  v1::Message message;
  auto maybe = [&random]() { return random.Pick(0, 3) != 0; };
  if (maybe()) message.set_queue_id(random.Next(3));
  if (maybe())
    message.set_queue(static_cast<v1::QueueKind>(random.Pick(0, 14)));
  const int64_t kMin = -62135596800, kMax = 253402300799;
  auto random_time = [&](google::protobuf::Timestamp* t) {
    switch (random.Pick(0, 3)) {
      case 0:
        t->set_seconds(random.Pick(0, 2000000000));
        break;
      case 1:
        t->set_seconds(random.Pick(0, 1) ? kMin : kMax);
        break;
      case 2:
        t->set_seconds(-random.Pick(0, 2000000000) * 30LL);
        break;
      case 3:
        break;
    }
    switch (random.Pick(0, 4)) {
      case 0:
        t->set_nanos(random.Pick(0, 999) * 1000000);
        break;
      case 1:
        t->set_nanos(random.Pick(0, 999999) * 1000);
        break;
      case 2:
        t->set_nanos(random.Pick(0, 999999999));
        break;
      case 3:
        t->set_nanos(999999999);
        break;
      case 4:
        break;
    }
  };
  if (maybe()) random_time(message.mutable_arrival_time());
  if (maybe()) {
    message.set_size(random.Pick(0, 1) ? random.Pick(0, 1 << 30)
                                       : -random.Pick(0, 1000) * 1000000007LL);
  }
  if (maybe()) message.set_sender(random.Next(4));
  const int recipients = random.Pick(0, 4);
  for (int i = 0; i < recipients; ++i) {
    v1::Recipient* recipient = message.add_recipients();
    if (maybe()) recipient->set_address(random.Next(4));
    if (random.Pick(0, 2) == 0) recipient->set_orig_address(random.Next(3));
    if (maybe()) recipient->set_delay_reason(random.Next(12));
  }
  if (maybe()) message.set_client_address(random.Next(3));
  if (maybe()) message.set_forced_expire(random.Pick(0, 1));
  if (maybe()) random_time(message.mutable_next_attempt_time());
  if (random.Pick(0, 2) == 0) message.set_gateway(random.Next(2));
  if (random.Pick(0, 2) == 0) message.set_parse_error(random.Next(4));
  if (random.Pick(0, 2) == 0) message.set_mpa_error(random.Next(6));
  if (random.Pick(0, 2) == 0) {
    message.set_mpa_attempts(random.Pick(0, 1) ? random.Pick(0, 1000)
                                               : -random.Pick(0, 1 << 30));
  }
  return message;
}

TEST(MessageJsonTest, EmptyMessageIsEmptyObject) {
  EXPECT_EQ(Fast(v1::Message()), "{}");
  EXPECT_EQ(Fast(v1::Message()), Reference(v1::Message()));
}

TEST(MessageJsonTest, TypicalDeferredMessageMatchesProtobuf) {
  v1::Message message;
  message.set_queue_id("4XyZ1b2C3dzAB12");
  message.set_queue(v1::POSTFIX_DEFERRED);
  message.mutable_arrival_time()->set_seconds(1732449600);
  message.mutable_arrival_time()->set_nanos(250000000);
  message.set_size(4242);
  message.set_sender("alice@example.com");
  v1::Recipient* recipient = message.add_recipients();
  recipient->set_address("bob@example.net");
  recipient->set_delay_reason(
      "connect to mx.example.net[192.0.2.1]:25: Connection refused");
  message.add_recipients()->set_address("carol@example.net");
  message.set_client_address("192.0.2.10");
  message.mutable_next_attempt_time()->set_seconds(1732450000);
  EXPECT_EQ(Fast(message),
            "{\"queueId\":\"4XyZ1b2C3dzAB12\",\"queue\":\"POSTFIX_DEFERRED\","
            "\"arrivalTime\":\"2024-11-24T12:00:00.250Z\",\"size\":\"4242\","
            "\"sender\":\"alice@example.com\",\"recipients\":[{\"address\":"
            "\"bob@example.net\",\"delayReason\":\"connect to "
            "mx.example.net[192.0.2.1]:25: Connection refused\"},{\"address\":"
            "\"carol@example.net\"}],\"clientAddress\":\"192.0.2.10\","
            "\"nextAttemptTime\":\"2024-11-24T12:06:40Z\"}");
  EXPECT_EQ(Fast(message), Reference(message));
}

TEST(MessageJsonTest, PresentButZeroTimestampsAndEmptyRecipientsArePrinted) {
  v1::Message message;
  message.mutable_arrival_time();
  message.add_recipients();
  message.set_forced_expire(true);
  EXPECT_EQ(Fast(message),
            "{\"arrivalTime\":\"1970-01-01T00:00:00Z\",\"recipients\":[{}],"
            "\"forcedExpire\":true}");
  EXPECT_EQ(Fast(message), Reference(message));
}

TEST(MessageJsonTest, UnknownQueueKindPrintsAsNumber) {
  v1::Message message;
  message.set_queue(static_cast<v1::QueueKind>(42));
  EXPECT_EQ(Fast(message), "{\"queue\":42}");
  EXPECT_EQ(Fast(message), Reference(message));
}

TEST(MessageJsonTest, TimestampFractionsUseThreeSixOrNineDigits) {
  for (int32_t nanos : {0, 1, 10, 999, 1000, 120000, 1000000, 100000000,
                        123456789, 999999999}) {
    v1::Message message;
    message.mutable_arrival_time()->set_seconds(-1);
    message.mutable_arrival_time()->set_nanos(nanos);
    EXPECT_EQ(Fast(message), Reference(message)) << nanos;
  }
}

TEST(MessageJsonTest, TimestampsAcrossTheWholeRangeMatchProtobuf) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> seconds(-62135596800, 253402300799);
  for (int i = 0; i < 20000; ++i) {
    v1::Message message;
    message.mutable_next_attempt_time()->set_seconds(seconds(rng));
    ASSERT_EQ(Fast(message), Reference(message));
  }
}

TEST(MessageJsonTest, OutOfRangeTimestampFailsAndLeavesOutputAlone) {
  google::protobuf::LogSilencer quiet;  // The converter warns on failure.
  for (auto [seconds, nanos] :
       std::initializer_list<std::pair<int64_t, int32_t>>{
           {-62135596801, 0}, {253402300800, 0}, {0, -1}, {0, 1000000000}}) {
    v1::Message message;
    message.set_queue_id("ABC");
    message.mutable_arrival_time()->set_seconds(seconds);
    message.mutable_arrival_time()->set_nanos(nanos);
    std::string json = "before";
    EXPECT_FALSE(AppendMessageJson(message, &json).ok());
    EXPECT_EQ(json, "before");
    std::string reference;
    EXPECT_FALSE(
        google::protobuf::util::MessageToJsonString(message, &reference).ok());
  }
}

TEST(MessageJsonTest, EscapesLikeProtobuf) {
  v1::Message message;
  message.set_sender("<a&b='c'>\"\\/\x01\x7f\n\t\b\f\r");
  message.set_queue_id(
      "\xc2\x80\xc2\xad\xe2\x80\xa8\xef\xbb\xbf\xf0\x9d\x85\xb3");
  message.set_client_address("caf\xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(Fast(message), Reference(message));
  EXPECT_EQ(Fast(message),
            "{\"queueId\":\"\\u0080\\u00ad\\u2028\\ufeff\\ud834\\udd73\","
            "\"sender\":\"\\u003ca&b='c'\\u003e\\\"\\\\/\\u0001\\u007f\\n\\t"
            "\\b\\f\\r\",\"clientAddress\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}");
}

TEST(MessageJsonTest, InvalidUtf8IsDroppedAsProtobufDropsIt) {
  google::protobuf::LogSilencer quiet;
  // A lead byte with a non-continuation after it loses both; a truncated
  // sequence at the end is dropped; surrogates and code points past
  // U+10FFFF are dropped whole; overlong forms decode (and may then be
  // escaped, or copied as they are).
  const char* const kCases[] = {
      "a\303Ab",  // \303 is 0xc3.
      "ab\xe2\x82",   "x\xed\xa0\x80y",   "x\xf4\x90\x80\x80y",
      "<\xc0\xbc>",   "\xc1\x81\xc0\x80", "\x80\xbf\xf8\xff",
      "\xc3\xc3\xa9", "\xe2\x80\x28\"",
  };
  for (const char* text : kCases) {
    v1::Message message;
    message.set_sender(text);
    EXPECT_EQ(Fast(message), Reference(message)) << text;
  }
  v1::Message message;
  message.set_sender("a\303Ab");
  EXPECT_EQ(Fast(message), "{\"sender\":\"ab\"}");
}

TEST(MessageJsonTest, RandomValidMessagesMatchProtobuf) {
  RandomText random(1, /*valid_utf8=*/true);
  for (int i = 0; i < 20000; ++i) {
    v1::Message message = RandomMessage(random);
    ASSERT_EQ(Fast(message), Reference(message)) << message.DebugString();
  }
}

TEST(MessageJsonTest, RandomInvalidUtf8MatchesProtobuf) {
  // Serializing invalid UTF-8 in a proto3 string logs an error each time.
  google::protobuf::LogSilencer quiet;
  RandomText random(2, /*valid_utf8=*/false);
  for (int i = 0; i < 20000; ++i) {
    v1::Message message = RandomMessage(random);
    ASSERT_EQ(Fast(message), Reference(message)) << message.DebugString();
  }
}

TEST(MessageJsonTest, AppendsToWhatIsThere) {
  v1::Message message;
  message.set_queue_id("A1");
  std::string json = "x";
  ASSERT_TRUE(AppendMessageJson(message, &json).ok());
  EXPECT_EQ(json, "x{\"queueId\":\"A1\"}");
}

std::string FastEvent(const v1::WatchEvent& event) {
  std::string json;
  absl::Status status = AppendWatchEventJson(event, &json);
  EXPECT_TRUE(status.ok()) << status;
  return json;
}

v1::QueueSummary SomeSummary() {
  v1::QueueSummary summary;
  v1::QueueStats* deferred = summary.add_queues();
  deferred->set_queue(v1::POSTFIX_DEFERRED);
  deferred->set_messages(2);
  deferred->set_bytes(8484);
  deferred->add_age_buckets(1);
  deferred->add_age_buckets(0);
  deferred->mutable_oldest_arrival()->set_seconds(1732449000);
  summary.set_total_messages(2);
  summary.set_total_bytes(8484);
  summary.add_age_bucket_bounds()->set_seconds(300);
  v1::DomainCount* domain = summary.add_top_domains();
  domain->set_domain("example.net");
  domain->set_recipients(3);
  summary.add_top_delay_reasons()->set_reason("452 <mailbox> full");
  return summary;
}

TEST(WatchJsonTest, EventsOfEveryKindMatchProtobuf) {
  RandomText random(3, /*valid_utf8=*/true);
  v1::WatchEvent snapshot;
  snapshot.set_instance_id("7f3a-01");
  snapshot.set_generation(42);
  snapshot.mutable_time()->set_seconds(1732449600);
  snapshot.mutable_snapshot()->set_reason(v1::WatchSnapshot::REASON_INITIAL);
  snapshot.mutable_snapshot()->mutable_agent()->set_hostname("gw1");
  snapshot.mutable_snapshot()->mutable_agent()->set_generation(42);
  *snapshot.mutable_snapshot()->mutable_summary() = SomeSummary();
  for (int i = 0; i < 50; ++i) {
    *snapshot.mutable_snapshot()->add_messages() = RandomMessage(random);
  }
  snapshot.mutable_snapshot()->set_last(true);
  EXPECT_EQ(FastEvent(snapshot), Reference(snapshot));

  v1::WatchEvent delta;
  delta.set_instance_id("7f3a-01");
  delta.set_generation(43);
  delta.mutable_time()->set_seconds(1732449601);
  delta.mutable_time()->set_nanos(5000);
  for (int kind = 0; kind <= 5; ++kind) {
    v1::MessageChange* change = delta.mutable_delta()->add_changes();
    change->set_kind(static_cast<v1::MessageChange::Kind>(kind));
    change->set_queue_id(absl::StrCat("A", kind));
    change->set_from_queue(v1::POSTFIX_DEFERRED);
    change->set_to_queue(static_cast<v1::QueueKind>(kind == 5 ? 99 : kind));
    if (kind != 2) *change->mutable_message() = RandomMessage(random);
  }
  delta.mutable_delta()->add_changes();  // All defaults: {}.
  v1::SummaryUpdate* update = delta.mutable_delta()->mutable_summary();
  *update->add_queues() = SomeSummary().queues(0);
  update->add_queues()->set_queue(v1::POSTFIX_HOLD);
  update->set_total_messages(2);
  update->mutable_top_domains();
  EXPECT_EQ(FastEvent(delta), Reference(delta));

  v1::WatchEvent heartbeat;
  heartbeat.set_instance_id("7f3a-01");
  heartbeat.set_generation(43);
  heartbeat.mutable_heartbeat();
  EXPECT_EQ(FastEvent(heartbeat),
            "{\"instanceId\":\"7f3a-01\",\"generation\":\"43\","
            "\"heartbeat\":{}}");
  EXPECT_EQ(FastEvent(heartbeat), Reference(heartbeat));
  heartbeat.mutable_heartbeat()->mutable_summary()->set_total_bytes(1);
  EXPECT_EQ(FastEvent(heartbeat), Reference(heartbeat));
}

TEST(WatchJsonTest, EmptyAndUnknownPartsMatchProtobuf) {
  v1::WatchEvent event;
  EXPECT_EQ(FastEvent(event), "{}");
  event.mutable_snapshot();
  EXPECT_EQ(FastEvent(event), "{\"snapshot\":{}}");
  event.mutable_snapshot()->set_last(true);
  EXPECT_EQ(FastEvent(event), "{\"snapshot\":{\"last\":true}}");
  event.mutable_snapshot()->set_reason(
      static_cast<v1::WatchSnapshot::Reason>(7));
  event.mutable_snapshot()->mutable_agent();
  event.mutable_snapshot()->add_messages();
  EXPECT_EQ(FastEvent(event), Reference(event));
  event.mutable_delta();
  EXPECT_EQ(FastEvent(event), "{\"delta\":{}}");
  event.set_generation(-3);
  event.mutable_time();
  EXPECT_EQ(FastEvent(event), Reference(event));
}

TEST(WatchJsonTest, RandomDeltasAndSnapshotsMatchProtobuf) {
  google::protobuf::LogSilencer quiet;
  RandomText random(4, /*valid_utf8=*/false);
  for (int i = 0; i < 2000; ++i) {
    v1::WatchEvent event;
    if (random.Pick(0, 1)) event.set_instance_id(random.Next(2));
    event.set_generation(random.Pick(0, 1 << 30));
    if (random.Pick(0, 1)) {
      event.mutable_time()->set_seconds(random.Pick(0, 1 << 30));
    }
    if (random.Pick(0, 1)) {
      v1::WatchSnapshot* snapshot = event.mutable_snapshot();
      snapshot->set_reason(
          static_cast<v1::WatchSnapshot::Reason>(random.Pick(0, 3)));
      if (random.Pick(0, 1)) *snapshot->mutable_summary() = SomeSummary();
      for (int m = random.Pick(0, 5); m > 0; --m) {
        *snapshot->add_messages() = RandomMessage(random);
      }
      snapshot->set_last(random.Pick(0, 1));
    } else {
      for (int c = random.Pick(0, 5); c > 0; --c) {
        v1::MessageChange* change = event.mutable_delta()->add_changes();
        change->set_kind(
            static_cast<v1::MessageChange::Kind>(random.Pick(0, 5)));
        change->set_queue_id(random.Next(2));
        change->set_from_queue(static_cast<v1::QueueKind>(random.Pick(0, 14)));
        change->set_to_queue(static_cast<v1::QueueKind>(random.Pick(0, 14)));
        if (random.Pick(0, 1)) {
          *change->mutable_message() = RandomMessage(random);
        }
      }
    }
    ASSERT_EQ(FastEvent(event), Reference(event)) << event.DebugString();
  }
}

TEST(WatchJsonTest, OutOfRangeTimestampFailsAndLeavesOutputAlone) {
  google::protobuf::LogSilencer quiet;
  v1::WatchEvent event;
  event.set_generation(5);
  v1::Message* message = event.mutable_snapshot()->add_messages();
  message->set_queue_id("A1");
  message->mutable_arrival_time()->set_seconds(253402300800);
  std::string json = "before";
  absl::Status status = AppendWatchEventJson(event, &json);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(json, "before");
  event.clear_snapshot();
  event.mutable_time()->set_nanos(-1);
  EXPECT_FALSE(AppendWatchEventJson(event, &json).ok());
  EXPECT_EQ(json, "before");
}

}  // namespace
}  // namespace mailfleet::cli
