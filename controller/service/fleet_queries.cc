// Summary and GetMessage. List, the largest, is in fleet_list.cc.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/channel.h"
#include "common/request_checks.h"
#include "controller/service/controller_service.h"
#include "controller/service/fan_out.h"
#include "controller/service/fleet_calls.h"
#include "controller/service/release_off_grpc.h"
#include "controller/service/summary_total.h"

namespace mailfleet::controller {
namespace {

constexpr absl::Duration kDefaultSummaryTimeout = absl::Seconds(10);

// An unsynced gateway, left out of a total made of held summaries.
v1::GatewayFailure UnsyncedFailure(const GatewayView& view) {
  v1::GatewayFailure failure;
  failure.set_gateway(view.config.name);
  failure.set_address(view.config.address);
  failure.set_code(static_cast<int32_t>(grpc::StatusCode::UNAVAILABLE));
  std::string error = absl::StrCat(view.config.address, ": ", GatewayStateName(view.status.state),
                                   ", no current summary");
  if (!view.status.last_error.empty()) absl::StrAppend(&error, ": ", view.status.last_error);
  failure.set_error(error);
  return failure;
}

// From what the fleet holds: no agent is asked.
void HeldSummary(const std::vector<GatewayView>& views, size_t top_n,
                 v1::FleetSummaryResponse* response) {
  SummaryTotal total;
  for (const GatewayView& view : views) {
    v1::Gateway* gateway = response->add_gateways();
    ToProto(view, gateway);
    CutTopLists(top_n, gateway->mutable_summary());
    if (view.status.synced) {
      total.Add(view.config.name, view.status.summary);
    } else {
      *response->add_failures() = UnsyncedFailure(view);
    }
  }
  *response->mutable_total() = total.Total(top_n);
  response->set_oldest_gateway(total.oldest_gateway());
}

// Each selected agent's summary of what the filter matches, merged once
// every gateway has answered or failed.
class FilteredSummary {
 public:
  static void Run(std::vector<GatewayView> views, const v1::FleetSummaryRequest& request,
                  size_t top_n, const FanOutOptions& options,
                  v1::FleetSummaryResponse* response, grpc::ServerUnaryReactor* reactor) {
    auto state = std::make_shared<FilteredSummary>();
    state->top_n_ = top_n;
    state->request_.set_top_n(static_cast<int32_t>(top_n));
    *state->request_.mutable_filter() = request.filter();
    state->answers_.resize(views.size());
    for (const GatewayView& view : views) ToProto(view, response->add_gateways());
    std::vector<GatewayTarget> targets = TargetsOf(views);
    FanOutCall<v1::SummaryRequest, v1::SummaryResponse>(
        targets, options,
        [](v1::AgentService::Stub* stub, grpc::ClientContext* context,
           const v1::SummaryRequest* req, v1::SummaryResponse* resp,
           FanOut::DoneCallback done) {
          stub->async()->Summary(context, req, resp, std::move(done));
        },
        [state](size_t) { return &state->request_; },
        [state, targets](size_t i, const grpc::Status& status,
                         v1::SummaryResponse* answer, absl::Duration) {
          absl::MutexLock lock(&state->mu_);
          if (status.ok()) {
            state->answers_[i] = std::move(*answer->mutable_summary());
          } else {
            state->failures_.push_back({i, FailureOf(targets[i], status)});
          }
        },
        [state, response, reactor] {
          state->Finish(response);
          reactor->Finish(grpc::Status::OK);
        });
  }

 private:
  void Finish(v1::FleetSummaryResponse* response) {
    absl::MutexLock lock(&mu_);
    std::vector<bool> failed(answers_.size());
    std::sort(failures_.begin(), failures_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [i, failure] : failures_) {
      failed[i] = true;
      *response->add_failures() = std::move(failure);
    }
    SummaryTotal total;
    for (size_t i = 0; i < answers_.size(); ++i) {
      v1::Gateway* gateway = response->mutable_gateways(static_cast<int>(i));
      if (failed[i]) {
        // Its held summary is of everything, not of what the filter matches.
        gateway->clear_summary();
        continue;
      }
      total.Add(gateway->name(), answers_[i]);
      *gateway->mutable_summary() = std::move(answers_[i]);
    }
    *response->mutable_total() = total.Total(top_n_);
    response->set_oldest_gateway(total.oldest_gateway());
  }

  size_t top_n_ = 0;
  v1::SummaryRequest request_;
  absl::Mutex mu_;
  std::vector<v1::QueueSummary> answers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<size_t, v1::GatewayFailure>> failures_ ABSL_GUARDED_BY(mu_);
};

// Relays one message from its agent: each part read from the agent is
// written to the client before the next is read, so one chunk at most is
// held. The client's cancel cancels the agent's call; the agent's status
// is the client's. Deletes itself once both calls are done.
//
// The next read is started from the client side's OnWriteDone, outside the
// agent call's reactions, so the agent call carries a hold while the relay
// may still read: without it, the agent's status arriving between a read
// and the next could end that call under a StartRead.
class MessageRelay : public grpc::ServerWriteReactor<v1::GetMessageResponse>,
                     public grpc::ClientReadReactor<v1::GetMessageResponse> {
 public:
  // Refuses the call with `refusal`.
  explicit MessageRelay(const grpc::Status& refusal) {
    grpc::ServerWriteReactor<v1::GetMessageResponse>::Finish(refusal);
  }

  // `audit_read`, when set, is told before the first part is passed on
  // whether the agent found the message: a content read is on the trail
  // first.
  MessageRelay(const std::string& gateway, const std::string& address,
               std::shared_ptr<grpc::Channel> channel, const v1::GetMessageRequest& request,
               const AgentClientOptions& options, const Principal& principal,
               std::function<void(const grpc::Status&)> audit_read)
      : gateway_(gateway),
        address_(address),
        request_(request),
        stub_(v1::AgentService::NewStub(std::move(channel))),
        audit_read_(std::move(audit_read)) {
    agent_context_.set_deadline(absl::ToChronoTime(absl::Now() + options.stream_timeout));
    ForwardPrincipal(&agent_context_, principal);
    stub_->async()->GetMessage(&agent_context_, &request_, this);
    StartRead(&part_);
    grpc::ClientReadReactor<v1::GetMessageResponse>::AddHold();
    StartCall();
  }

  // Agent side.
  void OnReadDone(bool ok) override {
    if (!ok) {  // OnDone(status) follows once the hold is gone
      StopReading();
      return;
    }
    if (part_.has_envelope()) part_.mutable_envelope()->set_gateway(gateway_);
    Audit(grpc::Status::OK);
    bool client_gone;
    {
      absl::MutexLock lock(&mu_);
      client_gone = client_gone_;
    }
    if (client_gone) {  // the agent's call is being cancelled
      StopReading();
      return;
    }
    // Never under the lock: gRPC may run the reaction inline.
    StartWrite(&part_);
  }
  void OnDone(const grpc::Status& status) override {
    // No write is pending: the hold lasts until the last one is done.
    Audit(status);
    FinishClient(status);
  }

  // Client side.
  void OnWriteDone(bool ok) override {
    if (ok) {
      StartRead(&part_);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      client_gone_ = true;
    }
    agent_context_.TryCancel();
    StopReading();
  }
  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      client_gone_ = true;
    }
    agent_context_.TryCancel();
  }
  void OnDone() override {
    // Finish is called only once the agent's call is done. Freed away from
    // this gRPC thread: the relay holds the agent's channel.
    ReleaseOffGrpcThreads(std::shared_ptr<MessageRelay>(this));
  }

 private:
  // Once per relay, when no read will follow: lets the agent's call end.
  void StopReading() { grpc::ClientReadReactor<v1::GetMessageResponse>::RemoveHold(); }

  // Once per relay: the first part, or the end of a call that sent none.
  // Reads and the call's end come one after the other, never together.
  void Audit(const grpc::Status& status) {
    if (!audit_read_) return;
    auto audit = std::move(audit_read_);
    audit_read_ = nullptr;
    audit(status);
  }

  // The agent's error says which gateway it is from: an unreachable
  // gateway is not an unreachable controller.
  void FinishClient(const grpc::Status& agent_status) {
    grpc::ServerWriteReactor<v1::GetMessageResponse>::Finish(
        agent_status.ok()
            ? agent_status
            : grpc::Status(agent_status.error_code(),
                           absl::StrCat("gateway ", gateway_, " (", address_,
                                        "): ", agent_status.error_message())));
  }

  const std::string gateway_;
  const std::string address_;
  const v1::GetMessageRequest request_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext agent_context_;
  v1::GetMessageResponse part_;
  absl::Mutex mu_;
  bool client_gone_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(const grpc::Status&)> audit_read_;
};

}  // namespace

grpc::ServerUnaryReactor* ControllerServiceImpl::Summary(
    grpc::CallbackServerContext* context, const v1::FleetSummaryRequest* request,
    v1::FleetSummaryResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Principal> who = access_->Check(*context, Permission::kView);
  if (!who.ok()) {
    reactor->Finish(ToGrpc(who.status()));
    return reactor;
  }
  absl::StatusOr<size_t> top_n = TopNFromProto(request->top_n());
  absl::StatusOr<FanOutOptions> options = FanOutOptionsFor(
      options_, &calls_, *context, *who, request->has_timeout() ? &request->timeout() : nullptr,
      kDefaultSummaryTimeout);
  absl::Status checked = !top_n.ok() ? top_n.status() : options.status();
  if (checked.ok() && request->has_filter()) checked = CompileFilter(request->filter()).status();
  absl::StatusOr<std::vector<GatewayView>> selected =
      checked.ok() ? SelectFromProto(*fleet_, request->selector())
                   : absl::StatusOr<std::vector<GatewayView>>(checked);
  if (!selected.ok()) {
    reactor->Finish(ToGrpc(selected.status()));
    return reactor;
  }
  if (!request->has_filter()) {
    HeldSummary(*selected, *top_n, response);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  FilteredSummary::Run(*std::move(selected), *request, *top_n, *options, response, reactor);
  return reactor;
}

grpc::ServerWriteReactor<v1::GetMessageResponse>* ControllerServiceImpl::GetMessage(
    grpc::CallbackServerContext* context, const v1::FleetGetMessageRequest* request) {
  const bool content = !request->request().envelope_only();
  v1::AuditRecord asked = AuditRequest("read", request->gateway(),
                                       absl::StrCat("id ", request->request().queue_id()));
  absl::StatusOr<Principal> who =
      content ? access_->CheckAudited(*context, Permission::kReadContent, asked)
              : access_->Check(*context, Permission::kView);
  if (!who.ok()) return new MessageRelay(ToGrpc(who.status()));
  if (request->gateway().empty()) {
    return new MessageRelay(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                         "name the gateway the message is on"));
  }
  absl::StatusOr<std::vector<GatewayView>> selected =
      fleet_->Select({request->gateway()}, std::nullopt, false);
  if (!selected.ok()) return new MessageRelay(ToGrpc(selected.status()));
  const GatewayView& view = selected->front();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      OpenChannel(view.config.address, options_.client.credentials,
                  options_.client.max_receive_message_bytes);
  if (!channel.ok()) return new MessageRelay(ToGrpc(channel.status()));
  std::function<void(const grpc::Status&)> audit_read;
  if (content) {
    v1::AuditRecord record = AuditRecordFor(*who, std::move(asked));
    audit_read = [access = access_, record](const grpc::Status& status) mutable {
      record.set_matched(status.ok() ? 1 : 0);
      record.set_result(status.ok() ? "ok" : "failed");
      record.set_error(status.error_message());
      access->Audit(std::move(record));
    };
  }
  return new MessageRelay(view.config.name, view.config.address, *std::move(channel),
                          request->request(), options_.client, *who,
                          std::move(audit_read));
}

}  // namespace mailfleet::controller
