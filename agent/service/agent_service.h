// The agent's gRPC service (callback API). It only translates: requests are
// checked and turned into core calls on the index and the queue reader, and
// core results into replies.
#ifndef MAILFLEET_AGENT_SERVICE_AGENT_SERVICE_H_
#define MAILFLEET_AGENT_SERVICE_AGENT_SERVICE_H_

#include <atomic>
#include <string>

#include "agent/actions/queue_actions.h"
#include "agent/index/queue_index.h"
#include "agent/postfix/postfix_tools.h"
#include "agent/service/watch_hub.h"
#include "common/security/access_control.h"
#include "mailfleet/v1/agent.grpc.pb.h"

namespace mailfleet {

// Request bounds: beyond these a request is refused, not trimmed.
inline constexpr int kDefaultPageSize = 1000;
inline constexpr int kMaxPageSize = 10000;
// GetMessage streams at once; each reads on a thread of its own.
inline constexpr int kMaxConcurrentReads = 32;
// Act and Flush calls at once; each runs Postfix's tools on a thread.
inline constexpr int kMaxConcurrentActions = 4;

class AgentServiceImpl final : public v1::AgentService::CallbackService {
 public:
  // All must outlive the service. Every call is checked by `access`
  // (AccessControl::LocalOnly() when null) before anything else.
  AgentServiceImpl(QueueIndex* index, std::string hostname,
                   const QueueActions* actions, const postfix::PostfixTools* tools,
                   WatchHubOptions watch_options = {},
                   const AccessControl* access = nullptr);

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

  // Ends every Watch stream: call before the server's Shutdown, which
  // would otherwise wait its whole deadline for them.
  void EndWatches() { watch_hub_.Shutdown(); }
  const WatchHub& watch_hub() const { return watch_hub_; }

  // Waits, up to `timeout`, for the worker threads of GetMessage, Act and
  // Flush to finish: call it after the server's Shutdown and before the
  // server, the index or this service go away. True if all finished.
  bool Drain(absl::Duration timeout);

 private:
  QueueIndex* index_;
  std::string hostname_;
  const QueueActions* actions_;
  const postfix::PostfixTools* tools_;
  const AccessControl* access_;
  std::atomic<int> reads_in_flight_{0};
  std::atomic<int> actions_in_flight_{0};
  WatchHub watch_hub_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_AGENT_SERVICE_AGENT_SERVICE_H_
