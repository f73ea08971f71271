// A canned AgentService for client tests, standing in for the real agent
// service (built separately): it serves the messages it is given in their
// order, pages by offset tokens, streams stored contents in chunks of a
// chosen size, and records the requests it saw. FakeAgentServer runs it on
// 127.0.0.1 with a free port.
#ifndef MAILFLEET_TESTS_CLIENT_FAKE_AGENT_SERVICE_H_
#define MAILFLEET_TESTS_CLIENT_FAKE_AGENT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "mailfleet/v1/agent.grpc.pb.h"

namespace mailfleet::testing {

class FakeAgentService final : public v1::AgentService::CallbackService {
 public:
  ~FakeAgentService() override;

  void SetMessages(std::vector<v1::Message> messages);
  void SetSummary(v1::SummaryResponse summary);
  // GetMessage serves `content` for the message with this id, if listed.
  void SetContent(const std::string& queue_id, std::string content);
  void SetChunkSize(size_t bytes);
  // Every call fails with `status` from now on (OK to stop).
  void SetFailure(grpc::Status status);
  // List answers RESOURCE_EXHAUSTED when asked for more than `page_size`.
  void SetMaxPageSize(int page_size);
  // List's token stops moving after the first page.
  void SetStuckToken(bool stuck);
  // Summary calls never finish until ReleaseHungCalls (deadline tests).
  void SetHangSummary(bool hang);
  void ReleaseHungCalls();

  std::vector<v1::ListRequest> list_requests() const;
  std::vector<v1::SummaryRequest> summary_requests() const;
  std::vector<v1::GetMessageRequest> get_requests() const;

  grpc::ServerUnaryReactor* Summary(grpc::CallbackServerContext* context,
                                    const v1::SummaryRequest* request,
                                    v1::SummaryResponse* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListRequest* request,
                                 v1::ListResponse* response) override;
  grpc::ServerWriteReactor<v1::GetMessageResponse>* GetMessage(
      grpc::CallbackServerContext* context,
      const v1::GetMessageRequest* request) override;

 private:
  grpc::Status ListLocked(const v1::ListRequest& request,
                          v1::ListResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<v1::Message> messages_ ABSL_GUARDED_BY(mu_);
  v1::SummaryResponse summary_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> contents_ ABSL_GUARDED_BY(mu_);
  size_t chunk_size_ ABSL_GUARDED_BY(mu_) = 64 << 10;
  grpc::Status failure_ ABSL_GUARDED_BY(mu_);
  int max_page_size_ ABSL_GUARDED_BY(mu_) = 10000;
  bool stuck_token_ ABSL_GUARDED_BY(mu_) = false;
  bool hang_summary_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<grpc::ServerUnaryReactor*> hung_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ListRequest> list_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SummaryRequest> summary_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::GetMessageRequest> get_requests_ ABSL_GUARDED_BY(mu_);
};

// Serves a FakeAgentService on 127.0.0.1:<free port> until destroyed.
class FakeAgentServer {
 public:
  // `service` must outlive the server.
  explicit FakeAgentServer(FakeAgentService* service);
  ~FakeAgentServer();

  // "127.0.0.1:<port>"; empty if the server could not start.
  const std::string& address() const { return address_; }

 private:
  FakeAgentService* service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_CLIENT_FAKE_AGENT_SERVICE_H_
