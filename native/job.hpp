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
  Columns = 4,       // call a module function once per row of typed-array columns
};

// Batch: how the results of the calls come back (lib/native.ts BatchMode).
enum class BatchMode : uint8_t {
  Plain = 0,    // one value per call; a failing call fails the job
  Multret = 1,  // every value of every call (flat: count, values...)
  Settled = 2,  // one value per call, each call under xpcall; failures listed at the end
  SettledMultret = 3,
};

// Columns: element types of the typed arrays (lib/native.ts ElementType).
enum class ElementType : uint8_t {
  Int8 = 0, Uint8 = 1, Int16 = 2, Uint16 = 3, Int32 = 4, Uint32 = 5, Float32 = 6, Float64 = 7,
};

// One typed array lent to a Columns job: its memory belongs to JavaScript, which keeps the
// array alive (and promises not to touch it) until the job is delivered.
struct Column {
  std::string name;
  void* data = nullptr;
  size_t length = 0;  // elements
  ElementType type = ElementType::Float64;
  bool readonly = false;
};

// Values published with runner.share(): one encoded tree per name, converted into a state
// lazily (once per version) when a job that carries a newer set starts there.
struct SharedValue {
  uint64_t version;
  std::string tree;  // encoded value tree holding one value
};
struct SharedSet {
  uint64_t version = 0;  // grows with every share(); a state applies a set only once
  std::vector<std::pair<std::string, std::shared_ptr<const SharedValue>>> values;  // sorted by name
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
  int64_t index = -1;  // Batch: the failing call (0-based in the job); Columns: the row
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
  BatchMode batchMode = BatchMode::Plain;  // Batch
  std::vector<Column> columns;             // Columns: the arrays, by name
  int64_t firstRow = 0;                    // Columns: rows firstRow .. firstRow + rowCount - 1
  int64_t rowCount = 0;
  std::shared_ptr<const SharedSet> shared;  // the runner's shared values at submission
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
  // A slice request for this step that came before beginJob() (LuaState::requestSlice):
  // taken there, under the state's kill lock. Cleared when a step is picked.
  std::atomic<bool> sliceRequest{false};

  // --- execution: the thread running the step (handed over under Scheduler::mutex_) ---
  ::lua_State* coroutine = nullptr;  // the job's coroutine while a step runs
  int threadRef = -2;                // registry ref of its coroutine between steps (LUA_NOREF)
  int envRef = -2;                   // registry ref of its environment (for `load`)
  int packageRef = -2;               // registry ref of its `package` record (require.cpp), once used
  int viewRef = -2;                  // Columns: registry ref of its row view
  bool yieldForHost = false;         // set by engine.<host>() just before it yields
  bool yieldForSlice = false;        // set by the interrupt handler when it yields
  // The job hit its memory limit in an earlier step: LuaState::beginJob makes the limit
  // sticky again from the start of every later step (a slice or host call in between).
  bool memoryHit = false;
  ptrdiff_t gcAllowance = 0;         // Batch: bytes the collector is held off for (job.cpp holdCollector)
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
// Its chunk name is "@" .. mod.name.
int pushCompiledModule(lua_State* L, LuaState& state, const ModuleSource& mod);

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
