// Lua side of the value tree (see value.hpp for the format).
#include "value-lua.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <vector>

namespace luapool {

// ---------------------------------------------------------------------------------------
// Decoding (bytes -> Lua), inside a protected call
// ---------------------------------------------------------------------------------------

namespace {

const char kEncodeBudgetKey = 0;  // registry: the state's encode budget (an integer)
// Lua interns strings up to this length (LUAI_MAXSHORTLEN): only keys this short are taken
// into shapes, so that equal keys of different tables are mostly the same string object.
constexpr size_t kMaxShortString = 40;

// Every count and length is checked against the bytes left before anything is read or
// allocated for it, so a malformed tree (truncated, garbage, counts that do not match)
// raises "luapool: malformed value tree (...)" and never reads out of bounds.
class Decoder {
 public:
  Decoder(lua_State* L, const std::string& tree)
      : L_(L), r_(tree.data(), tree.size()) {}

  // Returns the number of top-level values. Tables for REF and SREF targets, when the
  // tree has them, sit below the values (see refsBase()) and must be removed by the caller.
  int begin() {
    luaL_checkstack(L_, 4, "value tree");
    need(kHeaderSize, "header");
    uint8_t flags = r_.u8();
    uint32_t count = r_.u32();
    if (flags & ~kKnownFlags) bad("unknown flags");
    // every value takes at least one byte
    if (count > r_.remaining()) bad("more values than bytes");
    if (count > 1000000) bad("too many values");  // Lua's stack could not hold them
    if (flags & kFlagHasRefs) {
      lua_createtable(L_, 8, 0);
      refsIndex_ = lua_gettop(L_);
    }
    if (flags & kFlagHasStrRefs) {
      lua_createtable(L_, 8, 0);
      strsIndex_ = lua_gettop(L_);
    }
    if (flags & kFlagHasShapes) {
      lua_createtable(L_, 8, 0);
      shapesIndex_ = lua_gettop(L_);
    }
    return static_cast<int>(count);
  }

  int helpers() const { return (refsIndex_ != 0) + (strsIndex_ != 0) + (shapesIndex_ != 0); }
  bool atEnd() const { return r_.atEnd(); }
  void bad(const char* what) { luaL_error(L_, "luapool: malformed value tree (%s)", what); }

  void push(int depth) {
    luaL_checkstack(L_, 4, "value tree");
    if (depth > kMaxDecodeDepth) bad("nested too deeply");
    need(1, "tag");
    switch (r_.u8()) {
      case kTagNil: lua_pushnil(L_); return;
      case kTagFalse: lua_pushboolean(L_, 0); return;
      case kTagTrue: lua_pushboolean(L_, 1); return;
      case kTagInt: need(8, "integer"); lua_pushinteger(L_, r_.i64()); return;
      case kTagInt32: need(4, "integer"); lua_pushinteger(L_, r_.i32()); return;
      case kTagFloat: need(8, "float"); lua_pushnumber(L_, r_.f64()); return;
      case kTagStr: {
        need(4, "string length");
        uint32_t n = r_.u32();
        need(n, "string bytes");
        lua_pushlstring(L_, r_.take(n), n);
        if (strsIndex_ != 0 && n >= kMinSharedString) {
          lua_pushvalue(L_, -1);
          lua_rawseti(L_, strsIndex_, static_cast<lua_Integer>(++strings_));
        }
        return;
      }
      case kTagStrRef: {
        need(4, "string reference");
        uint32_t id = r_.u32();
        if (strsIndex_ == 0 || id >= strings_) bad("bad string reference");
        lua_rawgeti(L_, strsIndex_, static_cast<lua_Integer>(id) + 1);
        return;
      }
      case kTagSeq: {
        need(4, "count");
        uint32_t n = r_.u32();
        if (n > r_.remaining()) bad("count larger than the tree");  // >= 1 byte per value
        lua_createtable(L_, static_cast<int>(std::min<uint32_t>(n, 1u << 20)), 0);
        remember();
        for (uint32_t i = 1; i <= n; ++i) {
          push(depth + 1);
          lua_rawseti(L_, -2, i);
        }
        return;
      }
      case kTagTable: {
        need(4, "count");
        uint32_t n = r_.u32();
        if (n > r_.remaining() / 2) bad("count larger than the tree");  // >= 2 bytes per entry
        lua_createtable(L_, 0, static_cast<int>(std::min<uint32_t>(n, 1u << 20)));
        remember();
        for (uint32_t i = 0; i < n; ++i) {
          push(depth + 1);
          push(depth + 1);
          if (lua_isnil(L_, -2) || (lua_type(L_, -2) == LUA_TNUMBER && !lua_isinteger(L_, -2) &&
                                    std::isnan(lua_tonumber(L_, -2)))) {
            lua_pop(L_, 2);  // not a valid key; the JS encoder never produces one
            continue;
          }
          lua_rawset(L_, -3);
        }
        return;
      }
      case kTagShape: {
        need(4, "count");
        uint32_t n = r_.u32();
        if (shapesIndex_ == 0) bad("a shape in a tree without the shapes flag");
        if (n == 0) bad("empty shape");
        if (n > r_.remaining() / 5) bad("count larger than the tree");  // >= 5 bytes per key
        lua_createtable(L_, static_cast<int>(std::min<uint32_t>(n, 1u << 20)), 0);  // keys
        int keys = lua_gettop(L_);
        for (uint32_t i = 1; i <= n; ++i) {
          need(1, "tag");
          uint8_t t = r_.peek();
          if (t != kTagStr && t != kTagStrRef) bad("a shape key that is not a string");
          push(depth + 1);              // keys k
          lua_rawseti(L_, keys, i);     // keys
        }
        // shapes[2s + 1] = keys; shapes[2s + 2] = the template, or false (see templateTable)
        lua_Integer s = static_cast<lua_Integer>(shapes_++);
        lua_pushvalue(L_, keys);        // keys keys
        lua_rawseti(L_, shapesIndex_, 2 * s + 1);  // keys
        if (n <= kMaxShapeKeys) {
          lua_createtable(L_, 1, static_cast<int>(n));  // keys tmpl
          lua_pushinteger(L_, n);       // keys tmpl n
          lua_rawseti(L_, -2, 1);       // keys tmpl (tmpl[1]: the key count)
          for (uint32_t i = 1; i <= n; ++i) {
            lua_rawgeti(L_, keys, i);   // keys tmpl k
            lua_pushinteger(L_, i);     // keys tmpl k i
            lua_rawset(L_, -3);         // keys tmpl
          }
        } else {
          lua_pushboolean(L_, 0);       // keys false
        }
        lua_rawseti(L_, shapesIndex_, 2 * s + 2);  // keys
        shapedTable(keys, n, depth);    // keys t
        lua_remove(L_, keys);           // t
        return;
      }
      case kTagShaped: {
        need(4, "shape");
        uint32_t id = r_.u32();
        if (shapesIndex_ == 0 || id >= shapes_) bad("bad shape reference");
        lua_Integer s = static_cast<lua_Integer>(id);
        if (refsIndex_ == 0) {  // no references to tables being built: a template's copy
          if (lua_rawgeti(L_, shapesIndex_, 2 * s + 2) == LUA_TTABLE) {  // tmpl
            int tmpl = lua_gettop(L_);
            lua_rawgeti(L_, tmpl, 1);                                     // tmpl n
            uint32_t n = static_cast<uint32_t>(lua_tointeger(L_, -1));
            lua_pop(L_, 1);                                               // tmpl
            templateTable(tmpl, n, depth);                                // tmpl t
            lua_remove(L_, tmpl);                                         // t
            return;
          }
          lua_pop(L_, 1);
        }
        lua_rawgeti(L_, shapesIndex_, 2 * s + 1);  // keys
        int keys = lua_gettop(L_);
        shapedTable(keys, static_cast<uint32_t>(lua_rawlen(L_, keys)), depth);  // keys t
        lua_remove(L_, keys);                       // t
        return;
      }
      case kTagRef: {
        need(4, "reference");
        uint32_t id = r_.u32();
        if (refsIndex_ == 0 || id >= nextId_) bad("bad reference");
        lua_rawgeti(L_, refsIndex_, static_cast<lua_Integer>(id) + 1);
        return;
      }
      default:
        bad("unknown tag");
    }
  }

 private:
  void need(size_t n, const char* what) {
    if (!r_.has(n)) {
      luaL_error(L_, "luapool: malformed value tree (truncated: %s)", what);
    }
  }
  // Pushes a table with the `n` keys of the table at `keys`, reading one value per key.
  void shapedTable(int keys, uint32_t n, int depth) {
    if (n > r_.remaining()) bad("count larger than the tree");  // >= 1 byte per value
    lua_createtable(L_, 0, static_cast<int>(std::min<uint32_t>(n, 1u << 20)));  // t
    int t = lua_gettop(L_);
    remember();
    for (uint32_t i = 1; i <= n; ++i) {
      lua_rawgeti(L_, keys, i);  // t k (a string: never nil or NaN)
      push(depth + 1);           // t k v
      lua_rawset(L_, t);         // t
    }
  }
  // The same, for a tree without references: the values are decoded onto the stack first
  // and then become a copy of the shape's template `tmpl` (its [1] the key count `n`, its
  // keys the shape's keys, each mapped to its position; luapool_newshaped), so no key is
  // hashed or inserted per table. (With references a table must exist before its values.)
  void templateTable(int tmpl, uint32_t n, int depth) {
    if (n > r_.remaining()) bad("count larger than the tree");  // >= 1 byte per value
    luaL_checkstack(L_, static_cast<int>(n) + 4, "value tree");
    ++nextId_;
    const bool scalars = depth + 1 <= kMaxDecodeDepth;  // else push() raises as it should
    for (uint32_t i = 0; i < n; ++i) {  // tmpl v1 ... vn
      // numbers and booleans directly (the stack is reserved above); the rest, and any
      // truncated value, through push(), which checks and raises
      if (scalars && r_.has(9)) {
        switch (r_.peek()) {
          case kTagFloat: r_.u8(); lua_pushnumber(L_, r_.f64()); continue;
          case kTagInt32: r_.u8(); lua_pushinteger(L_, r_.i32()); continue;
          case kTagInt: r_.u8(); lua_pushinteger(L_, r_.i64()); continue;
          case kTagTrue: r_.u8(); lua_pushboolean(L_, 1); continue;
          case kTagFalse: r_.u8(); lua_pushboolean(L_, 0); continue;
          default: break;
        }
      }
      push(depth + 1);
    }
    luapool_newshaped(L_, tmpl, static_cast<int>(n));  // tmpl t
  }
  void remember() {
    uint32_t id = nextId_++;
    if (refsIndex_ != 0) {
      lua_pushvalue(L_, -1);
      lua_rawseti(L_, refsIndex_, static_cast<lua_Integer>(id) + 1);
    }
  }

  lua_State* L_;
  ValueReader r_;
  int refsIndex_ = 0;
  int strsIndex_ = 0;
  int shapesIndex_ = 0;  // shapesIndex_[2s + 1]: the keys of shape s, a sequence; [2s + 2]: its template
  uint32_t shapes_ = 0;  // shapes defined so far (the decoder holds nothing with a destructor)
  uint32_t nextId_ = 0;
  uint32_t strings_ = 0;
};

}  // namespace

int pushDecoded(lua_State* L, const std::string& tree) {
  if (tree.empty()) return 0;
  Decoder d(L, tree);
  int count = d.begin();
  for (int i = 0; i < count; ++i) d.push(0);
  if (!d.atEnd()) d.bad("bytes after the last value");
  int helpers = d.helpers();
  for (int i = 0; i < helpers; ++i) lua_remove(L, -count - 1);
  return count;
}

void mergeDecodedInto(lua_State* L, int target, const std::string& tree) {
  target = lua_absindex(L, target);
  int n = pushDecoded(L, tree);
  if (n != 1 || !lua_istable(L, -1)) luaL_error(L, "luapool: env must be a table");
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, target);
  }
  lua_pop(L, 1);
}

void setEncodeBudget(lua_State* L, size_t bytes) {
  lua_pushinteger(L, static_cast<lua_Integer>(bytes));
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kEncodeBudgetKey);
}

size_t encodeBudget(lua_State* L) {
  // raw access to the registry: no metamethod, no allocation (one stack slot, checked)
  if (!lua_checkstack(L, 1)) return kUnlimitedEncodeBudget;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kEncodeBudgetKey);
  lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
  lua_pop(L, 1);
  if (v <= 0) return kUnlimitedEncodeBudget;
  return static_cast<size_t>(v) > kMaxEncodeBudget ? kMaxEncodeBudget : static_cast<size_t>(v);
}

// ---------------------------------------------------------------------------------------
// Encoding (Lua -> bytes), raw access only, no Lua allocation
// ---------------------------------------------------------------------------------------

namespace {

bool isIdentifier(const std::string& k) {
  if (k.empty() || (k[0] >= '0' && k[0] <= '9')) return false;
  for (char c : k) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// One step of the path to the value being encoded. A key's bytes point into its Lua
// string (alive while the table holding it is walked): no step allocates.
struct PathSegment {
  enum Kind : uint8_t { kIndex, kKey, kTypeKey } kind;
  long long index;
  const char* s;  // kKey: the key's bytes; kTypeKey: the key's type name
  size_t n;
};

// Numbers the tables (or long strings) one encode has written, by address: open
// addressing with linear probing, no allocation per entry.
class PointerIds {
 public:
  // Room for `n` entries without growing (a batch's results: at least one table each).
  void reserve(size_t n) {
    if (!slots_.empty() || n == 0) return;
    size_t size = 64;
    while (size < 2 * (n + 1)) size *= 2;
    slots_.assign(size, Slot{});
  }
  // The id of `p`: `next` if it is new (then true), else the one it was given (false).
  std::pair<uint32_t, bool> insert(const void* p, uint32_t next) {
    if ((count_ + 1) * 2 > slots_.size()) grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = hash(p) & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.key == nullptr) {
        slot.key = p;
        slot.id = next;
        ++count_;
        return {next, true};
      }
      if (slot.key == p) return {slot.id, false};
    }
  }

 private:
  struct Slot {
    const void* key = nullptr;
    uint32_t id = 0;
  };
  static size_t hash(const void* p) {
    uint64_t x = reinterpret_cast<uintptr_t>(p);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return static_cast<size_t>(x);
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
    count_ = 0;
    for (const Slot& slot : old) {
      if (slot.key != nullptr) insert(slot.key, slot.id);
    }
  }
  std::vector<Slot> slots_;
  size_t count_ = 0;
};

class Encoder {
 public:
  Encoder(lua_State* L, std::string& out, size_t maxBytes, uint32_t maxDepth)
      : L_(L), w_(out), maxBytes_(maxBytes), maxDepth_(maxDepth) {
    std::fill(std::begin(lastShape_), std::end(lastShape_), -1);
    std::fill(std::begin(lastAtDepth_), std::end(lastAtDepth_), -1);
  }

  bool encode(int idx, int depth) {
    if (w_.size() > maxBytes_) return tooLarge();
    switch (lua_type(L_, idx)) {
      case LUA_TNIL: w_.tag(kTagNil); return true;
      case LUA_TBOOLEAN: w_.tag(lua_toboolean(L_, idx) ? kTagTrue : kTagFalse); return true;
      case LUA_TNUMBER:
        if (lua_isinteger(L_, idx)) {
          lua_Integer v = lua_tointeger(L_, idx);
          if (v >= INT32_MIN && v <= INT32_MAX) {
            w_.tag(kTagInt32);
            w_.i32(static_cast<int32_t>(v));
          } else {
            w_.tag(kTagInt);
            w_.i64(v);
          }
        } else {
          w_.tag(kTagFloat);
          w_.f64(lua_tonumber(L_, idx));
        }
        return true;
      case LUA_TSTRING: {
        size_t n;
        const char* s = lua_tolstring(L_, idx, &n);  // a string already: no conversion
        return writeString(lua_topointer(L_, idx), s, n);
      }
      case LUA_TTABLE: return encodeTable(idx, depth);
      default: {
        std::string what = lua_typename(L_, lua_type(L_, idx));
        return fail("cannot convert a Lua " + what + " to JavaScript");
      }
    }
  }

  // Sized for `n` top-level values: a table each (see PointerIds::reserve), a few bytes each;
  // at most 32,768 of them (2 MiB of numbering), as they may be scalars.
  void reserveFor(uint32_t n) {
    if (n < 64) return;
    n = std::min<uint32_t>(n, 1u << 15);
    ids_.reserve(n);
    w_.buffer().reserve(w_.size() + size_t{16} * n);
  }

  // Adds the outermost step (the top-level index) once a value has failed.
  void pushIndex(long long i) { path_.push_back({PathSegment::kIndex, i, nullptr, 0}); }
  bool hasRefs() const { return hasRefs_; }
  bool hasStrRefs() const { return hasStrRefs_; }
  bool hasShapes() const { return hasShapes_; }
  const std::string& error() const { return error_; }

  std::string pathString(const char* root) const {
    std::string s = root;
    for (auto it = path_.rbegin(); it != path_.rend(); ++it) {  // gathered inner to outer
      const PathSegment& seg = *it;
      if (seg.kind == PathSegment::kIndex) {
        s += "[" + std::to_string(seg.index) + "]";
        continue;
      }
      std::string key = seg.kind == PathSegment::kKey ? std::string(seg.s, std::min<size_t>(seg.n, 64))
                                                      : std::string("<") + seg.s + " key>";
      if (isIdentifier(key)) {
        s += "." + key;
      } else {
        s += "[\"";
        for (char c : key) {
          if (c == '"' || c == '\\') s += '\\';
          s += c;
        }
        s += "\"]";
      }
    }
    return s;
  }

 private:
  bool fail(const std::string& msg) {
    if (error_.empty()) error_ = msg;
    return false;
  }

  bool tooLarge() {
    std::string limit;
    if (maxBytes_ % (size_t{1} << 20) == 0) {
      limit = std::to_string(maxBytes_ >> 20) + " MiB";
    } else {
      limit = std::to_string(maxBytes_) + " bytes";
    }
    return fail("value is too large to convert (more than " + limit + " encoded)");
  }

  // A string, with `id` the Lua string object's address (identity; short strings are
  // interned, so for them also identity by content).
  bool writeString(const void* id, const char* s, size_t n) {
    if (n >= kMinSharedString) {
      // A long string is written once; the same string object again is an SREF.
      auto seen = strIds_.insert(id, nextStr_);
      if (!seen.second) {
        w_.tag(kTagStrRef);
        w_.u32(seen.first);
        hasStrRefs_ = true;
        return true;
      }
      ++nextStr_;
    }
    if (n > maxBytes_ || w_.size() + n > maxBytes_) return tooLarge();
    w_.tag(kTagStr);
    w_.bytes(s, n);
    return true;
  }

  // The number in this tree of the shape made of keys_[base, base + count), defined now
  // (*defining) if it is new; -1 if it cannot be a shape (a key that is not UTF-8 would not
  // stay one key on the JS side).
  int findShape(size_t base, size_t count, bool* defining) {
    *defining = false;
    const KeyRef* k = &keys_[base];
    auto same = [&](int shape) {
      const std::vector<const void*>& ids = shapeKeys_[shape];
      if (ids.size() != count) return false;
      for (size_t i = 0; i < count; ++i) if (ids[i] != k[i].id) return false;
      return true;
    };
    int last = lastShape_[count];
    if (last >= 0 && same(last)) return last;
    std::string sig;
    sig.reserve(count * sizeof(void*));
    for (size_t i = 0; i < count; ++i) sig.append(reinterpret_cast<const char*>(&k[i].id), sizeof(void*));
    auto found = shapeIds_.find(sig);
    if (found != shapeIds_.end()) {
      if (found->second >= 0) lastShape_[count] = found->second;
      return found->second;
    }
    int shape = -1;
    bool utf8 = true;
    for (size_t i = 0; i < count && utf8; ++i) utf8 = validUtf8(k[i].s, k[i].n);
    if (utf8) {
      shape = static_cast<int>(shapeKeys_.size());
      std::vector<const void*> ids(count);
      for (size_t i = 0; i < count; ++i) ids[i] = k[i].id;
      shapeKeys_.push_back(std::move(ids));
      lastShape_[count] = shape;
      *defining = true;
    }
    shapeIds_.emplace(std::move(sig), shape);
    return shape;
  }

  // The common record: the keys of `shape` with numbers and booleans only, read in one call
  // (luapool_readrecord) instead of an API call or more per entry; written as encode() would.
  // False (nothing written) for any other table, which then takes encodeAsShape's walk.
  bool encodeScalarRecord(int idx, int shape, const std::vector<const void*>& ids) {
    const size_t n = ids.size();
    if (n > kMaxShapeKeys || w_.size() + 5 + 9 * n > maxBytes_) return false;
    unsigned char kinds[kMaxShapeKeys];
    lua_Integer ints[kMaxShapeKeys];
    lua_Number nums[kMaxShapeKeys];
    if (luapool_readrecord(L_, idx, ids.data(), static_cast<int>(n), kinds, ints, nums) == 0) return false;
    w_.tag(kTagShaped);
    w_.u32(static_cast<uint32_t>(shape));
    for (size_t i = 0; i < n; ++i) {
      switch (kinds[i]) {
        case 1:
          if (ints[i] >= INT32_MIN && ints[i] <= INT32_MAX) {
            w_.tag(kTagInt32);
            w_.i32(static_cast<int32_t>(ints[i]));
          } else {
            w_.tag(kTagInt);
            w_.i64(ints[i]);
          }
          break;
        case 2: w_.tag(kTagFloat); w_.f64(nums[i]); break;
        case 3: w_.tag(kTagFalse); break;
        default: w_.tag(kTagTrue); break;
      }
    }
    return true;
  }

  // One walk instead of two for a table that has the keys of `shape` (the shape written
  // last at its depth) and only scalar values (numbers, booleans, strings too short to be
  // shared, whose writing changes nothing but the output): its values are written as they
  // come, as a SHAPED table. Any other table is left as it was found, with the output
  // rewound, and the caller walks it as usual (false with no error). A value that fails
  // fails the table (false with the error set), as it would have the usual way.
  bool encodeAsShape(int idx, int shape, int depth) {
    const std::vector<const void*>& ids = shapeKeys_[shape];
    if (encodeScalarRecord(idx, shape, ids)) return true;
    size_t mark = w_.size();
    w_.tag(kTagShaped);
    w_.u32(static_cast<uint32_t>(shape));
    unsigned int pos = 0;
    size_t i = 0;
    while (luapool_nextat(L_, idx, &pos) != 0) {
      bool scalar;
      switch (lua_type(L_, -1)) {
        case LUA_TNUMBER: case LUA_TBOOLEAN: scalar = true; break;
        case LUA_TSTRING: scalar = lua_rawlen(L_, -1) < kMinSharedString; break;
        default: scalar = false;
      }
      if (i >= ids.size() || lua_topointer(L_, -2) != ids[i] || !scalar) {
        lua_pop(L_, 2);
        w_.buffer().resize(mark);
        return false;
      }
      if (!encode(-1, depth + 1)) {
        pushKeySegment(-2);
        lua_pop(L_, 2);
        return false;
      }
      lua_pop(L_, 2);
      ++i;
    }
    if (i == ids.size()) return true;
    w_.buffer().resize(mark);
    return false;
  }

  void pushKeySegment(int keyIdx) {
    int t = lua_type(L_, keyIdx);
    if (t == LUA_TNUMBER && lua_isinteger(L_, keyIdx)) {
      path_.push_back({PathSegment::kIndex, static_cast<long long>(lua_tointeger(L_, keyIdx)), nullptr, 0});
    } else if (t == LUA_TSTRING) {
      size_t n;
      const char* s = lua_tolstring(L_, keyIdx, &n);
      path_.push_back({PathSegment::kKey, 0, s, n});
    } else {
      path_.push_back({PathSegment::kTypeKey, 0, lua_typename(L_, t), 0});
    }
  }

  bool encodeTable(int idx, int depth) {
    idx = lua_absindex(L_, idx);
    const void* ptr = lua_topointer(L_, idx);
    auto seen = ids_.insert(ptr, nextId_);  // numbered now; a failure below ends the encode
    if (!seen.second) {
      w_.tag(kTagRef);
      w_.u32(seen.first);
      hasRefs_ = true;
      return true;
    }
    ++nextId_;
    if (depth >= static_cast<int>(maxDepth_)) {
      return fail("tables nested more than " + std::to_string(maxDepth_) + " deep");
    }
    if (!lua_checkstack(L_, 4)) return fail("Lua stack exhausted while converting");
    int guess = depth < kGuessDepths ? lastAtDepth_[depth] : -1;
    if (guess >= 0 && encodeAsShape(idx, guess, depth)) return true;
    if (!error_.empty()) return false;

    // Pass 1: count entries and check whether the keys are exactly 1..n, or all short
    // strings (a shape: their references stay in keys_ from `base` until it is written).
    lua_Integer count = 0;
    lua_Integer maxKey = 0;
    bool sequence = true;
    const size_t base = keys_.size();
    bool shapeable = true;
    // (luapool_nextat walks by position: lua_next would look every key up again)
    unsigned int pos = 0;
    while (luapool_nextat(L_, idx, &pos) != 0) {
      ++count;
      if (shapeable) {
        size_t n;
        if (lua_type(L_, -2) == LUA_TSTRING && count <= static_cast<lua_Integer>(kMaxShapeKeys)) {
          const char* s = lua_tolstring(L_, -2, &n);  // a string key: no conversion
          if (n <= kMaxShortString) keys_.push_back({lua_topointer(L_, -2), s, n});
          else shapeable = false;
        } else {
          shapeable = false;
        }
      }
      if (sequence) {
        if (!lua_isinteger(L_, -2)) {
          sequence = false;
        } else {
          lua_Integer k = lua_tointeger(L_, -2);
          // keys are distinct, so all >= 1 with the largest equal to the count: exactly 1..n
          if (k < 1) sequence = false;
          if (k > maxKey) maxKey = k;
        }
      }
      lua_pop(L_, 2);
    }
    int shape = -1;
    bool defining = false;
    if (shapeable && count > 0) shape = findShape(base, static_cast<size_t>(count), &defining);
    if (shape >= 0 && defining) {
      w_.tag(kTagShape);
      w_.u32(static_cast<uint32_t>(count));
      for (size_t i = base; i < keys_.size(); ++i) {
        if (!writeString(keys_[i].id, keys_[i].s, keys_[i].n)) return false;
      }
      hasShapes_ = true;
    } else if (shape >= 0) {
      w_.tag(kTagShaped);
      w_.u32(static_cast<uint32_t>(shape));
    }
    keys_.resize(base);
    if (shape >= 0 && depth < kGuessDepths) lastAtDepth_[depth] = shape;
    if (shape >= 0) {
      // the values alone, in the traversal order the shape's keys were taken in
      pos = 0;
      while (luapool_nextat(L_, idx, &pos) != 0) {
        if (!encode(-1, depth + 1)) {
          pushKeySegment(-2);
          lua_pop(L_, 2);
          return false;
        }
        lua_pop(L_, 2);
      }
      return true;
    }
    if (count > 0xFFFFFFFFll) return fail("table has too many entries");
    if (sequence && count > 0 && maxKey == count) {
      w_.tag(kTagSeq);
      w_.u32(static_cast<uint32_t>(count));
      for (lua_Integer i = 1; i <= count; ++i) {
        lua_rawgeti(L_, idx, i);
        bool ok = encode(-1, depth + 1);
        lua_pop(L_, 1);
        if (!ok) {
          path_.push_back({PathSegment::kIndex, static_cast<long long>(i), nullptr, 0});
          return false;
        }
      }
      return true;
    }
    w_.tag(kTagTable);
    w_.u32(static_cast<uint32_t>(count));
    pos = 0;
    while (luapool_nextat(L_, idx, &pos) != 0) {
      if (!encode(-2, depth + 1) || !encode(-1, depth + 1)) {
        pushKeySegment(-2);
        lua_pop(L_, 2);
        return false;
      }
      lua_pop(L_, 2);
    }
    return true;
  }

  lua_State* L_;
  ValueWriter w_;
  size_t maxBytes_;
  uint32_t maxDepth_;
  PointerIds ids_;
  PointerIds strIds_;
  uint32_t nextId_ = 0;
  uint32_t nextStr_ = 0;
  bool hasRefs_ = false;
  bool hasStrRefs_ = false;
  std::vector<PathSegment> path_;  // filled only as a failure unwinds: innermost step first
  std::string error_;
  // Shapes: the keys of the tables being walked (pass 1), each shape's key identities
  // (index: its number in the tree), every key list seen (-1: not a shape) and, per key
  // count, the shape found last (records of one kind hit it every time).
  struct KeyRef {
    const void* id;
    const char* s;
    size_t n;
  };
  std::vector<KeyRef> keys_;
  std::vector<std::vector<const void*>> shapeKeys_;
  std::unordered_map<std::string, int> shapeIds_;
  int lastShape_[kMaxShapeKeys + 1];
  static constexpr int kGuessDepths = 8;
  int lastAtDepth_[kGuessDepths];  // the shape written last at each depth (see encodeAsShape)
  bool hasShapes_ = false;
};

}  // namespace

// Encodes `count` values; `item(i)` pushes value i (0-based) on the stack.
template <class PushItem>
static bool encodeList(lua_State* L, uint32_t count, const char* root, std::string& out,
                       std::string& error, const MarshalLimits& limits, std::string* errorPath,
                       PushItem item) {
  out.clear();
  ValueWriter header(out);
  header.header(0, count);
  if (!lua_checkstack(L, 3)) {
    error = "Lua stack exhausted while converting";
    return false;
  }
  size_t maxBytes = limits.maxBytes != 0 ? std::min(limits.maxBytes, kMaxEncodeBudget) : encodeBudget(L);
  Encoder enc(L, out, maxBytes, limits.maxDepth);
  enc.reserveFor(std::min<uint32_t>(count, static_cast<uint32_t>(std::min<size_t>(maxBytes / 16, 1u << 24))));
  for (uint32_t i = 0; i < count; ++i) {
    item(i);
    bool ok = enc.encode(-1, 0);
    if (!ok) {
      // the path points into keys of the value: described before the value is popped
      enc.pushIndex(i);
      if (errorPath) *errorPath = enc.pathString(root);
      error = enc.pathString(root) + ": " + enc.error();
      lua_pop(L, 1);
      out.clear();
      return false;
    }
    lua_pop(L, 1);
  }
  out[0] = static_cast<char>((enc.hasRefs() ? kFlagHasRefs : 0) | (enc.hasStrRefs() ? kFlagHasStrRefs : 0) |
                             (enc.hasShapes() ? kFlagHasShapes : 0));
  return true;
}

bool encodeValues(lua_State* L, int first, int count, const char* root, std::string& out,
                  std::string& error, const MarshalLimits& limits, std::string* errorPath) {
  first = lua_absindex(L, first);
  return encodeList(L, static_cast<uint32_t>(count), root, out, error, limits, errorPath,
                    [&](uint32_t i) { lua_pushvalue(L, first + static_cast<int>(i)); });
}

int raiseConversionError(lua_State* L, const char* prefix, const std::string& message) {
  luaL_where(L, 1);                                      // where
  lua_pushstring(L, prefix);                             // where prefix
  lua_pushliteral(L, ": ");                              // where prefix ": "
  lua_pushlstring(L, message.data(), message.size());    // where prefix ": " message
  lua_concat(L, 4);                                      // text
  return lua_error(L);
}

bool encodeSequence(lua_State* L, int index, lua_Integer n, const char* root, std::string& out,
                    std::string& error, const MarshalLimits& limits, std::string* errorPath) {
  index = lua_absindex(L, index);
  if (n < 0 || n > 0xFFFFFFFFll) n = 0;
  return encodeList(L, static_cast<uint32_t>(n), root, out, error, limits, errorPath,
                    [&](uint32_t i) { lua_rawgeti(L, index, static_cast<lua_Integer>(i) + 1); });
}

}  // namespace luapool
