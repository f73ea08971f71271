// Summary, List and GetMessage: placeholders until they are written.
#include "controller/service/controller_service.h"

namespace mailfleet::controller {

grpc::ServerUnaryReactor* ControllerServiceImpl::Summary(
    grpc::CallbackServerContext* context, const v1::FleetSummaryRequest*,
    v1::FleetSummaryResponse*) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not yet"));
  return reactor;
}

grpc::ServerUnaryReactor* ControllerServiceImpl::List(
    grpc::CallbackServerContext* context, const v1::FleetListRequest*,
    v1::FleetListResponse*) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not yet"));
  return reactor;
}

grpc::ServerWriteReactor<v1::GetMessageResponse>*
ControllerServiceImpl::GetMessage(grpc::CallbackServerContext*,
                                  const v1::FleetGetMessageRequest*) {
  class Refuse : public grpc::ServerWriteReactor<v1::GetMessageResponse> {
   public:
    Refuse() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not yet")); }
    void OnDone() override { delete this; }
  };
  return new Refuse;
}

}  // namespace mailfleet::controller
