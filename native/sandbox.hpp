// The environment scripts see: the safe base (allow-list), read-only library tables, the
// hidden string metatable, the engine.* bridge, and the per-job environment.
#pragma once

#include <string>

#include "job.hpp"
#include "lua-api.hpp"
#include "lua-state.hpp"

namespace luapool {

// Opens the configured libraries and builds the shared base. Runs inside a protected call.
void installSandbox(lua_State* L, const StateConfig& config);

// Pushes a fresh job environment whose reads fall through to the read-only base
// (trusted states: pushes the global table).
void pushJobEnv(lua_State* L, const StateConfig& config);

// Pushes the persistent environment of a context, creating it on first use.
void pushContextEnv(lua_State* L, const StateConfig& config, const char* key, size_t len);
void dropContextEnv(lua_State* L, const char* key, size_t len);

// Marks the table at `idx` read-only for the sandbox's rawset and setmetatable.
void freezeTable(lua_State* L, int idx);

// Records the environment of the chunk job that starts (its own, or its context's). load()
// without an env takes its caller's _ENV, and falls back to this one only in chunk jobs
// (in module calls it is stale: it is the last chunk job's).
void setCurrentEnv(lua_State* L, int envIndex);

// --- for the sandbox's other pieces (sandbox-libs.cpp, require.cpp) ---
// Appends a log or post action to the job. Raises nothing (callable from a cppIsland): the
// caller passes the result to raiseAction once its C++ scope has closed.
enum class ActionStatus : uint8_t { Ok, TooMuch, NoMemory, Marshal };
ActionStatus sendAction(lua_State* L, Job& job, ActionType type, std::string&& name, std::string&& data);
// Raises the error for a status other than Ok (past the job's action budget: a Lua error;
// NoMemory: Lua's memory error); returns 0 for Ok.
int raiseAction(lua_State* L, ActionStatus status);
// Pushes a fresh module environment: an empty table reading through to the base.
void pushModuleEnv(lua_State* L);
// Pushes the environment `load` without an env would use here (see sandbox.cpp).
void pushCallerEnvironment(lua_State* L);
// Pushes the state's private base table (what environments read through to).
void pushSandboxBase(lua_State* L);
// Replaces the table at the top with a read-only proxy for it (named in its error).
void makeReadonlyProxy(lua_State* L, const char* name);

// sandbox-libs.cpp: the restricted io and debug of 'safe', the stand-ins of what stays
// absent, and the job's unfinished io lines.
void installSandboxIo(lua_State* L, int base);
void installSandboxDebug(lua_State* L, int base);
void addSandboxOsStubs(lua_State* L, int osTable);
void addSandboxBaseStubs(lua_State* L, int base);
// Pushes a function that raises "<name> is not available in the sandbox".
void pushUnavailable(lua_State* L, const char* name);
// The job ends: what it wrote with io.write and did not finish with a newline is sent.
void flushJobOutput(Job& job);

}  // namespace luapool
