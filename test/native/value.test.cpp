// value.test.cpp: the Lua side of the value tree (native/value-lua.cpp) without Node.
// Under AddressSanitizer these prove that no tree, however malformed, is read out of
// bounds: every truncation and thousands of random corruptions of real trees must either
// decode or fail with a Lua error.

#include <cstdint>
#include <string>

#include "check.hpp"

#include "lua-api.hpp"
#include "value-lua.hpp"

using namespace luapool;

namespace {

struct Decoded {
  bool ok;
  int count;
  std::string error;
};

struct DecodeArgs {
  const std::string* tree;
  int count;
};

int decodeInProtectedCall(lua_State* L) {
  auto* a = static_cast<DecodeArgs*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  a->count = pushDecoded(L, *a->tree);
  return 0;
}

int decodeKeep(lua_State* L) {
  auto* a = static_cast<DecodeArgs*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  a->count = pushDecoded(L, *a->tree);
  return lua_gettop(L);
}

Decoded decode(lua_State* L, const std::string& tree) {
  DecodeArgs a{&tree, 0};
  int top = lua_gettop(L);
  lua_pushcfunction(L, decodeInProtectedCall);
  lua_pushlightuserdata(L, &a);
  int status = lua_pcall(L, 1, 0, 0);
  Decoded d{status == LUA_OK, a.count, {}};
  if (status != LUA_OK) d.error = lua_tostring(L, -1) ? lua_tostring(L, -1) : "";
  lua_settop(L, top);
  return d;
}

// Runs `src` and encodes all its results.
std::string encodeResults(lua_State* L, const char* src, std::string* error = nullptr) {
  int top = lua_gettop(L);
  REQUIRE(luaL_dostring(L, src) == LUA_OK);
  std::string out, err;
  bool ok = encodeValues(L, top + 1, lua_gettop(L) - top, "result", out, err);
  lua_settop(L, top);
  if (error) *error = err;
  return ok ? out : std::string();
}

const char* kSample =
    "local shared = ('s'):rep(40) local t = { 1, -2, 3.5, 1 << 40, true, false, 'short', shared }"
    " t.self = t t[shared] = { shared, { n = 1 } } t.list = { 10, 20, { 30 } }"
    " return t, shared, 'tail', nil, 2^53";

}  // namespace

TEST_CASE("value tree: a Lua value encodes, decodes and encodes again (same size, same flags)") {
  lua_State* L = luaL_newstate();
  REQUIRE(L);
  luaL_openlibs(L);
  std::string tree = encodeResults(L, kSample);
  REQUIRE(!tree.empty());
  CHECK((tree[0] & kFlagHasRefs) != 0);
  CHECK((tree[0] & kFlagHasStrRefs) != 0);
  Decoded d = decode(L, tree);
  REQUIRE(d.ok);
  CHECK_EQ(d.count, 5);
  // decode, keep the values, encode them again: the same size (tables may list their
  // entries in another order) and the same structure flags
  DecodeArgs a{&tree, 0};
  lua_settop(L, 0);
  lua_pushcfunction(L, decodeKeep);
  lua_pushlightuserdata(L, &a);
  REQUIRE(lua_pcall(L, 1, LUA_MULTRET, 0) == LUA_OK);
  REQUIRE(lua_gettop(L) == 5);
  std::string again, err;
  REQUIRE(encodeValues(L, 1, 5, "result", again, err));
  CHECK_EQ(again.size(), tree.size());
  CHECK_EQ(again[0], tree[0]);
  lua_close(L);
}

TEST_CASE("value tree: a long string shared by many slots is written once") {
  lua_State* L = luaL_newstate();
  REQUIRE(L);
  luaL_openlibs(L);
  std::string tree = encodeResults(L, "local s = ('x'):rep(100000) local t = {} for i = 1, 1000 do t[i] = s end return t");
  CHECK(!tree.empty());
  CHECK(tree.size() < 110000);
  Decoded d = decode(L, tree);
  CHECK(d.ok);
  lua_close(L);
}

TEST_CASE("value tree: the encode budget of the state is enforced, naming the path") {
  lua_State* L = luaL_newstate();
  REQUIRE(L);
  luaL_openlibs(L);
  CHECK_EQ(encodeBudget(L), kUnlimitedEncodeBudget);
  setEncodeBudget(L, encodeBudgetFor(256 * 1024));  // 4 x 256 KiB = 1 MiB
  CHECK_EQ(encodeBudget(L), size_t{1} << 20);
  std::string error;
  std::string tree = encodeResults(L, "return { ok = 1, big = ('x'):rep(2 << 20) }", &error);
  CHECK(tree.empty());
  CHECK(error.find("result[0].big: value is too large to convert (more than 1 MiB encoded)") != std::string::npos);
  CHECK(!encodeResults(L, "return ('x'):rep(512 << 10)").empty());
  CHECK_EQ(encodeBudgetFor(0), kUnlimitedEncodeBudget);
  CHECK_EQ(encodeBudgetFor(1000), kMinEncodeBudget);
  CHECK_EQ(encodeBudgetFor(size_t{1} << 40), kMaxEncodeBudget);
  lua_close(L);
}

TEST_CASE("value tree: every truncation and random corruptions of real trees fail cleanly") {
  lua_State* L = luaL_newstate();
  REQUIRE(L);
  luaL_openlibs(L);
  std::string tree = encodeResults(L, kSample);
  REQUIRE(!tree.empty());
  int failures = 0;
  for (size_t cut = 0; cut < tree.size(); ++cut) {
    // a copy of exactly `cut` bytes, so that ASan sees any read past its end
    std::string prefix(tree.data(), cut);
    Decoded d = decode(L, prefix);
    if (!d.ok) {
      ++failures;
      CHECK(d.error.find("malformed value tree") != std::string::npos);
    }
  }
  CHECK(failures >= static_cast<int>(tree.size()) - 2);  // a few prefixes may be valid trees
  uint32_t seed = 12345;
  auto rand = [&](uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) % n;
  };
  for (int i = 0; i < 20000; ++i) {
    std::string b = tree;
    for (uint32_t k = 0, n = 1 + rand(4); k < n; ++k) {
      b[rand(static_cast<uint32_t>(b.size()))] = static_cast<char>(rand(4) == 0 ? 0xff : rand(256));
    }
    if (rand(8) == 0) b.resize(rand(static_cast<uint32_t>(b.size())));
    Decoded d = decode(L, b);
    if (!d.ok) {
      CHECK(d.error.find("malformed value tree") != std::string::npos ||
            d.error.find("stack overflow") != std::string::npos ||
            d.error.find("not enough memory") != std::string::npos);
    }
  }
  lua_close(L);
}

TEST_CASE("value tree: counts larger than the tree are refused before anything is allocated") {
  lua_State* L = luaL_newstate();
  REQUIRE(L);
  auto tree = [](std::initializer_list<unsigned> bytes) {
    std::string s;
    for (unsigned b : bytes) s.push_back(static_cast<char>(b));
    return s;
  };
  const std::string cases[] = {
      tree({0, 0xff, 0xff, 0xff, 0xff, 0}),                         // 2^32 - 1 values
      tree({0, 1, 0, 0, 0x80, 0}),                                  // 2^31 + 1 values (negative as int)
      tree({0, 1, 0, 0, 0, kTagSeq, 0xff, 0xff, 0xff, 0x7f, 0}),    // a 2^31 - 1 sequence
      tree({0, 1, 0, 0, 0, kTagTable, 3, 0, 0, 0, 0, 0, 0, 0, 0}),  // 3 entries in 5 bytes
      tree({0, 1, 0, 0, 0, kTagStr, 0xff, 0xff, 0xff, 0xff, 'a'}),  // a 4 GiB string
      tree({0, 1, 0, 0, 0, kTagStrRef, 0, 0, 0, 0}),                // no long string yet
      tree({8, 0, 0, 0, 0}),                                        // unknown flag
  };
  for (const std::string& t : cases) {
    Decoded d = decode(L, t);
    CHECK(!d.ok);
    CHECK(d.error.find("malformed value tree") != std::string::npos);
  }
  lua_close(L);
}
