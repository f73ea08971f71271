#include "controller/service/release_off_grpc.h"

#include <deque>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace mailfleet::controller {
namespace {

class Releaser {
 public:
  Releaser() { std::thread([this] { Run(); }).detach(); }

  void Add(std::shared_ptr<void> object) {
    absl::MutexLock lock(&mu_);
    pending_.push_back(std::move(object));
  }

 private:
  void Run() {
    for (;;) {
      std::deque<std::shared_ptr<void>> batch;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](std::deque<std::shared_ptr<void>>* p) { return !p->empty(); }, &pending_));
        batch.swap(pending_);
      }
      batch.clear();  // Here, on this thread, outside the lock.
    }
  }

  absl::Mutex mu_;
  std::deque<std::shared_ptr<void>> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void ReleaseOffGrpcThreads(std::shared_ptr<void> object) {
  // Never destroyed: its thread runs until the process ends.
  static Releaser* releaser = new Releaser();
  releaser->Add(std::move(object));
}

}  // namespace mailfleet::controller
