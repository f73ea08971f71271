// Act and Flush: placeholders until they are written.
#include "controller/service/controller_service.h"

namespace mailfleet::controller {
namespace {

template <typename T>
class Refuse : public grpc::ServerWriteReactor<T> {
 public:
  Refuse() { this->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not yet")); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::GatewayActResult>* ControllerServiceImpl::Act(
    grpc::CallbackServerContext*, const v1::FleetActRequest*) {
  return new Refuse<v1::GatewayActResult>;
}

grpc::ServerWriteReactor<v1::GatewayFlushResult>* ControllerServiceImpl::Flush(
    grpc::CallbackServerContext*, const v1::FleetFlushRequest*) {
  return new Refuse<v1::GatewayFlushResult>;
}

}  // namespace mailfleet::controller
