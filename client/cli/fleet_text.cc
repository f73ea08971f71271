#include "client/cli/fleet_text.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli/action_text.h"
#include "client/cli/gateway_selection.h"
#include "client/cli/summary_table.h"
#include "client/cli/units.h"

namespace mailfleet::cli {
namespace {

using Align = TextTable::Align;

// Widths include the gap to the next column; "unreachable" is the longest
// state.
constexpr size_t kGatewayWidth = 17;
constexpr size_t kCountWidth = 8;
constexpr size_t kElapsedWidth = 9;
constexpr absl::string_view kGap = "  ";

absl::string_view MpaStateName(const v1::QueueSummary& summary) {
  if (!summary.has_mpa_throttle()) return "-";
  switch (summary.mpa_throttle().state()) {
    case v1::MpaThrottle::NORMAL:
      return "normal";
    case v1::MpaThrottle::THROTTLING:
      return "throttling";
    case v1::MpaThrottle::REFUSING:
      return "refusing";
    default:
      return "unknown";
  }
}

// "site=ams,env=prod", by key: a proto map has no order of its own.
std::string LabelsText(const v1::Gateway& gateway) {
  std::vector<std::pair<std::string, std::string>> labels(
      gateway.labels().begin(), gateway.labels().end());
  std::sort(labels.begin(), labels.end());
  return absl::StrJoin(labels, ",", absl::PairFormatter("="));
}

std::string MessagesText(const v1::Gateway& gateway) {
  std::string text = absl::StrCat(gateway.summary().total_messages());
  if (!gateway.synced()) text.push_back('?');
  return text;
}

std::string ElapsedText(const google::protobuf::Duration& elapsed) {
  const absl::Duration d =
      absl::Seconds(elapsed.seconds()) + absl::Nanoseconds(elapsed.nanos());
  if (d < absl::Milliseconds(1)) return "<1ms";
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(1)));
}

std::string ClockText(absl::Time time, const DisplayContext& display) {
  return absl::FormatTime("%H:%M:%S", time, display.zone);
}

void AppendRight(absl::string_view text, size_t width, std::string* out) {
  AppendPaddedRight(text, width, out);
  out->append(kGap.data(), kGap.size());
}

void AppendGatewayLine(const v1::Gateway& gateway, absl::string_view clock,
                       std::string* out) {
  absl::StrAppend(out, clock, " ");
  AppendSanitized(gateway.name(), out);
  absl::StrAppend(out, " ", GatewayStateName(gateway.state()), " ",
                  MessagesText(gateway), " messages ",
                  FormatSize(gateway.summary().total_bytes()));
  if (gateway.summary().has_mpa_throttle()) {
    absl::StrAppend(out, " mpa ", MpaStateName(gateway.summary()));
  }
  if (gateway.state() == v1::GATEWAY_UNREACHABLE &&
      !gateway.last_error().empty()) {
    out->append(" (");
    AppendSanitized(gateway.last_error(), out);
    out->push_back(')');
  }
  out->push_back('\n');
}

}  // namespace

absl::string_view GatewayStateName(v1::GatewayState state) {
  switch (state) {
    case v1::GATEWAY_CONNECTING:
      return "connecting";
    case v1::GATEWAY_CONNECTED:
      return "connected";
    case v1::GATEWAY_STALE:
      return "stale";
    case v1::GATEWAY_UNREACHABLE:
      return "unreachable";
    default:
      return "unknown";
  }
}

void GatewayTable::Add(const v1::Gateway& gateway) {
  std::string heard = "-";
  if (gateway.has_last_heard()) {
    heard = absl::StrCat(
        FormatAge(display_.now - ToTime(gateway.last_heard())), " ago");
  }
  any_error_ = any_error_ || !gateway.last_error().empty();
  rows_.push_back({gateway.name(), gateway.address(),
                   std::string(GatewayStateName(gateway.state())), heard,
                   MessagesText(gateway),
                   FormatSize(gateway.summary().total_bytes()),
                   std::string(MpaStateName(gateway.summary())),
                   LabelsText(gateway), gateway.last_error()});
}

void GatewayTable::Append(std::string* out) const {
  std::vector<std::string> header = {"NAME",     "ADDRESS", "STATE",
                                     "LAST-HEARD", "MESSAGES", "SIZE",
                                     "MPA",      "LABELS"};
  if (any_error_) header.push_back("LAST-ERROR");
  TextTable table(std::move(header),
                  {Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight,
                   Align::kRight, Align::kRight, Align::kLeft, Align::kLeft,
                   Align::kLeft});
  for (const std::vector<std::string>& row : rows_) {
    std::vector<std::string> cells = row;
    if (!any_error_) cells.pop_back();
    table.AddRow(std::move(cells));
  }
  table.Append(out);
}

void AppendFleetSummary(const v1::FleetSummaryResponse& response,
                        const DisplayContext& display, std::string* out) {
  const int gateways = response.gateways_size();
  const int counted = gateways - response.failures_size();
  absl::StrAppend(out, "fleet: ", gateways,
                  gateways == 1 ? " gateway, " : " gateways, ", counted,
                  " in the total");
  if (!response.oldest_gateway().empty()) {
    out->append("; oldest message on ");
    AppendSanitized(response.oldest_gateway(), out);
  }
  out->append("\n\n");
  AppendQueueSummary(response.total(), display, out);
  out->push_back('\n');
  GatewayTable table(display);
  for (const v1::Gateway& gateway : response.gateways()) table.Add(gateway);
  table.Append(out);
  if (!response.failures().empty()) {
    out->append("\nleft out of the total:\n");
    for (const v1::GatewayFailure& failure : response.failures()) {
      absl::StrAppend(out, "  ", GatewayFailureText(failure), "\n");
    }
  }
}

void FleetActTally::Add(const v1::GatewayActResult& result) {
  ++gateways;
  if (result.has_failure()) ++failed_gateways;
  // A failure with a response: the gateway stopped part-way, after acting
  // on what the response counts.
  if (!result.has_response()) return;
  const v1::ActResponse& response = result.response();
  matched += response.matched();
  succeeded += response.succeeded();
  failed += std::max<int64_t>(response.failed(), response.failures_size());
  for (const v1::ActFailure& failure : response.failures()) {
    failures.emplace_back(result.gateway(), failure);
  }
  if (response.dry_run()) {
    for (const std::string& id : response.queue_ids()) {
      selected.emplace_back(result.gateway(), id);
    }
  }
}

void AppendActRowHeader(std::string* out) {
  AppendPaddedLeft("GATEWAY", kGatewayWidth, out);
  AppendRight("MATCHED", kCountWidth, out);
  AppendRight("DONE", kCountWidth, out);
  AppendRight("FAILED", kCountWidth, out);
  AppendRight("ELAPSED", kElapsedWidth, out);
  out->append("ERROR\n");
}

void AppendActRow(const v1::GatewayActResult& result, std::string* out) {
  const size_t start = out->size();
  AppendPaddedLeft(result.gateway(), kGatewayWidth, out);
  if (!result.has_response()) {
    AppendRight("-", kCountWidth, out);
    AppendRight("-", kCountWidth, out);
    AppendRight("-", kCountWidth, out);
  } else {
    const v1::ActResponse& response = result.response();
    AppendRight(absl::StrCat(response.matched()), kCountWidth, out);
    AppendRight(response.dry_run() ? "-" : absl::StrCat(response.succeeded()),
                kCountWidth, out);
    AppendRight(response.dry_run() ? "-" : absl::StrCat(response.failed()),
                kCountWidth, out);
  }
  AppendRight(ElapsedText(result.elapsed()), kElapsedWidth, out);
  if (result.has_failure()) AppendSanitized(result.failure().error(), out);
  while (out->size() > start && out->back() == ' ') out->pop_back();
  out->push_back('\n');
}

void AppendActEnd(const FleetActTally& tally, std::string* out) {
  const absl::string_view verb = ActionVerb(tally.action);
  if (tally.dry_run && !tally.selected.empty()) {
    absl::StrAppend(out, "would ", verb, ":\n");
    for (const auto& [gateway, id] : tally.selected) {
      out->append("  ");
      AppendPaddedLeft(gateway, kGatewayWidth, out);
      AppendSanitized(id, out);
      out->push_back('\n');
    }
  }
  if (!tally.failures.empty()) {
    absl::StrAppend(out, tally.dry_run ? "cannot " : "could not ", verb, ":\n");
    for (const auto& [gateway, failure] : tally.failures) {
      out->append("  ");
      AppendPaddedLeft(gateway, kGatewayWidth, out);
      AppendSanitized(failure.queue_id(), out);
      out->append(": ");
      AppendSanitized(failure.reason(), out);
      out->push_back('\n');
    }
  }
  absl::StrAppend(out, tally.dry_run ? "would " : "", verb, ": ",
                  tally.gateways, tally.gateways == 1 ? " gateway" : " gateways",
                  ", ", tally.failed_gateways, " failed; ", tally.matched,
                  " matched");
  if (!tally.dry_run) {
    absl::StrAppend(out, ", ", tally.succeeded, " done, ", tally.failed,
                    " failed");
  }
  out->push_back('\n');
}

void AppendFlushRowHeader(std::string* out) {
  AppendPaddedLeft("GATEWAY", kGatewayWidth, out);
  AppendRight("ELAPSED", kElapsedWidth, out);
  out->append("RESULT\n");
}

void AppendFlushRow(const v1::GatewayFlushResult& result, std::string* out) {
  AppendPaddedLeft(result.gateway(), kGatewayWidth, out);
  AppendRight(ElapsedText(result.elapsed()), kElapsedWidth, out);
  if (result.has_failure()) {
    AppendSanitized(result.failure().error(), out);
  } else {
    out->append("flushed");
  }
  out->push_back('\n');
}

void AppendFleetWatchLines(const v1::FleetWatchEvent& event,
                           const DisplayContext& display, std::string* out) {
  const std::string clock = ClockText(
      event.has_time() ? ToTime(event.time()) : display.now, display);
  switch (event.event_case()) {
    case v1::FleetWatchEvent::kSnapshot: {
      const int count = event.snapshot().gateways_size();
      absl::StrAppend(out, clock, " snapshot ", count,
                      count == 1 ? " gateway\n" : " gateways\n");
      for (const v1::Gateway& gateway : event.snapshot().gateways()) {
        AppendGatewayLine(gateway, clock, out);
      }
      break;
    }
    case v1::FleetWatchEvent::kGateway:
      AppendGatewayLine(event.gateway(), clock, out);
      break;
    case v1::FleetWatchEvent::kRemoved:
      absl::StrAppend(out, clock, " removed ");
      AppendSanitized(event.removed(), out);
      out->push_back('\n');
      break;
    default:
      break;
  }
}

}  // namespace mailfleet::cli
