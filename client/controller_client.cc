#include "client/controller_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "client/grpc_status.h"
#include "client/read_stream.h"
#include "client/unary_call.h"
#include "common/status_macros.h"

namespace mailfleet {

absl::StatusOr<std::unique_ptr<ControllerClient>> ControllerClient::Connect(
    const std::string& address, const ControllerClientOptions& options) {
  if (address.empty()) {
    return absl::InvalidArgumentError("controller address is empty");
  }
  if (options.rpc_timeout <= absl::ZeroDuration() ||
      options.stream_timeout <= absl::ZeroDuration() ||
      options.action_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "controller call timeouts must be positive");
  }
  if (options.list_page_size <= 0 || options.list_page_size > 10000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "list page size ", options.list_page_size, " is not in 1..10000"));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OpenChannel(
      address, options.credentials, options.max_receive_message_bytes,
      options.tls_server_name);
  if (!channel.ok()) return channel.status();
  return std::make_unique<ControllerClient>(*std::move(channel), address,
                                            options);
}

ControllerClient::ControllerClient(
    std::shared_ptr<grpc::ChannelInterface> channel, std::string address,
    ControllerClientOptions options)
    : ControllerClient(v1::ControllerService::NewStub(std::move(channel)),
                       std::move(address), std::move(options)) {}

ControllerClient::ControllerClient(
    std::unique_ptr<v1::ControllerService::StubInterface> stub,
    std::string address, ControllerClientOptions options)
    : stub_(std::move(stub)),
      address_(std::move(address)),
      options_(std::move(options)) {}

absl::StatusOr<v1::ListGatewaysResponse> ControllerClient::ListGateways(
    const v1::ListGatewaysRequest& request) {
  return CallUnary(*stub_, &v1::ControllerService::StubInterface::ListGateways, request,
                   options_.rpc_timeout, options_.token);
}

absl::StatusOr<v1::FleetSummaryResponse> ControllerClient::Summary(
    const v1::FleetSummaryRequest& request) {
  return CallUnary(*stub_, &v1::ControllerService::StubInterface::Summary, request,
                   options_.rpc_timeout, options_.token);
}

absl::StatusOr<v1::FleetListResponse> ControllerClient::ListPage(
    const v1::FleetListRequest& request) {
  return CallUnary(*stub_, &v1::ControllerService::StubInterface::List, request,
                   options_.rpc_timeout, options_.token);
}

absl::Status ControllerClient::ListAll(const v1::FleetListRequest& first,
                                       int64_t limit,
                                       const MessageCallback& on_message,
                                       const FailureCallback& on_failure) {
  if (limit < 0) return absl::InvalidArgumentError("list limit is negative");
  v1::FleetListRequest request = first;
  request.clear_page_token();
  int32_t page_size = options_.list_page_size;
  int64_t passed = 0;
  while (true) {
    int64_t wanted = page_size;
    if (limit > 0) wanted = std::min<int64_t>(wanted, limit - passed);
    request.set_page_size(static_cast<int32_t>(wanted));
    absl::StatusOr<v1::FleetListResponse> page = ListPage(request);
    if (!page.ok()) {
      // As from an agent: most likely a page larger than
      // max_receive_message_bytes; ask again for fewer messages.
      if (page.status().code() == absl::StatusCode::kResourceExhausted &&
          page_size > 1) {
        page_size /= 2;
        continue;
      }
      return page.status();
    }
    for (const v1::GatewayFailure& failure : page->failures()) {
      on_failure(failure);
    }
    for (const v1::Message& message : page->messages()) {
      MF_RETURN_IF_ERROR(on_message(message));
      if (limit > 0 && ++passed >= limit) return absl::OkStatus();
    }
    if (page->next_page_token().empty()) return absl::OkStatus();
    if (page->next_page_token() == request.page_token()) {
      return absl::InternalError(absl::StrCat(
          "controller ", address_, " returned the same page token twice"));
    }
    request.set_page_token(page->next_page_token());
  }
}

absl::Status ControllerClient::GetMessage(
    const v1::FleetGetMessageRequest& request,
    const EnvelopeCallback& on_envelope, const ContentCallback& on_content) {
  grpc::ClientContext context;
  PrepareCall(&context, options_.stream_timeout, options_.token);
  std::unique_ptr<grpc::ClientReaderInterface<v1::GetMessageResponse>> reader =
      stub_->GetMessage(&context, request);
  return ReadMessageStream(
      context, *reader,
      absl::StrCat("controller ", address_, " (gateway ", request.gateway(),
                   ")"),
      request.request(), on_envelope, on_content);
}

absl::Status ControllerClient::Act(const v1::FleetActRequest& request,
                                   const ActResultCallback& on_result) {
  grpc::ClientContext context;
  PrepareCall(&context, options_.action_timeout, options_.token);
  std::unique_ptr<grpc::ClientReaderInterface<v1::GatewayActResult>> reader =
      stub_->Act(&context, request);
  return ReadStreamToEnd(context, *reader, on_result);
}

absl::Status ControllerClient::Flush(const v1::FleetFlushRequest& request,
                                     const FlushResultCallback& on_result) {
  grpc::ClientContext context;
  PrepareCall(&context, options_.action_timeout, options_.token);
  std::unique_ptr<grpc::ClientReaderInterface<v1::GatewayFlushResult>> reader =
      stub_->Flush(&context, request);
  return ReadStreamToEnd(context, *reader, on_result);
}

absl::Status ControllerClient::Watch(const v1::FleetWatchRequest& request,
                                     const WatchCallback& on_event,
                                     WatchControl* control) {
  WatchControl own_control;
  if (control == nullptr) control = &own_control;
  grpc::ClientContext context;
  PrepareCall(&context, absl::InfiniteDuration(), options_.token);
  // Before the call starts, so that a Cancel() while it connects reaches it.
  if (!control->Attach(&context)) return absl::OkStatus();
  std::unique_ptr<grpc::ClientReaderInterface<v1::FleetWatchEvent>> reader =
      stub_->Watch(&context, request);

  const absl::Status ended = ReadStreamToEnd(context, *reader, on_event, control);
  control->Detach();
  return ended;
}

}  // namespace mailfleet
