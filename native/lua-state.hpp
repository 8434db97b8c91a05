// LuaState: one pooled lua_State with its allocator accounting, interrupt flag, sandbox
// base environment and per-state statistics. Only the thread holding its lease touches L.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "lua-api.hpp"
#include "profiler.hpp"
#include "prng.hpp"

namespace luapool {

struct Job;
struct ModuleSource;
class HostBridge;
class ModuleCatalog;

// Which standard libraries a state opens. Safe variants of base/string/os are used unless
// the profile is "all".
enum LibBits : uint32_t {
  kLibBase = 1u << 0,
  kLibString = 1u << 1,
  kLibTable = 1u << 2,
  kLibMath = 1u << 3,
  kLibUtf8 = 1u << 4,
  kLibCoroutine = 1u << 5,
  kLibOs = 1u << 6,
  kLibIo = 1u << 7,
  kLibDebug = 1u << 8,
  kLibPackage = 1u << 9,
};

struct StateConfig {
  bool trusted = false;        // libs: 'all' — plain Lua, jobs use the global table
  uint32_t libs = 0;           // LibBits, when not trusted
  size_t memoryLimit = 0;      // bytes; 0 = none
  uint32_t gcEveryJobs = 0;    // a GC step after this many jobs (0 = never)
  size_t gcEveryBytes = 0;     // ... or after this many bytes allocated since the last one
  bool generationalGc = true;
  size_t chunkCacheSize = 256; // compiled sources kept per state
  std::vector<std::string> hostFunctions;  // engine.<name> for each, in index order
  bool sandboxIo = false;      // the restricted io of 'safe' (sandbox-libs.cpp)
  bool sandboxDebug = false;   // the read-only debug subset of 'safe'
  std::shared_ptr<ModuleCatalog> catalog;  // define() and `modules` sources, for require
};

// Why a job is interrupted. The first reason asked for wins.
enum class KillReason : int { None = 0, Timeout = 1, Cancelled = 2, Shutdown = 3, Exit = 4 };

// Counters written by the lease holder and read by stats() on the main thread.
struct StateStats {
  std::atomic<uint64_t> jobs{0};
  std::atomic<uint64_t> gcSteps{0};
  std::atomic<uint64_t> fullGcs{0};
  std::atomic<uint64_t> memoryErrors{0};
  std::atomic<uint64_t> timeouts{0};
};

class LuaState {
 public:
  LuaState(const StateConfig& config, size_t index);
  ~LuaState();
  LuaState(const LuaState&) = delete;
  LuaState& operator=(const LuaState&) = delete;

  lua_State* L() const { return L_; }
  size_t index() const { return index_; }
  const StateConfig& config() const { return config_; }
  bool ok() const { return L_ != nullptr; }
  const std::string& initError() const { return initError_; }

  // --- job bracket (called by the thread holding the lease) ---
  // Marks `jobId` as the job running here; a kill requested for another id is ignored.
  // A kill asked for before this call (`job.killRequest`) applies at once, and so does a
  // memory limit the job hit in an earlier step (`job.memoryHit`).
  void beginJob(Job& job, KillReason preset);
  // Clears the interrupt and the sticky memory flag; returns why the job was killed.
  KillReason endJob();
  KillReason killReason() const { return static_cast<KillReason>(reason_.load(std::memory_order_acquire)); }
  bool memoryExceeded() const { return memExceeded_; }
  void clearMemoryExceeded() { memExceeded_ = false; }

  // --- from any thread ---
  // Interrupts the job if it is still the one running here. Returns true if it was.
  // While the job's close handlers run (beginClosing) only a `duringClose` kill (the
  // grace period's end, shutdown) interrupts them: its outcome is decided already, and a
  // second deadline or cancel must not cut the grace short.
  bool kill(uint64_t jobId, KillReason reason, bool duringClose = false);
  // A killed job (or one that hit the memory limit) is being unwound: its pending
  // to-be-closed variables run now with the interrupt lifted and the sticky memory flag
  // cleared, until endClosing() — or until a `duringClose` kill (the scheduler's after a
  // grace period), which interrupts them too. Returns what endClosing restores.
  KillReason beginClosing();
  void endClosing(KillReason saved);
  // Asks the job, if it is still the one running here, to yield at its next yieldable
  // point (its time slice is over). Returns true if it was running here.
  // A job picked whose step has not begun yet keeps the request for beginJob().
  bool requestSlice(Job& job);
  // Asks the thread running the job to record its stack in `profile` at its next check.
  bool requestSample(uint64_t jobId);

  // --- memory accounting (read from any thread for stats; approximate while running) ---
  size_t bytesInUse() const { return inUse_.load(std::memory_order_relaxed); }
  size_t peakBytes() const { return peak_.load(std::memory_order_relaxed); }
  // The highest use since the current step began (lease holder only).
  size_t stepPeakBytes() const { return stepPeak_.load(std::memory_order_relaxed); }

  // After each job: GC policy (step after N jobs / K bytes; full after a memory error).
  void afterJob(bool hadMemoryError);

  // --- math.random in the sandbox (lease holder only) ---
  // The generator of the running job: its context's (kept until the context is reset),
  // else the job's own (seeded afresh at the job's first draw, kept across its steps
  // while other jobs run on the state in between, dropped by afterJob()).
  Prng& random();
  // Two seeds no other generator of this process is likely to get (a per-state counter,
  // the clock and addresses, mixed).
  void freshSeeds(uint64_t& n1, uint64_t& n2);
  void dropContextRandom(const char* key, size_t len);

  StateStats stats;  // written by the lease holder only, read under the runner's lock
  StateProfile profile;  // samples for runner.profile() (its own lock)
  Job* runningJob = nullptr;  // the job being executed (lease holder only)

  // Lease holder only. Text that C++ code builds for a Lua error or for a string it pushes
  // next lives here, not in the C function's frame: a Lua error (a longjmp) raised while it
  // is pushed then skips no destructor (see lua-error.hpp). Valid until the next use.
  std::string scratch;
  std::string scratch2;
  // The module source a searcher is compiling, pinned here for the same reason (a
  // shared_ptr in the searcher's frame would never be released by a Lua error).
  std::shared_ptr<const ModuleSource> pinnedModule;
  int exitCode = 0;           // os.exit's code for the running job (lease holder only)
  HostBridge* bridge = nullptr;  // set by the runner before any job runs
  std::atomic<bool> quarantined{false};  // a job overran its deadline by far here
  size_t cachedChunks = 0;               // compiled sources in the chunk cache (chunk-cache.cpp; lease holder only)
  size_t cachedChunkBytes = 0;           // their estimated size, bounded by a share of the limit (lease holder only)
  uint64_t sharedSetVersion = 0;         // the newest runner.share() set applied here

  static LuaState* from(lua_State* L);

 private:
  static void* allocate(void* ud, void* ptr, size_t osize, size_t nsize);
  static void onEmergency(void* ud, lua_State* L);
  // The interrupt flag's value for the requests now pending (killMutex_ held): a kill is
  // LUA_INTERRUPT_STOP | LUA_INTERRUPT_REQUEST, a slice or sample only the request bit, so
  // that Lua never takes one for the other (patch 0024).
  int flagValueLocked() const;
  void publishFlagLocked();
  static int onInterrupt(lua_State* L, int canyield);
  void openLibraries();

  StateConfig config_;
  size_t index_;
  lua_State* L_ = nullptr;
  int* interruptFlag_ = nullptr;
  std::string initError_;

  std::atomic<size_t> inUse_{0};
  std::atomic<size_t> peak_{0};
  std::atomic<size_t> stepPeak_{0};
  size_t sinceGc_ = 0;
  uint32_t jobsSinceGc_ = 0;
  bool memExceeded_ = false;  // sticky for the rest of a job once the limit was hit
  // The growth request refused last (Lua retries the same request once after an
  // emergency collection; only a refused retry makes the limit sticky).
  struct Refusal {
    void* ptr = nullptr;
    size_t osize = 0;
    size_t nsize = 0;
    bool pending = false;
  } refused_;

  Prng* random_ = nullptr;  // cache of random()'s answer for the running job
  std::unordered_map<uint64_t, Prng> jobRandom_;  // by job id, for jobs that drew
  uint64_t lastJobId_ = 0;                         // the job of the last beginJob()
  Prng stateRandom_;          // outside jobs
  std::unordered_map<std::string, Prng> contextRandom_;
  uint64_t seedCounter_ = 0;

  std::mutex killMutex_;
  uint64_t currentJob_ = 0;       // guarded by killMutex_
  bool sliceAsked_ = false;       // guarded by killMutex_
  bool sampleAsked_ = false;      // guarded by killMutex_
  bool closingMemExceeded_ = false;  // memExceeded_ saved by beginClosing (lease holder)
  bool closing_ = false;             // between beginClosing and endClosing; guarded by killMutex_
  std::atomic<int> reason_{0};    // written under killMutex_, read by the allocator too
};

}  // namespace luapool
