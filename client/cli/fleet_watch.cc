// watch through the controller: the gateways' states and queue totals as
// they change.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli/commands.h"
#include "client/cli/filter_flags.h"
#include "client/cli/gateway_selection.h"
#include "common/status_macros.h"

namespace mailfleet::cli {
namespace {

// The selected gateways as the events leave them, in the snapshot's order
// (gateways that join later at the end): what the screen shows.
class FleetState {
 public:
  void Apply(const v1::FleetWatchEvent& event) {
    switch (event.event_case()) {
      case v1::FleetWatchEvent::kSnapshot:
        gateways_.assign(event.snapshot().gateways().begin(),
                         event.snapshot().gateways().end());
        break;
      case v1::FleetWatchEvent::kGateway:
        if (v1::Gateway* known = Find(event.gateway().name())) {
          *known = event.gateway();
        } else {
          gateways_.push_back(event.gateway());
        }
        break;
      case v1::FleetWatchEvent::kRemoved:
        for (auto it = gateways_.begin(); it != gateways_.end(); ++it) {
          if (it->name() == event.removed()) {
            gateways_.erase(it);
            break;
          }
        }
        break;
      default:
        break;
    }
  }

  const std::vector<v1::Gateway>& gateways() const { return gateways_; }

 private:
  v1::Gateway* Find(const std::string& name) {
    for (v1::Gateway& gateway : gateways_) {
      if (gateway.name() == name) return &gateway;
    }
    return nullptr;
  }

  std::vector<v1::Gateway> gateways_;
};

}  // namespace

absl::Status RunFleetWatch(CommandContext& context) {
  MF_ASSIGN_OR_RETURN(ControllerClient * controller, context.Controller());
  const CommandLine& line = context.line();
  Output& out = context.out();
  WatchControl own_control;
  WatchControl* control = context.watch_control() != nullptr
                              ? context.watch_control()
                              : &own_control;
  int64_t events = 0;
  const auto count_event = [&] {
    if (line.events > 0 && ++events >= line.events) control->Cancel();
  };
  v1::FleetWatchRequest request;
  *request.mutable_selector() = GatewaySelectorOf(line);
  if (line.heartbeat > absl::ZeroDuration()) {
    SetDuration(line.heartbeat, request.mutable_heartbeat_interval());
  }

  if (out.format() == OutputFormat::kJson || !context.output_is_terminal()) {
    return controller->Watch(
        request,
        [&](const v1::FleetWatchEvent& event) {
          MF_RETURN_IF_ERROR(out.PrintFleetWatchEvent(event));
          count_event();
          return absl::OkStatus();
        },
        control);
  }
  // Gateway events are few (a change of state, or of a summary, which the
  // controller merges for a slow reader): each one redraws the table.
  FleetState state;
  return controller->Watch(
      request,
      [&](const v1::FleetWatchEvent& event) {
        state.Apply(event);
        const absl::Time updated =
            event.has_time() ? ToTime(event.time()) : absl::Now();
        if (event.event_case() != v1::FleetWatchEvent::kHeartbeat) {
          GatewayTable table(DisplayContext{updated, out.display().zone});
          for (const v1::Gateway& gateway : state.gateways()) {
            table.Add(gateway);
          }
          MF_RETURN_IF_ERROR(out.DrawFleetScreen(
              absl::StrCat("controller ", line.controller, ": ",
                           state.gateways().size(), " gateways, updated ",
                           absl::FormatTime("%H:%M:%S", updated,
                                            out.display().zone)),
              table));
        }
        count_event();
        return absl::OkStatus();
      },
      control);
}

}  // namespace mailfleet::cli
