#include "client/cli/summary_table.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli/text_table.h"
#include "client/cli/units.h"
#include "proto/queue_kind_proto.h"

namespace mailfleet::cli {
namespace {

using Align = TextTable::Align;

constexpr size_t kKeyWidth = 10;

absl::Duration ToDuration(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) +
         absl::Nanoseconds(duration.nanos());
}

std::string AgeOf(const google::protobuf::Timestamp& arrival,
                  const DisplayContext& display) {
  return FormatAge(display.now - ToTime(arrival));
}

void AppendAgentInfo(const v1::AgentInfo& agent, const DisplayContext& display,
                     std::string* out) {
  std::string who = agent.hostname().empty() ? "?" : agent.hostname();
  if (!agent.instance_id().empty()) {
    absl::StrAppend(&who, " (instance ", agent.instance_id(), ")");
  }
  AppendLabeledLine("agent", who, kKeyWidth, out);
  if (!agent.postfix_version().empty()) {
    AppendLabeledLine("postfix", agent.postfix_version(), kKeyWidth, out);
  }
  if (!agent.queue_directory().empty()) {
    AppendLabeledLine("queue dir", agent.queue_directory(), kKeyWidth, out);
  }
  AppendLabeledLine("generation", absl::StrCat(agent.generation()), kKeyWidth,
                    out);
  if (agent.has_last_scan_time()) {
    std::string scan;
    AppendTime(ToTime(agent.last_scan_time()), display, &scan);
    absl::StrAppend(&scan, " (", AgeOf(agent.last_scan_time(), display),
                    " ago)");
    if (agent.has_last_scan_duration()) {
      absl::StrAppend(
          &scan, ", took ",
          absl::FormatDuration(ToDuration(agent.last_scan_duration())));
    }
    AppendLabeledLine("last scan", scan, kKeyWidth, out);
  }
}

void AppendQueueCounts(const v1::QueueSummary& summary,
                       const DisplayContext& display, std::string* out) {
  if (summary.queues().empty()) {
    out->append("no messages\n");
    return;
  }
  TextTable table({"QUEUE", "MESSAGES", "SIZE", "RECIPIENTS", "OLDEST"},
                  {Align::kLeft, Align::kRight, Align::kRight, Align::kRight,
                   Align::kLeft});
  int64_t recipients = 0;
  for (const v1::QueueStats& stats : summary.queues()) {
    recipients += stats.recipients();
    table.AddRow({std::string(ProtoQueueKindName(stats.queue())),
                  absl::StrCat(stats.messages()), FormatSize(stats.bytes()),
                  absl::StrCat(stats.recipients()),
                  stats.has_oldest_arrival()
                      ? AgeOf(stats.oldest_arrival(), display)
                      : "-"});
  }
  std::string oldest = "-";
  if (summary.has_oldest_arrival()) {
    oldest = AgeOf(summary.oldest_arrival(), display);
    if (!summary.oldest_queue_id().empty()) {
      absl::StrAppend(&oldest, " (", summary.oldest_queue_id(), ")");
    }
  }
  table.AddRow({"TOTAL", absl::StrCat(summary.total_messages()),
                FormatSize(summary.total_bytes()), absl::StrCat(recipients),
                oldest});
  table.Append(out);
}

// qshape's layout: a total column T, then one column per bucket labelled by
// its upper bound, the last one "<bound>+".
void AppendAgeHistogram(const v1::QueueSummary& summary, std::string* out) {
  const auto& bounds = summary.age_bucket_bounds();
  const bool in_minutes =
      std::all_of(bounds.begin(), bounds.end(), [](const auto& bound) {
        return bound.nanos() == 0 && bound.seconds() % 60 == 0;
      });
  std::vector<std::string> header = {in_minutes ? "AGE (minutes)" : "AGE", "T"};
  std::string label;
  for (const auto& bound : bounds) {
    label = in_minutes ? absl::StrCat(bound.seconds() / 60)
                       : absl::FormatDuration(ToDuration(bound));
    header.push_back(label);
  }
  header.push_back(label + "+");
  const size_t buckets = bounds.size() + 1;
  std::vector<Align> aligns(header.size(), Align::kRight);
  aligns[0] = Align::kLeft;
  TextTable table(std::move(header), std::move(aligns));

  std::vector<int64_t> totals(buckets, 0);
  std::vector<std::vector<std::string>> rows;
  for (const v1::QueueStats& stats : summary.queues()) {
    std::vector<std::string> row = {
        std::string(ProtoQueueKindName(stats.queue())),
        absl::StrCat(stats.messages())};
    for (size_t i = 0; i < buckets; ++i) {
      const int64_t count = i < static_cast<size_t>(stats.age_buckets_size())
                                ? stats.age_buckets(i)
                                : 0;
      totals[i] += count;
      row.push_back(absl::StrCat(count));
    }
    rows.push_back(std::move(row));
  }
  std::vector<std::string> total_row = {"TOTAL",
                                        absl::StrCat(summary.total_messages())};
  for (int64_t count : totals) total_row.push_back(absl::StrCat(count));
  table.AddRow(std::move(total_row));
  for (auto& row : rows) table.AddRow(std::move(row));
  table.Append(out);
}

void AppendTopLists(const v1::QueueSummary& summary, std::string* out) {
  if (!summary.top_domains().empty()) {
    out->push_back('\n');
    TextTable table({"DOMAIN", "RECIPIENTS", "MESSAGES"},
                    {Align::kLeft, Align::kRight, Align::kRight});
    for (const v1::DomainCount& domain : summary.top_domains()) {
      table.AddRow({domain.domain(), absl::StrCat(domain.recipients()),
                    absl::StrCat(domain.messages())});
    }
    table.Append(out);
  }
  if (!summary.top_delay_reasons().empty()) {
    out->push_back('\n');
    TextTable table({"RECIPIENTS", "DELAY REASON"},
                    {Align::kRight, Align::kLeft});
    for (const v1::ReasonCount& reason : summary.top_delay_reasons()) {
      table.AddRow({absl::StrCat(reason.recipients()), reason.reason()});
    }
    table.Append(out);
  }
}

absl::string_view ThrottleStateName(v1::MpaThrottle::State state) {
  switch (state) {
    case v1::MpaThrottle::NORMAL: return "normal";
    case v1::MpaThrottle::THROTTLING: return "THROTTLING the MTA";
    case v1::MpaThrottle::REFUSING: return "REFUSING mail";
    default: return "unknown";
  }
}

// "mpa  THROTTLING the MTA: 1500 items in spool, 20 in error" and the
// limits it is judged by, so that the operator sees how far off they are.
void AppendMpaThrottle(const v1::QueueSummary& summary, std::string* out) {
  if (!summary.has_mpa_throttle()) return;
  const v1::MpaThrottle& t = summary.mpa_throttle();
  out->push_back('\n');
  AppendLabeledLine("mpa",
                    absl::StrCat(ThrottleStateName(t.state()), ": ",
                                 t.spool_items(), " items in spool, ",
                                 t.error_items(), " in error"),
                    kKeyWidth, out);
  // A fleet's total has none: each gateway has its own.
  if (!t.has_limits()) return;
  AppendLabeledLine(
      "mpa limits",
      absl::StrCat("throttles above ", t.limits().throttle_spool(),
                   " in spool or ", t.limits().throttle_error(),
                   " in error; refuses above ", t.limits().refuse_spool(),
                   " in spool"),
      kKeyWidth, out);
}

void AppendScanProblems(const v1::QueueSummary& summary, std::string* out) {
  if (summary.scan_problem_count() == 0 && summary.scan_problems().empty()) {
    return;
  }
  out->push_back('\n');
  absl::StrAppend(out, "scan problems: ", summary.scan_problem_count());
  if (summary.scan_problems_size() > 0 &&
      summary.scan_problems_size() < summary.scan_problem_count()) {
    absl::StrAppend(out, " (first ", summary.scan_problems_size(), " shown)");
  }
  out->push_back('\n');
  if (summary.scan_problems().empty()) return;
  TextTable table({"QUEUE", "QUEUE ID", "PROBLEM"},
                  {Align::kLeft, Align::kLeft, Align::kLeft});
  for (const v1::ScanProblem& problem : summary.scan_problems()) {
    table.AddRow({std::string(ProtoQueueKindName(problem.queue())),
                  problem.queue_id(), problem.reason()});
  }
  table.Append(out);
}

}  // namespace

void AppendSummaryTable(const v1::SummaryResponse& response,
                        const DisplayContext& display, std::string* out) {
  AppendAgentInfo(response.agent(), display, out);
  out->push_back('\n');
  AppendQueueSummary(response.summary(), display, out);
}

void AppendQueueSummary(const v1::QueueSummary& summary,
                        const DisplayContext& display, std::string* out) {
  AppendQueueCounts(summary, display, out);
  AppendMpaThrottle(summary, out);
  if (!summary.queues().empty() && !summary.age_bucket_bounds().empty()) {
    out->push_back('\n');
    AppendAgeHistogram(summary, out);
  }
  AppendTopLists(summary, out);
  AppendScanProblems(summary, out);
}

}  // namespace mailfleet::cli
