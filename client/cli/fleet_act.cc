// hold|release|requeue|delete|expire|respool through the controller: the
// action on the selected gateways, a row per gateway as each finishes.
#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "client/cli/act_batches.h"
#include "client/cli/action_text.h"
#include "client/cli/commands.h"
#include "client/cli/filter_flags.h"
#include "client/cli/gateway_selection.h"
#include "common/status_macros.h"

namespace mailfleet::cli {
namespace {

// Confirmed actions: gateways asked at once, each its own request.
constexpr size_t kParallelGateways = 16;

v1::FleetActRequest FleetRequestFor(const CommandLine& line,
                                    v1::ActRequest request) {
  v1::FleetActRequest fleet;
  *fleet.mutable_selector() = GatewaySelectorOf(line);
  *fleet.mutable_request() = std::move(request);
  SetDuration(line.action_timeout, fleet.mutable_timeout());
  return fleet;
}

// Streams `request`'s results: each printed as it arrives, added to
// `tally`, and kept in `results` when given.
absl::Status StreamAct(CommandContext& context, ControllerClient& controller,
                       const v1::FleetActRequest& request, FleetActTally* tally,
                       std::vector<v1::GatewayActResult>* results = nullptr) {
  Output& out = context.out();
  out.BeginGatewayResults();
  tally->action = request.request().action();
  tally->dry_run = request.request().dry_run();
  return controller.Act(request, [&](const v1::GatewayActResult& result) {
    tally->Add(result);
    if (results != nullptr) results->push_back(result);
    return out.AddGatewayActResult(result);
  });
}

// The end of the output, and the exit status: 1 when a gateway failed or,
// in a real run, a message did.
absl::Status Finish(CommandContext& context, const FleetActTally& tally) {
  MF_RETURN_IF_ERROR(context.out().EndGatewayActResults(tally));
  std::vector<std::string> problems;
  if (!tally.dry_run && tally.failed > 0) {
    problems.push_back(absl::StrCat(
        "could not ", ActionVerb(tally.action), " ", tally.failed, " of ",
        MessageCount(std::max(tally.matched, tally.failed))));
  }
  if (tally.failed_gateways > 0) {
    problems.push_back(absl::StrCat(tally.failed_gateways, " of ",
                                    tally.gateways, " gateways failed"));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::AbortedError(absl::StrJoin(problems, "; "));
}

// One gateway's part of a confirmed action: exactly the ids its dry run
// counted, through the controller, with that gateway alone selected.
v1::GatewayActResult ActOnCounted(ControllerClient& controller,
                                  const CommandLine& line, v1::Action action,
                                  const v1::GatewayActResult& preview) {
  const absl::Time start = absl::Now();
  const ActCall act = [&](const v1::ActRequest& request)
      -> absl::StatusOr<v1::ActResponse> {
    v1::FleetActRequest fleet;
    fleet.mutable_selector()->add_names(preview.gateway());
    *fleet.mutable_request() = request;
    SetDuration(line.action_timeout, fleet.mutable_timeout());
    std::vector<v1::GatewayActResult> results;
    MF_RETURN_IF_ERROR(
        controller.Act(fleet, [&](const v1::GatewayActResult& result) {
          results.push_back(result);
          return absl::OkStatus();
        }));
    if (results.size() != 1 || results[0].gateway() != preview.gateway()) {
      return absl::InternalError(absl::StrCat(
          "the controller answered ", results.size(),
          " results for gateway ", preview.gateway(), " alone"));
    }
    // The ids were counted on that agent; after a reload of the
    // controller's file the name may lead to another.
    if (results[0].address() != preview.address()) {
      return absl::AbortedError(absl::StrCat(
          "gateway ", preview.gateway(), " is now ", results[0].address(),
          ", not ", preview.address(), " where its messages were counted"));
    }
    if (results[0].has_failure()) {
      return absl::Status(
          static_cast<absl::StatusCode>(results[0].failure().code()),
          results[0].failure().error());
    }
    return results[0].response();
  };
  v1::ActResponse sum;
  bool answered = false;
  absl::Status status =
      ActOnGroups(act, action, GroupsOf(preview.response(), line.filter),
                  /*dry_run=*/false, &sum, &answered);
  v1::GatewayActResult result;
  result.set_gateway(preview.gateway());
  result.set_address(preview.address());
  // Requests before a failed one were done: what they did stays counted,
  // beside the failure.
  if (answered) *result.mutable_response() = std::move(sum);
  if (!status.ok()) {
    v1::GatewayFailure* failure = result.mutable_failure();
    failure->set_gateway(preview.gateway());
    failure->set_address(preview.address());
    failure->set_code(static_cast<int32_t>(status.code()));
    failure->set_error(std::string(status.message()));
  }
  SetDuration(absl::Now() - start, result.mutable_elapsed());
  return result;
}

}  // namespace

absl::Status RunFleetAction(CommandContext& context, v1::Action action) {
  MF_ASSIGN_OR_RETURN(ControllerClient * controller, context.Controller());
  const CommandLine& line = context.line();
  v1::ActRequest request;
  request.set_action(action);
  FleetActTally tally;
  if (!line.args.empty()) {
    request.set_dry_run(line.dry_run);
    for (const std::string& id : line.args) {
      request.mutable_selector()->add_queue_ids(id);
    }
    if (line.filter.queues_size() > 0) {
      *request.mutable_selector()->mutable_filter()->mutable_queues() =
          line.filter.queues();
    }
    MF_RETURN_IF_ERROR(StreamAct(context, *controller,
                                 FleetRequestFor(line, request), &tally));
    return Finish(context, tally);
  }

  // Set even when empty: with `all`, an empty filter is the whole queue.
  *request.mutable_selector()->mutable_filter() = line.filter;
  request.mutable_selector()->set_all(line.all);
  if (line.dry_run || line.yes) {
    request.set_dry_run(line.dry_run);
    MF_RETURN_IF_ERROR(StreamAct(context, *controller,
                                 FleetRequestFor(line, request), &tally));
    return Finish(context, tally);
  }

  // As with one agent: the operator confirms the counts, and each gateway
  // is then asked to act on exactly the ids it counted. That takes a
  // request per gateway; up to kParallelGateways go at once.
  request.set_dry_run(true);
  std::vector<v1::GatewayActResult> previews;
  MF_RETURN_IF_ERROR(StreamAct(context, *controller,
                               FleetRequestFor(line, request), &tally,
                               &previews));
  int64_t ids = 0;
  int gateways = 0;
  for (const v1::GatewayActResult& preview : previews) {
    if (preview.has_failure()) continue;
    MF_RETURN_IF_ERROR(CheckPreview(
        preview.response(), absl::StrCat("gateway ", preview.gateway())));
    ids += preview.response().queue_ids_size();
    if (preview.response().queue_ids_size() > 0) ++gateways;
  }
  if (ids == 0) return Finish(context, tally);
  MF_ASSIGN_OR_RETURN(
      bool confirmed,
      context.Ask(absl::StrCat(ActionVerb(action), " ", MessageCount(ids),
                               " on ", gateways,
                               gateways == 1 ? " gateway" : " gateways",
                               " through ", line.controller, "? [y/N] ")));
  if (!confirmed) {
    return absl::CancelledError(absl::StrCat("not confirmed: no message was ",
                                             ActionPastTense(action)));
  }
  std::vector<const v1::GatewayActResult*> to_act;
  for (const v1::GatewayActResult& preview : previews) {
    if (!preview.has_failure() && !preview.response().queue_ids().empty()) {
      to_act.push_back(&preview);
    }
  }
  FleetActTally done;
  done.action = action;
  context.out().BeginGatewayResults();
  absl::Mutex mu;  // Over the tally, the output and the first output error.
  absl::Status written;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < to_act.size();) {
      v1::GatewayActResult result =
          ActOnCounted(*controller, line, action, *to_act[i]);
      absl::MutexLock lock(&mu);
      done.Add(result);
      // Each row as its gateway finishes, as in a single fleet request.
      if (written.ok()) written = context.out().AddGatewayActResult(result);
    }
  };
  std::vector<std::thread> workers;
  for (size_t w = 0; w < std::min(to_act.size(), kParallelGateways); ++w) {
    workers.emplace_back(work);
  }
  for (std::thread& worker : workers) worker.join();
  MF_RETURN_IF_ERROR(written);
  // The total is over every gateway of the dry run: those that failed it
  // were left alone, and count as failed; those with nothing to do, as
  // done.
  done.gateways += static_cast<int64_t>(previews.size() - to_act.size());
  done.failed_gateways += tally.failed_gateways;
  return Finish(context, done);
}

}  // namespace mailfleet::cli
