#include "common/metrics/action_metrics.h"

namespace mailfleet {

ActionMetrics::ActionMetrics(prometheus::Registry& registry)
    : actions_(prometheus::BuildCounter()
                   .Name("mailfleet_actions_total")
                   .Help("Audited calls (actions, flushes, content reads) by verb and result")
                   .Register(registry)),
      messages_(prometheus::BuildCounter()
                    .Name("mailfleet_action_messages_total")
                    .Help("Messages of audited calls: matched, succeeded, failed")
                    .Register(registry)) {}

void ActionMetrics::Count(const v1::AuditRecord& record) {
  const std::string& verb = record.verb();
  actions_
      .Add({{"verb", verb},
            {"result", record.result()},
            {"dry_run", record.dry_run() ? "true" : "false"}})
      .Increment();
  // A dry run changes nothing: its matches are not messages acted on.
  if (record.dry_run()) return;
  messages_.Add({{"verb", verb}, {"outcome", "matched"}})
      .Increment(static_cast<double>(record.matched()));
  messages_.Add({{"verb", verb}, {"outcome", "succeeded"}})
      .Increment(static_cast<double>(record.succeeded()));
  messages_.Add({{"verb", verb}, {"outcome", "failed"}})
      .Increment(static_cast<double>(record.failed()));
}

}  // namespace mailfleet
