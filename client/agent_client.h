// AgentClient talks to one gateway's agent (mailfleet.v1.AgentService) over
// one channel: unary calls with a deadline each, List paged to the end,
// GetMessage's stream handed over part by part so that a large message never
// has to sit in memory, and Watch's endless stream event by event until it
// is cancelled. Errors come back as absl::Status with the gRPC code and the
// agent's message unchanged.
//
// Thread-safe: calls may be made from several threads at once; each call has
// its own grpc::ClientContext. Used by the CLI and, later, by the
// controller's pool of agent links.
#ifndef MAILFLEET_CLIENT_AGENT_CLIENT_H_
#define MAILFLEET_CLIENT_AGENT_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/message_stream.h"
#include "mailfleet/v1/agent.grpc.pb.h"

namespace mailfleet {

// Stops a Watch from any thread: a signal-handling thread, a controller
// shutting down, or the watch's own callback once it has seen enough.
// Cancelling is for good: a Watch given a cancelled control returns at
// once. One Watch at a time per control.
//
// Thread-safe.
class WatchControl {
 public:
  WatchControl() = default;
  WatchControl(const WatchControl&) = delete;
  WatchControl& operator=(const WatchControl&) = delete;

  // Cancels the Watch in progress, if any, and every later one. Returns
  // whether a Watch was in progress (its stream open or opening).
  bool Cancel();
  bool cancelled() const;

 private:
  friend class AgentClient;
  friend class ControllerClient;

  // Watch registers its call's context for the time of the call; false
  // (and nothing registered) when already cancelled.
  bool Attach(grpc::ClientContext* context);
  void Detach();

  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

struct AgentClientOptions {
  // Deadline of each unary call (Summary, each List page).
  absl::Duration rpc_timeout = absl::Seconds(30);
  // Deadline of one whole GetMessage stream, which may carry many MiB.
  absl::Duration stream_timeout = absl::Minutes(5);
  // Deadline of each Act and Flush: postsuper on 100,000 messages takes
  // minutes, and a deadline that expires mid-action leaves the operator
  // not knowing what was done.
  absl::Duration action_timeout = absl::Minutes(10);
  // Messages per List page in ListAll; the agent accepts at most 10000.
  int32_t list_page_size = 5000;
  // A compromised or buggy agent must not make the client allocate without
  // bound; ListAll halves its page size when a page would exceed this.
  int max_receive_message_bytes = 64 << 20;
  // Null means plaintext; see MakeChannelCredentials for TLS (mTLS).
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // The name the agent's certificate must carry, when not the address's
  // host.
  std::string tls_server_name;
  // Sent with every call as a bearer token, when not empty.
  std::string token;
};

class AgentClient {
 public:
  using MessageCallback = std::function<absl::Status(const v1::Message&)>;
  using EnvelopeCallback = ::mailfleet::EnvelopeCallback;
  using ContentCallback = ::mailfleet::ContentCallback;
  using WatchCallback = std::function<absl::Status(const v1::WatchEvent&)>;

  // Opens a channel to `address` ("host:port", or any gRPC target URI). The
  // channel connects lazily: an unreachable agent shows up as UNAVAILABLE
  // from the first call, not here.
  static absl::StatusOr<std::unique_ptr<AgentClient>> Connect(
      const std::string& address, const AgentClientOptions& options = {});

  // Over an existing channel, e.g. a server's InProcessChannel in tests.
  AgentClient(std::shared_ptr<grpc::ChannelInterface> channel,
              std::string address, AgentClientOptions options = {});
  // Over any stub, so that tests can substitute a mock.
  AgentClient(std::unique_ptr<v1::AgentService::StubInterface> stub,
              std::string address, AgentClientOptions options = {});

  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;

  absl::StatusOr<v1::SummaryResponse> Summary(
      const v1::SummaryRequest& request);

  // One page, exactly as the agent answers it.
  absl::StatusOr<v1::ListResponse> ListPage(const v1::ListRequest& request);

  // Calls `on_message` for every message matching `filter`, in the agent's
  // order, fetching pages until the last one or until `limit` messages have
  // been passed (0: no limit). Stops at the first error, from the agent or
  // from `on_message`, and returns it.
  absl::Status ListAll(const v1::Filter& filter, int64_t limit,
                       const MessageCallback& on_message);

  // Streams one message: `on_envelope` once, then (unless `envelope_only`)
  // `on_content` for each chunk of the raw message in order. An error from
  // `on_content` cancels the stream and is returned.
  absl::Status GetMessage(const v1::GetMessageRequest& request,
                          const EnvelopeCallback& on_envelope,
                          const ContentCallback& on_content);

  // GetMessage assembled in memory: for callers that want the whole thing.
  absl::StatusOr<v1::MessageWithContent> FetchMessage(
      const std::string& queue_id, bool envelope_only);

  // Deletes, holds, releases, requeues or expires what `request` selects,
  // or with dry_run only reports what it would select. Messages that failed
  // are in the response, not in the status; the status is an error only
  // when nothing was done (an invalid id or filter, a refused selector).
  absl::StatusOr<v1::ActResponse> Act(const v1::ActRequest& request);

  // Asks Postfix to deliver deferred mail now (postqueue -f, -i, -s).
  absl::StatusOr<v1::FlushResponse> Flush(const v1::FlushRequest& request);

  // Opens a Watch stream and calls `on_event` for each event, in order, on
  // the calling thread, until the stream ends, fails, or is cancelled. The
  // call has no deadline: the agent never ends a watch on its own. Returns
  // OK when `control` cancelled it (no event is passed on after that) or the
  // agent ended the stream cleanly; the stream's error otherwise. An error
  // from `on_event` cancels the stream and is returned. The events'
  // consistency (generations, snapshot parts) is for the caller to check,
  // e.g. with a WatchView.
  absl::Status Watch(const v1::WatchRequest& request,
                     const WatchCallback& on_event,
                     WatchControl* control = nullptr);

  const std::string& address() const { return address_; }
  const AgentClientOptions& options() const { return options_; }

 private:
  std::unique_ptr<v1::AgentService::StubInterface> stub_;
  std::string address_;
  AgentClientOptions options_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_CLIENT_AGENT_CLIENT_H_
