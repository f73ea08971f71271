#include "controller/service/fan_out.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "client/channel.h"
#include "controller/service/release_off_grpc.h"

namespace mailfleet::controller {

v1::GatewayFailure FailureOf(const GatewayTarget& gateway, const grpc::Status& status) {
  v1::GatewayFailure failure;
  failure.set_gateway(gateway.name);
  failure.set_address(gateway.address);
  const grpc::StatusCode code = status.ok() ? grpc::StatusCode::UNKNOWN : status.error_code();
  failure.set_code(static_cast<int32_t>(code));
  failure.set_error(absl::StrReplaceAll(
      absl::StrCat(gateway.address, ": ", absl::StatusCodeToString(static_cast<absl::StatusCode>(code)), ": ", status.error_message()),
      {{"\n", " "}, {"\r", " "}}));
  return failure;
}

FanOut::FanOut(std::vector<GatewayTarget> gateways, const FanOutOptions& options,
               StartCall start, OnResult on_result, std::function<void()> on_all_done)
    : gateways_(std::move(gateways)),
      options_(options),
      start_(std::move(start)),
      on_result_(std::move(on_result)),
      on_all_done_(std::move(on_all_done)),
      calls_(gateways_.size()) {}

FanOut::~FanOut() {
  absl::MutexLock lock(&mu_);
  for (Call& call : calls_) {
    if (call.stub) ReleaseOffGrpcThreads(std::move(call.stub));
    if (call.context) ReleaseOffGrpcThreads(std::move(call.context));
  }
}

std::shared_ptr<FanOut> FanOut::Start(std::vector<GatewayTarget> gateways,
                                      const FanOutOptions& options, StartCall start,
                                      OnResult on_result,
                                      std::function<void()> on_all_done) {
  std::shared_ptr<FanOut> fan_out(new FanOut(std::move(gateways), options,
                                             std::move(start), std::move(on_result),
                                             std::move(on_all_done)));
  if (fan_out->gateways_.empty()) {
    fan_out->on_all_done_();
    return fan_out;
  }
  if (options.registry != nullptr) options.registry->Add(fan_out);
  fan_out->Pump();
  return fan_out;
}

void FanOutRegistry::Add(std::weak_ptr<FanOut> fan_out) {
  std::shared_ptr<FanOut> cancel;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) {
      cancel = fan_out.lock();
    } else {
      // Forget the finished ones as new ones come, so that the list stays
      // as long as the fan-outs in progress.
      fan_outs_.erase(std::remove_if(fan_outs_.begin(), fan_outs_.end(),
                                     [](const std::weak_ptr<FanOut>& f) { return f.expired(); }),
                      fan_outs_.end());
      fan_outs_.push_back(std::move(fan_out));
    }
  }
  if (cancel) cancel->Cancel(/*in_flight=*/true);
}

void FanOutRegistry::CancelAll() {
  std::vector<std::weak_ptr<FanOut>> fan_outs;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    fan_outs.swap(fan_outs_);
  }
  for (const std::weak_ptr<FanOut>& weak : fan_outs) {
    if (std::shared_ptr<FanOut> fan_out = weak.lock()) fan_out->Cancel(/*in_flight=*/true);
  }
}

void FanOut::Cancel(bool in_flight) {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (in_flight) {
      // A finished call's context is still there; cancelling it is a no-op.
      for (size_t i = 0; i < next_; ++i) {
        if (calls_[i].context) calls_[i].context->TryCancel();
      }
    }
  }
  Pump();
}

void FanOut::Pump() {
  for (;;) {
    size_t i;
    bool skip;
    {
      absl::MutexLock lock(&mu_);
      if (next_ >= gateways_.size()) return;
      skip = cancelled_;
      if (!skip && in_flight_ >= options_.max_parallel) return;
      i = next_++;
      if (!skip) ++in_flight_;
    }
    // Outside the lock: gRPC may run a call's callback inline.
    if (skip) {
      Report(i, grpc::Status(grpc::StatusCode::CANCELLED,
                             "not called: the request was cancelled"),
             absl::ZeroDuration());
    } else {
      Launch(i);
    }
  }
}

void FanOut::Launch(size_t i) {
  // Same target and arguments on every call: gRPC's subchannel pool shares
  // one connection per agent across the channels.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      OpenChannel(gateways_[i].address, options_.client.credentials,
                  options_.client.max_receive_message_bytes);
  if (!channel.ok()) {
    {
      absl::MutexLock lock(&mu_);
      --in_flight_;
    }
    Report(i, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                           std::string(channel.status().message())),
           absl::ZeroDuration());
    Pump();
    return;
  }
  v1::AgentService::Stub* stub;
  grpc::ClientContext* context;
  absl::Time started;
  {
    absl::MutexLock lock(&mu_);
    Call& call = calls_[i];
    call.stub = v1::AgentService::NewStub(*std::move(channel));
    call.context = std::make_unique<grpc::ClientContext>();
    call.started = started = absl::Now();
    call.context->set_deadline(
        absl::ToChronoTime(std::min(started + options_.timeout, options_.deadline)));
    if (options_.principal) ForwardPrincipal(call.context.get(), *options_.principal);
    // Cancelled between its turn coming and now: it starts cancelled.
    if (cancelled_) call.context->TryCancel();
    stub = call.stub.get();
    context = call.context.get();
  }
  // Outside the lock: gRPC may run the callback inline.
  start_(i, stub, context, [self = shared_from_this(), i, started](grpc::Status status) {
    const absl::Duration elapsed = absl::Now() - started;
    {
      absl::MutexLock lock(&self->mu_);
      --self->in_flight_;
    }
    self->Report(i, status, elapsed);
    self->Pump();
  });
}

void FanOut::Report(size_t i, const grpc::Status& status, absl::Duration elapsed) {
  on_result_(i, status, elapsed);
  bool last;
  {
    absl::MutexLock lock(&mu_);
    last = ++reported_ == gateways_.size();
  }
  if (last) on_all_done_();
}

}  // namespace mailfleet::controller
