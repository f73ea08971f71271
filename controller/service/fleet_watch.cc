// Watch: a placeholder until it is written.
#include "controller/service/controller_service.h"

namespace mailfleet::controller {
namespace {

class Refuse : public grpc::ServerWriteReactor<v1::FleetWatchEvent> {
 public:
  Refuse() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not yet")); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::FleetWatchEvent>* ControllerServiceImpl::Watch(
    grpc::CallbackServerContext*, const v1::FleetWatchRequest*) {
  return new Refuse;
}

}  // namespace mailfleet::controller
