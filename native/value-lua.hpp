// Lua side of the value tree: decode onto a Lua stack, encode from one (worker threads).
#pragma once

#include <string>

#include "lua-api.hpp"
#include "value.hpp"

namespace luapool {

// Pushes the values of an encoded tree; returns how many. Raises a Lua error (memory, or a
// malformed tree: "luapool: malformed value tree (...)"), so call it only inside a
// protected call. Every count and length is checked against the tree's size.
int pushDecoded(lua_State* L, const std::string& tree);

// Pushes the tree's single table value and copies its entries into the table at `target`.
void mergeDecodedInto(lua_State* L, int target, const std::string& tree);

// The byte budget of trees encoded from this state when MarshalLimits::maxBytes is 0
// (set once per state: encodeBudgetFor(memoryLimit); without it, kUnlimitedEncodeBudget).
void setEncodeBudget(lua_State* L, size_t bytes);
size_t encodeBudget(lua_State* L);

// Encodes `count` stack values starting at `first`.
// `error` gets "path: what went wrong"; `errorPath`, when given, the path alone. Uses raw access only and never
// allocates Lua memory, so it cannot raise. On an unconvertible value returns false and
// describes it (with the path to it, rooted at `root`) in `error`.
bool encodeValues(lua_State* L, int first, int count, const char* root, std::string& out,
                  std::string& error, const MarshalLimits& limits = MarshalLimits(),
                  std::string* errorPath = nullptr);

// Encodes t[1..n] of the table at `index` as a list of n values (nil holes allowed).
bool encodeSequence(lua_State* L, int index, lua_Integer n, const char* root, std::string& out,
                    std::string& error, const MarshalLimits& limits = MarshalLimits(),
                    std::string* errorPath = nullptr);

// Raises a Lua error "<where>prefix: message" with every byte of `message` (a conversion
// error's path may name a key holding a NUL byte: no C-string formatting).
int raiseConversionError(lua_State* L, const char* prefix, const std::string& message);

}  // namespace luapool
