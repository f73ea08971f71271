// Helpers for tests of gateway links and of the fleet of them: an agent
// that can be killed and restarted on its port, a log of the statuses a
// link reports with a wait for the one wanted, watch events, and link
// options short enough for tests.
#ifndef MAILFLEET_TESTS_CONTROLLER_FLEET_LINK_TEST_SUPPORT_H_
#define MAILFLEET_TESTS_CONTROLLER_FLEET_LINK_TEST_SUPPORT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/fleet/gateway_link.h"
#include "mailfleet/v1/agent.pb.h"
#include "tests/client/fake_agent_service.h"

namespace mailfleet::controller {

inline constexpr absl::Duration kPatience = absl::Seconds(10);

// An agent that can go away and come back on the same port; each life is a
// new FakeAgentService, as a restarted agent is a new process.
class RestartableAgent {
 public:
  ~RestartableAgent() { Kill(); }

  // Serves `events` on every Watch (then holds the stream open).
  bool Start(std::vector<v1::WatchEvent> events) {
    lives_.push_back(
        std::make_unique<::mailfleet::testing::FakeAgentService>());
    service().SetWatchEvents(std::move(events));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port_),
                             grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service());
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port == 0) return false;
    port_ = port;
    return true;
  }

  // Its open watches end as when an agent goes away, and the port closes.
  // As a killed agent: every call ends now, a Watch that arrived after
  // ReleaseHungCalls too (a Shutdown without a deadline would wait for it).
  void Kill() {
    if (server_ == nullptr) return;
    service().ReleaseHungCalls();
    server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
  }

  // The current (or last) life's service.
  ::mailfleet::testing::FakeAgentService& service() { return *lives_.back(); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  std::vector<std::unique_ptr<::mailfleet::testing::FakeAgentService>> lives_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// Every status a link reports, in order, with a wait for the one wanted.
class ChangeLog {
 public:
  using Predicate = std::function<bool(const GatewayStatus&)>;

  GatewayLink::ChangeCallback Callback() {
    return [this](const GatewayStatus& status) {
      absl::MutexLock lock(&mu_);
      if (closed_) late_ = true;
      changes_.push_back(status);
    };
  }

  // The index of the first change from `from` on that satisfies `wanted`,
  // waiting for it; -1 after kPatience.
  int Await(const Predicate& wanted, int from = 0) {
    absl::MutexLock lock(&mu_);
    int found = -1;
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (int i = from; i < static_cast<int>(changes_.size()); ++i) {
        if (wanted(changes_[i])) {
          found = i;
          return true;
        }
      }
      return false;
    };
    mu_.AwaitWithTimeout(absl::Condition(&seen), kPatience);
    return found;
  }

  // From now on any change is a late one.
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  bool late() const {
    absl::MutexLock lock(&mu_);
    return late_;
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return changes_.size();
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<GatewayStatus> changes_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool late_ ABSL_GUARDED_BY(mu_) = false;
};

inline ChangeLog::Predicate InState(GatewayState state) {
  return [state](const GatewayStatus& status) { return status.state == state; };
}

inline v1::WatchEvent Event(const std::string& instance, int64_t generation) {
  v1::WatchEvent event;
  event.set_instance_id(instance);
  event.set_generation(generation);
  return event;
}

// A whole snapshot in one part.
inline v1::WatchEvent Snapshot(const std::string& instance, int64_t generation,
                               const v1::QueueSummary& summary) {
  v1::WatchEvent event = Event(instance, generation);
  v1::WatchSnapshot* snapshot = event.mutable_snapshot();
  snapshot->set_reason(v1::WatchSnapshot::REASON_INITIAL);
  snapshot->mutable_agent()->set_instance_id(instance);
  snapshot->mutable_agent()->set_hostname("gw1.example.com");
  snapshot->mutable_agent()->set_generation(generation);
  *snapshot->mutable_summary() = summary;
  snapshot->set_last(true);
  return event;
}

// Short enough for tests; the heartbeat is only asked of the fake, which
// sends none.
inline LinkOptions FastOptions() {
  LinkOptions options;
  options.heartbeat = absl::Seconds(1);
  options.stale_after = absl::Seconds(30);
  options.initial_backoff = absl::Milliseconds(20);
  options.max_backoff = absl::Milliseconds(50);
  options.connect_timeout = absl::Seconds(5);
  options.top_n = 5;
  return options;
}

}  // namespace mailfleet::controller

#endif  // MAILFLEET_TESTS_CONTROLLER_FLEET_LINK_TEST_SUPPORT_H_
