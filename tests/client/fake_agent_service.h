// A canned AgentService for client tests, standing in for the real agent
// service (built separately): it serves the messages it is given in their
// order, pages by offset tokens, streams stored contents in chunks of a
// chosen size, acts on its messages without changing them (selecting by
// ids, or by the queues of a filter, as the agent checks selectors), streams
// a scripted list of watch events and then keeps the watch open until the
// client cancels it, and records the requests it saw. FakeAgentServer runs
// it on 127.0.0.1 with a free port.
#ifndef MAILFLEET_TESTS_CLIENT_FAKE_AGENT_SERVICE_H_
#define MAILFLEET_TESTS_CLIENT_FAKE_AGENT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mailfleet/v1/agent.grpc.pb.h"

namespace mailfleet::testing {

class WatchWriter;

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
  // Summary calls never finish until ReleaseHungCalls (deadline tests),
  // which also ends open Watch calls.
  void SetHangSummary(bool hang);
  // Likewise Act and Flush calls.
  void SetHangActions(bool hang);
  void ReleaseHungCalls();

  // A real (not dry-run) Act fails for this id with `reason`. Ids that are
  // not among the messages fail with "not in the queue".
  void SetActFailure(const std::string& queue_id, std::string reason);
  // Act answers `response` to every request, whatever it selects.
  void SetActResponse(std::optional<v1::ActResponse> response);
  // Act calls after the first `answered` fail with `status`.
  void FailActAfter(int answered, grpc::Status status);

  // Every Watch call streams these events, in order, then waits for the
  // client to cancel (or for `end`, when set, to finish the stream).
  void SetWatchEvents(std::vector<v1::WatchEvent> events,
                      std::optional<grpc::Status> end = std::nullopt);
  // Waits until `count` Watch calls have been cancelled by their client;
  // false after `timeout`.
  bool AwaitWatchesCancelled(int count, absl::Duration timeout) const;
  // Watch calls still open.
  int open_watches() const;

  std::vector<v1::ListRequest> list_requests() const;
  std::vector<v1::SummaryRequest> summary_requests() const;
  std::vector<v1::GetMessageRequest> get_requests() const;
  std::vector<v1::ActRequest> act_requests() const;
  std::vector<v1::FlushRequest> flush_requests() const;
  std::vector<v1::WatchRequest> watch_requests() const;

  grpc::ServerUnaryReactor* Summary(grpc::CallbackServerContext* context,
                                    const v1::SummaryRequest* request,
                                    v1::SummaryResponse* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListRequest* request,
                                 v1::ListResponse* response) override;
  grpc::ServerWriteReactor<v1::GetMessageResponse>* GetMessage(
      grpc::CallbackServerContext* context,
      const v1::GetMessageRequest* request) override;
  grpc::ServerUnaryReactor* Act(grpc::CallbackServerContext* context,
                                const v1::ActRequest* request,
                                v1::ActResponse* response) override;
  grpc::ServerUnaryReactor* Flush(grpc::CallbackServerContext* context,
                                  const v1::FlushRequest* request,
                                  v1::FlushResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchEvent>* Watch(
      grpc::CallbackServerContext* context,
      const v1::WatchRequest* request) override;

 private:
  friend class WatchWriter;
  // From a WatchWriter as its call ends.
  void WatchDone(WatchWriter* writer, bool cancelled);

  grpc::Status ListLocked(const v1::ListRequest& request,
                          v1::ListResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  grpc::Status ActLocked(const v1::ActRequest& request,
                         v1::ActResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<v1::Message> messages_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> message_ids_ ABSL_GUARDED_BY(mu_);
  v1::SummaryResponse summary_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> contents_ ABSL_GUARDED_BY(mu_);
  size_t chunk_size_ ABSL_GUARDED_BY(mu_) = 64 << 10;
  grpc::Status failure_ ABSL_GUARDED_BY(mu_);
  int max_page_size_ ABSL_GUARDED_BY(mu_) = 10000;
  bool stuck_token_ ABSL_GUARDED_BY(mu_) = false;
  bool hang_summary_ ABSL_GUARDED_BY(mu_) = false;
  bool hang_actions_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<grpc::ServerUnaryReactor*> hung_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> act_failures_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::ActResponse> act_response_ ABSL_GUARDED_BY(mu_);
  int act_answers_left_ ABSL_GUARDED_BY(mu_) = -1;  // -1: no limit.
  grpc::Status act_failure_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ListRequest> list_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SummaryRequest> summary_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::GetMessageRequest> get_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ActRequest> act_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::FlushRequest> flush_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::WatchEvent> watch_events_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> watch_end_ ABSL_GUARDED_BY(mu_);
  std::set<WatchWriter*> open_watches_ ABSL_GUARDED_BY(mu_);
  int watches_cancelled_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<v1::WatchRequest> watch_requests_ ABSL_GUARDED_BY(mu_);
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
