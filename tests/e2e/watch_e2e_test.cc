// Watch on a real Postfix: mail arriving over SMTP, Postfix's own moves and
// holds through postsuper reach every watcher as deltas within two seconds
// of happening, through the live path (inotify and batches), not rescans.
// What a watcher holds after folding its events is what `postqueue -j`
// shows; a watcher that stops reading holds up nobody and is resynchronised.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/service/proto_convert.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mailfleet/v1/agent.grpc.pb.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/postqueue_json.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/e2e/support/postfix_instance.h"
#include "tests/e2e/support/smtp_sender.h"

namespace mailfleet::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// How late a change may reach a watcher.
constexpr absl::Duration kLiveBound = absl::Seconds(2);

std::string QueueName(v1::QueueKind kind) {
  auto core = FromProto(kind);
  return core.ok() ? std::string(QueueKindName(*core)) : "?";
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// What a watcher knows after folding its events in order: the messages'
// queues (and the messages, with include_messages), the summary's total
// and the generation; and every way the stream contradicted itself.
struct WatchedQueue {
  int64_t generation = -1;
  bool complete = false;  // a snapshot's last part has come
  std::map<std::string, v1::QueueKind> queues;
  std::map<std::string, v1::Message> messages;
  int64_t total_messages = 0;
  std::vector<std::string> errors;

  // id -> queue name, as postqueue -j names them.
  std::map<std::string, std::string> QueueNames() const {
    std::map<std::string, std::string> out;
    for (const auto& [id, q] : queues) out[id] = QueueName(q);
    return out;
  }

  void Apply(const v1::WatchEvent& e) {
    auto fail = [&](const std::string& what) {
      errors.push_back(absl::StrCat("generation ", e.generation(), ": ", what));
    };
    if (e.has_snapshot()) {
      const v1::WatchSnapshot& s = e.snapshot();
      if (s.has_agent()) {  // a snapshot's first part: start again
        if (e.generation() < generation) fail("snapshot goes back");
        queues.clear();
        messages.clear();
        complete = false;
        total_messages = s.summary().total_messages();
      } else if (e.generation() != generation || complete) {
        fail("snapshot part without its first part");
      }
      generation = e.generation();
      for (const v1::Message& m : s.messages()) {
        queues[m.queue_id()] = m.queue();
        messages[m.queue_id()] = m;
      }
      complete = s.last();
      return;
    }
    if (!complete) fail("event in the middle of a snapshot");
    if (e.has_heartbeat()) {
      if (e.generation() < generation) fail("heartbeat goes back");
      if (e.heartbeat().has_summary()) {
        total_messages = e.heartbeat().summary().total_messages();
      }
      generation = e.generation();
      return;
    }
    if (e.generation() <= generation) fail("delta does not move on");
    generation = e.generation();
    if (e.delta().changes().empty()) fail("empty delta");
    for (const v1::MessageChange& c : e.delta().changes()) {
      auto it = queues.find(c.queue_id());
      const bool held = it != queues.end();
      if ((c.kind() == v1::MessageChange::ADDED) == held) {
        fail(absl::StrCat(c.queue_id(), ": ", v1::MessageChange::Kind_Name(c.kind()),
                          held ? " of a message held" : " of a message not held"));
      }
      if (held && it->second != c.from_queue()) {
        fail(absl::StrCat(c.queue_id(), ": from ", QueueName(c.from_queue()),
                          " but held in ", QueueName(it->second)));
      }
      if (c.kind() == v1::MessageChange::REMOVED) {
        queues.erase(c.queue_id());
        messages.erase(c.queue_id());
      } else {
        queues[c.queue_id()] = c.to_queue();
        if (c.has_message()) messages[c.queue_id()] = c.message();
      }
    }
    if (e.delta().has_summary()) total_messages = e.delta().summary().total_messages();
  }
};

struct Received {
  v1::WatchEvent event;
  absl::Time at;
};

struct WatchState {
  std::vector<Received> events;
  WatchedQueue view;
  bool ended = false;
  grpc::Status status;
};

// One Watch call through the raw stub, read on a thread of its own (unless
// paused) into a WatchState that the test awaits.
class WatchStream {
 public:
  WatchStream(v1::AgentService::Stub& stub, const v1::WatchRequest& request,
              bool paused = false)
      : paused_(paused) {
    reader_ = stub.Watch(&context_, request);
    thread_ = std::thread([this] { Read(); });
  }
  ~WatchStream() {
    context_.TryCancel();
    Resume();
    thread_.join();
  }

  // Starts reading a stream opened paused.
  void Resume() {
    absl::MutexLock lock(&mu_);
    paused_ = false;
  }

  // Waits until `done` holds for what came so far, or `timeout` passes.
  bool WaitFor(const std::function<bool(const WatchState&)>& done,
               absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto cond = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return done(state_); };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
  }
  bool WaitForSnapshot() {
    return WaitFor([](const WatchState& s) { return s.view.complete; },
                   absl::Seconds(10));
  }
  // Until the watcher holds exactly `queues` (id -> postqueue queue name).
  bool WaitForQueues(const std::map<std::string, std::string>& queues,
                     absl::Duration timeout) {
    return WaitFor(
        [&](const WatchState& s) {
          return s.view.complete && s.view.QueueNames() == queues;
        },
        timeout);
  }

  WatchState State() {
    absl::MutexLock lock(&mu_);
    return state_;
  }
  size_t EventCount() {
    absl::MutexLock lock(&mu_);
    return state_.events.size();
  }

 private:
  void Read() {
    {
      absl::MutexLock lock(&mu_);
      auto resumed = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !paused_; };
      mu_.Await(absl::Condition(&resumed));
    }
    v1::WatchEvent event;
    while (reader_->Read(&event)) {
      absl::MutexLock lock(&mu_);
      state_.events.push_back({event, absl::Now()});
      state_.view.Apply(event);
    }
    grpc::Status status = reader_->Finish();
    absl::MutexLock lock(&mu_);
    state_.ended = true;
    state_.status = status;
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader_;
  absl::Mutex mu_;
  bool paused_ ABSL_GUARDED_BY(mu_);
  WatchState state_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// Deltas' changes of one message, in order.
std::vector<v1::MessageChange> ChangesOf(const WatchState& s, const std::string& id) {
  std::vector<v1::MessageChange> out;
  for (const Received& r : s.events) {
    for (const auto& c : r.event.delta().changes()) {
      if (c.queue_id() == id) out.push_back(c);
    }
  }
  return out;
}

// The first change of `id` after event number `from`, and when it came.
const Received* FirstChangeOf(const WatchState& s, const std::string& id,
                              size_t from = 0) {
  for (size_t i = from; i < s.events.size(); ++i) {
    for (const auto& c : s.events[i].event.delta().changes()) {
      if (c.queue_id() == id) return &s.events[i];
    }
  }
  return nullptr;
}

// The (generation, changes) of every delta after the first snapshot.
std::vector<std::string> DeltaSequence(const WatchState& s) {
  std::vector<std::string> out;
  for (const Received& r : s.events) {
    if (!r.event.has_delta()) continue;
    out.push_back(
        absl::StrCat(r.event.generation(), " ", r.event.delta().SerializeAsString()));
  }
  return out;
}

TestMessage Mail(const std::string& to) {
  return {"watcher@example.com", {to},
          "From: watcher@example.com\r\nTo: " + to + "\r\nSubject: watch\r\n\r\nhi\r\n"};
}

v1::WatchRequest Request(bool include_messages = false) {
  v1::WatchRequest r;
  r.set_include_messages(include_messages);
  return r;
}

// One Postfix for the suite; every test starts from an empty queue and its
// own agent, whose index changes only by the live path: batches of 100 ms
// and no rescan within the test.
class WatchE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto postfix = PostfixInstance::Create({});
    ASSERT_TRUE(postfix.ok()) << postfix.status();
    postfix_ = postfix->release();
  }
  static void TearDownTestSuite() {
    delete postfix_;
    postfix_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(postfix_, nullptr);
    auto deleted = postfix_->RunTool({"postsuper", "-d", "ALL"});
    ASSERT_TRUE(deleted.ok()) << deleted.status();
    ASSERT_TRUE(postfix_->WaitForQueueToSettle(absl::Seconds(30)).ok());
  }
  void TearDown() override {
    if (agent_) {
      EXPECT_EQ(agent_->monitor().stats().rescans, 0) << "the live path missed something";
    }
  }

  void StartAgent(WatchHubOptions watch = {}) {
    AgentHarness::Options options;
    options.monitor.batch_window = absl::Milliseconds(100);
    options.monitor.rescan_interval = absl::Hours(1);
    options.watch = watch;
    auto agent = AgentHarness::Start(postfix_->config_dir(), options);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
  }
  void Send(const std::vector<TestMessage>& messages, int connections = 1) {
    absl::Status s = SendMessages(postfix_->smtp_port(), messages, connections);
    ASSERT_TRUE(s.ok()) << s;
  }
  void Settle() { ASSERT_TRUE(postfix_->WaitForQueueToSettle(absl::Minutes(1)).ok()); }

  std::map<std::string, PostqueueEntry> Postqueue() {
    auto json = postfix_->PostqueueJson();
    EXPECT_TRUE(json.ok()) << json.status();
    auto q = ParsePostqueueJson(json.ok() ? *json : "");
    EXPECT_TRUE(q.ok()) << q.status();
    return q.ok() ? *q : std::map<std::string, PostqueueEntry>{};
  }
  std::map<std::string, std::string> PostqueueQueues() {
    std::map<std::string, std::string> out;
    for (const auto& [id, e] : Postqueue()) out[id] = e.queue_name;
    return out;
  }
  // Waits for `w` to hold what postqueue -j shows, then says where not.
  void ExpectHoldsTheQueue(WatchStream& w) {
    const auto expected = PostqueueQueues();
    w.WaitForQueues(expected, kLiveBound);
    WatchState s = w.State();
    EXPECT_EQ(s.view.QueueNames(), expected);
    EXPECT_THAT(s.view.errors, IsEmpty());
  }
  void Postsuper(const std::string& option, const std::string& id) {
    auto r = postfix_->RunTool({"postsuper", option, id});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code, 0) << r->stderr_text;
  }
  int64_t IndexGeneration() { return agent_->index().Current()->generation(); }
  grpc::Status Act(v1::Action action, const std::string& id) {
    v1::ActRequest req;
    req.set_action(action);
    req.mutable_selector()->add_queue_ids(id);
    v1::ActResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = agent_->stub().Act(&ctx, req, &resp);
    EXPECT_EQ(resp.succeeded(), 1);
    return s;
  }

  static PostfixInstance* postfix_;
  std::unique_ptr<AgentHarness> agent_;
};

PostfixInstance* WatchE2eTest::postfix_ = nullptr;

TEST_F(WatchE2eTest, MessageSentOverSmtpAppearsAsDeltasAndEndsUpDeferred) {
  StartAgent();
  WatchStream w(agent_->stub(), Request());
  ASSERT_TRUE(w.WaitForSnapshot());
  {
    WatchState s = w.State();
    ASSERT_EQ(s.events.size(), 1u);
    const v1::WatchEvent& first = s.events[0].event;
    EXPECT_EQ(first.snapshot().reason(), v1::WatchSnapshot::REASON_INITIAL);
    EXPECT_TRUE(first.snapshot().last());
    EXPECT_EQ(first.generation(), IndexGeneration());
    EXPECT_EQ(first.snapshot().agent().generation(), first.generation());
    EXPECT_EQ(first.instance_id(), agent_->index().instance_id());
    EXPECT_EQ(first.snapshot().summary().total_messages(), 0);
  }

  Send({Mail("someone@d1.example.net")});
  const absl::Time sent = absl::Now();
  ASSERT_TRUE(w.WaitFor([](const WatchState& s) { return s.view.queues.size() == 1; },
                        kLiveBound))
      << "no ADDED within " << kLiveBound;
  Settle();
  ExpectHoldsTheQueue(w);

  WatchState s = w.State();
  ASSERT_EQ(s.view.queues.size(), 1u);
  const std::string id = s.view.queues.begin()->first;
  EXPECT_EQ(s.view.queues.begin()->second, v1::POSTFIX_DEFERRED);
  // A busy queue's summary follows within about a second.
  EXPECT_TRUE(w.WaitFor([](const WatchState& s) { return s.view.total_messages == 1; },
                        kLiveBound));
  const Received* added = FirstChangeOf(s, id);
  ASSERT_NE(added, nullptr);
  EXPECT_LT(added->at - sent, kLiveBound);
  std::vector<v1::MessageChange> changes = ChangesOf(s, id);
  ASSERT_FALSE(changes.empty());
  EXPECT_EQ(changes[0].kind(), v1::MessageChange::ADDED);
  EXPECT_THAT(changes[0].to_queue(),
              AnyOf(v1::POSTFIX_INCOMING, v1::POSTFIX_ACTIVE, v1::POSTFIX_DEFERRED));
  for (size_t i = 1; i < changes.size(); ++i) {
    EXPECT_THAT(changes[i].kind(),
                AnyOf(v1::MessageChange::MOVED, v1::MessageChange::CHANGED));
  }
  for (const Received& r : s.events) {
    EXPECT_LT(r.at - TimeOf(r.event.time()), kLiveBound);
  }
}

TEST_F(WatchE2eTest, HoldAndReleaseAreOneMovedChangeEach) {
  Send({Mail("a@d2.example.net"), Mail("b@d3.example.net")});
  Settle();
  StartAgent();
  // With the messages, so that the snapshot says where each one is.
  WatchStream w(agent_->stub(), Request(/*include_messages=*/true));
  ASSERT_TRUE(w.WaitForSnapshot());
  const std::string id = Postqueue().begin()->first;

  // Through the agent (Act), then behind its back (postsuper itself): the
  // index learns of the latter from the queue directories only.
  struct Step {
    std::string how;
    std::function<void()> run;
    v1::QueueKind from, to;
  };
  std::vector<Step> steps = {
      {"Act hold", [&] { EXPECT_TRUE(Act(v1::ACTION_HOLD, id).ok()); },
       v1::POSTFIX_DEFERRED, v1::POSTFIX_HOLD},
      {"Act release", [&] { EXPECT_TRUE(Act(v1::ACTION_RELEASE, id).ok()); },
       v1::POSTFIX_HOLD, v1::POSTFIX_DEFERRED},
      {"postsuper -h", [&] { Postsuper("-h", id); }, v1::POSTFIX_DEFERRED,
       v1::POSTFIX_HOLD},
      {"postsuper -H", [&] { Postsuper("-H", id); }, v1::POSTFIX_HOLD,
       v1::POSTFIX_DEFERRED},
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(step.how);
    const size_t before = w.EventCount();
    const absl::Time start = absl::Now();
    step.run();
    ASSERT_TRUE(w.WaitFor(
        [&](const WatchState& s) { return FirstChangeOf(s, id, before) != nullptr; },
        kLiveBound));
    const absl::Duration latency = FirstChangeOf(w.State(), id, before)->at - start;
    EXPECT_LT(latency, kLiveBound);
    // Whatever else the rename stirs up in the queue directories must not
    // show as another change: a little longer than a batch window.
    EXPECT_FALSE(w.WaitFor(
        [&](const WatchState& s) {
          size_t n = 0;
          for (size_t i = before; i < s.events.size(); ++i) {
            for (const auto& c : s.events[i].event.delta().changes()) n += c.queue_id() == id;
          }
          return n > 1;
        },
        absl::Milliseconds(400)));
    WatchState s = w.State();
    std::vector<v1::MessageChange> changes;
    for (size_t i = before; i < s.events.size(); ++i) {
      for (const auto& c : s.events[i].event.delta().changes()) changes.push_back(c);
    }
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].kind(), v1::MessageChange::MOVED);
    EXPECT_EQ(changes[0].queue_id(), id);
    EXPECT_EQ(changes[0].from_queue(), step.from);
    EXPECT_EQ(changes[0].to_queue(), step.to);
    EXPECT_EQ(changes[0].message().queue(), step.to);
    EXPECT_EQ(PostqueueQueues().at(id), QueueName(step.to));
  }
  ExpectHoldsTheQueue(w);
}

TEST_F(WatchE2eTest, IncludeMessagesListsTheQueueAndCarriesChangedMessages) {
  Send(GenerateVariedMessages(25, 31), 2);
  Settle();
  WatchHubOptions options;
  options.snapshot_part_messages = 10;
  StartAgent(options);
  WatchStream w(agent_->stub(), Request(/*include_messages=*/true));
  ASSERT_TRUE(w.WaitForSnapshot());
  {
    WatchState s = w.State();
    ASSERT_EQ(s.events.size(), 3u);  // 10 + 10 + 5
    for (size_t i = 0; i < s.events.size(); ++i) {
      const v1::WatchEvent& e = s.events[i].event;
      EXPECT_EQ(e.generation(), s.events[0].event.generation());
      EXPECT_EQ(e.snapshot().has_agent(), i == 0);
      EXPECT_EQ(e.snapshot().last(), i == 2);
      EXPECT_EQ(e.snapshot().messages_size(), i == 2 ? 5 : 10);
    }
  }

  auto expect_messages_as_postqueue = [&](const WatchedQueue& view) {
    const auto expected = Postqueue();
    ASSERT_EQ(view.messages.size(), expected.size());
    for (const auto& [id, m] : view.messages) {
      SCOPED_TRACE(id);
      auto it = expected.find(id);
      ASSERT_NE(it, expected.end());
      const PostqueueEntry& e = it->second;
      EXPECT_EQ(m.queue_id(), id);
      EXPECT_EQ(QueueName(m.queue()), e.queue_name);
      EXPECT_EQ(m.arrival_time().seconds(), e.arrival_time);
      EXPECT_EQ(m.size(), e.message_size);
      EXPECT_EQ(m.sender(), e.sender);
      std::vector<PostqueueRecipient> rcpts;
      for (const auto& r : m.recipients()) rcpts.push_back({r.address(), r.delay_reason()});
      EXPECT_EQ(rcpts, e.recipients);
    }
  };
  expect_messages_as_postqueue(w.State().view);

  const size_t before = w.EventCount();
  Send({Mail("new@d4.example.net")});
  Settle();
  ExpectHoldsTheQueue(w);
  WatchState s = w.State();
  int carried = 0;
  for (size_t i = before; i < s.events.size(); ++i) {
    for (const auto& c : s.events[i].event.delta().changes()) {
      ASSERT_NE(c.kind(), v1::MessageChange::REMOVED);
      ASSERT_TRUE(c.has_message()) << v1::MessageChange::Kind_Name(c.kind());
      EXPECT_EQ(c.message().queue_id(), c.queue_id());
      EXPECT_EQ(c.message().queue(), c.to_queue());
      ++carried;
    }
  }
  EXPECT_GE(carried, 1);
  expect_messages_as_postqueue(s.view);
}

TEST_F(WatchE2eTest, FilterShowsOnlyMatchingMessagesAndCountsOnlyThem) {
  StartAgent();
  v1::WatchRequest req;
  req.mutable_filter()->set_pattern("@match.example.net");
  req.mutable_filter()->add_fields(v1::MATCH_FIELD_RECIPIENT);
  WatchStream filtered(agent_->stub(), req);
  WatchStream all(agent_->stub(), Request());
  ASSERT_TRUE(filtered.WaitForSnapshot());
  ASSERT_TRUE(all.WaitForSnapshot());

  std::vector<TestMessage> mail;
  for (int i = 0; i < 12; ++i) {
    mail.push_back(Mail(absl::StrCat("r", i, i % 3 == 0 ? "@match.example.net"
                                                          : "@other.example.org")));
  }
  Send(mail, 2);
  Settle();
  ExpectHoldsTheQueue(all);

  std::map<std::string, std::string> matching;
  for (const auto& [id, e] : Postqueue()) {
    if (absl::EndsWith(e.recipients.at(0).address, "@match.example.net")) {
      matching[id] = e.queue_name;
    }
  }
  ASSERT_EQ(matching.size(), 4u);
  EXPECT_TRUE(filtered.WaitForQueues(matching, kLiveBound));
  WatchState s = filtered.State();
  EXPECT_EQ(s.view.QueueNames(), matching);
  EXPECT_THAT(s.view.errors, IsEmpty());
  for (const Received& r : s.events) {
    for (const auto& c : r.event.delta().changes()) {
      EXPECT_EQ(matching.count(c.queue_id()), 1u) << c.queue_id() << " does not match";
    }
  }
  // A busy queue's summary follows within about a second.
  EXPECT_TRUE(filtered.WaitFor(
      [](const WatchState& s) { return s.view.total_messages == 4; }, kLiveBound));
  EXPECT_TRUE(all.WaitFor(
      [](const WatchState& s) { return s.view.total_messages == 12; }, kLiveBound));
}

TEST_F(WatchE2eTest, FiftyWatchersReceiveTheSameDeltas) {
  StartAgent();
  std::vector<std::unique_ptr<WatchStream>> watchers;
  for (int i = 0; i < 50; ++i) {
    watchers.push_back(std::make_unique<WatchStream>(agent_->stub(), Request()));
  }
  for (auto& w : watchers) ASSERT_TRUE(w->WaitForSnapshot());
  EXPECT_EQ(agent_->service().watch_hub().watcher_count(), 50);

  Send(GenerateVariedMessages(40, 41), 4);
  Settle();
  const auto expected = PostqueueQueues();
  ASSERT_EQ(expected.size(), 40u);
  for (auto& w : watchers) EXPECT_TRUE(w->WaitForQueues(expected, kLiveBound));

  const WatchState first = watchers[0]->State();
  const std::vector<std::string> sequence = DeltaSequence(first);
  EXPECT_GE(sequence.size(), 2u);
  for (size_t i = 0; i < watchers.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("watcher ", i));
    WatchState s = watchers[i]->State();
    EXPECT_EQ(s.events[0].event.generation(), first.events[0].event.generation());
    EXPECT_EQ(DeltaSequence(s), sequence);
    EXPECT_THAT(s.view.errors, IsEmpty());
  }
}

TEST_F(WatchE2eTest, StalledWatcherHoldsUpNobodyAndIsResynchronised) {
  WatchHubOptions options;
  options.max_outbox_events = 4;
  StartAgent(options);
  // Its own connection with a small receive window, so that the agent's
  // writes to it stop completing as soon as it stops reading.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 4096);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stalled_stub = v1::AgentService::NewStub(grpc::CreateCustomChannel(
      agent_->address(), grpc::InsecureChannelCredentials(), args));
  WatchStream stalled(*stalled_stub, Request(/*include_messages=*/true), /*paused=*/true);
  WatchStream live(agent_->stub(), Request());
  ASSERT_TRUE(live.WaitForSnapshot());

  Send(GenerateVariedMessages(200, 51), 4);
  Settle();
  ExpectHoldsTheQueue(live);
  WatchState s = live.State();
  int64_t generation = s.events[0].event.generation();
  for (const Received& r : s.events) {
    if (!r.event.has_delta()) continue;
    EXPECT_EQ(r.event.generation(), generation + 1) << "a delta was left out";
    generation = r.event.generation();
    EXPECT_LT(r.at - TimeOf(r.event.time()), kLiveBound);
  }
  EXPECT_EQ(generation, IndexGeneration());

  stalled.Resume();
  const auto expected = PostqueueQueues();
  EXPECT_TRUE(stalled.WaitForQueues(expected, absl::Seconds(10)));
  WatchState t = stalled.State();
  EXPECT_EQ(t.view.QueueNames(), expected);
  EXPECT_THAT(t.view.errors, IsEmpty());
  EXPECT_EQ(t.view.generation, IndexGeneration());
  EXPECT_EQ(t.view.messages.size(), expected.size());
  int resyncs = 0;
  for (const Received& r : t.events) {
    resyncs += r.event.snapshot().reason() == v1::WatchSnapshot::REASON_RESYNC &&
               r.event.snapshot().has_agent();
  }
  EXPECT_GE(resyncs, 1);
}

TEST_F(WatchE2eTest, IdleQueueGetsHeartbeatsAboutEverySecond) {
  Send({Mail("idle@d5.example.net")});
  Settle();
  StartAgent();
  v1::WatchRequest req;
  req.mutable_heartbeat_interval()->set_seconds(1);
  WatchStream w(agent_->stub(), req);
  ASSERT_TRUE(w.WaitForSnapshot());
  auto heartbeats = [](const WatchState& s) {
    std::vector<Received> out;
    for (const Received& r : s.events) {
      if (r.event.has_heartbeat()) out.push_back(r);
    }
    return out;
  };
  ASSERT_TRUE(w.WaitFor([&](const WatchState& s) { return heartbeats(s).size() >= 4; },
                        absl::Seconds(8)));
  WatchState s = w.State();
  std::vector<Received> beats = heartbeats(s);
  // The hub looks every second (its tick), so a heartbeat may come up to a
  // tick late; most come a second apart.
  std::vector<absl::Duration> gaps;
  absl::Time last = s.events[0].at;
  for (const Received& b : beats) {
    EXPECT_EQ(b.event.generation(), IndexGeneration());
    EXPECT_EQ(b.event.generation(), s.events[0].event.generation());
    gaps.push_back(b.at - last);
    EXPECT_GT(gaps.back(), absl::Milliseconds(800));
    EXPECT_LT(gaps.back(), absl::Milliseconds(2200));
    last = b.at;
  }
  std::sort(gaps.begin(), gaps.end());
  EXPECT_LT(gaps[gaps.size() / 2], absl::Milliseconds(1200));
  EXPECT_EQ(s.view.total_messages, 1);
}

TEST_F(WatchE2eTest, BadRequestsAreRefusedWithAReason) {
  StartAgent();
  struct Case {
    v1::WatchRequest req;
    std::string says;
  };
  std::vector<Case> cases(3);
  cases[0].req.mutable_heartbeat_interval()->set_nanos(500'000'000);
  cases[0].says = "heartbeat_interval";
  cases[1].req.set_top_n(-1);
  cases[1].says = "top_n";
  cases[2].req.mutable_filter()->set_pattern("(unclosed");
  cases[2].req.mutable_filter()->set_regex(true);
  cases[2].says = "regular expression";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.says);
    WatchStream w(agent_->stub(), c.req);
    ASSERT_TRUE(w.WaitFor([](const WatchState& s) { return s.ended; }, absl::Seconds(5)));
    WatchState s = w.State();
    EXPECT_TRUE(s.events.empty());
    EXPECT_EQ(s.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.status.error_message(), HasSubstr(c.says));
  }
  EXPECT_EQ(agent_->service().watch_hub().watcher_count(), 0);
}

}  // namespace
}  // namespace mailfleet::testing
