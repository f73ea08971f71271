// Benchmarks reading the MPA spool: SpoolReader::Scan over a spool of
// --items sample items (agent/mpa/spool_writer.h) in a fresh temporary
// directory, and the agent's index over it, against what an operator has
// without the agent:
//
// - full listing: one Scan of the four queues into a counting sink (every
//   .eml stat'ed, every .env read and parsed), against
//   `find <root>/outgoing <root>/error <root>/spool <root>/respool -name
//   '*.env' -exec cat {} +` to /dev/null, which only copies the envelopes'
//   bytes;
// - index build: QueueIndex::Rescan over an empty Postfix queue and the
//   spool, the agent's start (a fresh index each run) and its periodic
//   rescan (the same index again, nothing changed), against the same find;
// - one error's items: a Scan matched against a Filter on the MPA error
//   reason, and QueueSnapshot::List with that Filter on the built index
//   (what the agent answers a query with), against `grep -r -l -i -F
//   PATTERN --include=*.env <root>`. All three must find the same items, or
//   the benchmark fails;
// - summary: QueueIndex::Summarize of the whole index (top 10, with the
//   throttle state), what `mailfleet summary` costs the agent, against
//   `find <the four queues> -name '*.eml'`, which only counts the items.
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

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/index/queue_index.h"
#include "agent/index/queue_snapshot.h"
#include "agent/mpa/spool_reader.h"
#include "agent/mpa/spool_writer.h"
#include "agent/mpa/throttle.h"
#include "agent/postfix/postfix_config.h"
#include "agent/postfix/queue_reader.h"
#include "bench/common/bench_util.h"
#include "common/dashed_flags.h"
#include "common/filter.h"
#include "common/os/filesystem.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(int, items, 20000, "items in the spool");
ABSL_FLAG(int, runs, 5, "runs of each measurement (the median is reported)");
ABSL_FLAG(std::string, tmp_dir, "/tmp", "where the spool is built");
ABSL_FLAG(bool, keep, false, "leave the spool in place afterwards");

namespace {

namespace bench = ::mailfleet::bench;
namespace mpa = ::mailfleet::mpa;
namespace postfix = ::mailfleet::postfix;
using ::mailfleet::QueueIndex;
using ::mailfleet::QueueKind;
using ::mailfleet::QueueSnapshot;
using ::mailfleet::QueueSummary;

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

// The item ids in grep -l's answer (ROOT/QUEUE/ID.env, one a line), sorted.
std::vector<std::string> IdsOfEnvPaths(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    ids.push_back(std::filesystem::path(line).stem().string());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// An empty Postfix queue directory at `dir`: the agent's index needs a
// Postfix queue beside the spool, and this one adds nothing to its scans.
postfix::PostfixConfig EmptyPostfixQueue(const std::string& dir) {
  postfix::PostfixConfig config;
  config.queue_directory = dir;
  for (const char* queue :
       {"incoming", "active", "deferred", "hold", "corrupt", "maildrop"}) {
    std::error_code error;
    std::filesystem::create_directories(dir + "/" + queue, error);
    if (error) Die("creating " + dir + "/" + queue + ": " + error.message());
  }
  return config;
}

// Seconds of one full rescan of `index`, which must index the `items`
// items without a problem.
double TimedRescan(QueueIndex& index, int64_t items) {
  const absl::Time start = absl::Now();
  absl::Status s = index.Rescan();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!s.ok()) Die(std::string(s.message()));
  const std::shared_ptr<const QueueSnapshot> snapshot = index.Current();
  if (static_cast<int64_t>(snapshot->size()) != items ||
      !snapshot->problems().empty()) {
    Die(absl::StrCat("the index holds ", snapshot->size(), " messages and ",
                     snapshot->problems().size(), " problems; the spool ",
                     items, " whole items"));
  }
  return seconds;
}

const char* ThrottleStateName(mpa::ThrottleState state) {
  static constexpr const char* kNames[] = {"normal", "throttling", "refusing"};
  return kNames[static_cast<int>(state)];
}

// "0.149 s", or "0.412 ms" below a hundredth of a second.
std::string Seconds(double seconds) {
  return seconds >= 0.01 ? absl::StrFormat("%.3f s", seconds)
                         : absl::StrFormat("%.3f ms", seconds * 1000);
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
  // Standard output is the Markdown; the index logs every first scan at
  // info level, which would land in it and be timed with it.
  spdlog::set_default_logger(spdlog::stderr_color_mt("mailfleet-bench-mpa"));
  spdlog::set_level(spdlog::level::warn);
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
  std::vector<std::string> queue_dirs;
  for (QueueKind q : mpa::kSpoolQueues) {
    queue_dirs.push_back(absl::StrCat(root, "/", mpa::SpoolDirName(q)));
  }
  std::vector<std::string> find = {"find"};
  find.insert(find.end(), queue_dirs.begin(), queue_dirs.end());
  for (const char* a : {"-name", "*.env", "-exec", "cat", "{}", "+"}) {
    find.push_back(a);
  }
  const double cat =
      MedianSeconds([&] { return TimeCommand(find, "/dev/null"); });

  // The agent's index as agent/main.cc wires it, with the default scan
  // threads (one per core) and throttle limits. Each start is a fresh
  // index, so that the first scan's path is timed; each periodic rescan
  // scans into the index the starts left, and finds nothing changed.
  const postfix::QueueReader postfix_reader(
      &fs, EmptyPostfixQueue(dir + "/postfix"), /*threads=*/0);
  std::unique_ptr<QueueIndex> index;
  const double start = MedianSeconds([&] {
    index = std::make_unique<QueueIndex>(&postfix_reader, &reader,
                                         mpa::ThrottleLimits());
    return TimedRescan(*index, built.items);
  });
  const double rescan =
      MedianSeconds([&] { return TimedRescan(*index, built.items); });
  const std::shared_ptr<const QueueSnapshot> snapshot = index->Current();

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
  const std::vector<std::string> grep_ids = IdsOfEnvPaths(grep_out);
  const int64_t grep_matches = grep_ids.size();
  if (searched.matched != grep_matches || grep_matches == 0) {
    Die(absl::StrCat("the filter selected ", searched.matched, " items, grep ",
                     grep_matches));
  }

  // A query as the agent answers it: one listing of the snapshot, every
  // matching id collected.
  std::vector<std::string> index_ids;
  const double query = MedianSeconds([&] {
    index_ids.clear();
    const absl::Time query_start = absl::Now();
    snapshot->List(
        *filter, query_start, nullptr, std::numeric_limits<size_t>::max(),
        [&](const QueueSnapshot::View& v) { index_ids.emplace_back(v.id()); });
    return absl::ToDoubleSeconds(absl::Now() - query_start);
  });
  std::sort(index_ids.begin(), index_ids.end());
  if (index_ids != grep_ids) {
    Die(absl::StrCat("the index listed ", index_ids.size(),
                     " items, grep found ", grep_ids.size(),
                     ", and not the same ones"));
  }

  QueueSummary summary;
  const double summarize = MedianSeconds([&] {
    const absl::Time summary_start = absl::Now();
    summary = index->Summarize(*snapshot, mailfleet::Filter(), summary_start,
                               /*top_n=*/10);
    return absl::ToDoubleSeconds(absl::Now() - summary_start);
  });
  if (summary.total_messages != built.items || !summary.mpa_throttle) {
    Die(absl::StrCat("the summary counts ", summary.total_messages,
                     " messages; the spool holds ", built.items));
  }
  const std::string count_out = dir + "/count.out";
  std::vector<std::string> count = {"find"};
  count.insert(count.end(), queue_dirs.begin(), queue_dirs.end());
  for (const char* a : {"-name", "*.eml"}) count.push_back(a);
  const double counted =
      MedianSeconds([&] { return TimeCommand(count, count_out); });
  if (CountLines(count_out) != built.items) {
    Die(absl::StrCat("find counted ", CountLines(count_out), " items; the ",
                     "spool holds ", built.items));
  }

  absl::PrintF(
      "MPA spool: %s items (%s; %.1f recipients and %.1f KB per item on "
      "average), "
      "written by SpoolWriter in %.1f s. Median of %d runs, page cache "
      "warm. Index: %d scan threads, %.1f MiB.\n\n",
      Thousands(built.items), absl::StrJoin(built.counts, ", "),
      static_cast<double>(built.recipients) / built.items,
      built.bytes / 1024.0 / built.items, built.seconds,
      absl::GetFlag(FLAGS_runs), postfix_reader.threads(),
      snapshot->MemoryBytes() / 1048576.0);
  absl::PrintF(
      "| measurement | mailfleet | baseline | ratio |\n|---|---|---|---|\n");
  const std::string find_cat = absl::StrFormat(
      "`find ... -name '*.env' -exec cat {} +` %s", Seconds(cat));
  absl::PrintF(
      "| full listing, four queues | SpoolReader::Scan %s (%s items/s) | %s | "
      "%s |\n",
      Seconds(scan), Thousands(static_cast<int64_t>(built.items / scan)),
      find_cat, Ratio(scan, cat));
  absl::PrintF(
      "| index build at agent start | QueueIndex::Rescan, fresh index, %s | "
      "%s | %s |\n",
      Seconds(start), find_cat, Ratio(start, cat));
  absl::PrintF(
      "| periodic rescan, nothing changed | QueueIndex::Rescan, same index, "
      "%s | %s | %s |\n",
      Seconds(rescan), find_cat, Ratio(rescan, cat));
  const std::string grep_text = absl::StrFormat(
      "`grep -r -l -i -F ... --include=*.env` %s", Seconds(grepped));
  absl::PrintF(
      "| items whose error contains \"%s\" (%s), by a scan | Scan + Filter %s "
      "| %s | %s |\n",
      kPattern, Thousands(grep_matches), Seconds(search), grep_text,
      Ratio(search, grepped));
  absl::PrintF(
      "| the same items, from the index | QueueSnapshot::List + Filter %s | "
      "%s | %s |\n",
      Seconds(query), grep_text, Ratio(query, grepped));
  absl::PrintF(
      "| summary, top 10, throttle state (%s) | QueueIndex::Summarize %s | "
      "`find ... -name '*.eml'`, counted, %s | %s |\n",
      ThrottleStateName(summary.mpa_throttle->state), Seconds(summarize),
      Seconds(counted), Ratio(summarize, counted));

  if (!absl::GetFlag(FLAGS_keep)) {
    std::error_code error;
    std::filesystem::remove_all(dir, error);
    if (error) Die("removing " + dir + ": " + error.message());
  } else {
    std::fprintf(stderr, "spool kept in %s\n", root.c_str());
  }
  return 0;
}
