// A DirWatcher for unit tests: the test pushes the events, Watch succeeds
// unless told to fail, and Wait blocks like the real one until there is
// something to return. Thread-safe.
#ifndef MAILFLEET_TESTS_TESTING_FAKE_DIR_WATCHER_H_
#define MAILFLEET_TESTS_TESTING_FAKE_DIR_WATCHER_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/os/dir_watcher.h"

namespace mailfleet::testing {

class FakeDirWatcher : public DirWatcher {
 public:
  // Queues events for the next Wait and ends the one in progress. Like the
  // real watcher, delivering a kDirGone stops watching its directory.
  void Push(DirEvent event);
  void Push(std::vector<DirEvent> events);
  // Watch(dir) fails with `status` from now on; an OK status clears that.
  void FailWatch(const std::string& dir, absl::Status status);
  // The directories watched now.
  std::set<std::string> dirs() const;

  absl::Status Watch(const std::string& dir) override;
  void Unwatch(const std::string& dir) override;
  absl::Status Wait(absl::Duration timeout, std::vector<DirEvent>* out) override;
  void Wake() override;
  size_t watched() const override;

 private:
  mutable absl::Mutex mu_;
  std::vector<DirEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> dirs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> watch_failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_TESTING_FAKE_DIR_WATCHER_H_
