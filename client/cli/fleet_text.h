// What the controller answers, as text: the gateway table (`gateways`, and
// `watch` at a terminal), the fleet summary, the rows of an action or a
// flush printed one per gateway as each result arrives, and the watch log.
// Strings from gateways and agents are sanitized as everywhere else.
#ifndef MAILFLEET_CLIENT_CLI_FLEET_TEXT_H_
#define MAILFLEET_CLIENT_CLI_FLEET_TEXT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "client/cli/terminal_text.h"
#include "client/cli/text_table.h"
#include "mailfleet/v1/controller.pb.h"

namespace mailfleet::cli {

// "connecting", "connected", "stale", "unreachable".
absl::string_view GatewayStateName(v1::GatewayState state);

// NAME ADDRESS STATE LAST-HEARD MESSAGES SIZE MPA LABELS, and LAST-ERROR
// after them when any gateway has one. MESSAGES ends in '?' while the
// summary is the one from before the current stream (not synced).
class GatewayTable {
 public:
  explicit GatewayTable(const DisplayContext& display) : display_(display) {}
  void Add(const v1::Gateway& gateway);
  void Append(std::string* out) const;

 private:
  DisplayContext display_;
  std::vector<std::vector<std::string>> rows_;
  bool any_error_ = false;
};

// The fleet's totals in `summary`'s layout, the gateways' lines, and the
// gateways left out of the total.
void AppendFleetSummary(const v1::FleetSummaryResponse& response,
                        const DisplayContext& display, std::string* out);

// What an action's per-gateway results add up to: the total line, the
// exit status, and what is listed after the rows.
struct FleetActTally {
  v1::Action action = v1::ACTION_UNSPECIFIED;
  bool dry_run = false;
  int64_t gateways = 0;
  int64_t failed_gateways = 0;
  int64_t matched = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
  // (gateway, failure), and for a dry run (gateway, selected id).
  std::vector<std::pair<std::string, v1::ActFailure>> failures;
  std::vector<std::pair<std::string, std::string>> selected;

  void Add(const v1::GatewayActResult& result);
};

// GATEWAY MATCHED DONE FAILED ELAPSED ERROR, fixed widths, so that each row
// is printed as its result arrives; a longer name pushes its row right. A
// dry run's DONE and FAILED are "-".
void AppendActRowHeader(std::string* out);
void AppendActRow(const v1::GatewayActResult& result, std::string* out);
// After the rows: each failed message ("  GATEWAY ID: reason"), or for a
// dry run each selected id, then the total line.
void AppendActEnd(const FleetActTally& tally, std::string* out);

// GATEWAY ELAPSED RESULT, as the action's rows.
void AppendFlushRowHeader(std::string* out);
void AppendFlushRow(const v1::GatewayFlushResult& result, std::string* out);

// `watch` piped: "12:00:05 snapshot 3 gateways", then a line per gateway
// ("12:00:05 gw1 connected 120 messages 3.4M mpa normal"), "12:00:09
// removed gw2"; heartbeats print nothing.
void AppendFleetWatchLines(const v1::FleetWatchEvent& event,
                           const DisplayContext& display, std::string* out);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_FLEET_TEXT_H_
