// TimerQueue runs the deadlines of many gateway links on one thread: each
// link's backoff before its next stream and its watchdog's next look at the
// open one. A min-heap of deadlines and a condition variable; a deadline that
// comes due runs its timer's callback on the queue's thread, one at a time,
// so a callback must be quick and must not wait for another timer.
//
// Thread-safe. Timers hold the queue alive (shared_ptr), so that a queue a
// link made for itself goes with the last of its timers.
#ifndef MAILFLEET_CONTROLLER_FLEET_TIMER_QUEUE_H_
#define MAILFLEET_CONTROLLER_FLEET_TIMER_QUEUE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mailfleet::controller {

class TimerQueue {
 public:
  // One deadline at a time, re-armed at will; the callback runs on the
  // queue's thread when the deadline comes, unless re-armed or disarmed
  // before. Arm and Disarm may be called from any thread, Arm also with
  // locks held that the callback takes (it never waits for the callback).
  class Timer {
   public:
    Timer(std::shared_ptr<TimerQueue> queue, std::function<void()> callback);
    // Disarms.
    ~Timer();

    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    // Replaces any earlier deadline with `when` (now or past: at once).
    void Arm(absl::Time when);
    // Forgets the deadline and, unless called from the callback itself,
    // waits until the callback is not running: once it returns, the
    // callback does not run again until the next Arm. The caller must hold
    // no lock that the callback takes.
    void Disarm();

   private:
    friend class TimerQueue;

    const std::shared_ptr<TimerQueue> queue_;
    const std::function<void()> callback_;
  };

  // Starts the thread.
  TimerQueue();
  // Joins the thread; every Timer must be gone (they hold the queue).
  ~TimerQueue();

  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

 private:
  struct Deadline {
    absl::Time when;
    uint64_t id;
    // The earliest on top of the heap.
    bool operator>(const Deadline& other) const {
      return std::pair(when, id) > std::pair(other.when, other.id);
    }
  };

  void Arm(Timer* timer, absl::Time when) ABSL_LOCKS_EXCLUDED(mu_);
  void Disarm(Timer* timer) ABSL_LOCKS_EXCLUDED(mu_);
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  // Wakes the thread when the earliest deadline moves nearer or on exit.
  absl::CondVar wake_;
  // Wakes Disarm when a callback returns.
  absl::CondVar returned_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> heap_
      ABSL_GUARDED_BY(mu_);
  // The live deadline of each armed timer, by its id. A re-armed or
  // disarmed timer's earlier ids stay in the heap until they come up and
  // are skipped for want of an entry here, so that the heap never points
  // at a timer that may be gone.
  absl::flat_hash_map<uint64_t, Timer*> armed_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Timer*, uint64_t> armed_id_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  // The timer whose callback is running, if any.
  Timer* running_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool exiting_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_FLEET_TIMER_QUEUE_H_
