#include "controller/fleet/timer_queue.h"

#include <utility>

#include "absl/time/clock.h"

namespace mailfleet::controller {

TimerQueue::Timer::Timer(std::shared_ptr<TimerQueue> queue,
                         std::function<void()> callback)
    : queue_(std::move(queue)), callback_(std::move(callback)) {}

TimerQueue::Timer::~Timer() { Disarm(); }

void TimerQueue::Timer::Arm(absl::Time when) { queue_->Arm(this, when); }

void TimerQueue::Timer::Disarm() { queue_->Disarm(this); }

TimerQueue::TimerQueue() : thread_(&TimerQueue::Run, this) {}

TimerQueue::~TimerQueue() {
  {
    absl::MutexLock lock(&mu_);
    exiting_ = true;
    wake_.Signal();
  }
  thread_.join();
}

void TimerQueue::Arm(Timer* timer, absl::Time when) {
  absl::MutexLock lock(&mu_);
  if (auto it = armed_id_.find(timer); it != armed_id_.end()) {
    armed_.erase(it->second);
  }
  const uint64_t id = ++next_id_;
  armed_[id] = timer;
  armed_id_[timer] = id;
  const bool nearer = heap_.empty() || when < heap_.top().when;
  heap_.push(Deadline{when, id});
  if (nearer) wake_.Signal();
}

void TimerQueue::Disarm(Timer* timer) {
  absl::MutexLock lock(&mu_);
  if (auto it = armed_id_.find(timer); it != armed_id_.end()) {
    armed_.erase(it->second);
    armed_id_.erase(it);
  }
  if (std::this_thread::get_id() == thread_.get_id()) return;
  while (running_ == timer) returned_.Wait(&mu_);
}

void TimerQueue::Run() {
  mu_.Lock();
  while (!exiting_) {
    if (heap_.empty()) {
      wake_.Wait(&mu_);
      continue;
    }
    const Deadline next = heap_.top();
    auto armed = armed_.find(next.id);
    if (armed == armed_.end()) {
      heap_.pop();
      continue;
    }
    if (absl::Now() < next.when) {
      wake_.WaitWithDeadline(&mu_, next.when);
      continue;
    }
    heap_.pop();
    Timer* timer = armed->second;
    armed_.erase(armed);
    armed_id_.erase(timer);
    running_ = timer;
    mu_.Unlock();
    timer->callback_();
    mu_.Lock();
    running_ = nullptr;
    returned_.SignalAll();
  }
  mu_.Unlock();
}

}  // namespace mailfleet::controller
