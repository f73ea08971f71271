// Samples computed at scrape time (collectors), written as Prometheus
// metric families: a collector fills a few of these from a consistent
// snapshot and returns them.
#ifndef MAILFLEET_COMMON_METRICS_FAMILIES_H_
#define MAILFLEET_COMMON_METRICS_FAMILIES_H_

#include <string>
#include <utility>
#include <vector>

#include "prometheus/metric_family.h"

namespace mailfleet {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class GaugeFamily {
 public:
  GaugeFamily(std::string name, std::string help);

  GaugeFamily& Add(const MetricLabels& labels, double value);

  prometheus::MetricFamily Take() { return std::move(family_); }

 private:
  prometheus::MetricFamily family_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_METRICS_FAMILIES_H_
