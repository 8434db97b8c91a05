// The chunk cache: compiled sources kept per state, bounded by count and by bytes, and
// dropped whole before an emergency collection (it is only a cache: everything in it can be
// compiled again).
#pragma once

#include <cstdint>
#include <string>

#include "lua-api.hpp"

namespace luapool {

class LuaState;

// Pushes the compiled chunk for (chunkName, source), compiling it on a cache miss
// (chunkName: chunkLen bytes, NUL-terminated; "" names the chunk after its source). Returns
// LUA_OK, or a load status with the message on the stack. `id` (non-zero: a module
// source's id) replaces the text as the inner key, so a hit costs no copy of the source.
// The cache holds at most chunkCacheSize compiled sources and, with a memory limit, at most
// kChunkCacheShare of it (an estimate: the memory the compile and the entry took); once
// full it is dropped whole (the sources a game runs often come back at once).
int pushCompiledChunk(lua_State* L, LuaState& state, const char* chunkName, size_t chunkLen,
                      const std::string& source, uint64_t id = 0);

// The share of memoryLimit the cache may hold: 1 / kChunkCacheShareDivisor.
constexpr size_t kChunkCacheShareDivisor = 4;

// Unlinks the cache from the registry without allocating or touching the stack (the
// emergency callback, LuaState::onEmergency); the next lookup starts a new one.
void dropChunkCache(lua_State* L);

}  // namespace luapool
