// mailfleet-bench-agents: a fleet of agents in one process, for the
// controller benchmark. Each gateway is the agent's real service
// (AgentServiceImpl over its own QueueIndex, QueueActions and
// PostfixTools, wired as agent/main.cc wires them) on a gRPC server of its
// own on 127.0.0.1, over an in-memory queue directory of real-format queue
// files and defer logfiles (bench_queue.h). What is not real is below the
// agent: the filesystem is in memory, and postsuper is played by
// PostsuperPlayer, which renames the queue files as postsuper does and
// reports on standard error as it does, so that an action runs the agent's
// whole path (selection, postsuper's report parsed, the index updated from
// the files' new places, Watch deltas) except the binary itself. No queue
// monitor runs: nothing changes a queue but the benchmark's actions, and no
// rescan adds load.
//
// Usage: mailfleet-bench-agents --first-port P [--count 500]
//          [--first-gateway 0] [--messages 3000] [--ready-file PATH]
// Gateway i (from --first-gateway) listens on P + i - first. Once all
// serve, the ready file is written; SIGTERM or SIGINT ends the process.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/actions/queue_actions.h"
#include "agent/index/queue_index.h"
#include "agent/postfix/postfix_config.h"
#include "agent/postfix/postfix_tools.h"
#include "agent/postfix/queue_reader.h"
#include "agent/service/agent_service.h"
#include "bench/controller/bench_queue.h"
#include "common/dashed_flags.h"
#include "common/os/process_runner.h"
#include "tests/testing/fake_filesystem.h"

ABSL_FLAG(int, first_port, 0, "loopback port of the first gateway's agent");
ABSL_FLAG(int, count, 500, "agents (gateways) to serve");
ABSL_FLAG(int, first_gateway, 0, "number of the first gateway (queue ids differ per gateway)");
ABSL_FLAG(int, messages, 3000, "deferred messages in each gateway's queue");
ABSL_FLAG(int, seed, 6, "message generator seed");
ABSL_FLAG(std::string, ready_file, "", "written once every agent serves");

namespace {

using mailfleet::testing::FakeFilesystem;

constexpr char kQueueDir[] = "/var/spool/postfix";
constexpr char kConfigDir[] = "/etc/postfix";

// Plays postsuper on one gateway's in-memory queue: -h, -H and -d with
// queue ids on standard input, each file moved (or removed) as postsuper
// moves it, and the report written as postsuper writes it, one line per
// message and a total. postqueue (a flush) succeeds and does nothing.
class PostsuperPlayer : public mailfleet::ProcessRunner {
 public:
  PostsuperPlayer(FakeFilesystem* fs, const mailfleet::postfix::QueueReader* reader)
      : fs_(fs), reader_(reader) {}

  absl::StatusOr<mailfleet::ProcessResult> Run(
      const std::vector<std::string>& argv,
      const mailfleet::ProcessOptions& options) override {
    mailfleet::ProcessResult result;
    if (argv.empty() || argv[0] != "postsuper") return result;
    if (argv.size() != 5 || argv[4] != "-") {
      result.exit_code = 1;
      result.stderr_text = "postsuper: fatal: usage\n";
      return result;
    }
    using mailfleet::QueueKind;
    const std::string& flag = argv[3];
    const char* verb = flag == "-h"   ? "placed on hold"
                       : flag == "-H" ? "released from hold"
                       : flag == "-d" ? "removed"
                                      : nullptr;
    const char* total = flag == "-h"   ? "Placed on hold"
                        : flag == "-H" ? "Released from hold"
                                       : "Deleted";
    if (verb == nullptr) {
      result.exit_code = 1;
      result.stderr_text = "postsuper: fatal: not played: " + flag + "\n";
      return result;
    }
    int done = 0;
    for (absl::string_view line :
         absl::StrSplit(options.stdin_text, '\n', absl::SkipEmpty())) {
      const std::string id(line);
      bool ok = false;
      if (flag == "-h") {
        ok = Move(id, {QueueKind::kDeferred, QueueKind::kActive, QueueKind::kIncoming},
                  QueueKind::kHold);
      } else if (flag == "-H") {
        ok = Move(id, {QueueKind::kHold}, QueueKind::kDeferred);
      } else {
        for (QueueKind q : {QueueKind::kDeferred, QueueKind::kHold}) {
          ok = ok || fs_->Unlink(reader_->MessagePath(q, id)).ok();
        }
      }
      if (!ok) continue;
      ++done;
      absl::StrAppend(&result.stderr_text, "postsuper: ", id, ": ", verb, "\n");
    }
    if (done > 0) {
      absl::StrAppend(&result.stderr_text, "postsuper: ", total, ": ", done,
                      done == 1 ? " message\n" : " messages\n");
    }
    return result;
  }

 private:
  bool Move(const std::string& id, std::vector<mailfleet::QueueKind> from,
            mailfleet::QueueKind to) {
    for (mailfleet::QueueKind q : from) {
      if (fs_->Rename(reader_->MessagePath(q, id), reader_->MessagePath(to, id)).ok()) {
        return true;
      }
    }
    return false;
  }

  FakeFilesystem* fs_;
  const mailfleet::postfix::QueueReader* reader_;
};

// One gateway's agent, everything its main() would own.
class BenchAgent {
 public:
  BenchAgent(int gateway, const std::vector<mailfleet::bench::BenchMessage>& queue)
      : name_(absl::StrCat("gw", gateway)) {
    config_.config_directory = kConfigDir;
    config_.queue_directory = kQueueDir;
    config_.mail_version = "3.7.11";
    for (const char* dir : {"", "/incoming", "/active", "/hold", "/corrupt", "/maildrop"}) {
      fs_.AddDir(absl::StrCat(kQueueDir, dir));
    }
    for (const char* hashed : {"deferred", "defer"}) {
      for (int h = 0; h < 16; ++h) {
        fs_.AddDir(absl::StrFormat("%s/%s/%X", kQueueDir, hashed, h));
      }
    }
    // One scan thread: 500 agents index one after another at start, and
    // the host's cores are better spent on two agents at once.
    reader_ = std::make_unique<mailfleet::postfix::QueueReader>(&fs_, config_, 1);
    for (size_t i = 0; i < queue.size(); ++i) {
      const std::string id = mailfleet::bench::BenchQueueId(gateway, static_cast<int>(i));
      const auto& m = queue[i];
      fs_.AddFile(reader_->MessagePath(mailfleet::QueueKind::kDeferred, id), m.queue_file,
                  0700, m.next_attempt);
      fs_.AddFile(absl::StrFormat("%s/defer/%c/%s", kQueueDir, id[0], id), m.defer_log,
                  0600, m.next_attempt);
    }
    index_ = std::make_unique<mailfleet::QueueIndex>(reader_.get());
    player_ = std::make_unique<PostsuperPlayer>(&fs_, reader_.get());
    tools_ = std::make_unique<mailfleet::postfix::PostfixTools>(player_.get(), kConfigDir);
    actions_ = std::make_unique<mailfleet::QueueActions>(index_.get(), tools_.get(), &fs_);
  }

  absl::Status Index() { return index_->Rescan(); }

  absl::Status Serve(int port) {
    service_ = std::make_unique<mailfleet::AgentServiceImpl>(index_.get(), name_,
                                                             actions_.get(), tools_.get());
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port),
                             grpc::InsecureServerCredentials(), &bound);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    if (!server_ || bound == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on 127.0.0.1:", port));
    }
    return absl::OkStatus();
  }

  void EndWatches() { service_->EndWatches(); }
  void Shutdown() {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    service_->Drain(absl::Seconds(10));
  }

 private:
  std::string name_;
  FakeFilesystem fs_;
  mailfleet::postfix::PostfixConfig config_;
  std::unique_ptr<mailfleet::postfix::QueueReader> reader_;
  std::unique_ptr<mailfleet::QueueIndex> index_;
  std::unique_ptr<PostsuperPlayer> player_;
  std::unique_ptr<mailfleet::postfix::PostfixTools> tools_;
  std::unique_ptr<mailfleet::QueueActions> actions_;
  std::unique_ptr<mailfleet::AgentServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
};

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "mailfleet-bench-agents: %s\n", why.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = mailfleet::UnderscoreFlagNames(argc, argv);
  std::vector<char*> flag_argv = mailfleet::ArgvOf(args);
  absl::ParseCommandLine(static_cast<int>(args.size()), flag_argv.data());
  const int first_port = absl::GetFlag(FLAGS_first_port);
  const int count = absl::GetFlag(FLAGS_count);
  const int first = absl::GetFlag(FLAGS_first_gateway);
  if (first_port <= 0 || count <= 0 || first_port + count > 65536) {
    Die("usage: mailfleet-bench-agents --first-port P [--count N]");
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const absl::Time start = absl::Now();
  const std::vector<mailfleet::bench::BenchMessage> queue = mailfleet::bench::BuildBenchQueue(
      absl::GetFlag(FLAGS_messages), absl::GetFlag(FLAGS_seed), start);
  std::vector<std::unique_ptr<BenchAgent>> agents;
  for (int i = 0; i < count; ++i) {
    agents.push_back(std::make_unique<BenchAgent>(first + i, queue));
  }
  // Two agents index at a time: one scan thread each, two cores.
  std::vector<absl::Status> indexed(count);
  std::vector<std::thread> indexers;
  for (int t = 0; t < 2; ++t) {
    indexers.emplace_back([&, t] {
      for (int i = t; i < count; i += 2) indexed[i] = agents[i]->Index();
    });
  }
  for (auto& t : indexers) t.join();
  for (int i = 0; i < count; ++i) {
    if (!indexed[i].ok()) Die(absl::StrCat("gw", first + i, ": ", indexed[i].ToString()));
    if (auto s = agents[i]->Serve(first_port + i); !s.ok()) Die(s.ToString());
  }
  std::fprintf(stderr, "mailfleet-bench-agents: %d agents of %d messages on ports %d-%d "
                       "in %.1f s\n",
               count, absl::GetFlag(FLAGS_messages), first_port, first_port + count - 1,
               absl::ToDoubleSeconds(absl::Now() - start));
  if (const std::string ready = absl::GetFlag(FLAGS_ready_file); !ready.empty()) {
    std::ofstream(ready) << "ready\n";
  }

  int sig = 0;
  sigwait(&stop, &sig);
  for (auto& a : agents) a->EndWatches();
  for (auto& a : agents) a->Shutdown();
  return 0;
}
