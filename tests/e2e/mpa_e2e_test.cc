// The MPA spool end to end: `mailfleet-agent --mpa-spool` beside a real
// Postfix, a spool written by `mailfleet-mpa-sim` (as the MPA writes it),
// and the `mailfleet` CLI; checked against the files on disk.
#include <dirent.h>
#include <stdlib.h>

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/mpa/spool_item.h"
#include "agent/mpa/spool_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "mailfleet/v1/agent.grpc.pb.h"
#include "proto/queue_kind_proto.h"
#include "tests/e2e/agent_process.h"
#include "tests/e2e/postqueue_json.h"
#include "tests/e2e/support/loopback_ports.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/e2e/support/postfix_instance.h"
#include "tests/e2e/support/smtp_sender.h"

namespace mailfleet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// The item ids (names of .eml files with a valid id) in one queue directory.
std::set<std::string> ItemsOnDisk(const std::string& dir) {
  std::set<std::string> ids;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (auto id = mpa::SpoolIdOfMessageFile(name)) ids.insert(std::string(*id));
  }
  return ids;
}

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

template <typename M>
std::vector<M> JsonLines(const std::string& out) {
  std::vector<M> all;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    M m;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                    std::string(line.data(), line.size()), &m)
                    .ok())
        << line;
    all.push_back(std::move(m));
  }
  return all;
}

class MpaEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto postfix = PostfixInstance::Create({});
    ASSERT_TRUE(postfix.ok()) << postfix.status();
    postfix_ = postfix->release();
    ASSERT_TRUE(SendMessages(postfix_->smtp_port(), GenerateVariedMessages(40, 7), 2).ok());
    ASSERT_TRUE(postfix_->WaitForQueueToSettle(absl::Minutes(2)).ok());
  }
  static void TearDownTestSuite() { delete postfix_; }

  // Each test has a spool and an agent of its own.
  void SetUp() override {
    ASSERT_FALSE(spool_.empty());
    // As the MPA lays its spool out.
    for (const char* q : {"outgoing", "error", "spool", "respool", "tmp"}) {
      std::filesystem::create_directory(Dir(q));
    }
  }
  // Before the spool goes.
  void TearDown() override { agent_.reset(); }

  void StartAgent(std::vector<std::string> limits = {}) {
    auto port = PickFreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status();
    std::vector<std::string> args = {"--mpa-spool", spool_};
    args.insert(args.end(), limits.begin(), limits.end());
    agent_ = std::make_unique<AgentProcess>(postfix_->config_dir(), *port, args);
    ASSERT_TRUE(agent_->WaitUntilServing());
  }

  // mailfleet-mpa-sim with these arguments and --spool; fails the test
  // unless it succeeds.
  void Sim(std::vector<std::string> args) {
    args.insert(args.begin(), MAILFLEET_MPA_SIM_BIN);
    args.insert(args.begin() + 2, {"--spool", spool_});
    RealProcessRunner runner;
    auto r = runner.Run(args, {});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit_code, 0) << r->stderr_text;
  }
  void Fill(const std::string& queue, int count, int start = 0, int seed = 1) {
    Sim({"fill", "--queue", queue, "--count", absl::StrCat(count), "--start-index",
         absl::StrCat(start), "--seed", absl::StrCat(seed)});
  }

  CliResult Mailfleet(std::vector<std::string> args) {
    args.insert(args.begin(), {"--agent", agent_->address()});
    return Cli(args);
  }

  std::vector<v1::Message> Ls(std::vector<std::string> filter) {
    filter.insert(filter.begin(), "ls");
    filter.insert(filter.end(), {"-o", "json"});
    CliResult r = Mailfleet(filter);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return JsonLines<v1::Message>(r.out);
  }

  v1::MpaThrottle Throttle() {
    CliResult r = Mailfleet({"summary", "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    v1::SummaryResponse s;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &s).ok()) << r.out;
    return s.summary().mpa_throttle();
  }

  // Polls the live index (it follows the spool through inotify) until the
  // throttle state counts these items.
  v1::MpaThrottle ThrottleOnceSpoolHolds(int64_t spool_items, int64_t error_items = 0) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    v1::MpaThrottle t;
    do {
      t = Throttle();
      if (t.spool_items() == spool_items && t.error_items() == error_items) return t;
      absl::SleepFor(absl::Milliseconds(50));
    } while (absl::Now() < deadline);
    ADD_FAILURE() << "never " << spool_items << " in spool and " << error_items
                  << " in error: " << t.DebugString();
    return t;
  }

  std::string Dir(const std::string& queue) const { return spool_ + "/" + queue; }

  static PostfixInstance* postfix_;
  TempDir dir_{"mailfleet-mpa-e2e"};
  const std::string spool_ = dir_.path();
  std::unique_ptr<AgentProcess> agent_;
};
PostfixInstance* MpaEndToEndTest::postfix_ = nullptr;

TEST_F(MpaEndToEndTest, EveryKindOfItemIsListedAndDamagedOnesSaySo) {
  Fill("error", 30);
  Fill("outgoing", 5, 100);
  Fill("spool", 6, 200);
  Fill("respool", 7, 300);
  Sim({"malformed", "--queue", "error"});
  StartAgent();

  const std::vector<v1::Message> errors = Ls({"--queue", "mpa-error"});
  std::set<std::string> listed;
  int damaged = 0;
  for (const v1::Message& m : errors) {
    listed.insert(m.queue_id());
    EXPECT_EQ(m.queue(), v1::MPA_ERROR);
    if (absl::StartsWith(m.queue_id(), "damaged-")) {
      ++damaged;
      EXPECT_FALSE(m.parse_error().empty()) << m.queue_id();
      continue;
    }
    EXPECT_EQ(m.parse_error(), "") << m.queue_id();
    EXPECT_FALSE(m.mpa_error().empty()) << m.queue_id();
    EXPECT_GT(m.mpa_attempts(), 0) << m.queue_id();
    ASSERT_GT(m.recipients_size(), 0);
    EXPECT_EQ(m.recipients(0).delay_reason(), m.mpa_error());
  }
  // Exactly the items on disk: no .env without .eml, no "bad id", no tmp/.
  EXPECT_EQ(listed, ItemsOnDisk(Dir("error")));
  EXPECT_EQ(listed.size(), 34u);
  EXPECT_EQ(damaged, 4);
  EXPECT_EQ(Ls({"--queue", "mpa-outgoing,mpa-spool,mpa-respool"}).size(), 18u);

  // Postfix's messages are all still there, beside the items.
  auto json = postfix_->PostqueueJson();
  ASSERT_TRUE(json.ok());
  auto postqueue = ParsePostqueueJson(*json);
  ASSERT_TRUE(postqueue.ok());
  EXPECT_EQ(Ls({}).size(), postqueue->size() + 34 + 18);

  const v1::MpaThrottle t = Throttle();
  EXPECT_EQ(t.state(), v1::MpaThrottle::NORMAL);
  EXPECT_EQ(t.spool_items(), 6);
  EXPECT_EQ(t.error_items(), 34);
  EXPECT_EQ(t.limits().refuse_spool(), 2000);

  CliResult table = Mailfleet({"summary"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("mpa-error"));
  EXPECT_THAT(table.out, HasSubstr("normal: 6 items in spool, 34 in error"));
}

TEST_F(MpaEndToEndTest, ShowPrintsTheItemsRawMessageAndError) {
  Fill("error", 3);
  StartAgent();
  const std::string id = *ItemsOnDisk(Dir("error")).begin();
  CliResult r = Mailfleet({"show", id, "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::MessageWithContent full;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &full).ok());
  EXPECT_EQ(full.content(), ReadWhole(Dir("error") + "/" + id + ".eml"));
  auto env = mpa::ParseSpoolEnvelope(ReadWhole(Dir("error") + "/" + id + ".env"));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(full.envelope().mpa_error(), env->error);
  EXPECT_EQ(full.envelope().mpa_attempts(), env->attempts);

  r = Mailfleet({"show", id, "--envelope-only"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("mpa error"));
  EXPECT_THAT(r.out, HasSubstr(env->error));

  r = Mailfleet({"show", "../error/" + id});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith("mailfleet: "));
}

TEST_F(MpaEndToEndTest, RespoolMovesExactlyTheSelectedItems) {
  Fill("error", 20);
  Fill("spool", 3, 100);
  StartAgent();
  const std::set<std::string> before = ItemsOnDisk(Dir("error"));
  std::vector<std::string> chosen(before.begin(), before.end());
  chosen.resize(3);

  // A watcher sees the moves as they happen.
  auto stub = v1::AgentService::NewStub(
      grpc::CreateChannel(agent_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext watch_ctx;
  v1::WatchRequest watch_req;
  watch_req.mutable_filter()->add_queues(v1::MPA_ERROR);
  watch_req.mutable_filter()->add_queues(v1::MPA_RESPOOL);
  auto watch_stream = stub->Watch(&watch_ctx, watch_req);
  v1::WatchEvent event;
  ASSERT_TRUE(watch_stream->Read(&event));
  ASSERT_TRUE(event.has_snapshot());

  std::vector<std::string> args = {"respool"};
  args.insert(args.end(), chosen.begin(), chosen.end());
  args.push_back("mpa-1-100");  // in mpa-spool: refused, nothing moves
  CliResult r = Mailfleet(args);
  EXPECT_EQ(r.exit_code, 1);  // one failed
  EXPECT_THAT(r.out, HasSubstr("respool: 4 matched, 3 done, 1 failed"));
  EXPECT_THAT(r.out, HasSubstr("mpa-1-100: is in mpa-spool"));

  std::set<std::string> respooled(chosen.begin(), chosen.end());
  EXPECT_EQ(ItemsOnDisk(Dir("respool")), respooled);
  std::set<std::string> left = before;
  for (const std::string& id : chosen) {
    left.erase(id);
    EXPECT_TRUE(std::filesystem::exists(Dir("respool") + "/" + id + ".env")) << id;
    EXPECT_FALSE(std::filesystem::exists(Dir("error") + "/" + id + ".env")) << id;
  }
  EXPECT_EQ(ItemsOnDisk(Dir("error")), left);
  EXPECT_EQ(ItemsOnDisk(Dir("spool")).size(), 3u);

  std::set<std::string> moved;
  while (moved.size() < respooled.size() && watch_stream->Read(&event)) {
    for (const v1::MessageChange& c : event.delta().changes()) {
      EXPECT_EQ(c.kind(), v1::MessageChange::MOVED);
      EXPECT_EQ(c.from_queue(), v1::MPA_ERROR);
      EXPECT_EQ(c.to_queue(), v1::MPA_RESPOOL);
      moved.insert(c.queue_id());
    }
  }
  EXPECT_EQ(moved, respooled);
  watch_ctx.TryCancel();
  while (watch_stream->Read(&event)) {
  }
  (void)watch_stream->Finish();

  // By filter: what the error says, after a confirmation-free run.
  const std::vector<v1::Message> pci = Ls({"--queue", "mpa-error", "--match", "DLP"});
  r = Mailfleet({"respool", "--queue", "mpa-error", "--match", "DLP", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const v1::Message& m : pci) respooled.insert(m.queue_id());
  EXPECT_EQ(ItemsOnDisk(Dir("respool")), respooled);
  EXPECT_THAT(Ls({"--queue", "mpa-error", "--match", "DLP"}), IsEmpty());
}

TEST_F(MpaEndToEndTest, ThrottleStateFlipsAtTheLimits) {
  StartAgent({"--mpa-throttle-spool", "10", "--mpa-throttle-error", "5",
              "--mpa-refuse-spool", "20"});
  Fill("spool", 10);
  v1::MpaThrottle t = ThrottleOnceSpoolHolds(10);
  EXPECT_EQ(t.state(), v1::MpaThrottle::NORMAL);
  EXPECT_EQ(t.limits().throttle_spool(), 10);
  Fill("spool", 1, 10);
  EXPECT_EQ(ThrottleOnceSpoolHolds(11).state(), v1::MpaThrottle::THROTTLING);
  Fill("spool", 9, 11);
  EXPECT_EQ(ThrottleOnceSpoolHolds(20).state(), v1::MpaThrottle::THROTTLING);
  Fill("spool", 1, 20);
  EXPECT_EQ(ThrottleOnceSpoolHolds(21).state(), v1::MpaThrottle::REFUSING);
  CliResult table = Mailfleet({"summary"});
  EXPECT_THAT(table.out, HasSubstr("REFUSING mail: 21 items in spool"));
  EXPECT_THAT(table.out, HasSubstr("refuses above 20 in spool"));

  // The error queue alone throttles too.
  std::filesystem::remove_all(Dir("spool"));
  std::filesystem::create_directory(Dir("spool"));
  Fill("error", 6, 100);
  EXPECT_EQ(ThrottleOnceSpoolHolds(0, 6).state(), v1::MpaThrottle::THROTTLING);

  // Limits that contradict each other stop the agent before it starts.
  RealProcessRunner runner;
  auto r = runner.Run({MAILFLEET_AGENT_BIN, "--listen", "127.0.0.1:1",
                       "--postfix-config-dir", postfix_->config_dir(), "--mpa-spool",
                       spool_, "--mpa-throttle-spool", "30", "--mpa-refuse-spool", "20"},
                      {});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0);
  EXPECT_EQ(r->stdout_text, "");
  EXPECT_THAT(r->stderr_text, HasSubstr("above its refuse limit"));  // the log
}

// The MPA writing, moving and removing items all the time, and the agent
// answering from its live index meanwhile: no answer may hold an item
// half-written (an .eml without its envelope), and in the end the index
// holds exactly what is on disk.
TEST_F(MpaEndToEndTest, ALiveSpoolNeverShowsAHalfWrittenItem) {
  StartAgent();
  auto sim = std::async(std::launch::async, [&] {
    Sim({"run", "--rate", "300", "--duration", "4s", "--error-ratio", "0.3"});
  });
  auto channel = grpc::CreateChannel(agent_->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::AgentService::NewStub(channel);
  int listings = 0;
  size_t items_seen = 0;
  while (sim.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
    grpc::ClientContext ctx;
    v1::ListRequest req;
    for (auto q : {v1::MPA_OUTGOING, v1::MPA_ERROR, v1::MPA_SPOOL, v1::MPA_RESPOOL}) {
      req.mutable_filter()->add_queues(q);
    }
    req.set_page_size(10000);
    v1::ListResponse resp;
    ASSERT_TRUE(stub->List(&ctx, req, &resp).ok());
    ++listings;
    items_seen += resp.messages_size();
    for (const v1::Message& m : resp.messages()) {
      ASSERT_EQ(m.parse_error(), "") << m.queue_id() << " in " << m.queue();
      ASSERT_GT(m.recipients_size(), 0) << m.queue_id();
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  sim.get();
  EXPECT_GT(listings, 20);
  EXPECT_GT(items_seen, 100u);

  // Settled: the index is the disk.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::set<std::string> on_disk, indexed;
  do {
    on_disk.clear();
    indexed.clear();
    for (const char* q : {"outgoing", "error", "spool", "respool"}) {
      for (const std::string& id : ItemsOnDisk(Dir(q))) on_disk.insert(absl::StrCat(q, "/", id));
    }
    for (const v1::Message& m : Ls({"--queue", "mpa-outgoing,mpa-error,mpa-spool,mpa-respool"})) {
      indexed.insert(absl::StrCat(
          absl::StripPrefix(ProtoQueueKindName(m.queue()), "mpa-"), "/", m.queue_id()));
    }
    if (on_disk == indexed) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  EXPECT_EQ(indexed, on_disk);
  EXPECT_FALSE(on_disk.empty());
}

// An MPA may name items after the Postfix queue id it received them under.
TEST_F(MpaEndToEndTest, AnIdOnBothSidesIsShownAndActedOnOnlyWhereTheQueueSays) {
  auto json = postfix_->PostqueueJson();
  ASSERT_TRUE(json.ok());
  auto postqueue = ParsePostqueueJson(*json);
  ASSERT_TRUE(postqueue.ok());
  ASSERT_FALSE(postqueue->empty());
  const std::string twin = postqueue->begin()->first;
  mpa::SpoolWriter writer(spool_);
  mpa::SampleItem item = mpa::MakeSampleItem(5, 0, QueueKind::kMpaError);
  ASSERT_TRUE(writer.Write(QueueKind::kMpaError, twin, item.envelope, item.content).ok());
  StartAgent();

  int sides = 0;
  for (const v1::Message& m : Ls({"--match", twin, "--field", "queue-id"})) {
    if (m.queue_id() == twin) ++sides;
  }
  EXPECT_EQ(sides, 2);

  CliResult r = Mailfleet({"show", twin});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("give the queue"));
  r = Mailfleet({"show", twin, "--queue", "mpa-error", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::MessageWithContent full;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &full).ok());
  EXPECT_EQ(full.content(), item.content);

  r = Mailfleet({"delete", twin});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("names both"));
  r = Mailfleet({"delete", twin, "--queue", "mpa-error"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(ItemsOnDisk(Dir("error")), IsEmpty());
  json = postfix_->PostqueueJson();
  ASSERT_TRUE(json.ok());
  auto after = ParsePostqueueJson(*json);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->count(twin), 1u) << "the Postfix message must be left alone";
}

}  // namespace
}  // namespace mailfleet::testing
