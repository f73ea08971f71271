// A canned ControllerService for client tests, standing in for the real
// controller service: it answers ListGateways and Summary with what it is
// given, serves List pages from a script (page i for token "i"), streams a
// message's envelope and content, answers each Act and Flush with the
// results a test-provided function returns (streamed in that order: the
// arrival order the CLI must keep), streams scripted watch events and then
// keeps the watch open until the client cancels, and records the requests
// it saw. FakeControllerServer runs it on 127.0.0.1 with a free port.
#ifndef MAILFLEET_TESTS_CLIENT_FAKE_CONTROLLER_SERVICE_H_
#define MAILFLEET_TESTS_CLIENT_FAKE_CONTROLLER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mailfleet/v1/controller.grpc.pb.h"

namespace mailfleet::testing {

class FakeControllerService final
    : public v1::ControllerService::CallbackService {
 public:
  using ActScript = std::function<std::vector<v1::GatewayActResult>(
      const v1::FleetActRequest&)>;
  using FlushScript = std::function<std::vector<v1::GatewayFlushResult>(
      const v1::FleetFlushRequest&)>;

  void SetGateways(v1::ListGatewaysResponse response);
  void SetSummary(v1::FleetSummaryResponse response);
  // Page i answers the token "i" ("" for the first); each page's
  // next_page_token is set to "i+1" except on the last.
  void SetListPages(std::vector<v1::FleetListResponse> pages);
  void SetMessage(v1::Message envelope, std::string content);
  void SetActScript(ActScript script);
  void SetFlushScript(FlushScript script);
  void SetWatchEvents(std::vector<v1::FleetWatchEvent> events);
  // Every call fails with `status` from now on.
  void SetFailure(grpc::Status status);

  // Waits until `count` Watch calls have been cancelled by their client.
  bool AwaitWatchesCancelled(int count, absl::Duration timeout) const;

  std::vector<v1::ListGatewaysRequest> list_gateways_requests() const;
  std::vector<v1::FleetSummaryRequest> summary_requests() const;
  std::vector<v1::FleetListRequest> list_requests() const;
  std::vector<v1::FleetGetMessageRequest> get_requests() const;
  std::vector<v1::FleetActRequest> act_requests() const;
  std::vector<v1::FleetFlushRequest> flush_requests() const;
  std::vector<v1::FleetWatchRequest> watch_requests() const;

  grpc::ServerUnaryReactor* ListGateways(
      grpc::CallbackServerContext* context,
      const v1::ListGatewaysRequest* request,
      v1::ListGatewaysResponse* response) override;
  grpc::ServerUnaryReactor* Summary(grpc::CallbackServerContext* context,
                                    const v1::FleetSummaryRequest* request,
                                    v1::FleetSummaryResponse* response) override;
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
  grpc::ServerWriteReactor<v1::FleetWatchEvent>* Watch(
      grpc::CallbackServerContext* context,
      const v1::FleetWatchRequest* request) override;

  // From a watch's writer as its call ends.
  void WatchDone(bool cancelled);

 private:
  mutable absl::Mutex mu_;
  v1::ListGatewaysResponse gateways_ ABSL_GUARDED_BY(mu_);
  v1::FleetSummaryResponse summary_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::FleetListResponse> pages_ ABSL_GUARDED_BY(mu_);
  v1::Message envelope_ ABSL_GUARDED_BY(mu_);
  std::string content_ ABSL_GUARDED_BY(mu_);
  ActScript act_script_ ABSL_GUARDED_BY(mu_);
  FlushScript flush_script_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::FleetWatchEvent> watch_events_ ABSL_GUARDED_BY(mu_);
  grpc::Status failure_ ABSL_GUARDED_BY(mu_);
  int watches_cancelled_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<v1::ListGatewaysRequest> list_gateways_requests_
      ABSL_GUARDED_BY(mu_);
  std::vector<v1::FleetSummaryRequest> summary_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::FleetListRequest> list_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::FleetGetMessageRequest> get_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::FleetActRequest> act_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::FleetFlushRequest> flush_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::FleetWatchRequest> watch_requests_ ABSL_GUARDED_BY(mu_);
};

// Serves a FakeControllerService on 127.0.0.1:<free port> until destroyed.
class FakeControllerServer {
 public:
  // `service` must outlive the server.
  explicit FakeControllerServer(FakeControllerService* service);
  ~FakeControllerServer();

  // "127.0.0.1:<port>"; empty if the server could not start.
  const std::string& address() const { return address_; }

 private:
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_CLIENT_FAKE_CONTROLLER_SERVICE_H_
