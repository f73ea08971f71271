// The controller's Prometheus metrics: its gateways' states and their
// queues as their agents last reported them, computed at each scrape from
// the fleet view (no agent is called for a scrape).
#ifndef MAILFLEET_CONTROLLER_METRICS_CONTROLLER_METRICS_H_
#define MAILFLEET_CONTROLLER_METRICS_CONTROLLER_METRICS_H_

#include <vector>

#include "controller/fleet/fleet.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace mailfleet::controller {

class ControllerMetrics : public prometheus::Collectable {
 public:
  // `fleet` must outlive this.
  explicit ControllerMetrics(const Fleet* fleet) : fleet_(fleet) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Fleet* fleet_;
};

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_METRICS_CONTROLLER_METRICS_H_
