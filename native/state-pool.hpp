// StatePool: exclusive leases on a fixed set of slots (one per lua_State), guarded by a
// mutex and a condition variable. Waiting never polls: release() wakes one waiter.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

namespace luapool {

class StatePool;

// An exclusive lease on one slot. Movable, not copyable; releases on destruction, so a
// lease is returned on every path, errors included.
class StateLease {
 public:
  StateLease() = default;
  StateLease(StatePool* pool, size_t index) : pool_(pool), index_(index) {}
  StateLease(StateLease&& other) noexcept : pool_(other.pool_), index_(other.index_) {
    other.pool_ = nullptr;
  }
  StateLease& operator=(StateLease&& other) noexcept {
    if (this != &other) {
      reset();
      pool_ = other.pool_;
      index_ = other.index_;
      other.pool_ = nullptr;
    }
    return *this;
  }
  StateLease(const StateLease&) = delete;
  StateLease& operator=(const StateLease&) = delete;
  ~StateLease() { reset(); }

  explicit operator bool() const { return pool_ != nullptr; }
  size_t index() const { return index_; }
  inline void reset();

 private:
  StatePool* pool_ = nullptr;
  size_t index_ = 0;
};

class StatePool {
 public:
  explicit StatePool(size_t size) : leased_(size, false), free_(size) {}
  StatePool(const StatePool&) = delete;
  StatePool& operator=(const StatePool&) = delete;

  size_t size() const { return leased_.size(); }

  size_t available() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return free_;
  }

  bool isLeased(size_t index) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return index < leased_.size() && leased_[index];
  }

  // Blocks until a slot is free. Returns an empty lease once the pool is shut down.
  StateLease acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    available_.wait(lock, [this] { return shutdown_ || free_ > 0; });
    return takeAnyLocked();
  }

  // Returns an empty lease if no slot is free right now.
  StateLease tryAcquire() {
    std::lock_guard<std::mutex> lock(mutex_);
    return takeAnyLocked();
  }

  // Leases one particular slot if it is free right now (contexts and suspended jobs are
  // pinned to their state).
  StateLease tryAcquire(size_t index) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shutdown_ || index >= leased_.size() || leased_[index]) return {};
    leased_[index] = true;
    --free_;
    return StateLease(this, index);
  }

  // Waits at most `timeout` for a free slot; an empty lease means it timed out (or shutdown).
  template <class Rep, class Period>
  StateLease acquireFor(std::chrono::duration<Rep, Period> timeout) {
    // wait_for adds the timeout to now(): a "forever" duration would overflow
    if (std::chrono::duration<double>(timeout) >= std::chrono::hours(24 * 365 * 100)) return acquire();
    std::unique_lock<std::mutex> lock(mutex_);
    available_.wait_for(lock, timeout, [this] { return shutdown_ || free_ > 0; });
    return takeAnyLocked();
  }

  // Wakes every waiter; later acquires fail at once. Leases already held stay valid.
  void shutdown() {
    // notify under the lock: a waiter that wakes may destroy the pool at once
    std::lock_guard<std::mutex> lock(mutex_);
    shutdown_ = true;
    available_.notify_all();
  }

  bool isShutdown() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return shutdown_;
  }

 private:
  friend class StateLease;

  StateLease takeAnyLocked() {
    if (shutdown_ || free_ == 0) return {};
    for (size_t i = 0; i < leased_.size(); ++i) {
      if (!leased_[i]) {
        leased_[i] = true;
        --free_;
        return StateLease(this, i);
      }
    }
    return {};
  }

  void release(size_t index) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!leased_[index]) return;  // unreachable with leases; tolerate for safety
    leased_[index] = false;
    ++free_;
    available_.notify_one();  // under the lock, see shutdown()
  }

  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::vector<bool> leased_;
  size_t free_;
  bool shutdown_ = false;
};

inline void StateLease::reset() {
  if (pool_) {
    pool_->release(index_);
    pool_ = nullptr;
  }
}

}  // namespace luapool
