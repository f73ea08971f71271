// Calls one agent RPC on many gateways at once, with gRPC's callback API so
// that 500 gateways need no thread each: at most `max_parallel` calls in
// flight, each with its own deadline, each result reported as it comes.
//
// Results are reported on gRPC's threads, several at once: the callbacks
// must synchronize what they share. `on_all_done` is called once, after
// every result callback has returned.
#ifndef MAILFLEET_CONTROLLER_SERVICE_FAN_OUT_H_
#define MAILFLEET_CONTROLLER_SERVICE_FAN_OUT_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/agent_client.h"
#include "common/security/authorizer.h"
#include "mailfleet/v1/agent.grpc.pb.h"
#include "mailfleet/v1/controller.pb.h"

namespace mailfleet::controller {

struct GatewayTarget {
  std::string name;
  std::string address;
};

class FanOut;

// The fan-outs in progress, so that a controller shutting down can cancel
// their calls: gRPC's Server::Shutdown waits for every call to end, and a
// fleet Act waits for its agents.
//
// Thread-safe.
class FanOutRegistry {
 public:
  void Add(std::weak_ptr<FanOut> fan_out) ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels every fan-out's calls, in flight or not started, and those of
  // any fan-out started later.
  void CancelAll() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::weak_ptr<FanOut>> fan_outs_ ABSL_GUARDED_BY(mu_);
};

struct FanOutOptions {
  // Credentials and message size limit of each call.
  AgentClientOptions client;
  // Each gateway's deadline, from when its call starts...
  absl::Duration timeout = absl::Seconds(10);
  // ...but never past the deadline of the request that fanned out: nobody
  // would be there for the answer.
  absl::Time deadline = absl::InfiniteFuture();
  // At least 1.
  int max_parallel = 64;
  // Null: the fan-out cannot be cancelled from outside.
  FanOutRegistry* registry = nullptr;
  // Whom the calls are made for, forwarded to each agent, which believes
  // it from the controller's certificate only.
  std::optional<Principal> principal;
};

// A failed call as a reply row: one line naming the address and the code.
v1::GatewayFailure FailureOf(const GatewayTarget& gateway,
                             const grpc::Status& status);

class FanOut : public std::enable_shared_from_this<FanOut> {
 public:
  using DoneCallback = std::function<void(grpc::Status)>;
  // Starts gateway i's call on `stub` with `context`; gRPC calls `done`.
  using StartCall = std::function<void(size_t i, v1::AgentService::Stub* stub,
                                       grpc::ClientContext* context,
                                       DoneCallback done)>;
  // Gateway i's call ended; CANCELLED without a call for a gateway never
  // called because of Cancel.
  using OnResult = std::function<void(size_t i, const grpc::Status& status,
                                      absl::Duration elapsed)>;

  static std::shared_ptr<FanOut> Start(std::vector<GatewayTarget> gateways,
                                       const FanOutOptions& options,
                                       StartCall start, OnResult on_result,
                                       std::function<void()> on_all_done);

  // Hands the calls' channels and contexts to ReleaseOffGrpcThreads: the
  // last reference often goes in a gRPC callback.
  ~FanOut();

  // Gateways not called yet are not called; calls in flight are cancelled
  // too with `in_flight`, else they run on.
  void Cancel(bool in_flight) ABSL_LOCKS_EXCLUDED(mu_);

  const std::vector<GatewayTarget>& gateways() const { return gateways_; }

 private:
  // Kept until the fan-out goes, so that Cancel may reach any call.
  struct Call {
    std::unique_ptr<v1::AgentService::Stub> stub;
    std::unique_ptr<grpc::ClientContext> context;
    absl::Time started;
  };

  FanOut(std::vector<GatewayTarget> gateways, const FanOutOptions& options,
         StartCall start, OnResult on_result, std::function<void()> on_all_done);
  // Starts calls while there is room; reports the skipped ones once
  // cancelled.
  void Pump() ABSL_LOCKS_EXCLUDED(mu_);
  void Launch(size_t i);
  void Report(size_t i, const grpc::Status& status, absl::Duration elapsed)
      ABSL_LOCKS_EXCLUDED(mu_);

  const std::vector<GatewayTarget> gateways_;
  const FanOutOptions options_;
  const StartCall start_;
  const OnResult on_result_;
  const std::function<void()> on_all_done_;
  absl::Mutex mu_;
  // Slot i is gateway i's, set up by Launch(i) under mu_, then read-only.
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  size_t reported_ ABSL_GUARDED_BY(mu_) = 0;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// The typed form: `method` starts the call (e.g. a lambda calling
// stub->async()->Summary), `request_of(i)` is gateway i's request, kept
// alive by the caller until `on_all_done`; `on_result` gets gateway i's
// response (meaningful when the status is OK) to keep or move from.
template <typename Request, typename Response>
std::shared_ptr<FanOut> FanOutCall(
    std::vector<GatewayTarget> gateways, const FanOutOptions& options,
    void (*method)(v1::AgentService::Stub*, grpc::ClientContext*, const Request*,
                   Response*, FanOut::DoneCallback),
    std::function<const Request*(size_t)> request_of,
    std::function<void(size_t, const grpc::Status&, Response*, absl::Duration)>
        on_result,
    std::function<void()> on_all_done) {
  auto responses = std::make_shared<std::vector<Response>>(gateways.size());
  return FanOut::Start(
      std::move(gateways), options,
      [method, request_of, responses](size_t i, v1::AgentService::Stub* stub,
                                      grpc::ClientContext* context,
                                      FanOut::DoneCallback done) {
        method(stub, context, request_of(i), &(*responses)[i], std::move(done));
      },
      [on_result, responses](size_t i, const grpc::Status& status,
                             absl::Duration elapsed) {
        on_result(i, status, &(*responses)[i], elapsed);
        (*responses)[i] = Response();  // memory back as soon as it is used
      },
      std::move(on_all_done));
}

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_SERVICE_FAN_OUT_H_
