// Act and Flush: one request checked whole, then fanned out, one result per
// gateway streamed back as each finishes.
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/fmt_absl.h"
#include "common/queue_id.h"
#include "common/request_checks.h"
#include "controller/service/controller_service.h"
#include "controller/service/fan_out.h"
#include "controller/service/fleet_calls.h"

namespace mailfleet::controller {
namespace {

constexpr absl::Duration kDefaultActTimeout = absl::Minutes(10);
constexpr absl::Duration kDefaultFlushTimeout = absl::Minutes(1);

// An action never defaults to the whole fleet.
absl::StatusOr<std::vector<GatewayView>> SelectForAction(
    const Fleet& fleet, const v1::GatewaySelector& selector) {
  if (selector.names().empty() && selector.label_selector().empty() && !selector.all()) {
    return absl::InvalidArgumentError(
        "select the gateways to act on: names, a label selector, or all");
  }
  return SelectFromProto(fleet, selector);
}

// One gateway's result on the audit trail, from the record of the
// request it answers.
void AuditResult(const v1::GatewayActResult& result, v1::AuditRecord* record) {
  const v1::ActResponse& r = result.response();
  record->set_matched(r.matched());
  record->set_succeeded(r.succeeded());
  record->set_failed(r.failed());
  record->set_result(r.failed() > 0 ? "failed" : "ok");
}
void AuditResult(const v1::GatewayFlushResult&, v1::AuditRecord* record) {
  record->set_result("ok");
}

// Streams results as the fan-out delivers them: one write in flight, the
// rest queued (one per gateway, so bounded by the selection). Finishes once
// the fan-out is done and the queue is written, or dropped if the client
// went away. The fan-out never outlives the stream: Finish, and so OnDone,
// waits for its last result.
template <typename Result>
class ResultStream : public grpc::ServerWriteReactor<Result> {
 public:
  explicit ResultStream(const grpc::Status& refusal) { this->Finish(refusal); }
  ResultStream() = default;

  // Until this is called the stream cannot finish: the fan-out may be
  // done before its Start returns.
  void set_fan_out(std::shared_ptr<FanOut> fan_out) {
    bool finish;
    {
      absl::MutexLock lock(&mu_);
      fan_out_ = std::move(fan_out);
      if (cancelled_) Cancel();
      finish = FinishNowLocked();
    }
    if (finish) this->Finish(Status());
  }

  void Push(Result result) {
    std::optional<Result*> write;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return;
      queue_.push_back(std::move(result));
      write = NextWriteLocked();
    }
    if (write) this->StartWrite(*write);
  }

  void Close() {
    bool finish;
    {
      absl::MutexLock lock(&mu_);
      fan_out_done_ = true;
      finish = FinishNowLocked();
    }
    if (finish) this->Finish(Status());
  }

  void OnWriteDone(bool ok) override {
    std::optional<Result*> write;
    bool finish;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        cancelled_ = true;
        queue_.clear();
      }
      write = NextWriteLocked();
      finish = !write && FinishNowLocked();
    }
    if (write) this->StartWrite(*write);
    if (finish) this->Finish(Status());
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    queue_.clear();
    Cancel();
  }

  void OnDone() override { delete this; }

 private:
  void Cancel() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // Skipped gateways are reported at once, on this thread, and Push
    // takes mu_: cancel from a thread of its own.
    if (fan_out_ == nullptr) return;
    std::shared_ptr<FanOut> fan_out = fan_out_;
    std::thread([fan_out] { fan_out->Cancel(/*in_flight=*/false); }).detach();
  }

  std::optional<Result*> NextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || queue_.empty() || cancelled_) return std::nullopt;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    return &current_;
  }

  bool FinishNowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || fan_out_ == nullptr || !fan_out_done_ || writing_ || (!queue_.empty() && !cancelled_)) {
      return false;
    }
    finished_ = true;
    return true;
  }

  grpc::Status Status() {
    absl::MutexLock lock(&mu_);
    return cancelled_ ? grpc::Status(grpc::StatusCode::CANCELLED, "client went away")
                      : grpc::Status::OK;
  }

  absl::Mutex mu_;
  std::shared_ptr<FanOut> fan_out_ ABSL_GUARDED_BY(mu_);
  std::deque<Result> queue_ ABSL_GUARDED_BY(mu_);
  Result current_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool fan_out_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// Outcome counts for the log line.
struct Tally {
  absl::Mutex mu;
  int ok ABSL_GUARDED_BY(mu) = 0;
  int failed ABSL_GUARDED_BY(mu) = 0;
  void Count(bool succeeded) {
    absl::MutexLock lock(&mu);
    ++(succeeded ? ok : failed);
  }
};

// Runs `Request` on every selected gateway and streams a `Result` for each.
// Each result is written to the audit log, from `record`, before it is
// streamed.
template <typename Request, typename Response, typename Result>
ResultStream<Result>* RunFleetAction(
    std::vector<GatewayView> selected, const Request& request,
    const FanOutOptions& options, std::string what, const AccessControl* access,
    v1::AuditRecord record,
    void (*method)(v1::AgentService::Stub*, grpc::ClientContext*, const Request*,
                   Response*, FanOut::DoneCallback),
    void (*fill)(Response*, Result*)) {
  auto* stream = new ResultStream<Result>();
  auto shared_request = std::make_shared<const Request>(request);
  auto tally = std::make_shared<Tally>();
  std::vector<GatewayTarget> targets = TargetsOf(selected);
  std::shared_ptr<FanOut> fan_out = FanOutCall<Request, Response>(
      targets, options, method,
      [shared_request](size_t) { return shared_request.get(); },
      [stream, targets, tally, fill, access, record = std::move(record)](
          size_t i, const grpc::Status& status, Response* response,
          absl::Duration elapsed) {
        Result result;
        result.set_gateway(targets[i].name);
        result.set_address(targets[i].address);
        const int64_t seconds = absl::ToInt64Seconds(elapsed);
        result.mutable_elapsed()->set_seconds(seconds);
        result.mutable_elapsed()->set_nanos(static_cast<int32_t>(
            absl::ToInt64Nanoseconds(elapsed - absl::Seconds(seconds))));
        if (status.ok()) {
          fill(response, &result);
        } else {
          *result.mutable_failure() = FailureOf(targets[i], status);
        }
        tally->Count(status.ok());
        v1::AuditRecord audited = record;
        audited.set_gateway(targets[i].name);
        if (status.ok()) {
          AuditResult(result, &audited);
        } else {
          audited.set_result("failed");
          audited.set_error(result.failure().error());
        }
        access->Audit(std::move(audited));
        stream->Push(std::move(result));
      },
      [stream, tally, what = std::move(what)] {
        {
          absl::MutexLock lock(&tally->mu);
          spdlog::info("fleet {}: {} gateways succeeded, {} failed", what, tally->ok,
                       tally->failed);
        }
        stream->Close();
      });
  stream->set_fan_out(std::move(fan_out));
  return stream;
}

}  // namespace

grpc::ServerWriteReactor<v1::GatewayActResult>* ControllerServiceImpl::Act(
    grpc::CallbackServerContext* context, const v1::FleetActRequest* request) {
  const std::string verb = ActionVerb(request->request().action());
  v1::AuditRecord asked = AuditRequest(
      verb, "",
      absl::StrCat(DescribeSelection(request->selector()), "; ",
                   SelectorText(request->request().selector())),
      request->request().dry_run());
  absl::StatusOr<Principal> who = access_->CheckAudited(*context, Permission::kAct, asked);
  if (!who.ok()) return new ResultStream<v1::GatewayActResult>(ToGrpc(who.status()));
  v1::AuditRecord record = AuditRecordFor(*who, std::move(asked));
  absl::Status checked = CheckActRequest(request->request());
  absl::StatusOr<FanOutOptions> options = FanOutOptionsFor(
      options_, &calls_, *context, *who,
      request->has_timeout() ? &request->timeout() : nullptr, kDefaultActTimeout);
  if (checked.ok()) checked = options.status();
  absl::StatusOr<std::vector<GatewayView>> selected =
      checked.ok() ? SelectForAction(*fleet_, request->selector())
                   : absl::StatusOr<std::vector<GatewayView>>(checked);
  if (!selected.ok()) {
    record.set_result("invalid");
    record.set_error(std::string(selected.status().message()));
    access_->Audit(std::move(record));
    return new ResultStream<v1::GatewayActResult>(ToGrpc(selected.status()));
  }
  std::string what = absl::StrCat(verb, request->request().dry_run() ? " (dry run)" : "",
                                  " on ", DescribeSelection(request->selector()), " for ",
                                  mailfleet::Describe(*who));
  spdlog::info("fleet {}: {} gateways", what, selected->size());
  return RunFleetAction<v1::ActRequest, v1::ActResponse, v1::GatewayActResult>(
      *std::move(selected), request->request(), *options, std::move(what), access_,
      std::move(record),
      [](v1::AgentService::Stub* stub, grpc::ClientContext* context,
         const v1::ActRequest* req, v1::ActResponse* resp, FanOut::DoneCallback done) {
        stub->async()->Act(context, req, resp, std::move(done));
      },
      [](v1::ActResponse* response, v1::GatewayActResult* result) {
        *result->mutable_response() = std::move(*response);
      });
}

grpc::ServerWriteReactor<v1::GatewayFlushResult>* ControllerServiceImpl::Flush(
    grpc::CallbackServerContext* context, const v1::FleetFlushRequest* request) {
  v1::AuditRecord asked =
      AuditRequest("flush", "",
                   absl::StrCat(DescribeSelection(request->selector()), "; ",
                                FlushTargetsText(request->request())));
  absl::StatusOr<Principal> who = access_->CheckAudited(*context, Permission::kAct, asked);
  if (!who.ok()) return new ResultStream<v1::GatewayFlushResult>(ToGrpc(who.status()));
  v1::AuditRecord record = AuditRecordFor(*who, std::move(asked));
  absl::Status checked = CheckFlushTargets(request->request());
  for (const std::string& id : request->request().queue_ids()) {
    if (!checked.ok()) break;
    checked = ValidatePostfixQueueId(id);
  }
  absl::StatusOr<FanOutOptions> options = FanOutOptionsFor(
      options_, &calls_, *context, *who,
      request->has_timeout() ? &request->timeout() : nullptr, kDefaultFlushTimeout);
  if (checked.ok()) checked = options.status();
  absl::StatusOr<std::vector<GatewayView>> selected =
      checked.ok() ? SelectForAction(*fleet_, request->selector())
                   : absl::StatusOr<std::vector<GatewayView>>(checked);
  if (!selected.ok()) {
    record.set_result("invalid");
    record.set_error(std::string(selected.status().message()));
    access_->Audit(std::move(record));
    return new ResultStream<v1::GatewayFlushResult>(ToGrpc(selected.status()));
  }
  std::string what = absl::StrCat("flush on ", DescribeSelection(request->selector()),
                                  " for ", mailfleet::Describe(*who));
  spdlog::info("fleet {}: {} gateways", what, selected->size());
  return RunFleetAction<v1::FlushRequest, v1::FlushResponse, v1::GatewayFlushResult>(
      *std::move(selected), request->request(), *options, std::move(what), access_,
      std::move(record),
      [](v1::AgentService::Stub* stub, grpc::ClientContext* context,
         const v1::FlushRequest* req, v1::FlushResponse* resp, FanOut::DoneCallback done) {
        stub->async()->Flush(context, req, resp, std::move(done));
      },
      [](v1::FlushResponse*, v1::GatewayFlushResult*) {});
}

}  // namespace mailfleet::controller
