// The error path: Lua errors are longjmps (deps/lua/lua-all.cpp), so C++ code that Lua
// calls follows two rules (docs/design.md, "Lua errors are longjmps"):
//
// 1. No C++ object with a non-trivial destructor (std::string, containers, smart pointers,
//    locks, guards) is alive in a frame while a Lua API call that can raise runs there, in
//    any function a Lua error can leave through: every lua_CFunction, continuation,
//    message handler and interrupt handler, every function called under lua_pcall, and
//    every helper of theirs that calls the raising API. Such objects live in a closed
//    scope that calls no raising API (a cppIsland below), or in storage that outlives the
//    frame (the Job, LuaState::scratch); an error is raised after the scope has closed.
// 2. No C++ exception crosses a Lua frame: C++ work that can throw (allocation) runs in a
//    cppIsland, or in a lua_CFunction wrapped with `guarded`, and the failure is raised as
//    Lua's memory error once the handler is over (never from inside a catch block).
//
// scripts/lint-error-path.js checks rule 1 mechanically (test/25-error-path.test.js).
#pragma once

#include "lua-api.hpp"

namespace luapool {

// Runs `work` -- C++ that may allocate but calls no Lua API that can raise -- and returns
// false if it threw. A Lua error must never be raised inside `work`.
template <class Work>
bool cppIsland(Work&& work) noexcept {
  try {
    work();
    return true;
  } catch (...) {
    return false;
  }
}

// Raises Lua's memory error (LUA_ERRMEM) for a C++ exception caught by a cppIsland.
inline int raiseNoMemory(lua_State* L) { return luapool_memerror(L); }

// A lua_CFunction whose C++ work may throw anywhere in its body: the exception is caught at
// its boundary, before it reaches a Lua frame, and raised as Lua's memory error. Its body
// must still follow rule 1 (a try block itself is no object a longjmp would skip).
template <lua_CFunction F>
int guarded(lua_State* L) {
  bool threw = false;
  int n = 0;
  try {
    n = F(L);
  } catch (...) {
    threw = true;
  }
  if (threw) return raiseNoMemory(L);
  return n;
}

}  // namespace luapool
