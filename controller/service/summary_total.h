// The fleet's total of many gateways' queue summaries, as
// FleetSummaryResponse.total describes it: counts, bytes and age buckets
// added per queue, the oldest message of all (and its gateway), top domains
// and delay reasons added up and cut again, scan problems counted, MPA
// throttle counts added with the worst state and without limits.
//
// Not thread-safe: add from one thread, or under the caller's lock.
#ifndef MAILFLEET_CONTROLLER_SERVICE_SUMMARY_TOTAL_H_
#define MAILFLEET_CONTROLLER_SERVICE_SUMMARY_TOTAL_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "mailfleet/v1/types.pb.h"

namespace mailfleet::controller {

class SummaryTotal {
 public:
  // Gateways added in the gateways file's order settle a tie for the
  // oldest message in favour of the earlier one.
  void Add(const std::string& gateway, const v1::QueueSummary& summary);

  // The total, with at most `top_n` top domains and delay reasons.
  v1::QueueSummary Total(size_t top_n) const;
  // The gateway of the oldest message; empty if no gateway has one.
  const std::string& oldest_gateway() const { return oldest_gateway_; }

 private:
  v1::QueueSummary total_;  // without queues and top lists, kept below
  std::map<int, v1::QueueStats> queues_;  // by wire queue kind, in its order
  // By domain: recipients, messages.
  std::map<std::string, std::pair<int64_t, int64_t>> domains_;
  std::map<std::string, int64_t> reasons_;
  std::string oldest_gateway_;
};

// `summary` with at most `top_n` top domains and delay reasons.
void CutTopLists(size_t top_n, v1::QueueSummary* summary);

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_SERVICE_SUMMARY_TOTAL_H_
