// The controller's gRPC service (callback API). It only translates: the
// fleet's state into replies, requests into selections of gateways and calls
// fanned out to their agents. Each RPC lives in its own file:
// controller_service.cc (ListGateways, shared helpers), fleet_queries.cc
// (Summary, List, GetMessage), fleet_actions.cc (Act, Flush) and
// fleet_watch.cc (Watch).
#ifndef MAILFLEET_CONTROLLER_SERVICE_CONTROLLER_SERVICE_H_
#define MAILFLEET_CONTROLLER_SERVICE_CONTROLLER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/agent_client.h"
#include "common/security/access_control.h"
#include "controller/fleet/fleet.h"
#include "controller/service/fan_out.h"
#include "mailfleet/v1/controller.grpc.pb.h"

namespace mailfleet::controller {

class FleetWatchHub;

// The gateways a request's selector names; none given means every gateway
// (for listings, not for actions). INVALID_ARGUMENT for a bad label
// selector or more than one way of selecting, NOT_FOUND for unknown names.
absl::StatusOr<std::vector<GatewayView>> SelectFromProto(
    const Fleet& fleet, const v1::GatewaySelector& selector);

void ToProto(const GatewayView& view, v1::Gateway* out);

grpc::Status ToGrpc(const absl::Status& status);

// A gateway selector in words, for logs and the audit log.
std::string DescribeSelection(const v1::GatewaySelector& selector);

struct ServiceOptions {
  // How the controller calls agents for List, Summary, GetMessage, Act and
  // Flush (credentials, message size limit); the timeouts come from each
  // request.
  AgentClientOptions client;
  // Gateways called at once by one fanned-out request.
  int max_parallel_calls = 64;
  // Who may call what, and the audit log; AccessControl::LocalOnly() when
  // null. Must outlive the service.
  const AccessControl* access = nullptr;
};

class ControllerServiceImpl final
    : public v1::ControllerService::CallbackService {
 public:
  // `fleet` and `hub` must outlive the service; `hub` may be null: Watch is
  // then UNIMPLEMENTED.
  ControllerServiceImpl(const Fleet* fleet, FleetWatchHub* hub,
                        ServiceOptions options = {})
      : fleet_(fleet),
        hub_(hub),
        options_(std::move(options)),
        access_(options_.access != nullptr ? options_.access
                                           : &AccessControl::LocalOnly()) {}

  grpc::ServerUnaryReactor* ListGateways(
      grpc::CallbackServerContext* context,
      const v1::ListGatewaysRequest* request,
      v1::ListGatewaysResponse* response) override;
  grpc::ServerUnaryReactor* Summary(grpc::CallbackServerContext* context,
                                    const v1::FleetSummaryRequest* request,
                                    v1::FleetSummaryResponse* response) override;
  grpc::ServerWriteReactor<v1::FleetWatchEvent>* Watch(
      grpc::CallbackServerContext* context,
      const v1::FleetWatchRequest* request) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::FleetListRequest* request,
                                 v1::FleetListResponse* response) override;
  grpc::ServerWriteReactor<v1::GetMessageResponse>* GetMessage(
      grpc::CallbackServerContext* context,
      const v1::FleetGetMessageRequest* request) override;
  grpc::ServerWriteReactor<v1::GatewayActResult>* Act(
      grpc::CallbackServerContext* context,
      const v1::FleetActRequest* request) override;
  grpc::ServerWriteReactor<v1::GatewayFlushResult>* Flush(
      grpc::CallbackServerContext* context,
      const v1::FleetFlushRequest* request) override;

  // Cancels every call to an agent in progress, and refuses to start more:
  // for shutting down, before the server's Shutdown, which waits for the
  // calls that fanned out to end.
  void CancelCalls() { calls_.CancelAll(); }

 private:
  const Fleet* fleet_;
  FleetWatchHub* hub_;
  const ServiceOptions options_;
  const AccessControl* const access_;
  FanOutRegistry calls_;
};

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_SERVICE_CONTROLLER_SERVICE_H_
