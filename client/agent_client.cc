#include "client/agent_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "client/grpc_status.h"
#include "client/read_stream.h"
#include "client/unary_call.h"
#include "client/message_stream.h"
#include "common/status_macros.h"

namespace mailfleet {

bool WatchControl::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (context_ == nullptr) return false;
  // The call's Read returns false at once, on whichever thread waits in it.
  context_->TryCancel();
  return true;
}

bool WatchControl::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

bool WatchControl::Attach(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return false;
  context_ = context;
  return true;
}

void WatchControl::Detach() {
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
}

absl::StatusOr<std::unique_ptr<AgentClient>> AgentClient::Connect(
    const std::string& address, const AgentClientOptions& options) {
  if (address.empty()) {
    return absl::InvalidArgumentError("agent address is empty");
  }
  if (options.rpc_timeout <= absl::ZeroDuration() ||
      options.stream_timeout <= absl::ZeroDuration() ||
      options.action_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("agent call timeouts must be positive");
  }
  if (options.list_page_size <= 0 || options.list_page_size > 10000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "list page size ", options.list_page_size, " is not in 1..10000"));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OpenChannel(
      address, options.credentials, options.max_receive_message_bytes,
      options.tls_server_name);
  if (!channel.ok()) return channel.status();
  return std::make_unique<AgentClient>(*std::move(channel), address, options);
}

AgentClient::AgentClient(std::shared_ptr<grpc::ChannelInterface> channel,
                         std::string address, AgentClientOptions options)
    : AgentClient(v1::AgentService::NewStub(std::move(channel)),
                  std::move(address), std::move(options)) {}

AgentClient::AgentClient(std::unique_ptr<v1::AgentService::StubInterface> stub,
                         std::string address, AgentClientOptions options)
    : stub_(std::move(stub)),
      address_(std::move(address)),
      options_(std::move(options)) {}

absl::StatusOr<v1::SummaryResponse> AgentClient::Summary(
    const v1::SummaryRequest& request) {
  return CallUnary(*stub_, &v1::AgentService::StubInterface::Summary, request, options_.rpc_timeout, options_.token);
}

absl::StatusOr<v1::ListResponse> AgentClient::ListPage(
    const v1::ListRequest& request) {
  return CallUnary(*stub_, &v1::AgentService::StubInterface::List, request, options_.rpc_timeout, options_.token);
}

absl::Status AgentClient::ListAll(const v1::Filter& filter, int64_t limit,
                                  const MessageCallback& on_message) {
  if (limit < 0) return absl::InvalidArgumentError("list limit is negative");
  v1::ListRequest request;
  *request.mutable_filter() = filter;
  int32_t page_size = options_.list_page_size;
  int64_t passed = 0;
  while (true) {
    int64_t wanted = page_size;
    if (limit > 0) wanted = std::min<int64_t>(wanted, limit - passed);
    request.set_page_size(static_cast<int32_t>(wanted));
    absl::StatusOr<v1::ListResponse> page = ListPage(request);
    if (!page.ok()) {
      // Most likely the page was larger than max_receive_message_bytes (many
      // recipients with long delay reasons): ask again for fewer messages.
      if (page.status().code() == absl::StatusCode::kResourceExhausted &&
          page_size > 1) {
        page_size /= 2;
        continue;
      }
      return page.status();
    }
    for (const v1::Message& message : page->messages()) {
      MF_RETURN_IF_ERROR(on_message(message));
      if (limit > 0 && ++passed >= limit) return absl::OkStatus();
    }
    if (page->next_page_token().empty()) return absl::OkStatus();
    // A token that does not move would page forever.
    if (page->next_page_token() == request.page_token()) {
      return absl::InternalError(absl::StrCat(
          "agent ", address_, " returned the same page token twice"));
    }
    request.set_page_token(page->next_page_token());
  }
}

absl::Status AgentClient::GetMessage(const v1::GetMessageRequest& request,
                                     const EnvelopeCallback& on_envelope,
                                     const ContentCallback& on_content) {
  grpc::ClientContext context;
  PrepareCall(&context, options_.stream_timeout, options_.token);
  std::unique_ptr<grpc::ClientReaderInterface<v1::GetMessageResponse>> reader =
      stub_->GetMessage(&context, request);
  return ReadMessageStream(context, *reader, absl::StrCat("agent ", address_),
                           request, on_envelope, on_content);
}

absl::StatusOr<v1::MessageWithContent> AgentClient::FetchMessage(
    const std::string& queue_id, bool envelope_only) {
  v1::MessageWithContent result;
  v1::GetMessageRequest request;
  request.set_queue_id(queue_id);
  request.set_envelope_only(envelope_only);
  MF_RETURN_IF_ERROR(GetMessage(
      request,
      [&](const v1::Message& envelope) {
        *result.mutable_envelope() = envelope;
      },
      [&](absl::string_view chunk) {
        result.mutable_content()->append(chunk.data(), chunk.size());
        return absl::OkStatus();
      }));
  return result;
}

absl::Status AgentClient::Watch(const v1::WatchRequest& request,
                                const WatchCallback& on_event,
                                WatchControl* control) {
  WatchControl own_control;
  if (control == nullptr) control = &own_control;
  grpc::ClientContext context;
  PrepareCall(&context, absl::InfiniteDuration(), options_.token);
  // Before the call starts, so that a Cancel() while it connects already
  // reaches it (TryCancel before the call cancels it as it starts).
  if (!control->Attach(&context)) return absl::OkStatus();
  std::unique_ptr<grpc::ClientReaderInterface<v1::WatchEvent>> reader =
      stub_->Watch(&context, request);

  const absl::Status ended = ReadStreamToEnd(context, *reader, on_event, control);
  control->Detach();
  return ended;
}

absl::StatusOr<v1::ActResponse> AgentClient::Act(
    const v1::ActRequest& request) {
  return CallUnary(*stub_, &v1::AgentService::StubInterface::Act, request, options_.action_timeout, options_.token);
}

absl::StatusOr<v1::FlushResponse> AgentClient::Flush(
    const v1::FlushRequest& request) {
  return CallUnary(*stub_, &v1::AgentService::StubInterface::Flush, request, options_.action_timeout, options_.token);
}

}  // namespace mailfleet
