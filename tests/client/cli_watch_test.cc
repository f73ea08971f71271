// `mailfleet watch` end to end, in-process against the fake agent: JSON
// lines for scripts, a log when piped, a redrawn screen at a terminal, and
// how it ends (--events, an interrupt, the agent, an error).
#include <memory>
#include <sstream>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/agent_client.h"
#include "client/cli/cli.h"
#include "client/cli/watch_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_run.h"
#include "tests/client/fake_agent_service.h"
#include "tests/client/sample_messages.h"

namespace mailfleet::cli {
namespace {

using ::mailfleet::testing::FakeAgentServer;
using ::mailfleet::testing::FakeAgentService;
using ::mailfleet::testing::SampleMessages;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1732449600);  // 12:00:00 UTC

// An output stream another thread may read while the CLI writes it.
class SharedText : public std::streambuf {
 public:
  std::string Contents() const {
    absl::MutexLock lock(&mu_);
    return text_;
  }

  // Waits until the text contains `part`; false after `timeout`.
  bool AwaitContains(const std::string& part, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto found = [this, &part]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return absl::StrContains(text_, part);
    };
    return mu_.AwaitWithTimeout(absl::Condition(&found), timeout);
  }

 protected:
  std::streamsize xsputn(const char* data, std::streamsize size) override {
    absl::MutexLock lock(&mu_);
    text_.append(data, static_cast<size_t>(size));
    return size;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) {
      absl::MutexLock lock(&mu_);
      text_.push_back(static_cast<char>(c));
    }
    return traits_type::not_eof(c);
  }

 private:
  mutable absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
};

v1::WatchEvent Event(int64_t generation) {
  v1::WatchEvent event;
  event.set_instance_id("i1");
  event.set_generation(generation);
  event.mutable_time()->set_seconds(absl::ToUnixSeconds(kNow) + generation);
  return event;
}

v1::QueueStats Deferred(int64_t messages) {
  v1::QueueStats stats;
  stats.set_queue(v1::POSTFIX_DEFERRED);
  stats.set_messages(messages);
  stats.set_bytes(messages * 4096);
  stats.set_recipients(messages);
  return stats;
}

// A snapshot of generation 10 in two parts with three messages, a delta
// that holds one and adds one, a heartbeat, and a delta that removes one.
std::vector<v1::WatchEvent> Script() {
  const std::vector<v1::Message> messages = SampleMessages(4, 1, kNow);
  std::vector<v1::WatchEvent> events;
  v1::WatchEvent first = Event(10);
  v1::WatchSnapshot* snapshot = first.mutable_snapshot();
  snapshot->set_reason(v1::WatchSnapshot::REASON_INITIAL);
  snapshot->mutable_agent()->set_hostname("gw1.example.com");
  snapshot->mutable_agent()->set_instance_id("i1");
  v1::QueueSummary* summary = snapshot->mutable_summary();
  *summary->add_queues() = Deferred(3);
  summary->set_total_messages(3);
  summary->set_total_bytes(3 * 4096);
  *snapshot->add_messages() = messages[0];
  *snapshot->add_messages() = messages[1];
  events.push_back(first);

  v1::WatchEvent second = Event(10);
  *second.mutable_snapshot()->add_messages() = messages[2];
  second.mutable_snapshot()->set_last(true);
  events.push_back(second);

  v1::WatchEvent delta = Event(11);
  v1::MessageChange* held = delta.mutable_delta()->add_changes();
  held->set_kind(v1::MessageChange::MOVED);
  held->set_queue_id(messages[1].queue_id());
  held->set_from_queue(v1::POSTFIX_DEFERRED);
  held->set_to_queue(v1::POSTFIX_HOLD);
  *held->mutable_message() = messages[1];
  held->mutable_message()->set_queue(v1::POSTFIX_HOLD);
  held->mutable_message()->set_sender("bob@example.org");
  v1::MessageChange* added = delta.mutable_delta()->add_changes();
  added->set_kind(v1::MessageChange::ADDED);
  added->set_queue_id(messages[3].queue_id());
  added->set_to_queue(v1::POSTFIX_DEFERRED);
  v1::SummaryUpdate* update = delta.mutable_delta()->mutable_summary();
  *update->add_queues() = Deferred(3);
  v1::QueueStats* hold = update->add_queues();
  hold->set_queue(v1::POSTFIX_HOLD);
  hold->set_messages(1);
  hold->set_bytes(4096);
  hold->set_recipients(1);
  update->set_total_messages(4);
  update->set_total_bytes(4 * 4096);
  events.push_back(delta);

  events.push_back(Event(11));
  events.back().mutable_heartbeat();

  v1::WatchEvent removal = Event(12);
  v1::MessageChange* removed = removal.mutable_delta()->add_changes();
  removed->set_kind(v1::MessageChange::REMOVED);
  removed->set_queue_id(messages[0].queue_id());
  removed->set_from_queue(v1::POSTFIX_DEFERRED);
  v1::SummaryUpdate* emptied = removal.mutable_delta()->mutable_summary();
  *emptied->add_queues() = Deferred(2);
  emptied->set_total_messages(3);
  emptied->set_total_bytes(3 * 4096);
  events.push_back(removal);
  return events;
}

class CliWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeAgentServer>(&service_);
    ASSERT_FALSE(server_->address().empty());
    ids_.clear();
    for (const v1::Message& message : SampleMessages(4, 1, kNow)) {
      ids_.push_back(message.queue_id());
    }
  }

  CliEnv Env(std::ostream* out, std::ostream* err) const {
    return CliEnv{out, err, kNow, absl::UTCTimeZone()};
  }

  // mailfleet --agent <fake> args..., with `env` as given.
  CliRun Mailfleet(std::vector<std::string> args, CliEnv env) {
    args.insert(args.begin(), {"--agent", server_->address()});
    std::ostringstream out, err;
    env.out = &out;
    env.err = &err;
    int exit_code = RunCli(args, env);
    return {exit_code, out.str(), err.str()};
  }

  CliRun Mailfleet(std::vector<std::string> args) {
    return Mailfleet(std::move(args), Env(nullptr, nullptr));
  }

  FakeAgentService service_;
  std::unique_ptr<FakeAgentServer> server_;
  std::vector<std::string> ids_;  // Of the sample messages, in order.
};

TEST_F(CliWatchTest, JsonIsOneProtobufJsonLinePerEventUntilEventsN) {
  const std::vector<v1::WatchEvent> events = Script();
  service_.SetWatchEvents(events);
  CliRun run = Mailfleet({"watch", "-o", "json", "--events", "3", "--messages",
                          "--queue", "deferred,hold", "--heartbeat", "5s",
                          "--top", "3"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_THAT(Lines(run.out),
              ElementsAre(ProtobufJson(events[0]), ProtobufJson(events[1]),
                          ProtobufJson(events[2])));
  // The agent's stream was cancelled, not left open.
  EXPECT_TRUE(service_.AwaitWatchesCancelled(1, absl::Seconds(10)));
  ASSERT_EQ(service_.watch_requests().size(), 1u);
  const v1::WatchRequest request = service_.watch_requests()[0];
  EXPECT_TRUE(request.include_messages());
  EXPECT_THAT(request.filter().queues(),
              ElementsAre(v1::POSTFIX_DEFERRED, v1::POSTFIX_HOLD));
  EXPECT_EQ(request.heartbeat_interval().seconds(), 5);
  EXPECT_EQ(request.top_n(), 3);
}

TEST_F(CliWatchTest, WithoutFlagsTheRequestHasNoFilterAndAgentDefaults) {
  service_.SetWatchEvents(Script());
  CliRun run = Mailfleet({"watch", "-o", "json", "--events", "1"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(Lines(run.out).size(), 1u);
  ASSERT_EQ(service_.watch_requests().size(), 1u);
  const v1::WatchRequest request = service_.watch_requests()[0];
  EXPECT_FALSE(request.has_filter());
  EXPECT_FALSE(request.include_messages());
  EXPECT_FALSE(request.has_heartbeat_interval());
  EXPECT_EQ(request.top_n(), 0);
}

TEST_F(CliWatchTest, PipedTableIsALogOfSnapshotsAndChanges) {
  service_.SetWatchEvents(Script());
  CliRun run = Mailfleet({"watch", "--events", "5"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_THAT(Lines(run.out),
              ElementsAre("12:00:10 10 snapshot 3 messages (initial)",
                          "12:00:11 11 moved   " + ids_[1] +
                              " deferred->hold bob@example.org",
                          "12:00:11 11 added   " + ids_[3] + " -->deferred",
                          "12:00:12 12 removed " + ids_[0] + " deferred->-"));
  EXPECT_THAT(run.out, Not(HasSubstr("\x1b")));
}

TEST_F(CliWatchTest, WatchEndsCleanlyWhenTheAgentEndsTheStream) {
  service_.SetWatchEvents(Script(), grpc::Status::OK);
  CliRun run = Mailfleet({"watch", "-o", "json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(Lines(run.out).size(), Script().size());
}

TEST_F(CliWatchTest, StreamErrorKeepsWhatWasPrintedAndIsOneLine) {
  service_.SetWatchEvents(Script(),
                          grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                       "viewer may not\nwatch this"));
  CliRun run = Mailfleet({"watch"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(Lines(run.out).size(), 4u);
  EXPECT_THAT(run.err,
              ::testing::AllOf(::testing::StartsWith(
                                   "mailfleet: permission denied by agent at 127.0.0.1:"),
                               ::testing::EndsWith(": viewer may not watch this\n")));

  service_.SetWatchEvents(
      {}, grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"));
  run = Mailfleet({"watch", "-o", "json"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "mailfleet: cannot reach agent at " + server_->address() +
                         ": connection refused\n");
}

TEST_F(CliWatchTest, EventsOutOfOrderEndTheWatchWithAnError) {
  std::vector<v1::WatchEvent> events = Script();
  events[4].set_generation(9);
  service_.SetWatchEvents(events);
  CliRun run = Mailfleet({"watch"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(Lines(run.out).size(), 3u);
  EXPECT_EQ(run.err,
            "mailfleet: watch: delta of generation 9 does not follow "
            "generation 11\n");
  EXPECT_TRUE(service_.AwaitWatchesCancelled(1, absl::Seconds(10)));
}

TEST_F(CliWatchTest, InterruptEndsTheWatchWithExitZero) {
  service_.SetWatchEvents(Script());
  WatchControl interrupt;
  SharedText text;
  std::ostream out(&text);
  std::ostringstream err;
  CliEnv env = Env(&out, &err);
  env.watch_control = &interrupt;
  int exit_code = -1;
  std::thread cli([&] {
    exit_code = RunCli({"--agent", server_->address(), "watch"}, env);
  });
  ASSERT_TRUE(text.AwaitContains(" removed ", absl::Seconds(10)));
  // What main's signal thread does on ^C.
  EXPECT_TRUE(interrupt.Cancel());
  cli.join();
  EXPECT_EQ(exit_code, kExitOk);
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(Lines(text.Contents()).size(), 4u);
  EXPECT_TRUE(service_.AwaitWatchesCancelled(1, absl::Seconds(10)));
}

TEST_F(CliWatchTest, TerminalRedrawsSummaryWithHeaderAndRecentChanges) {
  service_.SetWatchEvents(Script());
  CliEnv env = Env(nullptr, nullptr);
  env.interactive = true;
  env.output_is_terminal = true;
  CliRun run = Mailfleet({"watch", "--events", "5"}, env);
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  ASSERT_THAT(run.out, StartsWith(kClearScreen));
  // Every frame starts by clearing the screen; the last shows the end.
  std::vector<std::string> frames =
      absl::StrSplit(run.out.substr(sizeof(kClearScreen) - 1), kClearScreen);
  EXPECT_LE(frames.size(), 4u);  // Never more than one per complete state.
  EXPECT_EQ(frames.back(),
            "agent gw1.example.com instance i1 generation 12, updated "
            "12:00:12\n"
            "\n"
            "QUEUE     MESSAGES  SIZE  RECIPIENTS  OLDEST\n"
            "deferred         2  8.0K           2  -\n"
            "hold             1  4.0K           1  -\n"
            "TOTAL            3   12K           3  -\n"
            "\n"
            "12:00:10 snapshot 3 messages (initial)\n"
            "12:00:11 moved   " +
                ids_[1] +
                " deferred -> hold\n"
                "12:00:11 added   " +
                ids_[3] +
                " - -> deferred\n"
                "12:00:12 removed " +
                ids_[0] + " deferred -> -\n");
}

TEST_F(CliWatchTest, TerminalShowsTheLastStateWhenTheStreamGoesQuiet) {
  service_.SetWatchEvents(Script());
  WatchControl interrupt;
  SharedText text;
  std::ostream out(&text);
  std::ostringstream err;
  CliEnv env = Env(&out, &err);
  env.output_is_terminal = true;
  env.watch_control = &interrupt;
  int exit_code = -1;
  std::thread cli([&] {
    exit_code = RunCli({"--agent", server_->address(), "watch"}, env);
  });
  // Drawn by the screen's own thread, with no event after it to prompt it.
  EXPECT_TRUE(
      text.AwaitContains("generation 12, updated 12:00:12", absl::Seconds(10)));
  EXPECT_TRUE(interrupt.Cancel());
  cli.join();
  EXPECT_EQ(exit_code, kExitOk);
  EXPECT_EQ(err.str(), "");
}

}  // namespace
}  // namespace mailfleet::cli
