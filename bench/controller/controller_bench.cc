// Benchmarks the real mailfleet-controller over a fleet of 500 gateways
// (issue 6): the controller's memory and threads with every gateway
// connected, and the time of ListGateways, of a fleet Summary, of a
// filtered fleet List (every page) and of a fleet hold (and the release
// that undoes it) fanned out to every gateway, until the last gateway's
// result.
//
// The agents are mailfleet-bench-agents processes (agents_host.cc): the
// agent's real service over real gRPC on loopback, one server per gateway,
// each over an in-memory queue of --messages deferred messages. The
// baseline is Postfix's own tool on a real Postfix instance holding the
// same messages (the same generator and seed), timed in the same run: an
// operator without a controller runs `postqueue -j | grep` on every
// gateway, one after another, so the baseline is --gateways times one
// gateway's run, derived, not measured over 500 instances.
//
// Usage: mailfleet-bench-controller --agents-bin PATH --controller-bin PATH
//          [--gateways 500] [--messages 3000] [--agent-hosts 1] [--runs 5]
//          [--postfix-config-dir DIR | --postfix=false]
// Prints Markdown; docs/BENCHMARKS.md records it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/common/bench_util.h"
#include "bench/controller/bench_queue.h"
#include "common/dashed_flags.h"
#include "mailfleet/v1/controller.grpc.pb.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/e2e/support/postfix_instance.h"
#include "tests/e2e/support/smtp_sender.h"

ABSL_FLAG(std::string, agents_bin, "", "path of mailfleet-bench-agents");
ABSL_FLAG(std::string, controller_bin, "", "path of mailfleet-controller");
ABSL_FLAG(int, gateways, 500, "gateways in the fleet");
ABSL_FLAG(int, messages, 3000, "deferred messages per gateway");
ABSL_FLAG(int, agent_hosts, 1, "processes the agents are spread over");
ABSL_FLAG(int, first_port, 21000, "loopback port of the first agent");
ABSL_FLAG(int, controller_port, 17080, "loopback port of the controller");
ABSL_FLAG(int, runs, 5, "runs per measurement; the median is reported");
ABSL_FLAG(int, matches, 5, "messages per gateway the filter should select");
ABSL_FLAG(int, seed, 6, "message generator seed (agents and Postfix alike)");
ABSL_FLAG(std::string, work_dir, "/tmp", "for the gateways file, ready files and logs");
ABSL_FLAG(bool, postfix, true, "time Postfix's own tool too");
ABSL_FLAG(std::string, postfix_config_dir, "",
          "a Postfix instance holding the baseline's queue; empty: one is built "
          "with --messages messages and removed afterwards");

namespace {

namespace v1 = ::mailfleet::v1;
using ::mailfleet::bench::Median;
using Clock = std::chrono::steady_clock;

std::vector<pid_t> running;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "mailfleet-bench-controller: %s\n", why.c_str());
  for (pid_t p : running) kill(p, SIGTERM);
  std::exit(1);
}

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A number field of /proc/PID/status ("VmRSS:   12345 kB" -> 12345).
long ProcStatus(pid_t pid, absl::string_view field) {
  for (absl::string_view line :
       absl::StrSplit(ReadFile(absl::StrCat("/proc/", pid, "/status")), '\n')) {
    if (!absl::StartsWith(line, field) || line.size() <= field.size() ||
        line[field.size()] != ':') {
      continue;
    }
    std::vector<absl::string_view> words =
        absl::StrSplit(line.substr(field.size() + 1), ' ', absl::SkipWhitespace());
    long n = 0;
    if (!words.empty() && absl::SimpleAtoi(words[0], &n)) return n;
  }
  Die(absl::StrCat("no ", field, " in /proc/", pid, "/status"));
}

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  // The command name may hold spaces; the fields after it may not.
  std::vector<std::string> f = absl::StrSplit(stat.substr(stat.rfind(')') + 2), ' ');
  long utime = 0, stime = 0;
  if (f.size() < 13 || !absl::SimpleAtoi(f[11], &utime) ||
      !absl::SimpleAtoi(f[12], &stime)) {
    Die(absl::StrCat("cannot read /proc/", pid, "/stat"));
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

double CpuSeconds(const std::vector<pid_t>& pids) {
  double sum = 0;
  for (pid_t p : pids) sum += CpuSeconds(p);
  return sum;
}

struct ProcessUse {
  double rss_mib = 0, peak_mib = 0;
  long threads = 0;
};

ProcessUse UseOf(const std::vector<pid_t>& pids) {
  ProcessUse u;
  for (pid_t p : pids) {
    u.rss_mib += ProcStatus(p, "VmRSS") / 1024.0;
    u.peak_mib += ProcStatus(p, "VmHWM") / 1024.0;
    u.threads += ProcStatus(p, "Threads");
  }
  return u;
}

pid_t Start(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = mailfleet::bench::Spawn(argv, log, log);
  running.push_back(pid);
  return pid;
}

void Stop(pid_t pid) {
  kill(pid, SIGTERM);
  int status;
  waitpid(pid, &status, 0);
  running.erase(std::remove(running.begin(), running.end(), pid), running.end());
}

void CheckAlive(pid_t pid, const std::string& log) {
  int status;
  if (waitpid(pid, &status, WNOHANG) == pid) {
    running.erase(std::remove(running.begin(), running.end(), pid), running.end());
    Die("a process ended early; its log, " + log + ":\n" + ReadFile(log));
  }
}

std::string Machine() {
  std::string cpu;
  for (absl::string_view line : absl::StrSplit(ReadFile("/proc/cpuinfo"), '\n')) {
    if (absl::StartsWith(line, "model name")) {
      cpu = std::string(absl::StripLeadingAsciiWhitespace(line.substr(line.find(':') + 1)));
      break;
    }
  }
  long mem_kib = 0;
  for (absl::string_view line : absl::StrSplit(ReadFile("/proc/meminfo"), '\n')) {
    if (absl::StartsWith(line, "MemTotal:")) {
      std::vector<absl::string_view> w = absl::StrSplit(line, ' ', absl::SkipWhitespace());
      if (w.size() > 1) (void)absl::SimpleAtoi(w[1], &mem_kib);
    }
  }
  return absl::StrCat(sysconf(_SC_NPROCESSORS_ONLN), " cores (", cpu, "), ",
                      mem_kib / (1024 * 1024), " GiB");
}

std::unique_ptr<v1::ControllerService::Stub> ControllerStub(int port) {
  return v1::ControllerService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
}

void SetDeadline(grpc::ClientContext& ctx, absl::Duration d) {
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d));
}

// One measured call: its wall time, whether the controller serves it at
// all, and what it returned to be checked.
struct Timed {
  std::vector<double> seconds;
  // CPU per call of the controller and of the agents' processes.
  double controller_cpu = 0, agents_cpu = 0;
  grpc::Status status;
  std::string detail;
  bool ok() const { return status.ok() && !seconds.empty(); }
};

// The processes whose CPU each call is charged with.
pid_t controller_pid = 0;
std::vector<pid_t> agent_pids;

// Runs `call` once more into `t`; false (seconds cleared) if it failed.
bool RunOnce(const std::function<grpc::Status(std::string*)>& call, Timed& t) {
  const double controller_cpu = CpuSeconds(controller_pid);
  const double agents_cpu = CpuSeconds(agent_pids);
  auto start = Clock::now();
  t.status = call(&t.detail);
  const double seconds = Since(start);
  if (!t.status.ok()) {
    t.seconds.clear();
    return false;
  }
  const double n = static_cast<double>(t.seconds.size());
  t.controller_cpu = (t.controller_cpu * n + CpuSeconds(controller_pid) - controller_cpu) / (n + 1);
  t.agents_cpu = (t.agents_cpu * n + CpuSeconds(agent_pids) - agents_cpu) / (n + 1);
  t.seconds.push_back(seconds);
  return true;
}

// Runs `call` --runs times, stopping at the first failure.
Timed Repeat(const std::function<grpc::Status(std::string*)>& call) {
  Timed t;
  for (int i = 0; i < absl::GetFlag(FLAGS_runs) && RunOnce(call, t); ++i) {
  }
  return t;
}

// Runs a shell pipeline (a baseline is one) and returns its wall time and
// standard output.
double TimePipeline(const std::string& script, std::string* out) {
  auto start = Clock::now();
  FILE* p = popen(script.c_str(), "r");
  char buf[4096];
  size_t n;
  out->clear();
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  if (pclose(p) != 0) Die("pipeline failed: " + script + "\n" + *out);
  return Since(start);
}

v1::Filter DomainFilter(const std::string& domain, v1::QueueKind queue) {
  v1::Filter f;
  f.set_pattern("@" + domain);
  f.add_fields(v1::MATCH_FIELD_RECIPIENT);
  f.add_queues(queue);
  return f;
}

struct Baseline {
  int64_t messages = 0;
  double postqueue = 0, grep = 0, hold = 0, release = 0;
  long grep_lines = 0;
};

// Postfix's own tools on one gateway's worth of queue: `postqueue -j`,
// `postqueue -j | grep` for the domain, and the admin pipeline that holds
// (and releases) what the grep finds.
Baseline TimePostfix(const std::string& dir, const std::string& domain) {
  Baseline b;
  std::string out;
  TimePipeline("postqueue -c " + dir + " -j | wc -l", &out);
  b.messages = std::atol(out.c_str());
  std::string escaped;
  for (char c : domain) escaped += c == '.' ? std::string("\\.") : std::string(1, c);
  // JSON strings may hold escaped quotes; the pattern steps over them.
  const std::string grep = "grep -E '\"address\": \"([^\"\\\\]|\\\\.)*@" + escaped + "\"'";
  const std::string ids = "sed -n 's/.*\"queue_id\": \"\\([^\"]*\\)\".*/\\1/p'";
  std::vector<double> pq, gr, hold, release;
  for (int i = 0; i < absl::GetFlag(FLAGS_runs); ++i) {
    pq.push_back(TimePipeline("postqueue -c " + dir + " -j > /dev/null", &out));
    gr.push_back(TimePipeline("postqueue -c " + dir + " -j | " + grep + " | wc -l", &out));
    b.grep_lines = std::atol(out.c_str());
    hold.push_back(TimePipeline("postqueue -c " + dir + " -j | " + grep + " | " + ids +
                                    " | postsuper -c " + dir + " -h - 2>&1",
                                &out));
    release.push_back(TimePipeline("postqueue -c " + dir +
                                       " -j | grep '\"queue_name\": \"hold\"' | " + ids +
                                       " | postsuper -c " + dir + " -H - 2>&1",
                                   &out));
  }
  b.postqueue = Median(pq);
  b.grep = Median(gr);
  b.hold = Median(hold);
  b.release = Median(release);
  return b;
}

std::string Ms(double seconds) { return absl::StrFormat("%.1f ms", seconds * 1000); }
std::string Sec(double seconds) { return absl::StrFormat("%.3f s", seconds); }

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = mailfleet::UnderscoreFlagNames(argc, argv);
  std::vector<char*> flag_argv = mailfleet::ArgvOf(args);
  absl::ParseCommandLine(static_cast<int>(args.size()), flag_argv.data());
  signal(SIGPIPE, SIG_IGN);
  std::atexit([] {
    for (pid_t p : running) kill(p, SIGTERM);
  });
  const std::string agents_bin = absl::GetFlag(FLAGS_agents_bin);
  const std::string controller_bin = absl::GetFlag(FLAGS_controller_bin);
  if (agents_bin.empty() || controller_bin.empty()) {
    Die("usage: mailfleet-bench-controller --agents-bin PATH --controller-bin PATH");
  }
  const int gateways = absl::GetFlag(FLAGS_gateways);
  const int messages = absl::GetFlag(FLAGS_messages);
  const int hosts = std::max(1, std::min(absl::GetFlag(FLAGS_agent_hosts), gateways));
  const int first_port = absl::GetFlag(FLAGS_first_port);
  const int controller_port = absl::GetFlag(FLAGS_controller_port);
  const std::string work = absl::GetFlag(FLAGS_work_dir);
  const uint32_t seed = absl::GetFlag(FLAGS_seed);
  std::filesystem::create_directories(work);

  std::printf("Command: `%s`\n\nMachine: %s.\n\n", absl::StrJoin(args, " ").c_str(),
              Machine().c_str());
  std::fflush(stdout);

  const std::vector<mailfleet::bench::BenchMessage> queue =
      mailfleet::bench::BuildBenchQueue(messages, seed, absl::Now());
  const auto [domain, per_gateway] =
      mailfleet::bench::DomainNearest(queue, absl::GetFlag(FLAGS_matches));

  // The baseline's queue is filled first, while nothing is measured.
  std::unique_ptr<mailfleet::testing::PostfixInstance> postfix;
  std::string postfix_dir = absl::GetFlag(FLAGS_postfix_config_dir);
  if (absl::GetFlag(FLAGS_postfix) && postfix_dir.empty()) {
    mailfleet::testing::PostfixInstanceOptions options;
    options.root = work + "/mailfleet-bench-controller-postfix";
    std::filesystem::remove_all(options.root);
    auto made = mailfleet::testing::PostfixInstance::Create(options);
    if (!made.ok()) Die("cannot make a Postfix instance: " + made.status().ToString());
    postfix = std::move(*made);
    std::fprintf(stderr, "filling %s with %d messages over SMTP...\n",
                 postfix->root().c_str(), messages);
    if (auto s = mailfleet::testing::SendMessages(
            postfix->smtp_port(), mailfleet::testing::GenerateVariedMessages(messages, seed),
            4);
        !s.ok()) {
      Die("filling Postfix: " + s.ToString());
    }
    if (auto s = postfix->WaitForQueueToSettle(absl::Minutes(10)); !s.ok()) {
      Die("Postfix did not settle: " + s.ToString());
    }
    postfix_dir = postfix->config_dir();
  }

  // The agents.
  const auto agents_start = Clock::now();
  std::vector<pid_t> host_pids;
  std::vector<std::string> ready_files, host_logs;
  for (int h = 0; h < hosts; ++h) {
    const int first = gateways * h / hosts, next = gateways * (h + 1) / hosts;
    ready_files.push_back(absl::StrCat(work, "/mailfleet-bench-agents-", h, ".ready"));
    host_logs.push_back(absl::StrCat(work, "/mailfleet-bench-agents-", h, ".log"));
    std::remove(ready_files.back().c_str());
    host_pids.push_back(Start(
        {agents_bin, "--first-port", std::to_string(first_port + first), "--count",
         std::to_string(next - first), "--first-gateway", std::to_string(first),
         "--messages", std::to_string(messages), "--seed", std::to_string(seed),
         "--ready-file", ready_files.back()},
        host_logs.back()));
  }
  for (int h = 0; h < hosts; ++h) {
    while (access(ready_files[h].c_str(), F_OK) != 0) {
      CheckAlive(host_pids[h], host_logs[h]);
      if (Since(agents_start) > 1200) Die("the agents did not start in 20 min");
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  const double agents_seconds = Since(agents_start);

  // The gateways file: three sites, one gateway in five a test one.
  const std::string gateways_file = work + "/mailfleet-bench-controller-gateways.txt";
  {
    const char* sites[] = {"ams", "fra", "nyc"};
    std::ofstream out(gateways_file);
    for (int g = 0; g < gateways; ++g) {
      out << "gateway {\n  name: \"gw" << g << "\"\n  address: \"127.0.0.1:"
          << first_port + g << "\"\n  labels { key: \"site\" value: \"" << sites[g % 3]
          << "\" }\n  labels { key: \"env\" value: \"" << (g % 5 == 0 ? "test" : "prod")
          << "\" }\n}\n";
    }
  }
  // The controller's own footprint, with no gateway to watch.
  ProcessUse empty;
  {
    const std::string none = work + "/mailfleet-bench-controller-none.txt";
    std::ofstream(none) << "";
    const std::string log = work + "/mailfleet-bench-controller-empty.log";
    pid_t pid = Start({controller_bin, "--listen",
                       absl::StrCat("127.0.0.1:", controller_port + 1), "--gateways", none},
                      log);
    auto stub = ControllerStub(controller_port + 1);
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    SetDeadline(ctx, absl::Seconds(30));
    v1::ListGatewaysResponse resp;
    if (!stub->ListGateways(&ctx, {}, &resp).ok()) Die("the empty controller did not answer");
    absl::SleepFor(absl::Seconds(1));
    empty = UseOf({pid});
    Stop(pid);
  }

  const std::string controller_log = work + "/mailfleet-bench-controller.log";
  const auto controller_start = Clock::now();
  pid_t controller = Start({controller_bin, "--listen",
                            absl::StrCat("127.0.0.1:", controller_port), "--gateways",
                            gateways_file},
                           controller_log);
  controller_pid = controller;
  agent_pids = host_pids;
  auto stub = ControllerStub(controller_port);
  std::map<int, int> states;
  for (;;) {
    CheckAlive(controller, controller_log);
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    SetDeadline(ctx, absl::Seconds(10));
    v1::ListGatewaysResponse resp;
    grpc::Status s = stub->ListGateways(&ctx, {}, &resp);
    states.clear();
    for (const auto& g : resp.gateways()) {
      ++states[g.state() == v1::GATEWAY_CONNECTED && g.synced() ? -1 : g.state()];
    }
    if (s.ok() && states[-1] == gateways) break;
    if (Since(controller_start) > 300) {
      std::string seen;
      for (const auto& [state, n] : states) absl::StrAppend(&seen, " ", state, ":", n);
      Die("not every gateway connected in 5 min; states (-1 connected):" + seen);
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  const double connect_seconds = Since(controller_start);
  // Let the first snapshots' buffers go before memory is read.
  absl::SleepFor(absl::Seconds(3));
  const ProcessUse use = UseOf({controller});
  const ProcessUse agents_use = UseOf(host_pids);
  std::printf("Fleet: %d gateways, %d deferred messages each (%lld in all), in %d "
              "mailfleet-bench-agents process(es), started and indexed in %.1f s "
              "(%.0f MiB, %ld threads).\n\n",
              gateways, messages, static_cast<long long>(gateways) * messages, hosts,
              agents_seconds, agents_use.rss_mib, agents_use.threads);
  std::printf("| controller | value |\n|---|---|\n");
  std::printf("| all %d gateways connected and synced after start | %.2f s |\n", gateways,
              connect_seconds);
  std::printf("| memory (VmRSS) with %d gateways connected | **%.1f MiB** (%.1f MiB per 100 "
              "gateways; target < 20) |\n",
              gateways, use.rss_mib, use.rss_mib * 100 / gateways);
  std::printf("| of which the fleet (above the controller with no gateway, %.1f MiB) | "
              "%.1f MiB, %.0f KiB per gateway |\n",
              empty.rss_mib, use.rss_mib - empty.rss_mib,
              (use.rss_mib - empty.rss_mib) * 1024 / gateways);
  std::printf("| peak memory (VmHWM) | %.1f MiB |\n", use.peak_mib);
  std::printf("| threads | **%ld** (%ld with no gateway) |\n\n", use.threads, empty.threads);
  std::fflush(stdout);

  // The queries and actions, on a machine that may be busy with more.
  const std::string load = ReadFile("/proc/loadavg");
  Timed list_gateways = Repeat([&](std::string* detail) {
    grpc::ClientContext ctx;
    SetDeadline(ctx, absl::Seconds(30));
    v1::ListGatewaysResponse resp;
    grpc::Status s = stub->ListGateways(&ctx, {}, &resp);
    *detail = absl::StrCat(resp.gateways_size(), " gateways, ", resp.ByteSizeLong(), " bytes");
    return s;
  });
  Timed summary = Repeat([&](std::string* detail) {
    grpc::ClientContext ctx;
    SetDeadline(ctx, absl::Seconds(30));
    v1::FleetSummaryResponse resp;
    grpc::Status s = stub->Summary(&ctx, {}, &resp);
    *detail = absl::StrCat(resp.total().total_messages(), " messages over ",
                           resp.gateways_size(), " gateways, ", resp.failures_size(),
                           " failures, ", resp.ByteSizeLong(), " bytes");
    return s;
  });
  const int64_t expected = static_cast<int64_t>(per_gateway) * gateways;
  auto list_pages = [&](int page_size) {
    return [&, page_size](std::string* detail) {
      v1::FleetListRequest req;
      *req.mutable_filter() = DomainFilter(domain, v1::POSTFIX_DEFERRED);
      req.set_page_size(page_size);
      int pages = 0, failures = 0;
      int64_t listed = 0;
      for (;;) {
        grpc::ClientContext ctx;
        SetDeadline(ctx, absl::Seconds(60));
        v1::FleetListResponse resp;
        grpc::Status s = stub->List(&ctx, req, &resp);
        if (!s.ok()) return s;
        ++pages;
        listed += resp.messages_size();
        failures += resp.failures_size();
        if (resp.next_page_token().empty()) break;
        req.set_page_token(resp.next_page_token());
      }
      *detail = absl::StrCat(listed, " messages (", expected, " expected) in ", pages,
                             " pages, ", failures, " gateway failures");
      return grpc::Status::OK;
    };
  };
  // The default page, and the largest: each page asks every gateway that
  // may have more, so the page size sets how many agent calls a listing
  // takes.
  Timed fleet_list = Repeat(list_pages(0));
  Timed fleet_list_large = Repeat(list_pages(10000));
  // A hold of the filter's messages on every gateway, then the release
  // that puts them back, so that each run finds the same queue.
  auto act = [&](v1::Action action, v1::QueueKind from) {
    return [&, action, from](std::string* detail) {
      v1::FleetActRequest req;
      req.mutable_selector()->set_all(true);
      req.mutable_request()->set_action(action);
      *req.mutable_request()->mutable_selector()->mutable_filter() =
          DomainFilter(domain, from);
      grpc::ClientContext ctx;
      SetDeadline(ctx, absl::Minutes(2));
      auto reader = stub->Act(&ctx, req);
      v1::GatewayActResult r;
      int results = 0, failed = 0;
      int64_t done = 0;
      while (reader->Read(&r)) {
        ++results;
        if (r.has_failure()) ++failed;
        done += r.response().succeeded();
      }
      grpc::Status s = reader->Finish();
      *detail = absl::StrCat(results, " gateway results (", failed, " failed), ", done,
                             " messages done (", expected, " expected)");
      return s;
    };
  };
  Timed hold, release;
  for (int run = 0; run < absl::GetFlag(FLAGS_runs); ++run) {
    if (!RunOnce(act(v1::ACTION_HOLD, v1::POSTFIX_DEFERRED), hold) ||
        !RunOnce(act(v1::ACTION_RELEASE, v1::POSTFIX_HOLD), release)) {
      break;
    }
  }
  for (pid_t p : host_pids) Stop(p);
  Stop(controller);

  Baseline base;
  if (!postfix_dir.empty()) base = TimePostfix(postfix_dir, domain);
  if (postfix) (void)postfix->Destroy();

  std::printf("Filter: recipient `@%s` in deferred (hold: in hold), %d messages per "
              "gateway, %lld in the fleet. Median of %d runs (fastest-slowest); CPU "
              "per call of the controller and of the agents' processes. Load average "
              "before the queries: %s.\n\n",
              domain.c_str(), per_gateway, static_cast<long long>(expected),
              absl::GetFlag(FLAGS_runs),
              std::string(absl::StripTrailingAsciiWhitespace(load)).c_str());
  const bool baseline = base.messages > 0;
  if (baseline) {
    std::printf("Baseline: Postfix on one gateway's worth of the same queue (%lld "
                "messages, real bodies): `postqueue -j` %.1f ms, `postqueue -j | grep` "
                "%.1f ms (%ld lines), the hold pipeline %.1f ms, the release pipeline "
                "%.1f ms; the fleet's figures are %d times these (derived: an operator's "
                "loop over the gateways, one after another).\n\n",
                static_cast<long long>(base.messages), base.postqueue * 1000,
                base.grep * 1000, base.grep_lines, base.hold * 1000, base.release * 1000,
                gateways);
  }
  std::printf("| measurement | mailfleet-controller | Postfix, %d gateways in a loop "
              "(derived) | ratio | target |\n|---|---|---|---|---|\n",
              gateways);
  auto row = [&](const std::string& name, const Timed& t, double base_seconds,
                 const std::string& base_name, const std::string& target) {
    if (t.status.ok() && t.seconds.empty()) {
      std::printf("| %s | not run (the hold failed) | | | %s |\n", name.c_str(),
                  target.c_str());
      return;
    }
    if (!t.ok()) {
      std::printf("| %s | not measured: %s (%s) | | | %s |\n", name.c_str(),
                  t.status.error_message().c_str(),
                  t.status.error_code() == grpc::StatusCode::UNIMPLEMENTED
                      ? "UNIMPLEMENTED"
                      : absl::StrCat("code ", t.status.error_code()).c_str(),
                  target.c_str());
      return;
    }
    const double m = Median(t.seconds);
    auto [fastest, slowest] = std::minmax_element(t.seconds.begin(), t.seconds.end());
    const std::string time =
        absl::StrCat(m < 1 ? Ms(m) : Sec(m), "** (", m < 1 ? Ms(*fastest) : Sec(*fastest),
                     "-", m < 1 ? Ms(*slowest) : Sec(*slowest), "; CPU ",
                     Ms(t.controller_cpu), " controller, ", Ms(t.agents_cpu), " agents");
    if (baseline && base_seconds > 0) {
      std::printf("| %s | **%s; %s) | %s %s | %.0fx faster | %s |\n", name.c_str(),
                  time.c_str(), t.detail.c_str(), base_name.c_str(),
                  Sec(base_seconds * gateways).c_str(), base_seconds * gateways / m,
                  target.c_str());
    } else {
      std::printf("| %s | **%s; %s) | | | %s |\n", name.c_str(), time.c_str(),
                  t.detail.c_str(), target.c_str());
    }
  };
  row("ListGateways, all", list_gateways, 0, "", "");
  row("fleet Summary, no filter", summary, base.postqueue, "`postqueue -j`", "< 50 ms");
  row("fleet List, filtered, every page", fleet_list, base.grep, "`postqueue -j \\| grep`",
      "< 2 s");
  row("fleet List, filtered, pages of 10000", fleet_list_large, base.grep,
      "`postqueue -j \\| grep`", "< 2 s");
  row("fleet Act hold, filtered, to the last result", hold, base.hold,
      "`postqueue -j \\| grep \\| sed \\| postsuper -h -`", "< 2 s");
  row("fleet Act release, the same messages", release, base.release,
      "`postqueue -j \\| grep \\| sed \\| postsuper -H -`", "");
  std::printf("\nEvery run: %s.\n", absl::StrJoin(
      std::vector<std::string>{
          absl::StrCat("ListGateways ", list_gateways.detail),
          absl::StrCat("Summary ", summary.detail),
          absl::StrCat("List ", fleet_list.detail),
          absl::StrCat("hold ", hold.detail)},
      "; ").c_str());
  return 0;
}
