// Watchdog: interrupts jobs at their deadline from a dedicated thread.
#include "watchdog.hpp"

#include <vector>

namespace luapool {

Watchdog::~Watchdog() { stop(); }

void Watchdog::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Watchdog::start(std::string& error) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable()) return true;
  try {
    thread_ = std::thread(&Watchdog::loop, this);
  } catch (const std::exception& e) {
    error = std::string("could not start the watchdog thread: ") + e.what();
    return false;
  }
  return true;
}

void Watchdog::arm(uint64_t jobId, Clock::time_point deadline) {
  bool earlier;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    auto old = byJob_.find(jobId);
    if (old != byJob_.end()) {
      byDeadline_.erase(old->second);
      byJob_.erase(old);
    }
    auto it = byDeadline_.emplace(deadline, jobId);
    byJob_[jobId] = it;
    earlier = deadline < sleepingUntil_;
    if (earlier) sleepingUntil_ = deadline;  // one wake-up is enough
  }
  if (earlier) wake_.notify_one();
}

void Watchdog::disarm(uint64_t jobId) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = byJob_.find(jobId);
  if (it == byJob_.end()) return;
  byDeadline_.erase(it->second);
  byJob_.erase(it);
}

void Watchdog::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (byDeadline_.empty()) {
      sleepingUntil_ = Clock::time_point::max();
      wake_.wait(lock);
      continue;
    }
    auto next = byDeadline_.begin()->first;
    if (Clock::now() < next) {
      sleepingUntil_ = next;
      wake_.wait_until(lock, next);
      continue;
    }
    sleepingUntil_ = Clock::time_point::min();  // firing: it looks at the map again after
    std::vector<uint64_t> due;
    auto now = Clock::now();
    while (!byDeadline_.empty() && byDeadline_.begin()->first <= now) {
      due.push_back(byDeadline_.begin()->second);
      byJob_.erase(byDeadline_.begin()->second);
      byDeadline_.erase(byDeadline_.begin());
    }
    lock.unlock();
    for (uint64_t id : due) fire_(id);  // outside the lock: fire_ takes the runner's locks
    lock.lock();
  }
}

}  // namespace luapool
