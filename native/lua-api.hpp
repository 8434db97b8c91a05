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
