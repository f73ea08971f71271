#include "tests/client/fake_controller_service.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mailfleet::testing {
namespace {

// Writes `items` in order, one write in flight, then finishes OK, or with
// `hold_open` waits for the client to cancel (a watch never ends on its
// own). A cancel meanwhile finishes it once the write in flight is done.
template <typename Item>
class ScriptedWriter final : public grpc::ServerWriteReactor<Item> {
 public:
  ScriptedWriter(std::vector<Item> items, bool hold_open,
                 FakeControllerService* watched)
      : items_(std::move(items)), hold_open_(hold_open), watched_(watched) {
    absl::MutexLock lock(&mu_);
    NextLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok || cancelled_) {
      FinishLocked(grpc::Status::CANCELLED);
      return;
    }
    NextLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_;
    }
    if (watched_ != nullptr) watched_->WatchDone(cancelled);
    delete this;
  }

 private:
  void NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    if (next_ < items_.size()) {
      writing_ = true;
      this->StartWrite(&items_[next_++]);
    } else if (!hold_open_) {
      FinishLocked(grpc::Status::OK);
    }
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return;
    finished_ = true;
    this->Finish(status);
  }

  absl::Mutex mu_;
  std::vector<Item> items_;
  const bool hold_open_;
  FakeControllerService* const watched_;
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

template <typename Item>
class FailedWriter final : public grpc::ServerWriteReactor<Item> {
 public:
  explicit FailedWriter(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

grpc::ServerUnaryReactor* Finished(grpc::CallbackServerContext* context,
                                   const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

void FakeControllerService::SetGateways(v1::ListGatewaysResponse response) {
  absl::MutexLock lock(&mu_);
  gateways_ = std::move(response);
}

void FakeControllerService::SetSummary(v1::FleetSummaryResponse response) {
  absl::MutexLock lock(&mu_);
  summary_ = std::move(response);
}

void FakeControllerService::SetListPages(
    std::vector<v1::FleetListResponse> pages) {
  for (size_t i = 0; i + 1 < pages.size(); ++i) {
    pages[i].set_next_page_token(absl::StrCat(i + 1));
  }
  absl::MutexLock lock(&mu_);
  pages_ = std::move(pages);
}

void FakeControllerService::SetMessage(v1::Message envelope,
                                       std::string content) {
  absl::MutexLock lock(&mu_);
  envelope_ = std::move(envelope);
  content_ = std::move(content);
}

void FakeControllerService::SetActScript(ActScript script) {
  absl::MutexLock lock(&mu_);
  act_script_ = std::move(script);
}

void FakeControllerService::SetFlushScript(FlushScript script) {
  absl::MutexLock lock(&mu_);
  flush_script_ = std::move(script);
}

void FakeControllerService::SetWatchEvents(
    std::vector<v1::FleetWatchEvent> events) {
  absl::MutexLock lock(&mu_);
  watch_events_ = std::move(events);
}

void FakeControllerService::SetFailure(grpc::Status status) {
  absl::MutexLock lock(&mu_);
  failure_ = std::move(status);
}

void FakeControllerService::WatchDone(bool cancelled) {
  absl::MutexLock lock(&mu_);
  if (cancelled) ++watches_cancelled_;
}

bool FakeControllerService::AwaitWatchesCancelled(
    int count, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  const auto done = [this, count]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return watches_cancelled_ >= count;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

#define MF_FAKE_REQUESTS(name, type)                                  \
  std::vector<type> FakeControllerService::name() const {             \
    absl::MutexLock lock(&mu_);                                       \
    return name##_;                                                   \
  }
MF_FAKE_REQUESTS(list_gateways_requests, v1::ListGatewaysRequest)
MF_FAKE_REQUESTS(summary_requests, v1::FleetSummaryRequest)
MF_FAKE_REQUESTS(list_requests, v1::FleetListRequest)
MF_FAKE_REQUESTS(get_requests, v1::FleetGetMessageRequest)
MF_FAKE_REQUESTS(act_requests, v1::FleetActRequest)
MF_FAKE_REQUESTS(flush_requests, v1::FleetFlushRequest)
MF_FAKE_REQUESTS(watch_requests, v1::FleetWatchRequest)
#undef MF_FAKE_REQUESTS

grpc::ServerUnaryReactor* FakeControllerService::ListGateways(
    grpc::CallbackServerContext* context,
    const v1::ListGatewaysRequest* request,
    v1::ListGatewaysResponse* response) {
  absl::MutexLock lock(&mu_);
  list_gateways_requests_.push_back(*request);
  if (!failure_.ok()) return Finished(context, failure_);
  *response = gateways_;
  return Finished(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* FakeControllerService::Summary(
    grpc::CallbackServerContext* context,
    const v1::FleetSummaryRequest* request,
    v1::FleetSummaryResponse* response) {
  absl::MutexLock lock(&mu_);
  summary_requests_.push_back(*request);
  if (!failure_.ok()) return Finished(context, failure_);
  *response = summary_;
  return Finished(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* FakeControllerService::List(
    grpc::CallbackServerContext* context, const v1::FleetListRequest* request,
    v1::FleetListResponse* response) {
  absl::MutexLock lock(&mu_);
  list_requests_.push_back(*request);
  if (!failure_.ok()) return Finished(context, failure_);
  size_t page = 0;
  if (!request->page_token().empty() &&
      (!absl::SimpleAtoi(request->page_token(), &page) ||
       page >= pages_.size())) {
    return Finished(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                          "bad page token"));
  }
  if (page < pages_.size()) *response = pages_[page];
  return Finished(context, grpc::Status::OK);
}

grpc::ServerWriteReactor<v1::GetMessageResponse>*
FakeControllerService::GetMessage(grpc::CallbackServerContext* context,
                                  const v1::FleetGetMessageRequest* request) {
  absl::MutexLock lock(&mu_);
  get_requests_.push_back(*request);
  if (!failure_.ok()) return new FailedWriter<v1::GetMessageResponse>(failure_);
  if (request->request().queue_id() != envelope_.queue_id()) {
    return new FailedWriter<v1::GetMessageResponse>(
        grpc::Status(grpc::StatusCode::NOT_FOUND, "no such message"));
  }
  std::vector<v1::GetMessageResponse> parts(1);
  *parts[0].mutable_envelope() = envelope_;
  parts[0].mutable_envelope()->set_gateway(request->gateway());
  if (!request->request().envelope_only()) {
    parts.emplace_back().set_content(content_);
  }
  return new ScriptedWriter<v1::GetMessageResponse>(std::move(parts), false,
                                                    nullptr);
}

grpc::ServerWriteReactor<v1::GatewayActResult>* FakeControllerService::Act(
    grpc::CallbackServerContext* context, const v1::FleetActRequest* request) {
  absl::MutexLock lock(&mu_);
  act_requests_.push_back(*request);
  if (!failure_.ok()) return new FailedWriter<v1::GatewayActResult>(failure_);
  std::vector<v1::GatewayActResult> results;
  if (act_script_) results = act_script_(*request);
  return new ScriptedWriter<v1::GatewayActResult>(std::move(results), false,
                                                  nullptr);
}

grpc::ServerWriteReactor<v1::GatewayFlushResult>* FakeControllerService::Flush(
    grpc::CallbackServerContext* context,
    const v1::FleetFlushRequest* request) {
  absl::MutexLock lock(&mu_);
  flush_requests_.push_back(*request);
  if (!failure_.ok()) return new FailedWriter<v1::GatewayFlushResult>(failure_);
  std::vector<v1::GatewayFlushResult> results;
  if (flush_script_) results = flush_script_(*request);
  return new ScriptedWriter<v1::GatewayFlushResult>(std::move(results), false,
                                                    nullptr);
}

grpc::ServerWriteReactor<v1::FleetWatchEvent>* FakeControllerService::Watch(
    grpc::CallbackServerContext* context, const v1::FleetWatchRequest* request) {
  absl::MutexLock lock(&mu_);
  watch_requests_.push_back(*request);
  if (!failure_.ok()) return new FailedWriter<v1::FleetWatchEvent>(failure_);
  return new ScriptedWriter<v1::FleetWatchEvent>(watch_events_, true, this);
}

FakeControllerServer::FakeControllerServer(FakeControllerService* service) {
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

FakeControllerServer::~FakeControllerServer() {
  // A watch still open is cancelled rather than waited for.
  if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
}

}  // namespace mailfleet::testing
