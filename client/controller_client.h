// ControllerClient talks to the controller (mailfleet.v1.ControllerService)
// over one channel, as AgentClient talks to one agent: unary calls with a
// deadline each, List paged to the end, GetMessage's stream part by part,
// Act's and Flush's streams one gateway's result at a time as each arrives,
// and Watch's endless stream event by event until it is cancelled. Errors
// come back as absl::Status with the gRPC code and the controller's message
// unchanged; a gateway that failed inside a fanned-out call is not an
// error of the call but a GatewayFailure handed to the caller.
//
// Thread-safe: calls may be made from several threads at once; each call has
// its own grpc::ClientContext.
#ifndef MAILFLEET_CLIENT_CONTROLLER_CLIENT_H_
#define MAILFLEET_CLIENT_CONTROLLER_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/agent_client.h"
#include "client/message_stream.h"
#include "mailfleet/v1/controller.grpc.pb.h"

namespace mailfleet {

struct ControllerClientOptions {
  // Deadline of each unary call (ListGateways, Summary, each List page).
  // Fanned-out calls carry their own per-gateway timeout in the request;
  // this one should be longer, so that a slow gateway comes back as a
  // GatewayFailure rather than failing the whole call.
  absl::Duration rpc_timeout = absl::Seconds(30);
  // Deadline of one whole GetMessage stream.
  absl::Duration stream_timeout = absl::Minutes(5);
  // Deadline of one whole Act or Flush stream: longer than the controller's
  // default per-gateway timeout (10 min), for the same reason.
  absl::Duration action_timeout = absl::Minutes(11);
  // Messages per List page in ListAll; the controller accepts at most 10000.
  int32_t list_page_size = 5000;
  // ListAll halves its page size when a page would exceed this.
  int max_receive_message_bytes = 64 << 20;
  // Null means plaintext; see MakeChannelCredentials for TLS.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // The name the controller's certificate must carry, when not the
  // address's host.
  std::string tls_server_name;
  // Sent with every call as a bearer token, when not empty.
  std::string token;
};

class ControllerClient {
 public:
  using MessageCallback = std::function<absl::Status(const v1::Message&)>;
  using FailureCallback = std::function<void(const v1::GatewayFailure&)>;
  using ActResultCallback =
      std::function<absl::Status(const v1::GatewayActResult&)>;
  using FlushResultCallback =
      std::function<absl::Status(const v1::GatewayFlushResult&)>;
  using WatchCallback = std::function<absl::Status(const v1::FleetWatchEvent&)>;

  // Opens a channel to `address`; it connects lazily, so an unreachable
  // controller shows up as UNAVAILABLE from the first call.
  static absl::StatusOr<std::unique_ptr<ControllerClient>> Connect(
      const std::string& address, const ControllerClientOptions& options = {});

  ControllerClient(std::shared_ptr<grpc::ChannelInterface> channel,
                   std::string address, ControllerClientOptions options = {});
  ControllerClient(std::unique_ptr<v1::ControllerService::StubInterface> stub,
                   std::string address, ControllerClientOptions options = {});

  ControllerClient(const ControllerClient&) = delete;
  ControllerClient& operator=(const ControllerClient&) = delete;

  absl::StatusOr<v1::ListGatewaysResponse> ListGateways(
      const v1::ListGatewaysRequest& request);

  absl::StatusOr<v1::FleetSummaryResponse> Summary(
      const v1::FleetSummaryRequest& request);

  // One page, exactly as the controller answers it.
  absl::StatusOr<v1::FleetListResponse> ListPage(
      const v1::FleetListRequest& request);

  // Calls `on_message` for every message `request` (its selector, filter
  // and timeout) selects, in the controller's order, fetching pages until
  // the last one or until `limit` messages have been passed (0: no limit).
  // Each page's failures go to `on_failure` before its messages: a gateway
  // that fails on several pages is reported on each. Stops at the first
  // error, from the controller or from `on_message`, and returns it.
  absl::Status ListAll(const v1::FleetListRequest& request, int64_t limit,
                       const MessageCallback& on_message,
                       const FailureCallback& on_failure);

  // Streams one message of one gateway: `on_envelope` once, then (unless
  // only the envelope is asked for) `on_content` for each chunk in order.
  absl::Status GetMessage(const v1::FleetGetMessageRequest& request,
                          const EnvelopeCallback& on_envelope,
                          const ContentCallback& on_content);

  // Runs an action on the selected gateways; `on_result` is called for each
  // gateway's result as it arrives. A gateway that failed is a result with
  // its failure set, not an error here; the status is an error when the
  // controller refused the request or the stream broke (then the results
  // already passed are all that is known). An error from `on_result`
  // cancels the stream and is returned.
  absl::Status Act(const v1::FleetActRequest& request,
                   const ActResultCallback& on_result);

  // As Act, for a flush.
  absl::Status Flush(const v1::FleetFlushRequest& request,
                     const FlushResultCallback& on_result);

  // Opens a Watch stream and calls `on_event` for each event on the calling
  // thread until the stream ends, fails, or `control` cancels it; no
  // deadline. Returns OK when cancelled through `control` or ended cleanly
  // by the controller; an error from `on_event` cancels the stream and is
  // returned.
  absl::Status Watch(const v1::FleetWatchRequest& request,
                     const WatchCallback& on_event,
                     WatchControl* control = nullptr);

  const std::string& address() const { return address_; }
  const ControllerClientOptions& options() const { return options_; }

 private:
  std::unique_ptr<v1::ControllerService::StubInterface> stub_;
  std::string address_;
  ControllerClientOptions options_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_CLIENT_CONTROLLER_CLIENT_H_
