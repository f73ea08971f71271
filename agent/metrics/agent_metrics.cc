#include "agent/metrics/agent_metrics.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/filter.h"
#include "common/metrics/families.h"
#include "common/queue_kind.h"

namespace mailfleet {
namespace {

// A scan of a small queue takes milliseconds; of a million messages, tens
// of seconds.
const prometheus::Histogram::BucketBoundaries kScanBuckets = {
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

// "0-5m", "5-10m", ..., "1280m+": the qshape columns.
std::vector<std::string> AgeBucketNames() {
  std::vector<std::string> names;
  int lower = 0;
  for (int upper : kAgeBucketMinutes) {
    names.push_back(absl::StrCat(lower, "-", upper, "m"));
    lower = upper;
  }
  names.push_back(absl::StrCat(lower, "m+"));
  return names;
}

absl::string_view ThrottleStateName(mpa::ThrottleState state) {
  switch (state) {
    case mpa::ThrottleState::kNormal:
      return "normal";
    case mpa::ThrottleState::kThrottling:
      return "throttling";
    case mpa::ThrottleState::kRefusing:
      return "refusing";
  }
  return "normal";
}

}  // namespace

AgentMetrics::AgentMetrics(QueueIndex* index, std::function<int()> watchers,
                           AgentMetricsInfo info, prometheus::Registry& registry)
    : index_(index),
      watchers_(std::move(watchers)),
      info_(std::move(info)),
      scan_seconds_(prometheus::BuildHistogram()
                        .Name("mailfleet_scan_duration_seconds")
                        .Help("Full scans of the queue: the first, and every rescan")
                        .Register(registry)
                        .Add({}, kScanBuckets)),
      drift_(prometheus::BuildCounter()
                 .Name("mailfleet_rescan_corrections_total")
                 .Help("Messages a rescan found the live index had wrong")
                 .Register(registry)
                 .Add({})) {
  index->SetScanObserver([this](const ScanReport& report) {
    // Wall-clock time: a clock stepped back must not make a sum go down.
    scan_seconds_.Observe(
        absl::ToDoubleSeconds(std::max(report.duration, absl::ZeroDuration())));
    drift_.Increment(static_cast<double>(report.drift));
  });
}

AgentMetrics::~AgentMetrics() { index_->SetScanObserver(nullptr); }

std::vector<prometheus::MetricFamily> AgentMetrics::Collect() const {
  std::shared_ptr<const QueueSnapshot> snapshot = index_->Current();
  const absl::Time now = absl::Now();
  QueueSummary summary = index_->Summarize(*snapshot, Filter(), now, /*top_n=*/0);

  GaugeFamily messages("mailfleet_queue_messages", "Messages in the queue");
  GaugeFamily bytes("mailfleet_queue_bytes", "Size of the queue's messages in bytes");
  GaugeFamily recipients("mailfleet_queue_recipients",
                         "Recipients still to deliver of the queue's messages");
  GaugeFamily oldest("mailfleet_queue_oldest_age_seconds",
                     "Age of the queue's oldest message; 0 when it is empty");
  GaugeFamily by_age("mailfleet_queue_messages_by_age",
                     "Messages per qshape age bucket");
  static const std::vector<std::string> kAgeNames = AgeBucketNames();
  const bool has_spool = index_->spool() != nullptr;
  for (int q = 0; q < kQueueKindCount; ++q) {
    const auto kind = static_cast<QueueKind>(q);
    if (kind == QueueKind::kUnknown) continue;
    if (SourceOf(kind) == QueueSource::kMpa && !has_spool) continue;
    const QueueStats& stats = summary.queues[q];
    const std::string queue(QueueKindName(kind));
    messages.Add({{"queue", queue}}, static_cast<double>(stats.messages));
    bytes.Add({{"queue", queue}}, static_cast<double>(stats.bytes));
    recipients.Add({{"queue", queue}}, static_cast<double>(stats.recipients));
    oldest.Add({{"queue", queue}},
               stats.messages == 0
                   ? 0.0
                   : absl::ToDoubleSeconds(std::max(absl::ZeroDuration(),
                                                    now - stats.oldest_arrival)));
    for (int b = 0; b < kAgeBucketCount; ++b) {
      by_age.Add({{"queue", queue}, {"age", kAgeNames[b]}},
                 static_cast<double>(stats.age_buckets[b]));
    }
  }
  std::vector<prometheus::MetricFamily> families;
  families.push_back(messages.Take());
  families.push_back(bytes.Take());
  families.push_back(recipients.Take());
  families.push_back(oldest.Take());
  families.push_back(by_age.Take());

  if (summary.mpa_throttle) {
    const mpa::Throttle& throttle = *summary.mpa_throttle;
    GaugeFamily state("mailfleet_mpa_throttle_state",
                      "1 for the MPA's current throttle state, 0 for the others");
    for (auto s : {mpa::ThrottleState::kNormal, mpa::ThrottleState::kThrottling,
                   mpa::ThrottleState::kRefusing}) {
      state.Add({{"state", std::string(ThrottleStateName(s))}},
                throttle.state == s ? 1.0 : 0.0);
    }
    GaugeFamily limits("mailfleet_mpa_throttle_limit",
                       "The limits the MPA's throttle state is judged by");
    limits.Add({{"limit", "throttle_spool"}}, static_cast<double>(throttle.limits.throttle_spool))
        .Add({{"limit", "throttle_error"}}, static_cast<double>(throttle.limits.throttle_error))
        .Add({{"limit", "refuse_spool"}}, static_cast<double>(throttle.limits.refuse_spool));
    families.push_back(state.Take());
    families.push_back(limits.Take());
  }

  families.push_back(GaugeFamily("mailfleet_scan_problems",
                                 "Queue files the index could not read")
                         .Add({}, static_cast<double>(summary.problem_count))
                         .Take());
  families.push_back(GaugeFamily("mailfleet_index_generation",
                                 "The index's generation: it moves with every change")
                         .Add({}, static_cast<double>(snapshot->generation()))
                         .Take());
  families.push_back(GaugeFamily("mailfleet_watch_subscribers", "Open Watch streams")
                         .Add({}, static_cast<double>(watchers_ ? watchers_() : 0))
                         .Take());
  families.push_back(GaugeFamily("mailfleet_agent_info", "The agent and its Postfix; always 1")
                         .Add({{"hostname", info_.hostname},
                               {"postfix_version", info_.postfix_version},
                               {"instance_id", index_->instance_id()}},
                              1.0)
                         .Take());
  return families;
}

}  // namespace mailfleet
