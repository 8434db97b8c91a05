// engine.shared: values published with runner.share(name, value), seen read-only by every
// job. Each state converts a value once per version, lazily, when a job that carries a
// newer set of shared values starts on it.
#pragma once

#include "job.hpp"
#include "lua-api.hpp"

namespace luapool {

class LuaState;

// Pushes the state's read-only `engine.shared` table (created empty once per state, when
// the engine table is built). Raises on memory errors.
void pushSharedRoot(lua_State* L);

// Brings engine.shared up to date with the job's set of shared values (a no-op unless the
// set is newer than the last one applied on this state). Raises on memory errors or a
// malformed tree: call it inside the job's protected setup.
void applyShared(lua_State* L, LuaState& state, const Job& job);

}  // namespace luapool
