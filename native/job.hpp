// Job: one unit of work submitted from JavaScript, owned by exactly one holder at a time
// (queue -> worker -> completion queue -> main thread, which frees it after settling).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "state-pool.hpp"

namespace luapool {

class LuaState;

enum class JobKind : uint8_t {
  Run = 0,           // run a source chunk
  Call = 1,          // call an exported function of a defined module
  ResetContext = 2,  // drop a context's persistent environment
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
  std::atomic<bool> cancelRequested{false};

  // outcome (written by the worker, read on the main thread after completion)
  JobStatus status = JobStatus::Internal;
  std::string result;  // encoded value tree
  ErrorInfo error;
  std::vector<Action> actions;
  size_t actionBytes = 0;
  double waitMs = 0;
  double runMs = 0;
  int stateIndex = -1;
};

// Runs the job on the state (the caller holds its lease) and fills in the outcome.
void executeJob(LuaState& state, Job& job);

// The job currently running on a state (for engine.* functions), or null.
Job* currentJob(LuaState& state);

}  // namespace luapool
