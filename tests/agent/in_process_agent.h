// The agent's service over real gRPC in-process, on a fake queue directory
// of 25 deferred messages and a fake postsuper: the fixture of the
// service's tests (requests, actions, Watch).
#ifndef MAILFLEET_TESTS_AGENT_IN_PROCESS_AGENT_H_
#define MAILFLEET_TESTS_AGENT_IN_PROCESS_AGENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "agent/index/queue_index.h"
#include "agent/mpa/spool_actions.h"
#include "agent/mpa/spool_item.h"
#include "agent/mpa/spool_reader.h"
#include "agent/postfix/queue_reader.h"
#include "agent/service/agent_service.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_filesystem.h"
#include "tests/testing/queue_file_builder.h"

namespace mailfleet::testing {

// Message 3 is this many 61-byte lines: 12 chunks of 64 KiB, more than
// the server queues for a slow reader.
inline constexpr size_t kBigMessageLines = 12000;

// Plays postsuper on the fake queue: "acts" on every id it is given that
// the test put there, as the real one reports it.
class FakePostsuper : public ProcessRunner {
 public:
  absl::StatusOr<ProcessResult> Run(const std::vector<std::string>& argv,
                                    const ProcessOptions& options) override {
    absl::MutexLock lock(&mu);
    calls.push_back(argv);
    ProcessResult r;
    if (argv[0] != "postsuper") return r;  // postqueue: flushed
    const std::string verb = argv[3] == "-h"   ? "placed on hold"
                             : argv[3] == "-H" ? "released from hold"
                             : argv[3] == "-d" ? "removed"
                                               : "requeued";
    for (absl::string_view id : absl::StrSplit(options.stdin_text, '\n', absl::SkipEmpty())) {
      if (!absl::StartsWith(id, "FFFF")) absl::StrAppend(&r.stderr_text, "postsuper: ", id, ": ", verb, "\n");
    }
    return r;
  }
  absl::Mutex mu;
  std::vector<std::vector<std::string>> calls;
};

// One Watch stream, read on the test's thread.
class Stream {
 public:
  Stream(v1::AgentService::Stub& stub, const v1::WatchRequest& request)
      : reader_(stub.Watch(&context_, request)) {}
  ~Stream() {
    context_.TryCancel();
    if (!ended_) (void)End();
  }
  v1::WatchEvent Next() {
    v1::WatchEvent e;
    EXPECT_TRUE(reader_->Read(&e)) << "stream ended";
    return e;
  }
  // The summary's changes that came with `delta` or, when the summary was
  // computed too recently then, with the heartbeat that follows.
  v1::SummaryUpdate SummaryOf(const v1::WatchEvent& delta) {
    if (delta.delta().has_summary()) return delta.delta().summary();
    for (;;) {
      v1::WatchEvent e = Next();
      EXPECT_TRUE(e.has_heartbeat()) << e.DebugString();
      if (!e.has_heartbeat() || e.heartbeat().has_summary()) {
        return e.heartbeat().summary();
      }
    }
  }
  // Reads past heartbeats.
  v1::WatchEvent NextChange() {
    for (;;) {
      v1::WatchEvent e = Next();
      if (!e.has_heartbeat()) return e;
    }
  }
  grpc::Status End() {
    ended_ = true;
    v1::WatchEvent e;
    while (reader_->Read(&e)) {
    }
    return reader_->Finish();
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader_;
  bool ended_ = false;
};

class InProcessAgentTest : public ::testing::Test {
 protected:
  // Message i's queue id.
  static std::string Id(int i) {
    return absl::StrFormat("%05X%05X", 0x10000 + i, 0xA0000 + i);
  }

  // Files message i in `queue` ("deferred" hashed, others flat): one
  // recipient, at five.example for every fifth message.
  std::string AddMessage(int i, const std::string& queue) {
    const std::string id = Id(i);
    std::vector<std::string> lines = {"Subject: message " + std::to_string(i), ""};
    for (size_t l = 0; l < (i == 3 ? kBigMessageLines : 2); ++l) {
      lines.push_back(std::string(60, 'a' + (l % 26)));
    }
    fs_.AddFile(Path(id, queue),
                QueueFileBuilder::Simple(
                    "s@example.com",
                    {absl::StrCat("r", i, i % 5 == 0 ? "@five.example" : "@x.example")},
                    lines, 1700000000 + i));
    return id;
  }

  // What a queue manager or postsuper does: the file changes directory.
  void Move(int i, const std::string& from, const std::string& to) {
    fs_.Remove(Path(Id(i), from));
    AddMessage(i, to);
  }

  // An MPA item in `queue` ("error", "spool", ...) of the spool at
  // kSpoolRoot, as the MPA writes it; with `error`, two attempts.
  void AddItem(const std::string& queue, const std::string& id,
               const std::string& error = "") {
    mpa::SpoolEnvelope env;
    env.sender = "mpa-sender@example.com";
    env.recipients = {"r1@mpa.example", "r2@other.example"};
    env.received = absl::FromUnixSeconds(1700000100);
    env.error = error;
    env.attempts = error.empty() ? 0 : 2;
    const std::string base = absl::StrCat(kSpoolRoot, "/", queue, "/", id);
    fs_.AddFile(base + ".env", mpa::FormatSpoolEnvelope(env));
    fs_.AddFile(base + ".eml", "Subject: item " + id + "\r\n\r\nbody\r\n");
  }

  // Messages 0 to 24 in deferred, indexed, and the service serving them;
  // with `with_spool_`, the MPA spool at kSpoolRoot too.
  void StartAgent(WatchHubOptions options = {}) {
    fs_.AddDir("/q");
    for (int i = 0; i < 25; ++i) ids_.push_back(AddMessage(i, "deferred"));
    config_.queue_directory = "/q";
    reader_ = std::make_unique<postfix::QueueReader>(&fs_, config_, 2);
    if (with_spool_) {
      for (const char* dir : {"", "/outgoing", "/error", "/spool", "/respool"}) {
        fs_.AddDir(absl::StrCat(kSpoolRoot, dir));
      }
      spool_ = std::make_unique<mpa::SpoolReader>(&fs_, kSpoolRoot);
      spool_actions_ = std::make_unique<mpa::SpoolActions>(&fs_, kSpoolRoot);
    }
    index_ = std::make_unique<QueueIndex>(reader_.get(), spool_.get(), limits_);
    ASSERT_TRUE(index_->Rescan().ok());
    tools_ = std::make_unique<postfix::PostfixTools>(&runner_, "/etc/postfix-test");
    actions_ = std::make_unique<QueueActions>(index_.get(), tools_.get(), &fs_,
                                              spool_actions_.get());
    service_ = std::make_unique<AgentServiceImpl>(index_.get(), "gw-test", actions_.get(),
                                                  tools_.get(), options, access_);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = v1::AgentService::NewStub(server_->InProcessChannel({}));
  }

  void TearDown() override {
    if (!server_) return;
    service_->EndWatches();
    server_->Shutdown();
  }

  static constexpr const char* kSpoolRoot = "/mpa";

  FakeFilesystem fs_;
  postfix::PostfixConfig config_;
  std::vector<std::string> ids_;
  bool with_spool_ = false;
  // The service's access control; AccessControl::LocalOnly() when null.
  const AccessControl* access_ = nullptr;
  mpa::ThrottleLimits limits_;
  std::unique_ptr<postfix::QueueReader> reader_;
  std::unique_ptr<mpa::SpoolReader> spool_;
  std::unique_ptr<mpa::SpoolActions> spool_actions_;
  std::unique_ptr<QueueIndex> index_;
  FakePostsuper runner_;
  std::unique_ptr<postfix::PostfixTools> tools_;
  std::unique_ptr<QueueActions> actions_;
  std::unique_ptr<AgentServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::AgentService::Stub> stub_;

 private:
  static std::string Path(const std::string& id, const std::string& queue) {
    return queue == "deferred" ? "/q/deferred/" + id.substr(0, 1) + "/" + id
                               : "/q/" + queue + "/" + id;
  }
};

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_AGENT_IN_PROCESS_AGENT_H_
