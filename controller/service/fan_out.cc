#include "controller/service/fan_out.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"

namespace mailfleet::controller {
namespace {

std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address,
                                         const AgentClientOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // Same target and arguments on every call: gRPC's subchannel pool shares
  // one connection per agent across the channels.
  return grpc::CreateCustomChannel(
      address,
      options.credentials ? options.credentials : grpc::InsecureChannelCredentials(),
      args);
}

}  // namespace

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
  fan_out->Pump();
  return fan_out;
}

void FanOut::Cancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
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
  Call& call = calls_[i];
  call.stub = v1::AgentService::NewStub(ChannelTo(gateways_[i].address, options_.client));
  call.context = std::make_unique<grpc::ClientContext>();
  call.started = absl::Now();
  call.context->set_deadline(absl::ToChronoTime(call.started + options_.timeout));
  start_(i, call.stub.get(), call.context.get(),
         [self = shared_from_this(), i](grpc::Status status) {
           const absl::Duration elapsed = absl::Now() - self->calls_[i].started;
           {
             absl::MutexLock lock(&self->mu_);
             --self->in_flight_;
           }
           self->Report(i, status, elapsed);
           self->calls_[i].context.reset();
           self->calls_[i].stub.reset();
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
