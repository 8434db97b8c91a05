// Scheduler: the one owner of every job of a runner, from submission to delivery.
//
// The job lifecycle, read top to bottom (every transition is one function of
// scheduler.cpp; `lock` is Scheduler::mutex_ unless said otherwise):
//
//  state      entered by                          thread         leaves to
//  ---------  ----------------------------------  -------------  --------------------------
//  Queued     submit()                            main           Running (pick), Done (cancel,
//                                                                acquire timeout, close)
//  Running    pick() by a worker                  worker         Done (finished), Suspended
//                                                                (host call), Runnable
//                                                                (slice over), Blocked
//  Blocked    beginBlocking(): a host call where  worker         Running (answer, kill or
//             Lua cannot yield; thread + state                   deadline: endBlocking)
//             stay with the job
//  Suspended  a host call yielded: no thread, no  worker         Runnable (answer, kill)
//             lease; the coroutine waits in its
//             state's registry
//  Runnable   sliced out, answered, or killed     worker, main,  Running (pick, on its own
//             while suspended                     watchdog       state, any thread)
//  Done       finished or settled unstarted       any            freed by the main thread
//                                                                after delivery
//
// Every transition happens under the lock. Jobs live in `jobs_` (the job table, which owns
// them) from submit() until the main thread takes their completion; queues, lanes and the
// running set hold plain pointers into it. cancel() is one switch on the state.
//
// Threads: at most `threads` workers (libuv thread-pool work items started by the main
// thread through startWorkers()) run jobs; each loops pick -> run one step -> transition,
// so a job sliced out or answered resumes on whichever worker is free, never through the
// main thread. A worker holds a StateLease for the step it runs; a state may hold several
// open jobs (sliced out or suspended coroutines) and runs one at a time, so an open job
// never blocks a new one.
//
// Fairness: runnable jobs wait in per-group FIFO queues at two levels — fresh jobs (not
// yet sliced out) before long ones — served least-recently-served group first. While jobs
// wait, the slice tick (on the watchdog) asks a job that has run `sliceMs` to yield at its
// next yieldable point (patch 0015), a fresh job once it has run its first quantum
// (sliceMs / kFirstQuantumParts) while fresh jobs wait, and a long job at once when a
// fresh job waits; it goes to the back of its group's queue (a sliced job is long).
//
// Budgets: a job's deadline runs while it is Running, Blocked or Suspended (host-call time
// counts), and pauses while it waits for a thread (Queued, Runnable).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "job.hpp"
#include "lua-state.hpp"
#include "state-pool.hpp"
#include "watchdog.hpp"

namespace luapool {

struct SchedulerConfig {
  StateConfig state;
  size_t states = 1;
  size_t threads = 1;        // workers that may run Lua at once
  size_t maxQueue = SIZE_MAX;  // Queued jobs beyond this are refused
  uint32_t sliceMs = 2;      // 0: no time slicing
};

// What cancel() found.
enum class CancelResult {
  Unknown,      // no such job, or it has finished already
  Settled,      // it had not started: it is Done now (its completion follows)
  Interrupting  // it had started: it unwinds on its state, then completes
};

// A host call (or a flush of streamed actions) waiting for the main thread.
struct HostCallRecord {
  uint64_t jobId;
  bool actionsOnly;  // a long job streaming its logs/posts, no call
  HostRequest request;
  std::vector<Action> actions;  // logged/posted before the call
};

// A job still running long after its deadline (code no interrupt check reaches).
struct OverrunRecord {
  uint64_t jobId;
  int stateIndex;
  double afterMs;
};

// Everything the main thread has to deliver, taken at once.
struct Deliveries {
  std::vector<std::unique_ptr<Job>> completed;
  std::vector<HostCallRecord> hostCalls;
  std::vector<OverrunRecord> overruns;
  void clear() { completed.clear(); hostCalls.clear(); overruns.clear(); }
  bool empty() const { return completed.empty() && hostCalls.empty() && overruns.empty(); }
};

class Scheduler : public HostBridge {
 public:
  using Clock = std::chrono::steady_clock;
  using Notify = std::function<void()>;  // wakes the main thread; never blocks

  explicit Scheduler(const SchedulerConfig& config);
  ~Scheduler() override;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Creates the states and starts the watchdog; false (with a message) on failure.
  bool init(std::string& error);
  // Called with the lock held by whoever makes deliveries pending.
  void setNotify(Notify notify);
  const SchedulerConfig& config() const { return config_; }

  // --- main thread ---
  // Takes the job (state Queued); false if the queue is full (the job is left untouched).
  bool submit(std::unique_ptr<Job>& job);
  // One switch on the job's state. `reason` QueuedOnly only touches a Queued job.
  CancelResult cancel(uint64_t id, KillReason reason, JobStatus status = JobStatus::Cancelled);
  // The host's answer to a call; false if the job no longer waits for it.
  bool answerHost(uint64_t id, bool ok, std::string values);
  // close(): settles Queued jobs as Cancelled, cancels jobs waiting for the host
  // (Suspended, Blocked), and with `force` every started job too.
  void close(bool force);
  // runner.profile(): every running job's stack is sampled `hz` times a second.
  void startProfile(uint32_t hz);
  std::vector<StateProfile::Snapshot> stopProfile();
  // Process exit / environment teardown: interrupts everything, starts nothing more.
  void shutdown();
  // How many more workers to start now, at most `available` (each then calls work() on a
  // pool thread).
  size_t startWorkers(size_t available);
  void takeDeliveries(Deliveries& out);

  // --- worker thread ---
  // Runs steps of runnable jobs until there is nothing this worker can run.
  void work();

  // --- HostBridge (worker thread, from inside a running job) ---
  void beginBlocking(Job& job) override;
  void endBlocking(Job& job) override;
  void flushActions(Job& job) override;
  void armCloseGrace(Job& job) override;

  // --- stats (any thread) ---
  struct StateSnapshot {
    size_t memory, peak, openJobs;
    uint64_t jobs, gcSteps, fullGcs, memoryErrors, timeouts;
    bool busy, quarantined;
  };
  struct Counts {
    size_t queued, running, blocked, suspended, runnable;
    uint64_t overruns, replacedStates, slices;
  };
  std::vector<StateSnapshot> snapshot();
  Counts counts();

  // Closes every state (no worker may be running).
  void closeStates();

 private:
  // Two levels of run queues: fresh jobs (new, or back from a host call, that have not
  // used a whole slice) and long jobs (sliced out before). See pickLocked.
  enum Level { kFresh = 0, kLong = 1 };
  static constexpr int kStarveSlices = 4;  // long jobs get a thread after fresh jobs ran this many slices
  // A fresh job's first quantum while other fresh jobs wait: sliceMs / kFirstQuantumParts.
  static constexpr uint32_t kFirstQuantumParts = 8;
  Clock::duration firstQuantum() const;
  struct Group {
    std::string name;
    std::deque<Job*> queue;  // FIFO
  };
  // A group's share, kept while any of its jobs is not Done (so a tenant that always has
  // work cannot look new), dropped with its last job.
  struct GroupShare {
    uint64_t lastServed = 0;  // served_ when a job of it last got a thread (0: never: first)
    size_t live = 0;          // its jobs not yet Done
  };
  // Jobs of one context run one at a time, in submission order.
  struct Lane {
    uint64_t open = 0;         // the context's job that has been picked and is not Done
    std::deque<Job*> waiting;  // Queued behind it
  };

  // watchdog keys: job id | kind
  static constexpr uint64_t kKeyOverrun = 1ull << 63;
  static constexpr uint64_t kKeyAcquire = 1ull << 62;
  static constexpr uint64_t kKeySliceTick = 1ull << 61;
  static constexpr uint64_t kKeyGrace = 1ull << 60;
  static constexpr uint64_t kKeyProfileTick = 1ull << 59;
  static constexpr uint64_t kKeyMask = kKeyOverrun | kKeyAcquire | kKeySliceTick | kKeyGrace | kKeyProfileTick;
  static constexpr std::chrono::milliseconds kCloseGrace{100};  // a killed job's __close handlers
  static constexpr std::chrono::milliseconds kOverrunGrace{2000};

  // transitions (lock held)
  void enqueueLocked(Job& job, bool urgent);         // -> a run queue (Queued or Runnable)
  Job* pickLocked(StateLease& lease);                // Queued/Runnable -> Running
  int stateForLocked(const Job& job) const;
  bool findInLevelLocked(Level level, Group*& group, std::deque<Job*>::iterator& at, int& index);
  void finishStepLocked(Job& job, StepResult step);  // Running -> Done/Suspended/Runnable
  void toRunnableLocked(Job& job);                   // Suspended/Running -> Runnable
  void toDoneLocked(Job& job);                       // any -> Done
  void killStartedLocked(Job& job, KillReason reason);
  void dequeueLocked(Job& job);                      // out of its run queue or lane

  // deadlines and slices (lock held)
  void armBudgetLocked(Job& job);    // the job (re)starts running: its deadline runs
  void pauseBudgetLocked(Job& job);  // it waits for a thread: its deadline pauses
  void ensureSliceTickLocked();
  Clock::time_point sliceEndLocked(const Job& job) const;
  Clock::time_point preemptLocked(Clock::time_point now);
  void onWatchdog(uint64_t key);     // watchdog thread
  void onSliceTick();                // watchdog thread

  bool canPlaceLocked(size_t index) const;
  void replaceStateLocked(size_t index);
  void wakeMainLocked();
  Group& groupLocked(Level level, const std::string& name);

  SchedulerConfig config_;
  StatePool pool_;
  Watchdog watchdog_;

  mutable std::mutex mutex_;
  // --- everything below: guarded by mutex_ ---
  std::vector<std::unique_ptr<LuaState>> states_;  // replaced only while leased and idle
  std::vector<size_t> openJobs_;                   // per state: picked jobs not yet Done
  std::unordered_map<uint64_t, std::unique_ptr<Job>> jobs_;  // the job table (owner)
  std::unordered_map<std::string, Group> groups_[2];  // by level, then name: waiting groups only
  std::deque<Job*> urgent_;     // killed while waiting: unwind before anything else
  size_t waitingAt_[2] = {0, 0};  // jobs in groups_ by level
  uint64_t served_ = 0;           // picks so far (GroupShare::lastServed)
  std::unordered_map<std::string, GroupShare> shares_;  // by group name
  // Running time of fresh jobs' steps since a long job last got a thread (or long jobs
  // began to wait): the starvation rule (pickLocked).
  Clock::duration freshRunSinceLong_{};
  std::unordered_map<std::string, Lane> lanes_;  // by context key
  std::vector<Job*> running_;   // Running and Blocked jobs
  size_t queued_ = 0;           // jobs in state Queued
  size_t waiting_ = 0;          // jobs in run queues (Queued + Runnable, urgent included)
  size_t suspended_ = 0;
  size_t activeWorkers_ = 0;
  bool tickArmed_ = false;
  uint32_t profileHz_ = 0;      // 0: not profiling
  bool stopping_ = false;       // shutdown(): nothing starts any more
  bool closing_ = false;        // close() was called: a job that starts waiting for the host
                                // after it is cancelled then (close settles such jobs)
  Deliveries deliveries_;
  bool notifyPending_ = false;
  Notify notify_;
  uint64_t overruns_ = 0, replacedStates_ = 0, slices_ = 0;
};

}  // namespace luapool
