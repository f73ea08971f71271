#include "common/metrics/families.h"

namespace mailfleet {

GaugeFamily::GaugeFamily(std::string name, std::string help) {
  family_.name = std::move(name);
  family_.help = std::move(help);
  family_.type = prometheus::MetricType::Gauge;
}

GaugeFamily& GaugeFamily::Add(const MetricLabels& labels, double value) {
  prometheus::ClientMetric metric;
  for (const auto& [name, label_value] : labels) metric.label.push_back({name, label_value});
  metric.gauge.value = value;
  family_.metric.push_back(std::move(metric));
  return *this;
}

}  // namespace mailfleet
