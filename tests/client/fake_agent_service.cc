#include "tests/client/fake_agent_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mailfleet::testing {
namespace {

// Streams an envelope, then the content in chunks, one write in flight.
class MessageWriter final
    : public grpc::ServerWriteReactor<v1::GetMessageResponse> {
 public:
  MessageWriter(const v1::Message& envelope, std::string content,
                size_t chunk_size)
      : content_(std::move(content)), chunk_size_(chunk_size) {
    *part_.mutable_envelope() = envelope;
    StartWrite(&part_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    if (offset_ >= content_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    const size_t length = std::min(chunk_size_, content_.size() - offset_);
    part_.set_content(content_.substr(offset_, length));
    offset_ += length;
    StartWrite(&part_);
  }

  void OnDone() override { delete this; }

 private:
  v1::GetMessageResponse part_;
  std::string content_;
  size_t chunk_size_;
  size_t offset_ = 0;
};

template <typename Response>
class FailedWriter final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FailedWriter(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

// Streams its events, one write in flight, then waits for the client's
// cancel, the scripted end, or ReleaseHungCalls, whichever comes first.
class WatchWriter final : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  WatchWriter(FakeAgentService* service, std::vector<v1::WatchEvent> events,
              std::optional<grpc::Status> end)
      : service_(service), events_(std::move(events)), end_(std::move(end)) {
    absl::MutexLock lock(&mu_);
    NextLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (finish_due_.has_value()) {
      FinishLocked(*finish_due_);
      return;
    }
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    NextLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    FinishLocked(grpc::Status::CANCELLED);
  }

  // ReleaseHungCalls: the agent going away.
  void Release() {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "released"));
  }

  void OnDone() override {
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_;
    }
    service_->WatchDone(this, cancelled);
    delete this;
  }

 private:
  void NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    if (next_ < events_.size()) {
      writing_ = true;
      StartWrite(&events_[next_++]);
    } else if (end_.has_value()) {
      FinishLocked(*end_);
    }
  }

  // At most one write in flight, and none when finishing: a finish asked
  // for meanwhile waits for the write to be done.
  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    if (writing_) {
      if (!finish_due_.has_value()) finish_due_ = status;
      return;
    }
    finished_ = true;
    Finish(status);
  }

  FakeAgentService* const service_;
  absl::Mutex mu_;
  std::vector<v1::WatchEvent> events_;
  std::optional<grpc::Status> end_;
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_due_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

FakeAgentService::~FakeAgentService() { ReleaseHungCalls(); }

void FakeAgentService::SetMessages(std::vector<v1::Message> messages) {
  absl::MutexLock lock(&mu_);
  messages_ = std::move(messages);
  message_ids_.clear();
  for (const v1::Message& message : messages_) {
    message_ids_.insert(message.queue_id());
  }
}

void FakeAgentService::SetSummary(v1::SummaryResponse summary) {
  absl::MutexLock lock(&mu_);
  summary_ = std::move(summary);
}

void FakeAgentService::SetContent(const std::string& queue_id,
                                  std::string content) {
  absl::MutexLock lock(&mu_);
  contents_[queue_id] = std::move(content);
}

void FakeAgentService::SetChunkSize(size_t bytes) {
  absl::MutexLock lock(&mu_);
  chunk_size_ = bytes;
}

void FakeAgentService::SetFailure(grpc::Status status) {
  absl::MutexLock lock(&mu_);
  failure_ = std::move(status);
}

void FakeAgentService::SetMaxPageSize(int page_size) {
  absl::MutexLock lock(&mu_);
  max_page_size_ = page_size;
}

void FakeAgentService::SetStuckToken(bool stuck) {
  absl::MutexLock lock(&mu_);
  stuck_token_ = stuck;
}

void FakeAgentService::SetHangSummary(bool hang) {
  absl::MutexLock lock(&mu_);
  hang_summary_ = hang;
}

void FakeAgentService::SetHangActions(bool hang) {
  absl::MutexLock lock(&mu_);
  hang_actions_ = hang;
}

void FakeAgentService::SetActFailure(const std::string& queue_id,
                                     std::string reason) {
  absl::MutexLock lock(&mu_);
  act_failures_[queue_id] = std::move(reason);
}

void FakeAgentService::SetActResponse(std::optional<v1::ActResponse> response) {
  absl::MutexLock lock(&mu_);
  act_response_ = std::move(response);
}

void FakeAgentService::FailActAfter(int answered, grpc::Status status) {
  absl::MutexLock lock(&mu_);
  act_answers_left_ = answered;
  act_failure_ = std::move(status);
}

void FakeAgentService::SetWatchEvents(std::vector<v1::WatchEvent> events,
                                      std::optional<grpc::Status> end) {
  absl::MutexLock lock(&mu_);
  watch_events_ = std::move(events);
  watch_end_ = std::move(end);
}

bool FakeAgentService::AwaitWatchesCancelled(int count,
                                             absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, count]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return watches_cancelled_ >= count;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

int FakeAgentService::open_watches() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(open_watches_.size());
}

void FakeAgentService::WatchDone(WatchWriter* writer, bool cancelled) {
  absl::MutexLock lock(&mu_);
  open_watches_.erase(writer);
  if (cancelled) ++watches_cancelled_;
}

void FakeAgentService::ReleaseHungCalls() {
  std::vector<grpc::ServerUnaryReactor*> hung;
  {
    absl::MutexLock lock(&mu_);
    hung.swap(hung_);
    // Under the lock, so that no writer is deleted meanwhile: Release only
    // starts the finish, and OnDone comes later on another thread.
    for (WatchWriter* writer : open_watches_) writer->Release();
  }
  for (grpc::ServerUnaryReactor* reactor : hung) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "released"));
  }
}

std::vector<v1::ListRequest> FakeAgentService::list_requests() const {
  absl::MutexLock lock(&mu_);
  return list_requests_;
}

std::vector<v1::SummaryRequest> FakeAgentService::summary_requests() const {
  absl::MutexLock lock(&mu_);
  return summary_requests_;
}

std::vector<v1::GetMessageRequest> FakeAgentService::get_requests() const {
  absl::MutexLock lock(&mu_);
  return get_requests_;
}

std::vector<v1::ActRequest> FakeAgentService::act_requests() const {
  absl::MutexLock lock(&mu_);
  return act_requests_;
}

std::vector<v1::FlushRequest> FakeAgentService::flush_requests() const {
  absl::MutexLock lock(&mu_);
  return flush_requests_;
}

std::vector<v1::WatchRequest> FakeAgentService::watch_requests() const {
  absl::MutexLock lock(&mu_);
  return watch_requests_;
}

grpc::ServerUnaryReactor* FakeAgentService::Summary(
    grpc::CallbackServerContext* context, const v1::SummaryRequest* request,
    v1::SummaryResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::MutexLock lock(&mu_);
  summary_requests_.push_back(*request);
  if (hang_summary_) {
    hung_.push_back(reactor);
    return reactor;
  }
  if (failure_.ok()) *response = summary_;
  reactor->Finish(failure_);
  return reactor;
}

grpc::ServerUnaryReactor* FakeAgentService::List(
    grpc::CallbackServerContext* context, const v1::ListRequest* request,
    v1::ListResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::MutexLock lock(&mu_);
  list_requests_.push_back(*request);
  reactor->Finish(failure_.ok() ? ListLocked(*request, response) : failure_);
  return reactor;
}

grpc::Status FakeAgentService::ListLocked(const v1::ListRequest& request,
                                          v1::ListResponse* response) {
  const int page_size = request.page_size() == 0 ? 1000 : request.page_size();
  if (page_size < 0 || page_size > 10000) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("page_size ", page_size, " is not in 0..10000"));
  }
  if (page_size > max_page_size_) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "Received message larger than max");
  }
  size_t offset = 0;
  if (!request.page_token().empty() &&
      !absl::SimpleAtoi(request.page_token(), &offset)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "invalid page token");
  }
  // Only the queue condition is honoured: enough to see filters arrive.
  const auto& queues = request.filter().queues();
  size_t next = offset;
  for (; next < messages_.size() && response->messages_size() < page_size;
       ++next) {
    const v1::Message& message = messages_[next];
    if (queues.empty() || std::find(queues.begin(), queues.end(),
                                    message.queue()) != queues.end()) {
      *response->add_messages() = message;
    }
  }
  if (stuck_token_) {
    // The first page's token, forever after.
    response->set_next_page_token(
        request.page_token().empty() ? "0" : request.page_token());
  } else if (next < messages_.size()) {
    response->set_next_page_token(absl::StrCat(next));
  }
  response->set_generation(42);
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<v1::GetMessageResponse>* FakeAgentService::GetMessage(
    grpc::CallbackServerContext* context,
    const v1::GetMessageRequest* request) {
  absl::MutexLock lock(&mu_);
  get_requests_.push_back(*request);
  if (!failure_.ok()) {
    return new FailedWriter<v1::GetMessageResponse>(failure_);
  }
  if (request->queue_id().find_first_of("/. ") != std::string::npos) {
    return new FailedWriter<v1::GetMessageResponse>(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("queue id '", request->queue_id(),
                     "' has invalid characters: expected [0-9A-Za-z]")));
  }
  auto found = std::find_if(messages_.begin(), messages_.end(),
                            [&](const v1::Message& message) {
                              return message.queue_id() == request->queue_id();
                            });
  if (found == messages_.end()) {
    return new FailedWriter<v1::GetMessageResponse>(
        grpc::Status(grpc::StatusCode::NOT_FOUND,
                     absl::StrCat("no message with queue id '",
                                  request->queue_id(), "' on this gateway")));
  }
  std::string content;
  if (!request->envelope_only()) {
    auto it = contents_.find(request->queue_id());
    if (it != contents_.end()) content = it->second;
  }
  return new MessageWriter(*found, std::move(content), chunk_size_);
}

grpc::ServerUnaryReactor* FakeAgentService::Act(
    grpc::CallbackServerContext* context, const v1::ActRequest* request,
    v1::ActResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::MutexLock lock(&mu_);
  act_requests_.push_back(*request);
  if (hang_actions_) {
    hung_.push_back(reactor);
    return reactor;
  }
  if (!failure_.ok()) {
    reactor->Finish(failure_);
  } else if (act_answers_left_ == 0) {
    reactor->Finish(act_failure_);
  } else {
    if (act_answers_left_ > 0) --act_answers_left_;
    reactor->Finish(ActLocked(*request, response));
  }
  return reactor;
}

grpc::Status FakeAgentService::ActLocked(const v1::ActRequest& request,
                                         v1::ActResponse* response) {
  if (act_response_.has_value()) {
    *response = *act_response_;
    return grpc::Status::OK;
  }
  // The agent's checks of a selector, with its messages.
  const v1::Selector& selector = request.selector();
  std::vector<std::string> selected;
  std::vector<v1::QueueKind> selected_in;  // filter path only
  if (!selector.queue_ids().empty()) {
    v1::Filter rest = selector.filter();
    rest.clear_queues();  // with ids, queues say where to look for them
    if (rest.ByteSizeLong() > 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "give queue ids or a filter, not both");
    }
    std::set<std::string> seen;
    for (const std::string& id : selector.queue_ids()) {
      if (id.find_first_of("/. ") != std::string::npos) {
        return grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            absl::StrCat("queue id '", id,
                         "' has invalid characters: expected [0-9A-Za-z]"));
      }
      if (seen.insert(id).second) selected.push_back(id);
    }
  } else {
    if (selector.filter().ByteSizeLong() == 0 && !selector.all()) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          "the filter selects every message: set all to act on the whole "
          "queue");
    }
    // Only the queue condition is honoured, as in List.
    const auto& queues = selector.filter().queues();
    for (const v1::Message& message : messages_) {
      if (queues.empty() || std::find(queues.begin(), queues.end(),
                                      message.queue()) != queues.end()) {
        selected.push_back(message.queue_id());
        selected_in.push_back(message.queue());
      }
    }
  }
  response->set_action(request.action());
  response->set_dry_run(request.dry_run());
  response->set_matched(static_cast<int64_t>(selected.size()));
  if (request.dry_run()) {
    for (const std::string& id : selected) response->add_queue_ids(id);
    // As the agent does: the side of each id, for the confirmed run.
    for (v1::QueueKind q : selected_in) response->add_queues(q);
    return grpc::Status::OK;
  }
  for (const std::string& id : selected) {
    auto failure = act_failures_.find(id);
    if (message_ids_.count(id) == 0 || failure != act_failures_.end()) {
      v1::ActFailure* failed = response->add_failures();
      failed->set_queue_id(id);
      failed->set_reason(failure != act_failures_.end() ? failure->second
                                                        : "not in the queue");
    } else {
      response->add_queue_ids(id);
    }
  }
  response->set_succeeded(response->queue_ids_size());
  response->set_failed(response->failures_size());
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* FakeAgentService::Flush(
    grpc::CallbackServerContext* context, const v1::FlushRequest* request,
    v1::FlushResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::MutexLock lock(&mu_);
  flush_requests_.push_back(*request);
  if (hang_actions_) {
    hung_.push_back(reactor);
    return reactor;
  }
  const int targets = (request->all() ? 1 : 0) +
                      (request->queue_ids().empty() ? 0 : 1) +
                      (request->site().empty() ? 0 : 1);
  if (!failure_.ok()) {
    reactor->Finish(failure_);
  } else if (targets != 1) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     "flush takes exactly one of: all, queue ids, a site"));
  } else {
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerWriteReactor<v1::WatchEvent>* FakeAgentService::Watch(
    grpc::CallbackServerContext* context, const v1::WatchRequest* request) {
  absl::MutexLock lock(&mu_);
  watch_requests_.push_back(*request);
  if (!failure_.ok()) return new FailedWriter<v1::WatchEvent>(failure_);
  auto* writer = new WatchWriter(this, watch_events_, watch_end_);
  open_watches_.insert(writer);
  return writer;
}

FakeAgentServer::FakeAgentServer(FakeAgentService* service)
    : service_(service) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (server_ != nullptr && port > 0) {
    address_ = absl::StrCat("127.0.0.1:", port);
  }
}

FakeAgentServer::~FakeAgentServer() {
  service_->ReleaseHungCalls();
  if (server_ != nullptr) server_->Shutdown();
}

}  // namespace mailfleet::testing
