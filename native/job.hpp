// Job: one unit of work submitted from JavaScript, owned by exactly one holder at a time
// (queue -> worker -> completion queue -> main thread, which frees it after settling).
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
};

struct Job {
  uint64_t id = 0;
  JobKind kind = JobKind::Run;
  std::string source;                          // Run
  std::string chunkName;                       // "@name" or empty
  std::shared_ptr<const ModuleSource> module;  // Call
  std::string function;                        // Call: exported function name
  std::string args;                            // encoded value tree
  std::string env;                             // encoded table, or empty
  bool multret = false;
  bool bytesAsBuffer = false;  // strings come back as Buffers (decided on the main thread)
  std::string contextKey;  // non-empty: persistent environment of that context
  int pinnedState = -1;    // -1: any state

  uint32_t timeoutMs = 0;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::steady_clock::time_point queuedAt;
  std::atomic<int> killRequest{0};  // KillReason asked for before the job began running

  // outcome (written by the worker, read on the main thread after completion)
  JobStatus status = JobStatus::Internal;
  std::string result;  // encoded value tree
  ErrorInfo error;
  std::vector<Action> actions;
  size_t actionBytes = 0;
  std::chrono::steady_clock::time_point lastFlush;  // when actions were last sent

  // host calls
  bool suspended = false;       // yielded in a host call; its state stays leased to it
  ::lua_State* coroutine = nullptr;  // the job's coroutine while it runs
  int threadRef = -2;           // registry ref of the suspended coroutine (LUA_NOREF = -2)
  HostRequest hostRequest;      // filled by engine.<host>() before suspending/blocking
  HostReply hostReply;          // filled by the main thread
  int killedWhileSuspended = 0; // KillReason to apply when the job resumes
  StateLease lease;             // held while suspended
  // blocking host calls (where Lua cannot yield)
  std::mutex hostMutex;
  std::condition_variable hostCv;
  bool hostAnswered = false;
  bool hostAbandoned = false;   // the job was killed while waiting

  double waitMs = 0;
  double runMs = 0;
  int stateIndex = -1;
};

// Runs the job on the state (the caller holds its lease) and fills in the outcome.
void executeJob(LuaState& state, Job& job);

// The job currently running on a state (for engine.* functions), or null.
Job* currentJob(LuaState& state);

// Implemented by the runner: hands a blocking host request to the main thread, and
// forgets it once the worker stops waiting.
class HostBridge {
 public:
  virtual ~HostBridge() = default;
  // Starts the job's time budget (called once the job is marked running on its state).
  virtual void startDeadline(Job& job) = 0;
  virtual void requestBlocking(Job& job) = 0;
  // Sends what the job logged/posted so far to the main thread now (long jobs stream).
  virtual void flushActions(Job& job) = 0;
  virtual void endBlocking(Job& job) = 0;
};

}  // namespace luapool
