// Collected Prometheus families as a map a test can index:
// "name{label=value,...}" -> value (histograms as "name{...}count").
#ifndef MAILFLEET_TESTS_TESTING_METRIC_SAMPLES_H_
#define MAILFLEET_TESTS_TESTING_METRIC_SAMPLES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "prometheus/metric_family.h"

namespace mailfleet::testing {

inline std::map<std::string, double> Samples(
    const std::vector<prometheus::MetricFamily>& families) {
  std::map<std::string, double> samples;
  for (const prometheus::MetricFamily& family : families) {
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::vector<std::string> labels;
      for (const auto& label : metric.label) labels.push_back(label.name + "=" + label.value);
      const std::string key = absl::StrCat(family.name, "{", absl::StrJoin(labels, ","), "}");
      switch (family.type) {
        case prometheus::MetricType::Histogram:
          samples[key + "count"] = static_cast<double>(metric.histogram.sample_count);
          break;
        case prometheus::MetricType::Counter:
          samples[key] = metric.counter.value;
          break;
        default:
          samples[key] = metric.gauge.value;
      }
    }
  }
  return samples;
}

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_TESTING_METRIC_SAMPLES_H_
