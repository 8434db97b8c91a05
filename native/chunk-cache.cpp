// The chunk cache (see chunk-cache.hpp): { [chunkName] = { [source or id] = fn } } in the
// registry. Lease holder only: every field it uses is the running thread's.
#include "chunk-cache.hpp"

#include "lua-state.hpp"

namespace luapool {

namespace {

const char kChunkCacheKey = 0;

// Pushes a fresh, empty chunk cache and makes it the state's (the old one is garbage).
void resetChunkCache(lua_State* L, LuaState& state) {
  lua_createtable(L, 0, 2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kChunkCacheKey);
  state.cachedChunks = 0;
  state.cachedChunkBytes = 0;
}

}  // namespace

void dropChunkCache(lua_State* L) { luapool_dropregistryp(L, &kChunkCacheKey); }

int pushCompiledChunk(lua_State* L, LuaState& state, const char* chunkName, size_t chunkLen,
                      const std::string& source, uint64_t id) {
  auto pushKey = [&] {
    if (id != 0) {
      lua_pushinteger(L, static_cast<lua_Integer>(id));
    } else {
      lua_pushlstring(L, source.data(), source.size());
    }
  };
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kChunkCacheKey) != LUA_TTABLE) {  // none, or dropped
    lua_pop(L, 1);
    resetChunkCache(L, state);
  }
  int cache = lua_gettop(L);
  lua_pushlstring(L, chunkName, chunkLen);
  if (lua_rawget(L, cache) == LUA_TTABLE) {
    pushKey();
    if (lua_rawget(L, -2) == LUA_TFUNCTION) {
      lua_replace(L, cache);
      lua_settop(L, cache);
      return LUA_OK;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  size_t before = state.bytesInUse();
  const char* name = chunkLen == 0 ? source.c_str() : chunkName;
  // Text only: binary chunks can crash the interpreter (SAFETY.md), except in trusted states.
  const char* mode = state.config().trusted ? "bt" : "t";
  int status = luaL_loadbufferx(L, source.data(), source.size(), name, mode);
  if (status != LUA_OK) {
    lua_replace(L, cache);
    lua_settop(L, cache);
    return status;
  }
  int fn = lua_gettop(L);
  // What the entry will hold: the compiled function (the compile's net growth; a collection
  // during the compile makes it an underestimate, never below the key) and its key.
  size_t after = state.bytesInUse();
  size_t cost = (after > before ? after - before : 0) + (id != 0 ? 0 : source.size()) + chunkLen + 64;
  size_t limit = state.config().memoryLimit;
  size_t share = limit == 0 ? 0 : limit / kChunkCacheShareDivisor;
  if (share != 0 && cost > share) {  // too large to keep: compiled for this job only
    lua_replace(L, cache);
    lua_settop(L, cache);
    return LUA_OK;
  }
  if (state.cachedChunks >= state.config().chunkCacheSize ||
      (share != 0 && state.cachedChunkBytes + cost > share)) {
    resetChunkCache(L, state);
    lua_replace(L, cache);
  }
  lua_pushlstring(L, chunkName, chunkLen);
  if (lua_rawget(L, cache) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushlstring(L, chunkName, chunkLen);
    lua_pushvalue(L, -2);
    lua_rawset(L, cache);
  }
  pushKey();
  lua_pushvalue(L, fn);
  lua_rawset(L, -3);
  state.cachedChunks++;
  state.cachedChunkBytes += cost;
  lua_settop(L, fn);
  lua_replace(L, cache);
  return LUA_OK;
}

}  // namespace luapool
