// mailfleet watch [filter flags] [--top N] [--messages] [--heartbeat DUR]
//                 [--events N]
#include "client/cli/commands.h"
#include "client/cli/filter_flags.h"
#include "client/cli/watch_screen.h"
#include "client/watch_view.h"
#include "common/status_macros.h"

namespace mailfleet::cli {
namespace {

// At most five redraws a second: enough to look live, little enough that
// a burst of changes does not flood a slow terminal.
constexpr absl::Duration kRedrawInterval = absl::Milliseconds(200);

v1::WatchRequest WatchRequestFor(const CommandLine& line) {
  v1::WatchRequest request;
  // Unset, not empty, when no filter flag was given: "everything".
  if (line.filter.ByteSizeLong() > 0) *request.mutable_filter() = line.filter;
  request.set_include_messages(line.messages);
  request.set_top_n(line.top);
  if (line.heartbeat > absl::ZeroDuration()) {
    SetDuration(line.heartbeat, request.mutable_heartbeat_interval());
  }
  return request;
}

}  // namespace

absl::Status CheckWatch(const CommandLine& line, bool /*can_ask*/) {
  // The controller's watch is of gateways, not of messages.
  if (!line.controller.empty() &&
      (line.filter.ByteSizeLong() > 0 || line.top > 0 || line.messages)) {
    return absl::InvalidArgumentError(
        "through the controller, watch follows the gateways: the filter "
        "flags, --top and --messages are for an agent (--agent)");
  }
  return absl::OkStatus();
}

absl::Status RunWatch(CommandContext& context) {
  if (context.fleet()) return RunFleetWatch(context);
  MF_ASSIGN_OR_RETURN(AgentClient * agent, context.Agent());
  const CommandLine& line = context.line();
  Output& out = context.out();
  WatchControl own_control;
  WatchControl* control = context.watch_control() != nullptr
                              ? context.watch_control()
                              : &own_control;
  // --events N: the Nth event ends the watch as an interrupt would.
  int64_t events = 0;
  const auto count_event = [&] {
    if (line.events > 0 && ++events >= line.events) control->Cancel();
  };
  const v1::WatchRequest request = WatchRequestFor(line);

  if (out.format() == OutputFormat::kJson) {
    // Every event as the agent sent it: checking them is for the reader.
    return agent->Watch(
        request,
        [&](const v1::WatchEvent& event) {
          MF_RETURN_IF_ERROR(out.PrintWatchEvent(event, SnapshotNote()));
          count_event();
          return absl::OkStatus();
        },
        control);
  }
  if (context.output_is_terminal()) {
    WatchScreen screen(out, line.agent, kRedrawInterval);
    absl::Status status = agent->Watch(
        request,
        [&](const v1::WatchEvent& event) {
          MF_RETURN_IF_ERROR(screen.Apply(event));
          count_event();
          return absl::OkStatus();
        },
        control);
    absl::Status drawn = screen.Finish();
    return status.ok() ? drawn : status;
  }
  WatchView view;
  return agent->Watch(
      request,
      [&](const v1::WatchEvent& event) {
        const int64_t restarts = view.restarts();
        MF_RETURN_IF_ERROR(view.Apply(event));
        MF_RETURN_IF_ERROR(out.PrintWatchEvent(
            event,
            SnapshotNote{view.summary().total_messages(),
                         view.snapshot_reason(), view.restarts() > restarts}));
        count_event();
        return absl::OkStatus();
      },
      control);
}

}  // namespace mailfleet::cli
