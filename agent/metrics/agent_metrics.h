// The agent's Prometheus metrics: its queues as the index holds them,
// computed at each scrape from the current snapshot (so a scrape never
// reads the queue directory), and the index's own health.
#ifndef MAILFLEET_AGENT_METRICS_AGENT_METRICS_H_
#define MAILFLEET_AGENT_METRICS_AGENT_METRICS_H_

#include <functional>
#include <string>
#include <vector>

#include "agent/index/queue_index.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace mailfleet {

struct AgentMetricsInfo {
  std::string hostname;
  std::string postfix_version;
};

class AgentMetrics : public prometheus::Collectable {
 public:
  // `index` must outlive this; `watchers` says how many Watch streams are
  // open. Scans are timed from here on: construct before the first scan.
  AgentMetrics(QueueIndex* index, std::function<int()> watchers, AgentMetricsInfo info,
               prometheus::Registry& registry);
  // Unhooks from the index (waiting out a scan in progress).
  ~AgentMetrics() override;

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  QueueIndex* index_;
  std::function<int()> watchers_;
  AgentMetricsInfo info_;
  prometheus::Histogram& scan_seconds_;
  prometheus::Counter& drift_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_AGENT_METRICS_AGENT_METRICS_H_
