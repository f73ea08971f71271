// Benchmarks reading the MPA spool: SpoolReader::Scan over a spool of
// --items sample items (agent/mpa/spool_writer.h) in a fresh temporary
// directory, against what an operator has without the agent:
//
// - full listing: one Scan of the four queues into a counting sink (every
//   .eml stat'ed, every .env read and parsed), against
//   `find <root>/outgoing <root>/error <root>/spool <root>/respool -name
//   '*.env' -exec cat {} +` to /dev/null, which only copies the envelopes'
//   bytes;
// - one error's items: a Scan matched against a Filter on the MPA error
//   reason, against `grep -r -l -i -F PATTERN --include=*.env <root>`. Both
//   must find the same number of items, or the benchmark fails.
//
// The spool looks like one in trouble, when operators look at it: a
// broken template has filled error, spool is at the MPA's refusal limit
// (2000) and Postfix is slow to take outgoing. Of --items: 60% error, 20%
// outgoing, 10% spool, 10% respool.
//
// Usage: mailfleet-bench-mpa [--items 20000] [--runs 5] [--tmp-dir /tmp]
//          [--keep]
// Prints Markdown; docs/BENCHMARKS.md records it.
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/mpa/spool_reader.h"
#include "agent/mpa/spool_writer.h"
#include "bench/common/bench_util.h"
#include "common/dashed_flags.h"
#include "common/filter.h"
#include "common/os/filesystem.h"

ABSL_FLAG(int, items, 20000, "items in the spool");
ABSL_FLAG(int, runs, 5, "runs of each measurement (the median is reported)");
ABSL_FLAG(std::string, tmp_dir, "/tmp", "where the spool is built");
ABSL_FLAG(bool, keep, false, "leave the spool in place afterwards");

namespace {

namespace bench = ::mailfleet::bench;
namespace mpa = ::mailfleet::mpa;
using ::mailfleet::QueueKind;

// The error reason searched for; SampleErrorReason gives it to about one
// error item in 24 (one of three DLP policies in one of eight reasons).
constexpr char kPattern[] = "policy 'pci'";

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "mailfleet-bench-mpa: %s\n", why.c_str());
  std::exit(1);
}

struct SpoolShape {
  QueueKind queue;
  int percent;
};
constexpr SpoolShape kShape[] = {{QueueKind::kMpaError, 60},
                                 {QueueKind::kMpaOutgoing, 20},
                                 {QueueKind::kMpaSpool, 10},
                                 {QueueKind::kMpaRespool, 10}};

struct BuiltSpool {
  std::vector<std::string> counts;  // "12,000 error", ...
  int64_t items = 0, bytes = 0, recipients = 0;
  double seconds = 0;
};

std::string Thousands(int64_t n) {
  std::string digits = absl::StrCat(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

BuiltSpool Build(const std::string& root, int items) {
  mpa::SpoolWriter writer(root);
  BuiltSpool built;
  const absl::Time start = absl::Now();
  int64_t index = 0;
  for (const SpoolShape& part : kShape) {
    const int n = items * part.percent / 100;
    for (int i = 0; i < n; ++i) {
      const mpa::SampleItem item = mpa::MakeSampleItem(1, index++, part.queue);
      absl::Status s =
          writer.Write(part.queue, item.id, item.envelope, item.content);
      if (!s.ok()) Die(std::string(s.message()));
      built.bytes += item.content.size();
      built.recipients += item.envelope.recipients.size();
    }
    built.items += n;
    built.counts.push_back(
        absl::StrCat(Thousands(n), " ", mpa::SpoolDirName(part.queue)));
  }
  built.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return built;
}

// Counts what a scan lists, and the items a filter selects.
class CountingSink : public mailfleet::postfix::ScanSink {
 public:
  CountingSink(const mailfleet::Filter* filter, absl::Time now)
      : filter_(filter), now_(now) {}
  void OnMessage(const mailfleet::Message& m) override {
    ++items;
    recipients += m.recipients.size();
    if (filter_ && filter_->Matches(m, now_)) ++matched;
  }
  void OnProblem(mailfleet::postfix::ScanProblem) override { ++problems; }
  int64_t items = 0, recipients = 0, matched = 0, problems = 0;

 private:
  const mailfleet::Filter* filter_;
  absl::Time now_;
};

// Seconds of one run of `argv`, which must exit 0.
double TimeCommand(const std::vector<std::string>& argv,
                   const std::string& out) {
  const absl::Time start = absl::Now();
  int status = 0;
  waitpid(bench::Spawn(argv, out, "/dev/null"), &status, 0);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // grep -l exits 1 when nothing matches; the count check catches that.
  if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
    Die("failed: " + absl::StrJoin(argv, " "));
  }
  return seconds;
}

// The median seconds of --runs runs, after one run that warms the cache.
double MedianSeconds(const std::function<double()>& run) {
  run();
  std::vector<double> seconds;
  for (int i = 0; i < absl::GetFlag(FLAGS_runs); ++i) seconds.push_back(run());
  return bench::Median(seconds);
}

CountingSink TimedScan(const mpa::SpoolReader& reader,
                       const mailfleet::Filter* filter, double* seconds) {
  CountingSink sink(filter, absl::Now());
  const absl::Time start = absl::Now();
  absl::Status s = reader.Scan(&sink);
  *seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!s.ok()) Die(std::string(s.message()));
  return sink;
}

int64_t CountLines(const std::string& path) {
  std::ifstream in(path);
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

std::string Ratio(double ours, double theirs) {
  return ours <= theirs ? absl::StrFormat("%.1fx faster", theirs / ours)
                        : absl::StrFormat("%.1fx slower", ours / theirs);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = mailfleet::UnderscoreFlagNames(argc, argv);
  std::vector<char*> flag_argv = mailfleet::ArgvOf(args);
  absl::ParseCommandLine(static_cast<int>(args.size()), flag_argv.data());
  if (absl::GetFlag(FLAGS_items) < 10 || absl::GetFlag(FLAGS_runs) < 1) {
    Die("usage: mailfleet-bench-mpa [--items N>=10] [--runs N>=1] [--tmp-dir "
        "DIR] [--keep]");
  }
  std::string dir =
      absl::GetFlag(FLAGS_tmp_dir) + "/mailfleet-bench-mpa-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) Die("mkdtemp " + dir + " failed");
  const std::string root = dir + "/spool";
  const BuiltSpool built = Build(root, absl::GetFlag(FLAGS_items));

  mailfleet::RealFilesystem fs;
  const mpa::SpoolReader reader(&fs, root);
  mailfleet::FilterSpec spec;
  spec.pattern = kPattern;
  spec.fields = {mailfleet::MatchField::kDelayReason};
  absl::StatusOr<mailfleet::Filter> filter = mailfleet::Filter::Compile(spec);
  if (!filter.ok()) Die(std::string(filter.status().message()));

  CountingSink listed(nullptr, absl::Now()), searched(nullptr, absl::Now());
  const double scan = MedianSeconds([&] {
    double s = 0;
    listed = TimedScan(reader, nullptr, &s);
    return s;
  });
  if (listed.items != built.items || listed.problems != 0) {
    Die(absl::StrCat("the scan listed ", listed.items, " items and ",
                     listed.problems, " problems; the spool holds ",
                     built.items, " whole items"));
  }
  std::vector<std::string> find = {"find"};
  for (QueueKind q : mpa::kSpoolQueues) {
    find.push_back(absl::StrCat(root, "/", mpa::SpoolDirName(q)));
  }
  for (const char* a : {"-name", "*.env", "-exec", "cat", "{}", "+"}) {
    find.push_back(a);
  }
  const double cat =
      MedianSeconds([&] { return TimeCommand(find, "/dev/null"); });

  const double search = MedianSeconds([&] {
    double s = 0;
    searched = TimedScan(reader, &*filter, &s);
    return s;
  });
  const std::string grep_out = dir + "/grep.out";
  const std::vector<std::string> grep = {
      "grep", "-r", "-l", "-i", "-F", kPattern, "--include=*.env", root};
  const double grepped =
      MedianSeconds([&] { return TimeCommand(grep, grep_out); });
  const int64_t grep_matches = CountLines(grep_out);
  if (searched.matched != grep_matches || grep_matches == 0) {
    Die(absl::StrCat("the filter selected ", searched.matched, " items, grep ",
                     grep_matches));
  }

  std::printf(
      "MPA spool: %s items (%s; %.1f recipients and %.1f KB per item on "
      "average), "
      "written by SpoolWriter in %.1f s. Median of %d runs, page cache "
      "warm.\n\n",
      Thousands(built.items).c_str(), absl::StrJoin(built.counts, ", ").c_str(),
      static_cast<double>(built.recipients) / built.items,
      built.bytes / 1024.0 / built.items, built.seconds,
      absl::GetFlag(FLAGS_runs));
  std::printf(
      "| measurement | mailfleet | baseline | ratio |\n|---|---|---|---|\n");
  std::printf(
      "| full listing, four queues | SpoolReader::Scan %.3f s (%s items/s) | "
      "`find ... -name '*.env' -exec cat {} +` %.3f s | %s |\n",
      scan, Thousands(static_cast<int64_t>(built.items / scan)).c_str(), cat,
      Ratio(scan, cat).c_str());
  std::printf(
      "| items whose error contains \"%s\" (%s) | Scan + Filter %.3f s | "
      "`grep -r -l -i -F ... --include=*.env` %.3f s | %s |\n",
      kPattern, Thousands(grep_matches).c_str(), search, grepped,
      Ratio(search, grepped).c_str());

  if (!absl::GetFlag(FLAGS_keep)) {
    std::error_code error;
    std::filesystem::remove_all(dir, error);
    if (error) Die("removing " + dir + ": " + error.message());
  } else {
    std::fprintf(stderr, "spool kept in %s\n", root.c_str());
  }
  return 0;
}
