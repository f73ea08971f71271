// The controller's gRPC service (callback API). It only translates: the
// fleet's state into replies, requests into selections of gateways.
#ifndef MAILFLEET_CONTROLLER_SERVICE_CONTROLLER_SERVICE_H_
#define MAILFLEET_CONTROLLER_SERVICE_CONTROLLER_SERVICE_H_

#include "absl/status/statusor.h"
#include "controller/fleet/fleet.h"
#include "mailfleet/v1/controller.grpc.pb.h"

namespace mailfleet::controller {

// The gateways a request's selector names; none given means every gateway
// (for listings, not for actions). INVALID_ARGUMENT for a bad label
// selector or more than one way of selecting, NOT_FOUND for unknown names.
absl::StatusOr<std::vector<GatewayView>> SelectFromProto(
    const Fleet& fleet, const v1::GatewaySelector& selector);

void ToProto(const GatewayView& view, v1::Gateway* out);

class ControllerServiceImpl final : public v1::ControllerService::CallbackService {
 public:
  // `fleet` must outlive the service.
  explicit ControllerServiceImpl(const Fleet* fleet) : fleet_(fleet) {}

  grpc::ServerUnaryReactor* ListGateways(grpc::CallbackServerContext* context,
                                         const v1::ListGatewaysRequest* request,
                                         v1::ListGatewaysResponse* response) override;

 private:
  const Fleet* fleet_;
};

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_SERVICE_CONTROLLER_SERVICE_H_
