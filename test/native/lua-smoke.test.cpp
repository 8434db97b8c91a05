// lua-smoke.test.cpp: the Lua library built from deps/lua (one C++ translation unit) links
// and runs, and a Lua error is a longjmp (LUA_USE_LONGJMP), as in the standalone `lua`: it
// does not run C++ destructors in the frames it crosses, which is why native code keeps
// none there (docs/design.md, "The error path"; scripts/lint-error-path.js).

#include <string>

#include "check.hpp"

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

namespace {

struct Guard {
  int* counter;
  ~Guard() { ++*counter; }
};

int destructed = 0;

int raises(lua_State* L) {
  Guard g{&destructed};
  return luaL_error(L, "boom %d", 7);  // a longjmp: g is never destroyed
}

}  // namespace

TEST_CASE("lua: a state runs a chunk and returns its result") {
  lua_State* L = luaL_newstate();
  REQUIRE(L);
  luaL_openlibs(L);
  REQUIRE(luaL_dostring(L, "local t = {} for i = 1, 100 do t[i] = i * i end "
                           "return #t, t[10], string.format('%d', 42)") == LUA_OK);
  CHECK_EQ(lua_tointeger(L, -3), 100);
  CHECK_EQ(lua_tointeger(L, -2), 100);
  CHECK_EQ(std::string(lua_tostring(L, -1)), std::string("42"));
  lua_close(L);
}

TEST_CASE("lua: errors raised in C functions are longjmps (C++ destructors do not run)") {
  lua_State* L = luaL_newstate();
  REQUIRE(L);
  luaL_openlibs(L);
  lua_register(L, "raises", raises);
  destructed = 0;
  REQUIRE(luaL_loadstring(L, "local ok, err = pcall(raises) assert(not ok) "
                             "assert(err:find('boom 7')) raises()") == LUA_OK);
  CHECK_EQ(lua_pcall(L, 0, 0, 0), LUA_ERRRUN);
  CHECK(std::string(lua_tostring(L, -1)).find("boom 7") != std::string::npos);
#ifdef __SANITIZE_THREAD__
  CHECK_EQ(destructed, 2);  // the ThreadSanitizer build: Lua errors are C++ exceptions there
#else
  CHECK_EQ(destructed, 0);  // neither under pcall nor at top level: no C++ unwinding
#endif
  lua_close(L);
}
