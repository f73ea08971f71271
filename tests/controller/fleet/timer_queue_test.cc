#include "controller/fleet/timer_queue.h"

#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet::controller {
namespace {

using ::testing::ElementsAre;

// The numbers of the timers that fired, in order.
class FiringLog {
 public:
  std::function<void()> Recorder(int number) {
    return [this, number] {
      absl::MutexLock lock(&mu_);
      fired_.push_back(number);
    };
  }
  // Waits until `count` have fired (or ten seconds) and returns them.
  std::vector<int> Await(size_t count) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return fired_.size() >= count;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return fired_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int> fired_ ABSL_GUARDED_BY(mu_);
};

TEST(TimerQueueTest, FiresInDeadlineOrderNotArmingOrder) {
  auto queue = std::make_shared<TimerQueue>();
  FiringLog log;
  TimerQueue::Timer late(queue, log.Recorder(1));
  TimerQueue::Timer early(queue, log.Recorder(2));
  TimerQueue::Timer middle(queue, log.Recorder(3));
  const absl::Time now = absl::Now();
  late.Arm(now + absl::Milliseconds(30));
  early.Arm(now + absl::Milliseconds(10));
  middle.Arm(now + absl::Milliseconds(20));
  EXPECT_THAT(log.Await(3), ElementsAre(2, 3, 1));
}

TEST(TimerQueueTest, RearmingReplacesTheDeadlineAndDisarmingForgetsIt) {
  auto queue = std::make_shared<TimerQueue>();
  FiringLog log;
  TimerQueue::Timer moved(queue, log.Recorder(1));
  TimerQueue::Timer disarmed(queue, log.Recorder(2));
  TimerQueue::Timer sentinel(queue, log.Recorder(3));
  const absl::Time now = absl::Now();
  moved.Arm(now + absl::Milliseconds(5));
  moved.Arm(now + absl::Milliseconds(40));
  disarmed.Arm(now + absl::Milliseconds(5));
  disarmed.Disarm();
  sentinel.Arm(now + absl::Milliseconds(20));
  // One thread, in deadline order: what was due before the sentinel and
  // has not fired by then never will at that deadline.
  EXPECT_THAT(log.Await(2), ElementsAre(3, 1));
}

TEST(TimerQueueTest, CallbackMayRearmItsOwnTimer) {
  auto queue = std::make_shared<TimerQueue>();
  std::atomic<int> fired{0};
  absl::Notification third;
  std::unique_ptr<TimerQueue::Timer> timer;
  timer = std::make_unique<TimerQueue::Timer>(queue, [&] {
    if (++fired < 3) {
      timer->Arm(absl::Now() + absl::Milliseconds(1));
    } else {
      third.Notify();
    }
  });
  timer->Arm(absl::Now());
  EXPECT_TRUE(third.WaitForNotificationWithTimeout(absl::Seconds(10)));
  timer.reset();
  EXPECT_EQ(fired.load(), 3);
}

TEST(TimerQueueTest, DisarmWaitsForTheRunningCallback) {
  auto queue = std::make_shared<TimerQueue>();
  absl::Notification started;
  std::atomic<bool> finished{false};
  TimerQueue::Timer timer(queue, [&] {
    started.Notify();
    absl::SleepFor(absl::Milliseconds(50));
    finished = true;
  });
  timer.Arm(absl::Now());
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  timer.Disarm();
  EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace mailfleet::controller
