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

// callColumns' row view (native/columns.cpp) is a table whose fields are the row's columns.
// setrow: field names[i] = element `row` of data[i] (types: ElementType codes), i < n; a field the
// table lost is inserted again (raises only memory errors). getrow: reads the fields: kinds[i]
// = 1 integer (ints[i]), 2 float (nums[i]), 0 anything else or absent (no conversion). names[i]: string objects the caller keeps
// alive (luapool_stringref); slots[i]: where field i was found (0 at first), a cache
// checked on every use (it never points outside the table).
LUA_API void luapool_setrow(lua_State* L, int tidx, int n, void* const* names, unsigned int* slots,
                            void* const* data, const unsigned char* types, size_t row);
LUA_API void luapool_getrow(lua_State* L, int tidx, int n, void* const* names, unsigned int* slots,
                            lua_Integer* ints, lua_Number* nums, unsigned char* kinds);
// The string object of the string at `idx` (valid while the string is reachable).
LUA_API const void* luapool_stringref(lua_State* L, int idx);
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
