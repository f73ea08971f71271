// Actions by verb and result, counted from the audit records the server
// writes for them (AccessControl's observer), so that the counts and the
// trail agree. A record is counted as it is written: an action whose
// record could not be written was still done.
#ifndef MAILFLEET_COMMON_METRICS_ACTION_METRICS_H_
#define MAILFLEET_COMMON_METRICS_ACTION_METRICS_H_

#include "mailfleet/v1/audit.pb.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"

namespace mailfleet {

class ActionMetrics {
 public:
  // The registry must outlive this.
  explicit ActionMetrics(prometheus::Registry& registry);

  void Count(const v1::AuditRecord& record);

 private:
  prometheus::Family<prometheus::Counter>& actions_;
  prometheus::Family<prometheus::Counter>& messages_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_METRICS_ACTION_METRICS_H_
