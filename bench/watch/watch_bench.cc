// Benchmarks Watch on a filled Postfix queue with the real agent binary:
//
// - change -> delta latency: `postsuper -h ID` then `-H ID` on one message,
//   timed from postsuper's start and from its return (the rename is done by
//   then) to the arrival of the MOVED delta on a watcher, at the agent's
//   default batch window and at a small one; and the size of that delta
//   event, without and with include_messages. The baseline is what an
//   operator without Watch has: polling `postqueue -j`, whose one run is the
//   least a poll can take to see a change.
// - the agent's CPU (utime + stime from /proc) with one watcher connected:
//   idle for a while with rescans out of the way, one full rescan on its
//   own, and while mail arrives over SMTP at a steady rate. The mail sent is
//   deleted again afterwards, so that the queue stays as it was.
//
// Usage: mailfleet-bench-watch --postfix-config-dir DIR --agent-bin PATH
//          [--cycles N] [--small-batch-window 20ms] [--seconds 30]
//          [--rate 100] [--cpu=false] [--summary-watchers N]
// Prints Markdown; docs/BENCHMARKS.md records it.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/common/bench_util.h"
#include "common/dashed_flags.h"
#include "common/os/process_runner.h"
#include "mailfleet/v1/agent.grpc.pb.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/e2e/support/smtp_sender.h"

ABSL_FLAG(std::string, postfix_config_dir, "", "the Postfix instance to measure");
ABSL_FLAG(std::string, agent_bin, "", "path of mailfleet-agent");
ABSL_FLAG(int, port, 17073, "loopback port for the agent under test");
ABSL_FLAG(int, smtp_port, 0, "the instance's smtpd port on 127.0.0.1 (0: from master.cf)");
ABSL_FLAG(int, cycles, 20, "hold/release cycles per batch window");
ABSL_FLAG(absl::Duration, small_batch_window, absl::Milliseconds(20),
          "the batch window measured besides the agent's default");
ABSL_FLAG(int, seconds, 30, "length of the idle and the load windows");
ABSL_FLAG(int, rate, 100, "messages per second sent during the load window");
ABSL_FLAG(std::string, log_dir, "/tmp", "where the agent's debug logs go");
ABSL_FLAG(bool, cpu, true, "measure the agent's CPU too (idle, one rescan, under load)");
ABSL_FLAG(int, summary_watchers, 0,
          "more watchers during the latency runs that see every change but each "
          "need a summary of their own (top_n 11, 12, ...)");

namespace {

namespace bench = ::mailfleet::bench;

namespace v1 = mailfleet::v1;

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p * v.size()));
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "mailfleet-bench-watch: %s\n", why.c_str());
  std::exit(1);
}

// Starts argv with stdout and stderr to `log` (/dev/null when empty).
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log = "") {
  const std::string to = log.empty() ? "/dev/null" : log;
  return bench::Spawn(argv, to, to);
}

void RunOrDie(const std::vector<std::string>& argv) {
  int status = 0;
  waitpid(Spawn(argv), &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Die("failed: " + absl::StrJoin(argv, " "));
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  // The command name may hold spaces; the fields after it may not.
  std::vector<std::string> f =
      absl::StrSplit(stat.substr(stat.rfind(')') + 2), ' ');
  long utime = 0, stime = 0;
  if (f.size() < 13 || !absl::SimpleAtoi(f[11], &utime) ||
      !absl::SimpleAtoi(f[12], &stime)) {
    Die("cannot read /proc/" + std::to_string(pid) + "/stat");
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

// The smtpd listening on 127.0.0.1 in the instance's master.cf.
int SmtpPort(const std::string& config_dir) {
  std::string out = ReadFile(config_dir + "/master.cf");
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (!absl::StartsWith(line, "127.0.0.1:") || !absl::StrContains(line, "smtpd")) continue;
    int port = 0;
    std::string p(line.substr(10, line.find_first_of(" \t") - 10));
    if (absl::SimpleAtoi(p, &port)) return port;
  }
  Die("no smtpd on 127.0.0.1 in " + config_dir + "/master.cf; pass --smtp-port");
}

// The agent binary under test, with its log at debug level (every rescan
// is logged there).
class Agent {
 public:
  Agent(const std::string& dir, absl::Duration batch_window, absl::Duration rescan,
        const std::string& log)
      : log_(log), address_(absl::StrCat("127.0.0.1:", absl::GetFlag(FLAGS_port))) {
    pid_ = Spawn({absl::GetFlag(FLAGS_agent_bin), "--listen", address_,
                  "--postfix-config-dir", dir, "--batch-window",
                  absl::FormatDuration(batch_window), "--rescan-interval",
                  absl::FormatDuration(rescan), "--idle-rescan-interval",
                  absl::FormatDuration(rescan), "--log-level", "debug"},
                 log);
    running = pid_;
    channel_ = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    stub_ = v1::AgentService::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(180));
    v1::SummaryResponse resp;
    if (!stub_->Summary(&ctx, {}, &resp).ok()) Die("the agent did not start");
    messages_ = resp.summary().total_messages();
  }
  ~Agent() {
    running = 0;
    kill(pid_, SIGTERM);
    int status;
    waitpid(pid_, &status, 0);
  }

  v1::AgentService::Stub& stub() { return *stub_; }
  pid_t pid() const { return pid_; }
  int64_t messages() const { return messages_; }
  // Full scans logged so far, the first (startup) one included.
  int Scans() const { return Lines("indexed ").size(); }
  std::vector<std::string> Lines(absl::string_view containing) const {
    std::vector<std::string> out;
    for (absl::string_view line : absl::StrSplit(ReadFile(log_), '\n')) {
      if (absl::StrContains(line, containing)) out.emplace_back(line);
    }
    return out;
  }

  static inline pid_t running = 0;

 private:
  std::string log_;
  std::string address_;
  pid_t pid_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
  int64_t messages_ = 0;
};

struct Arrival {
  v1::WatchEvent event;
  absl::Time at;
};

// One Watch stream read on its own thread; the benchmark awaits events.
class Watcher {
 public:
  Watcher(v1::AgentService::Stub& stub, bool include_messages, int top_n = 0) {
    v1::WatchRequest req;
    req.set_include_messages(include_messages);
    req.set_top_n(top_n);
    reader_ = stub.Watch(&ctx_, req);
    thread_ = std::thread([this] {
      v1::WatchEvent e;
      while (reader_->Read(&e)) {
        absl::Time at = absl::Now();
        absl::MutexLock lock(&mu_);
        if (e.has_snapshot() && e.snapshot().last()) snapshot_done_ = true;
        if (e.has_delta()) arrivals_.push_back({e, at});
      }
      (void)reader_->Finish();
    });
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return snapshot_done_; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&done), absl::Minutes(2))) {
      Die("no snapshot");
    }
  }
  ~Watcher() {
    ctx_.TryCancel();
    thread_.join();
  }

  size_t Count() {
    absl::MutexLock lock(&mu_);
    return arrivals_.size();
  }
  // The first delta from number `from` on that moves `id` to `to`.
  Arrival AwaitMove(size_t from, const std::string& id, v1::QueueKind to) {
    absl::MutexLock lock(&mu_);
    const Arrival* found = nullptr;
    auto moved = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      for (size_t i = from; i < arrivals_.size(); ++i) {
        for (const auto& c : arrivals_[i].event.delta().changes()) {
          if (c.queue_id() == id && c.kind() == v1::MessageChange::MOVED &&
              c.to_queue() == to) {
            found = &arrivals_[i];
            return true;
          }
        }
      }
      return false;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&moved), absl::Seconds(10))) {
      Die("no MOVED delta for " + id + " within 10 s");
    }
    return *found;
  }
  std::vector<Arrival> Arrivals() {
    absl::MutexLock lock(&mu_);
    return arrivals_;
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader_;
  absl::Mutex mu_;
  bool snapshot_done_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Arrival> arrivals_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

struct LatencyResult {
  std::vector<double> from_return_ms, from_start_ms, published_to_arrival_ms;
  std::vector<double> bytes, bytes_with_messages;
  int rescans = 0;
  int64_t messages = 0;
};

// Holds and releases one deferred message `cycles` times with postsuper.
LatencyResult MeasureLatency(const std::string& dir, absl::Duration batch_window,
                             int cycles) {
  const std::string log =
      absl::StrCat(absl::GetFlag(FLAGS_log_dir), "/mailfleet-bench-watch-agent.log");
  Agent agent(dir, batch_window, absl::Hours(1), log);
  std::string id;
  {
    v1::ListRequest req;
    req.mutable_filter()->add_queues(v1::POSTFIX_DEFERRED);
    req.set_page_size(1);
    v1::ListResponse resp;
    grpc::ClientContext ctx;
    if (!agent.stub().List(&ctx, req, &resp).ok() || resp.messages().empty()) {
      Die("no deferred message to hold");
    }
    id = resp.messages(0).queue_id();
  }
  Watcher plain(agent.stub(), false);
  Watcher full(agent.stub(), true);
  std::vector<std::unique_ptr<Watcher>> more;
  for (int i = 0; i < absl::GetFlag(FLAGS_summary_watchers); ++i) {
    more.push_back(std::make_unique<Watcher>(agent.stub(), false, 11 + i));
  }
  LatencyResult r;
  r.messages = agent.messages();
  for (int i = 0; i < cycles; ++i) {
    for (bool hold : {true, false}) {
      const v1::QueueKind to = hold ? v1::POSTFIX_HOLD : v1::POSTFIX_DEFERRED;
      const size_t from = plain.Count(), from_full = full.Count();
      const absl::Time start = absl::Now();
      RunOrDie({"postsuper", "-c", dir, hold ? "-h" : "-H", id});
      const absl::Time returned = absl::Now();
      Arrival a = plain.AwaitMove(from, id, to);
      Arrival b = full.AwaitMove(from_full, id, to);
      r.from_return_ms.push_back(Ms(a.at - returned));
      r.from_start_ms.push_back(Ms(a.at - start));
      r.published_to_arrival_ms.push_back(
          Ms(a.at - absl::FromUnixNanos(a.event.time().seconds() * 1000000000LL +
                                        a.event.time().nanos())));
      r.bytes.push_back(a.event.ByteSizeLong());
      r.bytes_with_messages.push_back(b.event.ByteSizeLong());
      // Apart, so that no two changes share a batch.
      absl::SleepFor(batch_window + absl::Milliseconds(50));
    }
  }
  r.rescans = agent.Scans() - 1;
  return r;
}

struct CpuResult {
  int64_t messages = 0;
  double idle_percent = 0;
  double load_percent = 0;
  double sent_per_second = 0;
  int64_t load_deltas = 0, load_added = 0;
  int rescans = 0;
  double rescan_cpu_seconds = 0;
  std::string rescan_log;
};

// Sends `rate` messages a second for `seconds`, in tenths of a second;
// returns how many went.
int64_t SendSteadily(int port, int rate, int seconds) {
  const int per_tick = std::max(1, rate / 10);
  const int ticks = seconds * 10;
  std::vector<mailfleet::testing::TestMessage> mail =
      mailfleet::testing::GenerateVariedMessages(per_tick * ticks, 7007, 5000000);
  const absl::Time start = absl::Now();
  int64_t sent = 0;
  for (int t = 0; t < ticks; ++t) {
    absl::SleepFor(start + absl::Milliseconds(100) * t - absl::Now());
    std::vector<mailfleet::testing::TestMessage> batch(
        mail.begin() + t * per_tick, mail.begin() + (t + 1) * per_tick);
    absl::Status s = mailfleet::testing::SendMessages(port, batch, 2);
    if (!s.ok()) Die("sending failed: " + std::string(s.message()));
    sent += per_tick;
  }
  return sent;
}

// Waits until nothing is in maildrop, incoming or active, per the agent.
void AwaitSettled(Agent& agent) {
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while (absl::Now() < deadline) {
    grpc::ClientContext ctx;
    v1::SummaryResponse resp;
    if (!agent.stub().Summary(&ctx, {}, &resp).ok()) Die("Summary failed");
    int64_t moving = 0;
    for (const auto& q : resp.summary().queues()) {
      if (q.queue() == v1::POSTFIX_MAILDROP || q.queue() == v1::POSTFIX_INCOMING ||
          q.queue() == v1::POSTFIX_ACTIVE) {
        moving += q.messages();
      }
    }
    if (moving == 0) return;
    absl::SleepFor(absl::Milliseconds(200));
  }
  Die("the queue did not settle");
}

CpuResult MeasureCpu(const std::string& dir, int smtp_port) {
  const int seconds = absl::GetFlag(FLAGS_seconds);
  const std::string log_dir = absl::GetFlag(FLAGS_log_dir);
  CpuResult r;
  {
    Agent agent(dir, absl::Milliseconds(200), absl::Hours(1),
                log_dir + "/mailfleet-bench-watch-agent-cpu.log");
    r.messages = agent.messages();
    Watcher watcher(agent.stub(), false);
    double cpu = CpuSeconds(agent.pid());
    absl::SleepFor(absl::Seconds(seconds));
    r.idle_percent = 100 * (CpuSeconds(agent.pid()) - cpu) / seconds;

    cpu = CpuSeconds(agent.pid());
    const absl::Time start = absl::Now();
    const size_t before = watcher.Count();
    int64_t sent = SendSteadily(smtp_port, absl::GetFlag(FLAGS_rate), seconds);
    const double wall = absl::ToDoubleSeconds(absl::Now() - start);
    r.load_percent = 100 * (CpuSeconds(agent.pid()) - cpu) / wall;
    r.sent_per_second = sent / wall;
    AwaitSettled(agent);
    // The mail sent goes again; the queue is left as it was found.
    std::set<std::string> added;
    std::vector<Arrival> arrivals = watcher.Arrivals();
    for (size_t i = before; i < arrivals.size(); ++i) {
      for (const auto& c : arrivals[i].event.delta().changes()) {
        if (c.kind() == v1::MessageChange::ADDED) added.insert(c.queue_id());
      }
    }
    r.load_deltas = static_cast<int64_t>(arrivals.size() - before);
    r.load_added = static_cast<int64_t>(added.size());
    mailfleet::ProcessOptions ids;
    for (const auto& id : added) absl::StrAppend(&ids.stdin_text, id, "\n");
    mailfleet::RealProcessRunner runner;
    auto deleted = runner.Run({"postsuper", "-c", dir, "-d", "-"}, ids);
    if (!deleted.ok() || deleted->exit_code != 0) Die("postsuper -d - failed");
    r.rescans = agent.Scans() - 1;
  }
  {
    // One rescan on its own: the CPU over a stretch that holds it, less
    // what the same stretch costs idle.
    const absl::Duration interval = absl::Seconds(10);
    Agent agent(dir, absl::Milliseconds(200), interval,
                log_dir + "/mailfleet-bench-watch-agent-rescan.log");
    Watcher watcher(agent.stub(), false);
    const absl::Time start = absl::Now();
    const double cpu = CpuSeconds(agent.pid());
    while (agent.Scans() < 2) {
      if (absl::Now() - start > absl::Minutes(2)) Die("no rescan");
      absl::SleepFor(absl::Milliseconds(50));
    }
    const double wall = absl::ToDoubleSeconds(absl::Now() - start);
    r.rescan_cpu_seconds =
        CpuSeconds(agent.pid()) - cpu - wall * r.idle_percent / 100;
    r.rescan_log = agent.Lines("indexed ").back();
    r.rescan_log = r.rescan_log.substr(r.rescan_log.find("indexed "));
  }
  return r;
}

// One `postqueue -j`, median of three: the least a poll can cost.
double PostqueueSeconds(const std::string& dir) {
  std::vector<double> t;
  for (int i = 0; i < 3; ++i) {
    absl::Time start = absl::Now();
    RunOrDie({"postqueue", "-c", dir, "-j"});
    t.push_back(absl::ToDoubleSeconds(absl::Now() - start));
  }
  return Percentile(t, 0.5);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = mailfleet::UnderscoreFlagNames(argc, argv);
  std::vector<char*> flag_argv = mailfleet::ArgvOf(args);
  absl::ParseCommandLine(static_cast<int>(args.size()), flag_argv.data());
  std::atexit([] {
    if (Agent::running > 0) kill(Agent::running, SIGTERM);
  });
  signal(SIGPIPE, SIG_IGN);
  const std::string dir = absl::GetFlag(FLAGS_postfix_config_dir);
  if (dir.empty() || absl::GetFlag(FLAGS_agent_bin).empty()) {
    Die("usage: mailfleet-bench-watch --postfix-config-dir DIR --agent-bin PATH");
  }
  const int smtp_port =
      absl::GetFlag(FLAGS_smtp_port) ? absl::GetFlag(FLAGS_smtp_port) : SmtpPort(dir);
  const int cycles = absl::GetFlag(FLAGS_cycles);
  const absl::Duration small = absl::GetFlag(FLAGS_small_batch_window);

  const double poll = PostqueueSeconds(dir);
  LatencyResult def = MeasureLatency(dir, absl::Milliseconds(200), cycles);
  LatencyResult fast = MeasureLatency(dir, small, cycles);
  CpuResult cpu;
  if (absl::GetFlag(FLAGS_cpu)) cpu = MeasureCpu(dir, smtp_port);

  const std::string small_name = absl::FormatDuration(small);
  std::printf(
      "Queue: %lld messages. Change: `postsuper -h ID`, then `-H ID`, on one "
      "deferred message, %d times each (%zu changes); the MOVED delta's arrival "
      "on a watcher. Median / p90.\n\n",
      static_cast<long long>(def.messages), cycles, def.from_return_ms.size());
  std::printf("| measurement | batch window 200ms (default) | batch window %s | target |\n",
              small_name.c_str());
  std::printf("|---|---|---|---|\n");
  auto row = [](const char* name, const std::vector<double>& a,
                const std::vector<double>& b, const char* unit, const char* target) {
    std::printf("| %s | %.1f / %.1f %s | %.1f / %.1f %s | %s |\n", name,
                Percentile(a, 0.5), Percentile(a, 0.9), unit, Percentile(b, 0.5),
                Percentile(b, 0.9), unit, target);
  };
  row("latency from postsuper's return", def.from_return_ms, fast.from_return_ms, "ms",
      "< 100 ms");
  row("latency from postsuper's start", def.from_start_ms, fast.from_start_ms, "ms", "");
  row("of which batch published -> received", def.published_to_arrival_ms,
      fast.published_to_arrival_ms, "ms", "");
  row("delta event size", def.bytes, fast.bytes, "B", "< 1 KiB");
  row("delta event size, include_messages", def.bytes_with_messages,
      fast.bytes_with_messages, "B", "");
  std::printf("| rescans during the run | %d | %d | 0 |\n", def.rescans, fast.rescans);
  const double median = Percentile(def.from_return_ms, 0.5);
  const double median_fast = Percentile(fast.from_return_ms, 0.5);
  std::printf("| polling instead: one `postqueue -j` | %.0f ms (%.0fx the median) | "
              "%.0f ms (%.0fx) | |\n",
              poll * 1000, poll * 1000 / median, poll * 1000,
              poll * 1000 / median_fast);
  if (!absl::GetFlag(FLAGS_cpu)) return def.rescans + fast.rescans == 0 ? 0 : 2;
  std::printf("\n| agent CPU, one watcher connected | %% of one core |\n|---|---|\n");
  std::printf("| idle, %d s (rescans out of the way) | %.2f%% |\n",
              absl::GetFlag(FLAGS_seconds), cpu.idle_percent);
  std::printf("| one full rescan | %.2f CPU-s (%s); every 60 s (a changing queue) "
              "%.1f%% on average, every 10 min (a quiet one) %.2f%% |\n",
              cpu.rescan_cpu_seconds, cpu.rescan_log.c_str(),
              100 * cpu.rescan_cpu_seconds / 60, 100 * cpu.rescan_cpu_seconds / 600);
  std::printf("| %.0f messages/s over SMTP for %d s (%lld added, %lld deltas) | %.1f%% |\n",
              cpu.sent_per_second, absl::GetFlag(FLAGS_seconds),
              static_cast<long long>(cpu.load_added),
              static_cast<long long>(cpu.load_deltas), cpu.load_percent);
  if (absl::GetFlag(FLAGS_summary_watchers) > 0) {
    std::printf("\nDuring the latency runs %d more watchers were connected, each "
                "with a summary of its own (top_n 11, 12, ...).\n",
                absl::GetFlag(FLAGS_summary_watchers));
  }
  std::printf("\nRescans in the latency and load runs (rescan interval 1h): %d, %d, %d.\n",
              def.rescans, fast.rescans, cpu.rescans);
  return def.rescans + fast.rescans + cpu.rescans == 0 ? 0 : 2;
}
