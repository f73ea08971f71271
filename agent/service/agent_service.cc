#include "agent/service/agent_service.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/service/proto_convert.h"
#include "common/fmt_absl.h"
#include "common/queue_id.h"
#include "spdlog/spdlog.h"

namespace mailfleet {
namespace {

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(status));
  return reactor;
}

// Streams one message: the envelope, then the content in chunks, one write
// in flight at a time. The content is read before the first write; it is
// bounded by Postfix's message_size_limit and read from local disk.
class MessageWriter : public grpc::ServerWriteReactor<v1::GetMessageResponse> {
 public:
  MessageWriter(const QueueIndex& index, const v1::GetMessageRequest& request) {
    absl::Status status = Load(index, request);
    if (!status.ok()) {
      Finish(ToGrpc(status));
      return;
    }
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    WriteNext();
  }

  void OnDone() override { delete this; }

 private:
  absl::Status Load(const QueueIndex& index, const v1::GetMessageRequest& request) {
    const std::string& id = request.queue_id();
    absl::Status valid = ValidatePostfixQueueId(id);
    if (!valid.ok()) return valid;
    std::optional<QueueKind> where;
    if (auto v = index.Current()->Find(id)) where = v->queue_kind();
    // The message may move between reading its envelope and its content;
    // look for it again when that happens.
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto message = index.reader().ReadMessage(id, where);
      if (!message.ok()) return message.status();
      parts_.clear();
      parts_.emplace_back();
      ToProto(*message, parts_.back().mutable_envelope());
      if (request.envelope_only()) return absl::OkStatus();
      absl::Status s = index.reader().ReadMessageContent(
          id, message->queue, [this](absl::string_view chunk) {
            parts_.emplace_back();
            parts_.back().set_content(chunk.data(), chunk.size());
            return absl::OkStatus();
          });
      if (s.ok()) return s;
      if (!absl::IsNotFound(s)) return s;
      where.reset();
    }
    return absl::UnavailableError(
        absl::StrCat("message ", id, " kept moving while it was read; try again"));
  }

  void WriteNext() {
    if (parts_.empty()) {
      Finish(grpc::Status::OK);
      return;
    }
    current_ = std::move(parts_.front());
    parts_.pop_front();
    StartWrite(&current_);
  }

  std::deque<v1::GetMessageResponse> parts_;
  v1::GetMessageResponse current_;
};

}  // namespace

AgentServiceImpl::AgentServiceImpl(QueueIndex* index, std::string hostname)
    : index_(index), hostname_(std::move(hostname)) {}

grpc::ServerUnaryReactor* AgentServiceImpl::Summary(
    grpc::CallbackServerContext* context, const v1::SummaryRequest* request,
    v1::SummaryResponse* response) {
  auto filter = CompileFilter(request->filter());
  if (!filter.ok()) return Finish(context, filter.status());
  if (request->top_n() < 0 || request->top_n() > kMaxTopN) {
    return Finish(context, absl::InvalidArgumentError(absl::StrCat(
                               "top_n must be between 0 and ", kMaxTopN)));
  }
  size_t top_n = request->top_n() == 0 ? kDefaultTopN : request->top_n();
  auto snapshot = index_->Current();
  absl::Time now = absl::Now();
  ToProto(snapshot->Summarize(*filter, now, top_n), now,
          response->mutable_summary());
  v1::AgentInfo* info = response->mutable_agent();
  info->set_instance_id(index_->instance_id());
  info->set_hostname(hostname_);
  info->set_postfix_version(index_->reader().config().mail_version);
  info->set_queue_directory(index_->reader().config().queue_directory);
  info->set_generation(snapshot->generation());
  SetTimestamp(snapshot->scan_time(), info->mutable_last_scan_time());
  SetDuration(snapshot->scan_duration(), info->mutable_last_scan_duration());
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* AgentServiceImpl::List(
    grpc::CallbackServerContext* context, const v1::ListRequest* request,
    v1::ListResponse* response) {
  auto filter = CompileFilter(request->filter());
  if (!filter.ok()) return Finish(context, filter.status());
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return Finish(context, absl::InvalidArgumentError(absl::StrCat(
                               "page_size must be between 0 and ", kMaxPageSize)));
  }
  std::optional<ListCursor> after;
  if (!request->page_token().empty()) {
    auto cursor = DecodePageToken(request->page_token());
    if (!cursor.ok()) return Finish(context, cursor.status());
    after = *std::move(cursor);
  }
  size_t page_size =
      request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  auto snapshot = index_->Current();
  response->mutable_messages()->Reserve(static_cast<int>(page_size));
  std::optional<ListCursor> next = snapshot->List(
      *filter, absl::Now(), after ? &*after : nullptr, page_size,
      [response](const QueueSnapshot::View& v) {
        ToProto(v, response->add_messages());
      });
  if (next) response->set_next_page_token(EncodePageToken(*next));
  response->set_generation(snapshot->generation());
  return Finish(context, absl::OkStatus());
}

grpc::ServerWriteReactor<v1::GetMessageResponse>* AgentServiceImpl::GetMessage(
    grpc::CallbackServerContext* context, const v1::GetMessageRequest* request) {
  return new MessageWriter(*index_, *request);
}

}  // namespace mailfleet
