// Benchmarks bulk actions against the admin's pipeline on the same Postfix
// queue in the same run: hold, then release, the ~10% of the queue whose
// recipients match a domain regex, by
//   mailfleet --agent ADDR hold --regex --match RE --field recipient --yes
// against
//   postqueue -j | grep -E RE | sed (queue ids) | postsuper -h -
// and the same for release (postsuper -H). Counts are checked equal.
//
// Usage: mailfleet-bench-actions --postfix-config-dir DIR --agent-bin PATH
//          --cli-bin PATH [--runs N]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "bench/common/bench_util.h"
#include "common/dashed_flags.h"
#include "mailfleet/v1/agent.grpc.pb.h"

ABSL_FLAG(std::string, postfix_config_dir, "", "the Postfix instance to act on");
ABSL_FLAG(std::string, agent_bin, "", "path of mailfleet-agent");
ABSL_FLAG(std::string, cli_bin, "", "path of the mailfleet CLI");
ABSL_FLAG(int, runs, 3, "runs per measurement; the median is reported");
ABSL_FLAG(int, port, 17072, "loopback port for the agent under test");

namespace {

using ::mailfleet::bench::Median;

using Clock = std::chrono::steady_clock;

// Runs a shell pipeline (the baseline is one) and returns its wall time
// and standard error.
double TimePipeline(const std::string& script, std::string* err) {
  auto start = Clock::now();
  FILE* p = popen(("( " + script + " ) 2>&1 >/dev/null").c_str(), "r");
  char buf[4096];
  size_t n;
  err->clear();
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) err->append(buf, n);
  int rc = pclose(p);
  double t = std::chrono::duration<double>(Clock::now() - start).count();
  if (rc != 0) {
    std::fprintf(stderr, "pipeline failed: %s\n%s\n", script.c_str(), err->c_str());
    std::exit(1);
  }
  return t;
}

// "Placed on hold: 10123 messages" -> 10123 (the last such count).
long PostsuperCount(const std::string& err) {
  size_t colon = err.rfind(": ");
  long n = -1;
  size_t at = err.rfind("messages");
  if (at != std::string::npos && colon != std::string::npos && colon < at) {
    n = std::atol(err.c_str() + colon + 2);
  }
  return n;
}

long CliCount(const std::string& out) {
  // "hold: 10123 matched, 10123 done, 0 failed"
  size_t at = out.find(" matched, ");
  return at == std::string::npos ? -1 : std::atol(out.c_str() + out.find(": ") + 2);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = mailfleet::UnderscoreFlagNames(argc, argv);
  std::vector<char*> flag_argv = mailfleet::ArgvOf(args);
  absl::ParseCommandLine(static_cast<int>(args.size()), flag_argv.data());
  const std::string dir = absl::GetFlag(FLAGS_postfix_config_dir);
  const std::string address = absl::StrCat("127.0.0.1:", absl::GetFlag(FLAGS_port));
  const std::string cli = absl::GetFlag(FLAGS_cli_bin);

  pid_t agent = fork();
  if (agent == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(absl::GetFlag(FLAGS_agent_bin).c_str(), "mailfleet-agent", "--listen",
          address.c_str(), "--postfix-config-dir", dir.c_str(), "--rescan-interval",
          "1h", static_cast<char*>(nullptr));
    _exit(127);
  }
  auto stub = mailfleet::v1::AgentService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  mailfleet::v1::SummaryRequest sreq;
  sreq.set_top_n(300);
  mailfleet::v1::SummaryResponse summary;
  {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    if (!stub->Summary(&ctx, sreq, &summary).ok()) return 1;
  }
  // Domains, smallest first, until their messages come to about 10%.
  const int64_t total = summary.summary().total_messages();
  std::vector<std::pair<int64_t, std::string>> domains;
  for (const auto& d : summary.summary().top_domains()) {
    domains.emplace_back(d.messages(), d.domain());
  }
  std::sort(domains.begin(), domains.end());
  std::vector<std::string> chosen;
  int64_t covered = 0;
  for (const auto& [n, d] : domains) {
    if (covered + n > total / 10) continue;
    chosen.push_back(d);
    covered += n;
  }
  std::string alternatives;
  for (const auto& d : chosen) {
    std::string escaped;
    for (char c : d) escaped += (c == '.') ? std::string("\\.") : std::string(1, c);
    alternatives += (alternatives.empty() ? "" : "|") + escaped;
  }
  const std::string re = "@(" + alternatives + ")$";
  // JSON strings may hold escaped quotes ("\"john smith\"@d3..."), so the
  // pipeline's pattern steps over backslash escapes.
  const std::string grep_re =
      "\"address\": \"([^\"\\\\]|\\\\.)*@(" + alternatives + ")\"";

  std::vector<double> cli_hold, cli_release, pipe_hold, pipe_release;
  long n_cli = 0, n_pipe = 0;
  for (int run = 0; run < absl::GetFlag(FLAGS_runs); ++run) {
    std::string err;
    const std::string ids = "sed -n 's/.*\"queue_id\": \"\\([^\"]*\\)\".*/\\1/p'";
    pipe_hold.push_back(TimePipeline(
        "postqueue -c " + dir + " -j | grep -E '" + grep_re + "' | " + ids +
            " | postsuper -c " + dir + " -h -",
        &err));
    n_pipe = PostsuperCount(err);
    pipe_release.push_back(TimePipeline(
        "postqueue -c " + dir + " -j | grep '\"queue_name\": \"hold\"' | " + ids +
            " | postsuper -c " + dir + " -H -",
        &err));

    for (const char* verb : {"hold", "release"}) {
      std::string cmd = cli + " --agent " + address + " " + verb +
                        " --regex --match '" + re + "' --field recipient --yes";
      std::string out;
      auto start = Clock::now();
      FILE* p = popen(cmd.c_str(), "r");
      char buf[4096];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      if (pclose(p) != 0) {
        std::fprintf(stderr, "failed: %s\n%s\n", cmd.c_str(), out.c_str());
        kill(agent, SIGTERM);
        return 1;
      }
      double t = std::chrono::duration<double>(Clock::now() - start).count();
      (std::string(verb) == "hold" ? cli_hold : cli_release).push_back(t);
      if (std::string(verb) == "hold") n_cli = CliCount(out);
    }
  }
  kill(agent, SIGTERM);
  int status;
  waitpid(agent, &status, 0);

  double ph = Median(pipe_hold), pr = Median(pipe_release);
  double ch = Median(cli_hold), cr = Median(cli_release);
  std::printf("Queue: %lld messages. Selection: recipient regex over %zu domains, "
              "%ld messages (%.1f%%); the pipeline held %ld. Median of %d runs.\n\n",
              static_cast<long long>(total), chosen.size(), n_cli,
              100.0 * n_cli / std::max<int64_t>(1, total), n_pipe,
              absl::GetFlag(FLAGS_runs));
  std::printf("| measurement | mailfleet CLI | admin pipeline | ratio |\n|---|---|---|---|\n");
  std::printf("| hold | %.3f s | %.3f s | %.1fx |\n", ch, ph, ph / ch);
  std::printf("| release | %.3f s | %.3f s | %.1fx |\n", cr, pr, pr / cr);
  std::printf("| hold + release | %.3f s | %.3f s | %.1fx |\n", ch + cr, ph + pr,
              (ph + pr) / (ch + cr));
  return n_cli == n_pipe ? 0 : 2;
}
