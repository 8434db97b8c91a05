// RunnerCore: the scheduler behind one ScriptRunner. It owns the states, the queue of jobs
// waiting for a state, and the completion queue back to the main thread. Jobs run as
// libuv thread-pool work items ("worker slots"), never more at once than `maxWorkers`,
// each holding an exclusive lease on one state and draining jobs runnable on it.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "job.hpp"
#include "lua-state.hpp"
#include "state-pool.hpp"
#include "watchdog.hpp"

namespace luapool {

struct RunnerConfig {
  StateConfig state;
  size_t states = 1;
  size_t maxWorkers = 1;   // thread-pool threads Lua may occupy at once
  size_t maxQueue = SIZE_MAX;
};

enum class CancelResult { Unknown, Dequeued, Interrupted };

// A host call waiting for the main thread, with what the job logged/posted before it.
struct PendingHostCall {
  HostRequest request;
  std::vector<Action> actions;
};

// A job still running long after its deadline (reported to JavaScript as 'overrun').
struct Notice {
  uint64_t jobId;
  int stateIndex;
  double overrunMs;
};

class RunnerCore : public HostBridge {
 public:
  using Notify = std::function<void()>;  // wakes the main thread (thread-safe function)

  explicit RunnerCore(const RunnerConfig& config);
  ~RunnerCore() override;

  // Creates the states; false (with a message) if one could not be created.
  bool init(std::string& error);
  void setNotify(Notify notify);
  const RunnerConfig& config() const { return config_; }

  // --- main thread ---
  // Queues a job; false if the queue is full (the job is returned untouched).
  bool submit(std::unique_ptr<Job>& job);
  // Removes a queued job (returned in `out`) or interrupts a running one.
  CancelResult cancel(uint64_t id, KillReason reason, std::unique_ptr<Job>* out);
  // Removes every queued job (close, teardown).
  std::vector<std::unique_ptr<Job>> takeQueued();
  // Interrupts every running job.
  void interruptAll(KillReason reason);
  // Picks (state, slot) pairs that can start now; the caller queues their work items.
  std::vector<size_t> claimSlots();
  // Moves finished jobs and host calls out of their queues.
  void takeCompleted(std::vector<std::unique_ptr<Job>>& out, std::vector<PendingHostCall>& calls,
                     std::vector<Notice>& notices);
  uint64_t overruns() { std::lock_guard<std::mutex> lock(mutex_); return overruns_; }
  uint64_t replacedStates() { std::lock_guard<std::mutex> lock(mutex_); return replacedStates_; }
  // The main thread's answer to a host call; false if the job is gone (killed, settled).
  bool answerHost(uint64_t id, bool ok, std::string values);
  // Cancels every job suspended in a host call (close()).
  void cancelSuspended(KillReason reason);

  // --- HostBridge (worker thread) ---
  void startDeadline(Job& job) override;
  void requestBlocking(Job& job) override;
  void flushActions(Job& job) override;
  static constexpr uint32_t kNoFunction = 0xFFFFFFFFu;  // a PendingHostCall carrying actions only
  void endBlocking(Job& job) override;
  size_t queued();
  size_t running();
  size_t suspended();  // waiting for a host function's answer

  // --- worker thread ---
  void runSlot(size_t slot);  // drains jobs for the slot's state, then releases it
  void slotFinished(size_t slot);  // main thread, after the work item completes

  // --- stats (main thread) ---
  struct StateSnapshot {
    size_t memory, peak;
    uint64_t jobs, gcSteps, fullGcs, memoryErrors, timeouts;
    bool busy;
    bool quarantined;
  };
  std::vector<StateSnapshot> snapshot();

  // Closes every state (thread pool; all slots must be idle).
  void closeStates();

 private:
  static constexpr uint64_t kOverrunKey = 1ull << 63;  // watchdog key of the overrun check
  static constexpr std::chrono::milliseconds kOverrunGrace{2000};
  void onDeadline(uint64_t key);
  std::unique_ptr<Job> popFor(size_t stateIndex);
  void complete(std::unique_ptr<Job> job);
  void wakeMainLocked();
  void killRunningLocked(Job& job, KillReason reason);
  void makeResumableLocked(std::unique_ptr<Job> job, KillReason reason);

  RunnerConfig config_;
  std::vector<std::unique_ptr<LuaState>> states_;
  StatePool pool_;
  Watchdog watchdog_;
  Notify notify_;

  std::mutex mutex_;
  std::deque<std::unique_ptr<Job>> queue_;                 // any state
  std::vector<std::deque<std::unique_ptr<Job>>> pinned_;   // per state (contexts, resumes)
  std::unordered_map<uint64_t, Job*> running_;             // job id -> job on a worker
  std::unordered_map<uint64_t, std::unique_ptr<Job>> suspended_;  // waiting for the host
  std::deque<std::unique_ptr<Job>> resumable_;             // answered, waiting for a slot
  std::unordered_map<uint64_t, Job*> blockingWaits_;       // workers waiting for the host
  std::vector<PendingHostCall> hostCalls_;
  std::vector<Notice> notices_;
  uint64_t overruns_ = 0;
  uint64_t replacedStates_ = 0;
  std::vector<std::unique_ptr<Job>> completed_;
  bool notifyPending_ = false;
  size_t queuedCount_ = 0;

  struct Slot {
    bool busy = false;
    StateLease lease;
  };
  std::vector<Slot> slots_;
};

}  // namespace luapool
