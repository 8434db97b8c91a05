// The environment scripts see: the safe base (allow-list), read-only library tables, the
// hidden string metatable, the engine.* bridge, and the per-job environment.
#pragma once

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

}  // namespace luapool
