#include "controller/service/controller_service.h"

#include <optional>

#include "absl/strings/str_join.h"
#include "controller/config/label_selector.h"
#include "proto/time_proto.h"

namespace mailfleet::controller {
namespace {

v1::GatewayState ToProto(GatewayState state) {
  switch (state) {
    case GatewayState::kConnecting: return v1::GATEWAY_CONNECTING;
    case GatewayState::kConnected: return v1::GATEWAY_CONNECTED;
    case GatewayState::kStale: return v1::GATEWAY_STALE;
    case GatewayState::kUnreachable: return v1::GATEWAY_UNREACHABLE;
  }
  return v1::GATEWAY_STATE_UNSPECIFIED;
}

}  // namespace

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::StatusOr<std::vector<GatewayView>> SelectFromProto(
    const Fleet& fleet, const v1::GatewaySelector& selector) {
  const std::vector<std::string> names(selector.names().begin(), selector.names().end());
  std::optional<LabelSelector> labels;
  if (!selector.label_selector().empty()) {
    absl::StatusOr<LabelSelector> parsed = LabelSelector::Parse(selector.label_selector());
    if (!parsed.ok()) return parsed.status();
    labels = *std::move(parsed);
  }
  const bool none = names.empty() && !labels && !selector.all();
  return fleet.Select(names, labels, selector.all() || none);
}

std::string DescribeSelection(const v1::GatewaySelector& selector) {
  if (selector.all()) return "all gateways";
  if (!selector.label_selector().empty()) return "gateways " + selector.label_selector();
  if (selector.names().empty()) return "no gateways";
  return "gateways " + absl::StrJoin(selector.names(), ",");
}

void ToProto(const GatewayView& view, v1::Gateway* out) {
  out->set_name(view.config.name);
  out->set_address(view.config.address);
  for (const auto& [key, value] : view.config.labels) (*out->mutable_labels())[key] = value;
  const GatewayStatus& s = view.status;
  out->set_state(ToProto(s.state));
  if (s.last_heard != absl::InfinitePast()) SetTimestamp(s.last_heard, out->mutable_last_heard());
  out->set_last_error(s.last_error);
  *out->mutable_agent() = s.agent;
  *out->mutable_summary() = s.summary;
  out->set_synced(s.synced);
  out->set_reconnects(s.reconnects);
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ListGateways(
    grpc::CallbackServerContext* context, const v1::ListGatewaysRequest* request,
    v1::ListGatewaysResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (auto who = access_->Check(*context, Permission::kView); !who.ok()) {
    reactor->Finish(ToGrpc(who.status()));
    return reactor;
  }
  absl::StatusOr<std::vector<GatewayView>> selected =
      SelectFromProto(*fleet_, request->selector());
  if (!selected.ok()) {
    reactor->Finish(ToGrpc(selected.status()));
    return reactor;
  }
  for (const GatewayView& view : *selected) ToProto(view, response->add_gateways());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace mailfleet::controller
