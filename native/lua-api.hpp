// The Lua API as the addon sees it. Lua is compiled as C++ (deps/lua/lua-all.cpp), so its
// headers are included without extern "C"; Lua errors are longjmps (see lua-error.hpp).
#pragma once

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

// Our additions, compiled inside the Lua translation unit (deps/lua/luapool-ext.c).
// Pushes a new closure of the same prototype as the Lua function at `idx`, with fresh
// (nil) upvalues: a cached compiled chunk gets a private _ENV per job without recompiling.
LUA_API void lua_clonefunction(lua_State* L, int idx);

// Installs luaL_newstate's warning function (off until "@on") on a state we created.
LUA_API void luapool_setdefaultwarnf(lua_State* L);

// Whether Lua would retry an allocation refused now after an emergency collection.
LUA_API int luapool_willretryalloc(lua_State* L);

// callColumns' row transfer (native/columns.cpp): pushes element `row` of each of n arrays
// (types: ElementType codes) with no API call per element; the caller made room for n.
LUA_API void luapool_pushrow(lua_State* L, int n, void* const* data, const unsigned char* types, size_t row);

// Reads the n values from stack index idx on: kinds[i] = 1 integer (ints[i]), 2 float
// (nums[i]), 0 anything else (strings are not converted).
LUA_API void luapool_readnumbers(lua_State* L, int idx, int n, lua_Integer* ints, lua_Number* nums,
                                 unsigned char* kinds);

// Raises LUA_ERRMEM ("not enough memory"), as a failed Lua allocation does. Never returns.
LUA_API int luapool_memerror(lua_State* L);
// registry[p] = nil without allocating or using the stack (for the emergency callback).
LUA_API void luapool_dropregistryp(lua_State* L, const void* p);

// lua_next by position: pushes the key and value of the first non-empty entry at or after
// `*pos` of the table at `idx` and moves `*pos` past it (1), or pushes nothing (0). Same
// order as lua_next, without looking the previous key up; allocates and raises nothing.
LUA_API int luapool_nextat(lua_State* L, int idx, unsigned int* pos);
// Replaces the `n` values on top with a table copied from the template at `tidx` (hash part:
// a shape's keys -> their positions 1..n), each key given its value. Raises only memory errors.
LUA_API void luapool_newshaped(lua_State* L, int tidx, int n);

// The collector's debt (it runs a step once the debt is positive) and setting it; the
// bytes allocated stay counted (callMany: a batch's decoded arguments, all alive until it
// ends, do not make the collector traverse them while they are being built).
LUA_API ptrdiff_t luapool_gcdebt(lua_State* L);
LUA_API void luapool_setgcdebt(lua_State* L, ptrdiff_t debt);
// A record's entries (lua_next order) if they are exactly n, the i-th keyed by the short
// string keys[i] (identity) with a number or boolean value: kinds[i] 1 integer (ints[i]),
// 2 float (nums[i]), 3 false, 4 true; returns 1. Else 0. Allocates and raises nothing.
LUA_API int luapool_readrecord(lua_State* L, int idx, const void* const* keys, int n, unsigned char* kinds,
                               lua_Integer* ints, lua_Number* nums);
