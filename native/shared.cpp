// engine.shared (see shared.hpp). A shared value is decoded into plain tables once per
// state and version; every table of it is then reached only through a read-only proxy
// (an empty table whose metatable reads the real one), so one job cannot change what the
// next job on the state sees. Reads through a proxy are ordinary table reads (`__index`
// is the real table, no C call); `#`, `pairs` and `ipairs` work; writes raise.
#include "shared.hpp"

#include <cstring>
#include <string>

#include "lua-state.hpp"
#include "sandbox.hpp"
#include "value-lua.hpp"

namespace luapool {

namespace {

const char kSharedRootKey = 0;      // registry: the real table behind engine.shared
const char kSharedVersionsKey = 0;  // registry: { [name] = version converted here }

// The real table behind a proxy (its metatable's __index, read raw).
void pushReal(lua_State* L, int proxy) {
  if (!lua_getmetatable(L, proxy)) luaL_error(L, "engine.shared: not a shared table");
  lua_pushliteral(L, "__index");
  lua_rawget(L, -2);
  lua_remove(L, -2);
}

int sharedNewindex(lua_State* L) {
  const char* name = nullptr;
  if (lua_getmetatable(L, 1)) {
    lua_pushliteral(L, "__shared");
    lua_rawget(L, -2);
    name = lua_tostring(L, -1);
  }
  if (name == nullptr || *name == '\0') return luaL_error(L, "attempt to modify engine.shared (it is read-only)");
  return luaL_error(L, "attempt to modify engine.shared.%s (shared values are read-only)", name);
}

int sharedLen(lua_State* L) {
  pushReal(L, 1);
  lua_pushinteger(L, static_cast<lua_Integer>(lua_rawlen(L, -1)));
  return 1;
}

// next(proxy, key) over the real table: the real table never reaches the script.
int sharedNext(lua_State* L) {
  lua_settop(L, 2);
  pushReal(L, 1);
  lua_insert(L, 2);  // proxy real key
  if (lua_next(L, 2) == 0) return 0;
  return 2;
}

int sharedPairs(lua_State* L) {
  lua_pushcfunction(L, sharedNext);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

// Pushes a new read-only proxy for the table at `real`.
void pushProxy(lua_State* L, int real, const char* name, size_t len) {
  real = lua_absindex(L, real);
  lua_createtable(L, 0, 0);
  lua_createtable(L, 0, 6);
  lua_pushvalue(L, real);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, sharedNewindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, sharedLen);
  lua_setfield(L, -2, "__len");
  lua_pushcfunction(L, sharedPairs);
  lua_setfield(L, -2, "__pairs");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pushlstring(L, name, len);
  lua_setfield(L, -2, "__shared");
  lua_setmetatable(L, -2);
  freezeTable(L, -1);  // the sandbox's rawset/setmetatable refuse it too
}

// Pushes the proxy of the table at `real`, after making every table reachable from it
// reach its children through proxies too. `seen` maps real tables to their proxies
// (shared references and cycles keep their shape).
void proxify(lua_State* L, int real, int seen, const std::string& name) {
  real = lua_absindex(L, real);
  luaL_checkstack(L, 8, "engine.shared: value nested too deep");
  lua_pushvalue(L, real);
  if (lua_rawget(L, seen) == LUA_TTABLE) return;
  lua_pop(L, 1);
  pushProxy(L, real, name.data(), name.size());
  int proxy = lua_gettop(L);
  lua_pushvalue(L, real);
  lua_pushvalue(L, proxy);
  lua_rawset(L, seen);
  lua_pushnil(L);
  while (lua_next(L, real) != 0) {
    if (lua_type(L, -1) == LUA_TTABLE) {
      proxify(L, -1, seen, name);  // key value proxy
      lua_pushvalue(L, -3);
      lua_insert(L, -2);           // key value key proxy
      lua_rawset(L, real);         // an existing key: allowed while traversing
    }
    lua_pop(L, 1);
  }
  lua_settop(L, proxy);
}

}  // namespace

void pushSharedRoot(lua_State* L) {
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kSharedVersionsKey);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kSharedRootKey);
  pushProxy(L, -1, "", 0);
  lua_remove(L, -2);
}

void applyShared(lua_State* L, LuaState& state, const Job& job) {
  const SharedSet* set = job.shared.get();
  if (set == nullptr || set->version <= state.sharedSetVersion) return;
  int top = lua_gettop(L);
  luaL_checkstack(L, 8, "engine.shared");
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kSharedRootKey) != LUA_TTABLE) {
    lua_settop(L, top);
    return;
  }
  int root = lua_gettop(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kSharedVersionsKey);
  int versions = lua_gettop(L);

  // names no longer shared (cleared while traversing, which Lua allows; no C++ object in
  // this frame: a Lua error here is a longjmp)
  lua_pushnil(L);
  while (lua_next(L, versions) != 0) {
    lua_pop(L, 1);
    size_t n;
    const char* s = lua_tolstring(L, -1, &n);  // keys are strings
    bool kept = false;
    for (const auto& entry : set->values) {
      if (entry.first.size() == n && std::memcmp(entry.first.data(), s, n) == 0) {
        kept = true;
        break;
      }
    }
    if (kept) continue;
    lua_pushvalue(L, -1);
    lua_pushnil(L);
    lua_rawset(L, root);
    lua_pushvalue(L, -1);
    lua_pushnil(L);
    lua_rawset(L, versions);  // an existing field set to nil: allowed during lua_next
  }

  // new or changed values
  for (const auto& entry : set->values) {
    const std::string& name = entry.first;
    const SharedValue& value = *entry.second;
    lua_pushlstring(L, name.data(), name.size());
    bool current = lua_rawget(L, versions) == LUA_TNUMBER &&
                   static_cast<uint64_t>(lua_tointeger(L, -1)) == value.version;
    lua_pop(L, 1);
    if (current) continue;
    if (pushDecoded(L, value.tree) != 1) luaL_error(L, "luapool: bad shared value");
    if (lua_type(L, -1) == LUA_TTABLE) {
      lua_newtable(L);
      int seen = lua_gettop(L);
      proxify(L, seen - 1, seen, name);
      lua_replace(L, seen - 1);
      lua_settop(L, seen - 1);
    }
    lua_pushlstring(L, name.data(), name.size());
    lua_insert(L, -2);
    lua_rawset(L, root);
    lua_pushlstring(L, name.data(), name.size());
    lua_pushinteger(L, static_cast<lua_Integer>(value.version));
    lua_rawset(L, versions);
  }
  state.sharedSetVersion = set->version;
  lua_settop(L, top);
}

}  // namespace luapool
