// Watchdog: one thread per runner that fires keys (job deadlines, slice ticks, acquire
// timeouts) when their time comes. It sleeps on a condition variable until the nearest
// one; nothing polls. Arming wakes the thread only when the new time is earlier than the
// one it sleeps until.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace luapool {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;
  using Fire = std::function<void(uint64_t jobId)>;

  explicit Watchdog(Fire fire) : fire_(std::move(fire)) {}
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Starts the thread; false (with a message) if it cannot be created.
  bool start(std::string& error);
  void arm(uint64_t jobId, Clock::time_point deadline);
  void disarm(uint64_t jobId);
  void stop();

 private:
  void loop();

  Fire fire_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::multimap<Clock::time_point, uint64_t> byDeadline_;
  std::unordered_map<uint64_t, std::multimap<Clock::time_point, uint64_t>::iterator> byJob_;
  std::thread thread_;
  bool stopping_ = false;
  Clock::time_point sleepingUntil_ = Clock::time_point::max();  // the thread wakes by then
};

}  // namespace luapool
