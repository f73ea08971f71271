#include "controller/metrics/controller_metrics.h"

#include <array>
#include <string>

#include "common/metrics/families.h"
#include "proto/queue_kind_proto.h"

namespace mailfleet::controller {

std::vector<prometheus::MetricFamily> ControllerMetrics::Collect() const {
  constexpr std::array<GatewayState, 4> kStates = {
      GatewayState::kConnecting, GatewayState::kConnected, GatewayState::kStale,
      GatewayState::kUnreachable};
  std::array<int, kStates.size()> per_state{};
  GaugeFamily up("mailfleet_controller_gateway_up",
                 "1 while the gateway's agent is connected, else 0");
  GaugeFamily messages("mailfleet_controller_gateway_queue_messages",
                       "The gateway's queues as its agent last reported them");
  GaugeFamily bytes("mailfleet_controller_gateway_queue_bytes",
                    "The gateway's queues in bytes as its agent last reported them");
  for (const GatewayView& view : fleet_->Gateways()) {
    const GatewayStatus& status = view.status;
    for (size_t i = 0; i < kStates.size(); ++i) {
      if (status.state == kStates[i]) ++per_state[i];
    }
    const std::string& name = view.config.name;
    up.Add({{"gateway", name}}, status.state == GatewayState::kConnected ? 1.0 : 0.0);
    // An unreachable gateway's last figures would look current: none.
    if (status.state != GatewayState::kConnected && status.state != GatewayState::kStale) {
      continue;
    }
    for (const v1::QueueStats& queue : status.summary.queues()) {
      const std::string queue_name(ProtoQueueKindName(queue.queue()));
      messages.Add({{"gateway", name}, {"queue", queue_name}},
                   static_cast<double>(queue.messages()));
      bytes.Add({{"gateway", name}, {"queue", queue_name}}, static_cast<double>(queue.bytes()));
    }
  }
  GaugeFamily states("mailfleet_controller_gateways", "Gateways per state");
  for (size_t i = 0; i < kStates.size(); ++i) {
    states.Add({{"state", std::string(GatewayStateName(kStates[i]))}}, per_state[i]);
  }
  std::vector<prometheus::MetricFamily> families;
  families.push_back(states.Take());
  families.push_back(up.Take());
  families.push_back(messages.Take());
  families.push_back(bytes.Take());
  return families;
}

}  // namespace mailfleet::controller
