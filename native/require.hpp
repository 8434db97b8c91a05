// require and package in the sandbox, and the searchers that find runner.define() and
// `modules` sources (in trusted states too). See require.cpp.
#pragma once

#include <cstddef>

#include "lua-api.hpp"
#include "lua-state.hpp"

namespace luapool {

// Adds `require` and the `package` proxy to the sandbox base at `base` ('safe', or an
// explicit list with 'base' or 'package'). Runs inside installSandbox.
void installRequire(lua_State* L, int base, const StateConfig& config);

// libs: 'all': puts the define() and `modules` searchers into the real package.searchers,
// after package.preload's and before the file searchers.
void installTrustedSearchers(lua_State* L);

// A context is reset: its package record (package.loaded...) goes with its environment.
void dropContextPackage(lua_State* L, const char* key, size_t len);

}  // namespace luapool
