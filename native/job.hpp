// Job: one unit of work submitted from JavaScript. The scheduler's job table owns it from
// submit() until the main thread takes its completion (and frees it after delivery).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "state-pool.hpp"

struct lua_State;

namespace luapool {

class LuaState;

enum class JobKind : uint8_t {
  Run = 0,           // run a source chunk
  Call = 1,          // call an exported function of a defined module
  ResetContext = 2,  // drop a context's persistent environment
  Batch = 3,         // call a module function once per argument list, in one job
};

// Status codes shared with lib/native.ts.
enum class JobStatus : int {
  Ok = 0,
  LuaError = 1,
  Timeout = 2,
  MemoryLimit = 3,
  Cancelled = 4,
  MarshalError = 5,
  Internal = 6,
  AcquireTimeout = 7,  // waited longer than acquireTimeoutMs for a thread and a state
  Exit = 8,            // os.exit() in a trusted state
};

// Where a job is in its lifecycle (the transition table is in scheduler.hpp).
enum class JobState : uint8_t { Queued, Running, Blocked, Suspended, Runnable, Done };

// How one step of a job (a start or a resume) ended.
enum class StepResult : uint8_t {
  Finished,   // the outcome is filled in
  Suspended,  // yielded in a host call: waits for the host's answer
  Sliced,     // yielded at the end of its time slice
};

enum class ActionType : uint8_t { Log = 0, Post = 1 };

// A call from Lua to a host (JavaScript) function, waiting for the main thread.
struct HostRequest {
  uint64_t jobId = 0;
  uint32_t function = 0;   // index into the runner's host function list
  std::string args;        // encoded value tree
  bool blocking = false;   // the worker thread waits (Lua could not yield here)
};

// The main thread's answer to a HostRequest.
struct HostReply {
  bool ok = true;
  std::string values;  // ok: encoded value tree; else the error message
};

// Something a script sent to the main thread (engine.log / engine.post / print / warn).
struct Action {
  ActionType type;
  std::string name;  // log level or post name
  std::string data;  // log: the text; post: an encoded value tree
};

struct ErrorInfo {
  std::string message;
  std::string traceback;
  std::string chunk;
  int line = -1;
  std::string value;  // encoded error object when it is not a string
};

// Module source shared by every job that calls into it (never copied per call).
struct ModuleSource {
  std::string name;
  uint32_t version;
  std::string source;
  uint64_t id = 0;  // unique per source text in the runner (ModuleCatalog::nextId): the chunk cache key
};

struct Job {
  using Clock = std::chrono::steady_clock;

  // --- the request: written on the main thread before submit(), read-only after ---
  uint64_t id = 0;
  JobKind kind = JobKind::Run;
  std::string source;                          // Run
  std::string chunkName;                       // "@name" or empty
  std::shared_ptr<const ModuleSource> module;  // Call, Batch
  std::string function;                        // Call: exported function name
  std::string args;                            // encoded value tree
  std::string env;                             // encoded table, or empty
  bool multret = false;
  bool bytesAsBuffer = false;  // strings come back as Buffers (decided on the main thread)
  std::string contextKey;      // non-empty: persistent environment of that context
  int pinnedState = -1;        // -1: any state
  std::string group;           // fair-sharing group ("" = the default group)
  uint32_t timeoutMs = 0;      // 0: no budget
  uint32_t acquireTimeoutMs = 0;  // 0: may wait for ever

  // --- lifecycle: guarded by Scheduler::mutex_ ---
  JobState state = JobState::Queued;
  int stateIndex = -1;             // the state it runs on, once picked (pinned afterwards)
  Clock::time_point queuedAt;
  Clock::time_point deadline;      // while the budget runs (Running, Blocked, Suspended)
  Clock::duration budgetLeft{0};   // while it is paused (Queued, Runnable)
  Clock::time_point sliceStart;    // when its current step started
  bool started = false;            // has run at least one step
  bool demoted = false;            // has been sliced out: a long job (Scheduler::Level)
  bool guarded = false;            // this step: picked so that long jobs do not starve
  // The first kill asked for (KillReason). Atomic: LuaState::beginJob reads it under its
  // own lock, so a kill that arrives between pick() and beginJob() is not lost.
  std::atomic<int> killRequest{0};

  // --- execution: the thread running the step (handed over under Scheduler::mutex_) ---
  ::lua_State* coroutine = nullptr;  // the job's coroutine while a step runs
  int threadRef = -2;                // registry ref of its coroutine between steps (LUA_NOREF)
  int envRef = -2;                   // registry ref of its environment (for `load`)
  int packageRef = -2;               // registry ref of its `package` record (require.cpp), once used
  bool yieldForHost = false;         // set by engine.<host>() just before it yields
  bool yieldForSlice = false;        // set by the interrupt handler when it yields
  HostRequest hostRequest;           // filled by engine.<host>() before suspending/blocking
  HostReply hostReply;               // filled by the main thread (or the cancel)
  // blocking host calls (where Lua cannot yield): guarded by hostMutex
  std::mutex hostMutex;
  std::condition_variable hostCv;
  bool hostAnswered = false;
  bool hostAbandoned = false;  // killed while waiting

  // --- outcome: written by the worker, read by the main thread once Done ---
  JobStatus status = JobStatus::Internal;
  std::string result;  // encoded value tree
  ErrorInfo error;
  int exitCode = 0;    // status Exit
  std::vector<Action> actions;
  size_t actionBytes = 0;
  // The sandbox's io (sandbox-libs.cpp): the default input/output stream (0 stdin, 1 stdout,
  // 2 stderr) and the unfinished line written to stdout and stderr, sent as a log action
  // when it is finished, flushed, or the job ends.
  uint8_t ioInput = 0;
  uint8_t ioOutput = 1;
  std::string ioPending[2];
  Clock::time_point lastFlush;  // when actions were last streamed
  double waitMs = 0;   // queued until its first step
  double runMs = 0;    // every step, host-call time included
  uint32_t slices = 0; // steps that ended with the time slice
  size_t peakMemory = 0;  // the state's highest memory use while the job ran
};

// Runs one step of the job on the state (the caller holds its lease): starts it, or
// resumes it after a host call or a time slice. Fills in the outcome once Finished.
StepResult executeJob(LuaState& state, Job& job);

// The job currently running on a state (for engine.* functions), or null.
Job* currentJob(LuaState& state);

// Pushes the compiled chunk of a module source (chunk name and text), from the state's
// chunk cache, where it is keyed by `id` (ModuleSource::id) instead of by its text, so a
// cache hit costs no copy of the source. Returns LUA_OK, or a load status with the
// message on the stack.
int pushCompiledModule(lua_State* L, LuaState& state, const std::string& chunkName,
                       const std::string& source, uint64_t id);

// Replaces the function at the top with a private copy whose _ENV is the value below it.
// Stack: env fn -> fn'
void bindChunkEnv(lua_State* L);

// Implemented by the scheduler, called from inside a running job.
class HostBridge {
 public:
  virtual ~HostBridge() = default;
  // Hands a blocking host request to the main thread (Running -> Blocked) ...
  virtual void beginBlocking(Job& job) = 0;
  // ... and takes the job back once the worker stops waiting (Blocked -> Running).
  virtual void endBlocking(Job& job) = 0;
  // Sends what the job logged/posted so far to the main thread now (long jobs stream).
  virtual void flushActions(Job& job) = 0;
  // A killed job's to-be-closed variables start to run: interrupt them again if they are
  // not done within the grace period.
  virtual void armCloseGrace(Job& job) = 0;
};

}  // namespace luapool
