// mailfleet-mpa-sim: an MPA spool, written exactly as the MPA writes it
// (agent/mpa/spool_writer.h), for tests, benchmarks and demos.
//
//   mailfleet-mpa-sim fill --spool DIR --queue outgoing|error|spool|respool
//                          --count N [--seed S] [--start-index I]
//   mailfleet-mpa-sim run --spool DIR --rate R --duration D
//                         [--error-ratio X] [--seed S] [--start-index I]
//   mailfleet-mpa-sim malformed --spool DIR [--queue error]
//
// `fill` writes N sample items into one queue. `run` plays the MPA: items
// arrive in spool at R a second, each moves on after a short while to
// outgoing (or, with probability X, to error with a reason), outgoing items
// are handed to Postfix (removed) soon after, and items an operator
// respooled are picked up again; it stops after D (0: at SIGINT/SIGTERM)
// leaving every item complete. `malformed` plants one item of each kind of
// damage. Each prints a one-line summary on stdout.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/random/distributions.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/mpa/spool_reader.h"
#include "agent/mpa/spool_writer.h"
#include "common/dashed_flags.h"
#include "common/fmt_absl.h"
#include "common/os/filesystem.h"
#include "common/status_macros.h"

ABSL_FLAG(std::string, spool, "", "the spool root (created if missing)");
ABSL_FLAG(std::string, queue, "",
          "fill, malformed: outgoing, error, spool or respool");
ABSL_FLAG(int64_t, count, 0, "fill: how many items");
ABSL_FLAG(uint64_t, seed, 1,
          "the sample items' seed; ids are mpa-<seed>-<index>");
ABSL_FLAG(int64_t, start_index, -1,
          "index of the first item (fill: 0; run: the start time in ms, so "
          "that runs into one spool never reuse an id)");
ABSL_FLAG(double, rate, 10, "run: items arriving per second");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(60),
          "run: how long, e.g. 90s or 10m (0: until SIGINT or SIGTERM)");
ABSL_FLAG(double, error_ratio, 0.05, "run: share of items that go to error");

namespace mailfleet::mpa {
namespace {

constexpr char kUsage[] =
    "usage:\n"
    "  mailfleet-mpa-sim fill --spool DIR --queue outgoing|error|spool|respool "
    "--count N [--seed S] [--start-index I]\n"
    "  mailfleet-mpa-sim run --spool DIR --rate R --duration D "
    "[--error-ratio X] [--seed S] [--start-index I]\n"
    "  mailfleet-mpa-sim malformed --spool DIR [--queue error]\n";

// How long the MPA takes over an item, and Postfix to take one over.
constexpr double kMinProcessSeconds = 0.2, kMaxProcessSeconds = 2.0;
constexpr double kMinHandOverSeconds = 0.05, kMaxHandOverSeconds = 0.5;
// How often respool is looked at for items an operator sent back.
constexpr absl::Duration kRespoolPoll = absl::Seconds(1);
// The longest sleep: how soon a signal ends the run.
constexpr absl::Duration kMaxSleep = absl::Milliseconds(100);

volatile sig_atomic_t stop_requested = 0;

absl::StatusOr<std::string> SpoolRoot() {
  std::string root = absl::GetFlag(FLAGS_spool);
  if (root.empty()) return absl::InvalidArgumentError("--spool is required");
  return root;
}

// "error" as the spool's directory, or "mpa-error" as operators name it.
absl::StatusOr<QueueKind> SpoolQueue(absl::string_view name) {
  for (QueueKind q : kSpoolQueues) {
    if (name == SpoolDirName(q) || name == QueueKindName(q)) return q;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--queue wants outgoing, error, spool or respool, not '", name, "'"));
}

absl::Status Fill() {
  MF_ASSIGN_OR_RETURN(std::string root, SpoolRoot());
  MF_ASSIGN_OR_RETURN(QueueKind queue, SpoolQueue(absl::GetFlag(FLAGS_queue)));
  const int64_t count = absl::GetFlag(FLAGS_count);
  if (count <= 0) {
    return absl::InvalidArgumentError("--count wants a positive number");
  }
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  const int64_t first = std::max<int64_t>(0, absl::GetFlag(FLAGS_start_index));
  SpoolWriter writer(root);
  const absl::Time start = absl::Now();
  // The samples' received times are a second apart from kSampleEpoch on;
  // moved so that the last one arrived just now, the spool looks like one
  // filling up today.
  const absl::Duration shift =
      start - (kSampleEpoch + absl::Seconds(first + count));
  int64_t bytes = 0;
  for (int64_t i = first; i < first + count; ++i) {
    SampleItem item = MakeSampleItem(seed, i, queue);
    item.envelope.received += shift;
    MF_RETURN_IF_ERROR(
        writer.Write(queue, item.id, item.envelope, item.content));
    bytes += item.content.size();
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf(
      "fill: wrote %lld items (%.1f MB) to %s/%s in %.2f s, %.0f items/s\n",
      static_cast<long long>(count), bytes / 1e6, root.c_str(),
      std::string(SpoolDirName(queue)).c_str(), seconds, count / seconds);
  return absl::OkStatus();
}

// The MPA at work on the spool, one step at a time in time order.
class MpaRun {
 public:
  MpaRun(std::string root, uint64_t seed, int64_t first_index)
      : root_(root),
        writer_(std::move(root)),
        seed_(seed),
        next_index_(first_index),
        random_(seed) {}

  absl::Status Run(double rate, absl::Duration duration, double error_ratio) {
    error_ratio_ = error_ratio;
    const absl::Time start = absl::Now();
    const absl::Time end = duration == absl::ZeroDuration()
                               ? absl::InfiniteFuture()
                               : start + duration;
    const absl::Duration between = absl::Seconds(1 / rate);
    absl::Time next_arrival = start, next_poll = start;
    // Whatever is due first goes first, so that a rate the disk cannot keep
    // up with slows arrivals down instead of starving the moves.
    while (!stop_requested) {
      const absl::Time now = absl::Now();
      if (now >= end) break;
      const absl::Time step_due =
          steps_.empty() ? absl::InfiniteFuture() : steps_.top().due;
      const absl::Time due = std::min({next_arrival, step_due, next_poll});
      if (due > now) {
        absl::SleepFor(std::min({due, end, now + kMaxSleep}) - now);
      } else if (due == step_due) {
        Step step = steps_.top();
        steps_.pop();
        MF_RETURN_IF_ERROR(Do(step, now));
      } else if (due == next_arrival) {
        MF_RETURN_IF_ERROR(Arrive(now));
        next_arrival += between;
      } else {
        MF_RETURN_IF_ERROR(PickUpRespooled(now));
        next_poll = now + kRespoolPoll;
      }
    }
    seconds_ = absl::ToDoubleSeconds(absl::Now() - start);
    return absl::OkStatus();
  }

  void PrintSummary() const {
    int64_t in_spool = 0, in_outgoing = 0;
    for (auto steps = steps_; !steps.empty(); steps.pop()) {
      ++(steps.top().kind == Step::kProcess ? in_spool : in_outgoing);
    }
    std::printf(
        "run: %lld items arrived in %.1f s (%.1f/s): %lld to outgoing (%lld "
        "handed "
        "to Postfix), %lld to error, %lld picked up from respool, %lld "
        "vanished; "
        "left %lld in spool and %lld in outgoing\n",
        static_cast<long long>(arrived_), seconds_, arrived_ / seconds_,
        static_cast<long long>(to_outgoing_),
        static_cast<long long>(handed_over_), static_cast<long long>(to_error_),
        static_cast<long long>(respooled_), static_cast<long long>(vanished_),
        static_cast<long long>(in_spool), static_cast<long long>(in_outgoing));
  }

 private:
  struct Step {
    enum Kind { kProcess, kHandOver } kind;
    absl::Time due;
    std::string id;
    SpoolEnvelope envelope;  // as in spool, for kProcess
    bool operator>(const Step& o) const { return due > o.due; }
  };

  absl::Time After(absl::Time now, double min_seconds, double max_seconds) {
    return now +
           absl::Seconds(absl::Uniform(random_, min_seconds, max_seconds));
  }

  absl::Status Arrive(absl::Time now) {
    SampleItem item =
        MakeSampleItem(seed_, next_index_++, QueueKind::kMpaSpool);
    item.envelope.received = now;
    MF_RETURN_IF_ERROR(writer_.Write(QueueKind::kMpaSpool, item.id,
                                     item.envelope, item.content));
    ++arrived_;
    steps_.push({Step::kProcess,
                 After(now, kMinProcessSeconds, kMaxProcessSeconds),
                 std::move(item.id), std::move(item.envelope)});
    return absl::OkStatus();
  }

  absl::Status Do(const Step& step, absl::Time now) {
    absl::Status done;
    if (step.kind == Step::kHandOver) {
      done = writer_.Remove(QueueKind::kMpaOutgoing, step.id);
      if (done.ok()) ++handed_over_;
    } else if (absl::Bernoulli(random_, error_ratio_)) {
      const std::string reason = SampleErrorReason(step.envelope, random_());
      spdlog::debug("{} -> error: {}", step.id, reason);
      done = writer_.Move(QueueKind::kMpaSpool, QueueKind::kMpaError, step.id,
                          {reason, step.envelope.attempts + 1});
      if (done.ok()) ++to_error_;
    } else {
      done = writer_.Move(QueueKind::kMpaSpool, QueueKind::kMpaOutgoing,
                          step.id, {std::string(), step.envelope.attempts + 1});
      if (done.ok()) {
        ++to_outgoing_;
        steps_.push({Step::kHandOver,
                     After(now, kMinHandOverSeconds, kMaxHandOverSeconds),
                     step.id,
                     {}});
      }
    }
    // An operator may have deleted the item meanwhile: not the run's fault.
    if (absl::IsNotFound(done)) {
      spdlog::warn("{} vanished: {}", step.id, done);
      ++vanished_;
      return absl::OkStatus();
    }
    return done;
  }

  // Items an operator respooled go back into spool to be processed again.
  absl::Status PickUpRespooled(absl::Time now) {
    const std::string dir =
        absl::StrCat(root_, "/", SpoolDirName(QueueKind::kMpaRespool));
    absl::StatusOr<std::vector<DirEntry>> entries = fs_.ListDir(dir);
    if (absl::IsNotFound(entries.status())) return absl::OkStatus();
    if (!entries.ok()) return entries.status();
    for (const DirEntry& e : *entries) {
      std::optional<absl::string_view> id = SpoolIdOfMessageFile(e.name);
      if (!id || stuck_.count(std::string(*id))) continue;
      std::string text;
      absl::Status read = fs_.ReadFile(absl::StrCat(dir, "/", *id, ".env"),
                                       kMaxEnvelopeBytes, &text);
      absl::StatusOr<SpoolEnvelope> env =
          read.ok() ? ParseSpoolEnvelope(text)
                    : absl::StatusOr<SpoolEnvelope>(read);
      // The MPA cannot process an item without a sound envelope either.
      absl::Status moved = env.status();
      if (moved.ok()) {
        moved = writer_.Move(QueueKind::kMpaRespool, QueueKind::kMpaSpool, *id,
                             {std::string(), std::nullopt});
      }
      if (!moved.ok()) {
        spdlog::warn("respooled item {} left where it is: {}", *id, moved);
        stuck_.insert(std::string(*id));
        continue;
      }
      ++respooled_;
      env->error.clear();
      steps_.push({Step::kProcess,
                   After(now, kMinProcessSeconds, kMaxProcessSeconds),
                   std::string(*id), *std::move(env)});
    }
    return absl::OkStatus();
  }

  const std::string root_;
  SpoolWriter writer_;
  RealFilesystem fs_;
  const uint64_t seed_;
  int64_t next_index_;
  std::mt19937_64 random_;
  double error_ratio_ = 0;
  std::priority_queue<Step, std::vector<Step>, std::greater<Step>> steps_;
  std::set<std::string> stuck_;
  int64_t arrived_ = 0, to_outgoing_ = 0, to_error_ = 0, handed_over_ = 0,
          respooled_ = 0, vanished_ = 0;
  double seconds_ = 0;
};

absl::Status Run() {
  MF_ASSIGN_OR_RETURN(std::string root, SpoolRoot());
  const double rate = absl::GetFlag(FLAGS_rate);
  const double error_ratio = absl::GetFlag(FLAGS_error_ratio);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  if (!(rate > 0)) {
    return absl::InvalidArgumentError("--rate wants items a second > 0");
  }
  if (!(error_ratio >= 0 && error_ratio <= 1)) {
    return absl::InvalidArgumentError(
        "--error-ratio wants a share from 0 to 1");
  }
  if (duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration wants a length, or 0");
  }
  int64_t first = absl::GetFlag(FLAGS_start_index);
  if (first < 0) first = absl::ToUnixMillis(absl::Now());
  struct sigaction on_signal = {};
  on_signal.sa_handler = [](int) { stop_requested = 1; };
  sigaction(SIGINT, &on_signal, nullptr);
  sigaction(SIGTERM, &on_signal, nullptr);
  MpaRun run(root, absl::GetFlag(FLAGS_seed), first);
  MF_RETURN_IF_ERROR(run.Run(rate, duration, error_ratio));
  run.PrintSummary();
  return absl::OkStatus();
}

absl::Status Malformed() {
  MF_ASSIGN_OR_RETURN(std::string root, SpoolRoot());
  const std::string name = absl::GetFlag(FLAGS_queue);
  MF_ASSIGN_OR_RETURN(QueueKind queue,
                      SpoolQueue(name.empty() ? "error" : name));
  SpoolWriter writer(root);
  MF_RETURN_IF_ERROR(WriteDamagedItems(writer, queue));
  const std::string dir(SpoolDirName(queue));
  std::printf(
      "malformed: planted in %s/%s 4 damaged items the agent lists (no .env, "
      "truncated .env, bad received, no recipient) and 3 it ignores (.env "
      "without .eml, 'bad id', one in tmp/)\n",
      root.c_str(), dir.c_str());
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  // Standard output is for the summary that scripts read.
  spdlog::set_default_logger(spdlog::stderr_color_mt("mpa-sim"));
  absl::SetProgramUsageMessage(kUsage);
  std::vector<std::string> args = UnderscoreFlagNames(argc, argv);
  std::vector<char*> flag_argv = ArgvOf(args);
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), flag_argv.data());
  if (positional.size() != 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = positional[1];
  absl::Status status;
  if (command == "fill") {
    status = Fill();
  } else if (command == "run") {
    status = Run();
  } else if (command == "malformed") {
    status = Malformed();
  } else {
    status = absl::InvalidArgumentError(
        absl::StrCat("unknown command '", command, "'"));
  }
  if (!status.ok()) {
    spdlog::error("{}: {}", command, status.message());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace mailfleet::mpa

int main(int argc, char** argv) { return mailfleet::mpa::Main(argc, argv); }
