// Row views for callColumns (see columns.hpp). Reads and writes go straight to the typed
// arrays' memory from the worker thread: the main thread does nothing per row. Parts of
// one call run on several threads at once, each on its own rows, so they never touch the
// same bytes (lib/script-runner.ts refuses written columns that overlap other columns).
#include "columns.hpp"

#include "lua-state.hpp"
#include "value-lua.hpp"

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace luapool {

namespace {

constexpr uint32_t kGroup = 32;         // wide sets: columns fetched or stored by one get/put call
constexpr size_t kLocalColumns = 60;    // up to this many columns, a row's elements live in locals

struct RowView {
  const Column* cols;  // job.columns (the job outlives the view's live period)
  uint32_t ncols;
  bool live;           // false once the job has ended
  int64_t row;         // the current row
  int64_t first;
  int64_t end;         // one past the last row
  // the columns as luapool_pushrow / luapool_readnumbers take them, and their scratch
  // space (the job's thread only); they follow the struct in the same userdata
  void** data;
  unsigned char* types;
  lua_Integer* ints;
  lua_Number* nums;
  unsigned char* kinds;
};

// sizeof(RowView) plus its arrays for n columns
size_t rowViewSize(size_t n) {
  return sizeof(RowView) + n * (sizeof(void*) + sizeof(lua_Integer) + sizeof(lua_Number) + 2);
}

void initRowView(RowView* v, const Job& job) {
  const size_t n = job.columns.size();
  char* at = reinterpret_cast<char*>(v + 1);
  v->data = reinterpret_cast<void**>(at);
  at += n * sizeof(void*);
  v->ints = reinterpret_cast<lua_Integer*>(at);
  at += n * sizeof(lua_Integer);
  v->nums = reinterpret_cast<lua_Number*>(at);
  at += n * sizeof(lua_Number);
  v->types = reinterpret_cast<unsigned char*>(at);
  v->kinds = v->types + n;
  for (size_t i = 0; i < n; ++i) {
    v->data[i] = job.columns[i].data;
    v->types[i] = static_cast<unsigned char>(job.columns[i].type);
  }
  v->cols = job.columns.data();
  v->ncols = static_cast<uint32_t>(n);
  v->live = true;
  v->first = job.firstRow;
  v->row = job.firstRow;
  v->end = job.firstRow + job.rowCount;
}

const char kHelpersKey = 0;  // registry: { [signature] = compiled loop, [0] = how many }

RowView& viewOf(lua_State* L) { return *static_cast<RowView*>(lua_touserdata(L, lua_upvalueindex(1))); }

void checkRow(lua_State* L, const RowView& v, lua_Integer row) {
  if (!v.live) {
    luaL_error(L, "row view: its callColumns call has ended (a row view is valid only during its call)");
  }
  if (row < v.first || row >= v.end) luaL_error(L, "row view: row %I is outside the call", row);
}

void pushElement(lua_State* L, const Column& c, size_t row) {
  switch (c.type) {
    case ElementType::Int8: lua_pushinteger(L, static_cast<const int8_t*>(c.data)[row]); return;
    case ElementType::Uint8: lua_pushinteger(L, static_cast<const uint8_t*>(c.data)[row]); return;
    case ElementType::Int16: lua_pushinteger(L, static_cast<const int16_t*>(c.data)[row]); return;
    case ElementType::Uint16: lua_pushinteger(L, static_cast<const uint16_t*>(c.data)[row]); return;
    case ElementType::Int32: lua_pushinteger(L, static_cast<const int32_t*>(c.data)[row]); return;
    case ElementType::Uint32: lua_pushinteger(L, static_cast<const uint32_t*>(c.data)[row]); return;
    case ElementType::Float32: lua_pushnumber(L, static_cast<const float*>(c.data)[row]); return;
    case ElementType::Float64: lua_pushnumber(L, static_cast<const double*>(c.data)[row]); return;
  }
}

// Whether the value at `idx` is still the element (a read-only column left alone).
bool sameElement(lua_State* L, const Column& c, size_t row, int idx) {
  if (lua_type(L, idx) != LUA_TNUMBER) return false;
  if (c.type == ElementType::Float32 || c.type == ElementType::Float64) {
    double a = c.type == ElementType::Float32 ? static_cast<const float*>(c.data)[row]
                                              : static_cast<const double*>(c.data)[row];
    double b = lua_tonumber(L, idx);
    return a == b || (std::isnan(a) && std::isnan(b));
  }
  pushElement(L, c, row);
  bool same = lua_rawequal(L, -1, idx);
  lua_pop(L, 1);
  return same;
}

// Stores the value at `idx` into column c at row r, or raises naming the column.
void storeValue(lua_State* L, const Column& c, size_t r, int idx, lua_Integer row) {
  if (lua_isinteger(L, idx)) {
    storeInteger(c.data, r, c.type, lua_tointeger(L, idx));
  } else if (lua_type(L, idx) == LUA_TNUMBER) {
    storeNumber(c.data, r, c.type, lua_tonumber(L, idx));
  } else {
    // no position: the loop that calls us is not where the script went wrong
    lua_pushfstring(L, "row view: column '%s' takes a number, got %s (row %I)", c.name.c_str(), luaL_typename(L, idx), row);
    lua_error(L);
  }
}

[[noreturn]] void readonlyError(lua_State* L, const Column& c, lua_Integer row) {
  lua_pushfstring(L, "row view: column '%s' is read-only (row %I)", c.name.c_str(), row);
  lua_error(L);
  std::abort();  // not reached: lua_error does not return
}

// --- up to kLocalColumns columns: one C call per row ------------------------------------

bool isFloatColumn(const Column& c) { return c.type == ElementType::Float32 || c.type == ElementType::Float64; }

lua_Integer intElement(const Column& c, size_t row) {
  switch (c.type) {
    case ElementType::Int8: return static_cast<const int8_t*>(c.data)[row];
    case ElementType::Uint8: return static_cast<const uint8_t*>(c.data)[row];
    case ElementType::Int16: return static_cast<const int16_t*>(c.data)[row];
    case ElementType::Uint16: return static_cast<const uint16_t*>(c.data)[row];
    case ElementType::Int32: return static_cast<const int32_t*>(c.data)[row];
    default: return static_cast<const uint32_t*>(c.data)[row];
  }
}

// Whether read value i (kinds/ints/nums of the view) still equals column c's element, as
// Lua's == says (5 == 5.0; NaN equals the NaN it was).
bool unchanged(const RowView& v, uint32_t i, size_t row) {
  const Column& c = v.cols[i];
  if (v.kinds[i] == 0) return false;
  if (isFloatColumn(c)) {
    double d = c.type == ElementType::Float32 ? static_cast<const float*>(c.data)[row]
                                              : static_cast<const double*>(c.data)[row];
    if (v.kinds[i] == 2) return v.nums[i] == d || (std::isnan(v.nums[i]) && std::isnan(d));
    // an integer against a float: equal only if the float is exactly that integer
    return d >= -0x1p63 && d < 0x1p63 && std::trunc(d) == d && static_cast<lua_Integer>(d) == v.ints[i];
  }
  lua_Integer e = intElement(c, row);  // 32 bits at most: exact as a double
  return v.kinds[i] == 1 ? v.ints[i] == e : v.nums[i] == static_cast<lua_Number>(e);
}

// get(first) -> every element of row `first`
int rowFirst(lua_State* L) {
  RowView& v = viewOf(L);
  lua_Integer row = lua_tointeger(L, 1);
  checkRow(L, v, row);
  v.row = row;
  luaL_checkstack(L, static_cast<int>(v.ncols), "row view");
  luapool_pushrow(L, static_cast<int>(v.ncols), v.data, v.types, static_cast<size_t>(row));
  return static_cast<int>(v.ncols);
}

// put(row, e.c1, ..., e.cN) -> every element of row + 1 (nothing after the last row).
// Stores the columns Lua may write and checks that the read-only ones are unchanged, in
// column order; the first bad value raises naming its column.
int rowNext(lua_State* L) {
  RowView& v = viewOf(L);
  lua_Integer row = lua_tointeger(L, 1);
  checkRow(L, v, row);
  const size_t r = static_cast<size_t>(row);
  luapool_readnumbers(L, 2, static_cast<int>(v.ncols), v.ints, v.nums, v.kinds);
  for (uint32_t i = 0; i < v.ncols; ++i) {
    const Column& c = v.cols[i];
    if (c.readonly) {
      if (!unchanged(v, i, r)) readonlyError(L, c, row);
    } else if (v.kinds[i] == 1) {
      storeInteger(c.data, r, c.type, v.ints[i]);
    } else if (v.kinds[i] == 2) {
      storeNumber(c.data, r, c.type, v.nums[i]);
    } else {
      storeValue(L, c, r, 2 + static_cast<int>(i), row);  // raises: not a number
    }
  }
  if (row + 1 >= v.end) return 0;
  v.row = row + 1;
  luaL_checkstack(L, static_cast<int>(v.ncols), "row view");
  luapool_pushrow(L, static_cast<int>(v.ncols), v.data, v.types, r + 1);
  return static_cast<int>(v.ncols);
}

// --- wider sets: groups of kGroup columns ------------------------------------------------

// get(row, from) -> the row's elements of columns from .. from + kGroup - 1
int rowGet(lua_State* L) {
  RowView& v = viewOf(L);
  lua_Integer row = lua_tointeger(L, 1);
  checkRow(L, v, row);
  v.row = row;
  uint32_t from = static_cast<uint32_t>(lua_tointeger(L, 2)) - 1;
  uint32_t to = std::min(from + kGroup, v.ncols);
  luaL_checkstack(L, static_cast<int>(kGroup), "row view");
  for (uint32_t i = from; i < to; ++i) pushElement(L, v.cols[i], static_cast<size_t>(row));
  return static_cast<int>(to - from);
}

// put(row, from, values...): stores the row's elements of columns from .., checking that
// read-only ones are unchanged
int rowPut(lua_State* L) {
  RowView& v = viewOf(L);
  lua_Integer row = lua_tointeger(L, 1);
  checkRow(L, v, row);
  uint32_t from = static_cast<uint32_t>(lua_tointeger(L, 2)) - 1;
  uint32_t to = std::min(from + kGroup, v.ncols);
  size_t r = static_cast<size_t>(row);
  for (uint32_t i = from; i < to; ++i) {
    const Column& c = v.cols[i];
    int idx = 3 + static_cast<int>(i - from);
    if (!c.readonly) {
      storeValue(L, c, r, idx, row);
    } else if (!sameElement(L, c, r, idx)) {
      readonlyError(L, c, row);
    }
  }
  return 0;
}

// e.k where k is not in the table: a column set to nil in this row reads nil (as on any
// table); anything else is not a column. Upvalues: the view, name -> index.
int viewIndex(lua_State* L) {
  RowView& v = viewOf(L);
  if (!v.live) checkRow(L, v, v.row);
  lua_settop(L, 2);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL) {
    lua_pushnil(L);
    return 1;
  }
  if (lua_type(L, 2) == LUA_TSTRING) {
    return luaL_error(L, "row view: no column named '%s' (row %I)", lua_tostring(L, 2),
                      static_cast<lua_Integer>(v.row));
  }
  return luaL_error(L, "row view: no column named by a %s key (row %I)", luaL_typename(L, 2),
                    static_cast<lua_Integer>(v.row));
}

// e.k = value where k is not in the table: only a column (set to nil earlier) may come back.
int viewNewindex(lua_State* L) {
  RowView& v = viewOf(L);
  if (!v.live) checkRow(L, v, v.row);
  lua_settop(L, 3);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL) {
    lua_pop(L, 1);
    lua_rawset(L, 1);
    return 0;
  }
  if (lua_type(L, 2) == LUA_TSTRING) {
    return luaL_error(L, "row view: no column named '%s' (row %I)", lua_tostring(L, 2),
                      static_cast<lua_Integer>(v.row));
  }
  return luaL_error(L, "row view: no column named by a %s key (row %I)", luaL_typename(L, 2),
                    static_cast<lua_Integer>(v.row));
}

// ---------------------------------------------------------------------------------------
// The loop's source, written into a luaL_Buffer (no C++ object with a destructor lives in
// these frames: a memory error raised here must be free to unwind or longjmp through them).

// Appends a Lua string literal for any bytes: e["name"].
void addField(luaL_Buffer* b, const Column& c) {
  luaL_addstring(b, "e[\"");
  for (unsigned char ch : c.name) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_') {
      luaL_addchar(b, static_cast<char>(ch));
    } else {
      char esc[5];
      std::snprintf(esc, sizeof esc, "\\%03u", ch);
      luaL_addstring(b, esc);
    }
  }
  luaL_addstring(b, "\"]");
}

void addInt(luaL_Buffer* b, const char* before, long long v, const char* after) {
  char num[64];
  std::snprintf(num, sizeof num, "%s%lld%s", before, v, after);
  luaL_addstring(b, num);
}

// "v1, v2, ..., vN"
void addLocals(luaL_Buffer* b, size_t n) {
  for (size_t i = 0; i < n; ++i) addInt(b, i ? ", v" : "v", static_cast<long long>(i + 1), "");
}

// The call of the behaviour: fn(e, a1, ...) with up to 4 arguments in locals.
void addCall(luaL_Buffer* b, int nargs) {
  luaL_addstring(b, "  fn(e");
  if (nargs <= 4) {
    for (int i = 1; i <= nargs; ++i) addInt(b, ", a", i, "");
    luaL_addstring(b, ")\n");
  } else {
    luaL_addstring(b, ", unpack(args, 1, nargs))\n");
  }
}

// Pushes the loop's source (see columns.hpp). Up to kLocalColumns columns, the row's
// elements live in locals:
//     local v1, ..., vN = get(first)
//     for row = first, last do
//       e.c1, ..., e.cN = v1, ..., vN
//       fn(e, a1)
//       v1, ..., vN = put(row, e.c1, ..., e.cN)   -- stores the written columns, checks the
//     end                                         -- read-only ones, returns the next row
// one C call per row, the elements moved by luapool_pushrow / luapool_readnumbers (our Lua
// extension: no API call per element). Wider sets fetch and store groups of kGroup
// columns (get/put).
void pushLoopSource(lua_State* L, const Job& job, int nargs) {
  const auto& cols = job.columns;
  const size_t n = cols.size();
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "local fn, e, get, put, first, last, unpack, args, nargs = ...\n");
  for (int i = 1; i <= nargs && nargs <= 4; ++i) addInt(&b, i == 1 ? "local a" : ", a", i, "");
  for (int i = 1; i <= nargs && nargs <= 4; ++i) addInt(&b, i == 1 ? " = args[" : ", args[", i, "]");
  if (nargs > 0 && nargs <= 4) luaL_addstring(&b, "\n");
  if (n <= kLocalColumns) {
    luaL_addstring(&b, "local ");
    addLocals(&b, n);
    luaL_addstring(&b, " = get(first)\nfor row = first, last do\n  ");
    for (size_t i = 0; i < n; ++i) {
      if (i) luaL_addstring(&b, ", ");
      addField(&b, cols[i]);
    }
    luaL_addstring(&b, " = ");
    addLocals(&b, n);
    luaL_addstring(&b, "\n");
    addCall(&b, nargs);
    luaL_addstring(&b, "  ");
    addLocals(&b, n);
    luaL_addstring(&b, " = put(row");
    for (size_t i = 0; i < n; ++i) {
      luaL_addstring(&b, ", ");
      addField(&b, cols[i]);
    }
    luaL_addstring(&b, ")\nend\n");
  } else {
    luaL_addstring(&b, "for row = first, last do\n");
    for (size_t g = 0; g < n; g += kGroup) {
      luaL_addstring(&b, "  ");
      for (size_t i = g; i < std::min(n, g + kGroup); ++i) {
        if (i > g) luaL_addstring(&b, ", ");
        addField(&b, cols[i]);
      }
      addInt(&b, " = get(row, ", static_cast<long long>(g + 1), ")\n");
    }
    addCall(&b, nargs);
    for (size_t g = 0; g < n; g += kGroup) {
      addInt(&b, "  put(row, ", static_cast<long long>(g + 1), "");
      for (size_t i = g; i < std::min(n, g + kGroup); ++i) {
        luaL_addstring(&b, ", ");
        addField(&b, cols[i]);
      }
      luaL_addstring(&b, ")\n");
    }
    luaL_addstring(&b, "end\n");
  }
  luaL_pushresult(&b);
}

// Pushes the loop's cache key: how the arguments are passed, then per column its name and
// whether it is read-only.
void pushSignature(lua_State* L, const Job& job, int nargs) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, static_cast<char>('0' + (nargs <= 4 ? nargs : 5)));
  for (const Column& c : job.columns) {
    luaL_addchar(&b, c.readonly ? 'r' : 'w');
    luaL_addlstring(&b, c.name.data(), c.name.size());
    luaL_addchar(&b, '\0');
  }
  luaL_pushresult(&b);
}

// Pushes the compiled loop for the job, from the state's cache (bounded: dropped whole
// once it holds 64 column sets).
void pushLoop(lua_State* L, const Job& job, int nargs) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kHelpersKey) != LUA_TTABLE) {  // cache
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kHelpersKey);
  }
  pushSignature(L, job, nargs);  // cache sig
  lua_pushvalue(L, -1);
  if (lua_rawget(L, -3) == LUA_TFUNCTION) {  // cache sig loop
    lua_replace(L, -3);
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);  // cache sig
  lua_rawgeti(L, -2, 0);
  lua_Integer count = lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (count >= 64) {
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kHelpersKey);
    lua_replace(L, -3);  // a fresh cache sig
    count = 0;
  }
  pushLoopSource(L, job, nargs);  // cache sig src
  size_t len;
  const char* src = lua_tolstring(L, -1, &len);
  if (luaL_loadbufferx(L, src, len, "=(columns)", "t") != LUA_OK) lua_error(L);
  lua_remove(L, -2);  // cache sig loop
  lua_pushvalue(L, -1);
  lua_insert(L, -4);  // loop cache sig loop
  lua_rawset(L, -3);  // loop cache
  lua_pushinteger(L, count + 1);
  lua_rawseti(L, -2, 0);
  lua_pop(L, 1);  // loop
}

// The low 32 bits of trunc(d), as ECMAScript's ToUint32 computes them (NaN, ±Inf -> 0).
uint32_t wrap32(double d) {
  if (!std::isfinite(d)) return 0;
  double m = std::fmod(std::trunc(d), 4294967296.0);  // exact
  if (m < 0) m += 4294967296.0;
  return static_cast<uint32_t>(m);
}

float toFloat32(double d) {
  if (std::isnan(d)) return std::numeric_limits<float>::quiet_NaN();
  double a = std::fabs(d);
  if (a <= FLT_MAX) return static_cast<float>(d);  // rounds to nearest
  // past FLT_MAX: below the midpoint to 2^128 it rounds down to FLT_MAX, from it on to infinity
  float r = a < 0x1.ffffffp127 ? FLT_MAX : std::numeric_limits<float>::infinity();
  return d < 0 ? -r : r;
}

template <class T>
void put(void* data, size_t index, T v) {
  static_cast<T*>(data)[index] = v;
}

void storeBits(void* data, size_t index, ElementType type, uint32_t bits) {
  switch (type) {
    case ElementType::Int8: put(data, index, static_cast<int8_t>(static_cast<uint8_t>(bits))); return;
    case ElementType::Uint8: put(data, index, static_cast<uint8_t>(bits)); return;
    case ElementType::Int16: put(data, index, static_cast<int16_t>(static_cast<uint16_t>(bits))); return;
    case ElementType::Uint16: put(data, index, static_cast<uint16_t>(bits)); return;
    case ElementType::Int32: put(data, index, static_cast<int32_t>(bits)); return;
    case ElementType::Uint32: put(data, index, bits); return;
    default: return;
  }
}

}  // namespace

void storeInteger(void* data, size_t index, ElementType type, lua_Integer v) {
  switch (type) {
    case ElementType::Float64: put(data, index, static_cast<double>(v)); return;
    case ElementType::Float32: put(data, index, toFloat32(static_cast<double>(v))); return;
    default: storeBits(data, index, type, static_cast<uint32_t>(static_cast<lua_Unsigned>(v)));
  }
}

void storeNumber(void* data, size_t index, ElementType type, lua_Number v) {
  switch (type) {
    case ElementType::Float64: put(data, index, static_cast<double>(v)); return;
    case ElementType::Float32: put(data, index, toFloat32(v)); return;
    default: storeBits(data, index, type, wrap32(v));
  }
}

int pushColumnsCall(lua_State* L, Job& job) {
  luaL_checkstack(L, 24, "row view");
  int fn = lua_gettop(L);
  int nargs = pushDecoded(L, job.args);  // the extra arguments, packed in a table
  lua_createtable(L, nargs, 0);
  for (int i = 1; i <= nargs; ++i) {
    lua_pushvalue(L, fn + i);
    lua_rawseti(L, -2, i);
  }
  if (nargs > 0) {
    lua_replace(L, fn + 1);
    lua_settop(L, fn + 1);
  }
  int args = fn + 1;

  pushLoop(L, job, nargs);
  lua_insert(L, fn);  // loop fn args
  ++fn;
  ++args;

  auto* v = static_cast<RowView*>(lua_newuserdatauv(L, rowViewSize(job.columns.size()), 1));
  initRowView(v, job);
  int view = lua_gettop(L);
  lua_createtable(L, 0, static_cast<int>(job.columns.size()));  // name -> index
  int names = lua_gettop(L);
  lua_createtable(L, 0, static_cast<int>(job.columns.size()));  // e: every column present
  int e = lua_gettop(L);
  for (size_t i = 0; i < job.columns.size(); ++i) {
    lua_pushlstring(L, job.columns[i].name.data(), job.columns[i].name.size());
    lua_pushvalue(L, -1);
    lua_pushinteger(L, static_cast<lua_Integer>(i));
    lua_rawset(L, names);
    lua_pushinteger(L, 0);
    lua_rawset(L, e);
  }
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, view);
  lua_pushvalue(L, names);
  lua_pushcclosure(L, viewIndex, 2);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, view);
  lua_pushvalue(L, names);
  lua_pushcclosure(L, viewNewindex, 2);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, e);
  lua_pushvalue(L, e);
  lua_setiuservalue(L, view, 1);
  lua_pushvalue(L, view);
  job.viewRef = luaL_ref(L, LUA_REGISTRYINDEX);

  // loop fn args view names e -> loop fn e get put first last unpack args nargs
  const bool wide = job.columns.size() > kLocalColumns;
  lua_pushvalue(L, view);
  lua_pushcclosure(L, wide ? rowGet : rowFirst, 1);
  lua_pushvalue(L, view);
  lua_pushcclosure(L, wide ? rowPut : rowNext, 1);
  lua_pushinteger(L, job.firstRow);
  lua_pushinteger(L, job.firstRow + job.rowCount - 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
  lua_getfield(L, -1, "unpack");
  lua_remove(L, -2);
  lua_pushvalue(L, args);
  lua_pushinteger(L, nargs);
  // drop the originals of args, view and names (e stays, moved into place)
  lua_remove(L, names);
  lua_remove(L, view);
  lua_remove(L, args);  // now: loop fn e get put first last unpack args nargs
  return lua_gettop(L) - (fn - 1);  // the loop's arguments
}

int64_t rowViewRow(lua_State* L, const Job& job) {
  if (job.viewRef == LUA_NOREF || job.viewRef == LUA_REFNIL) return -1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, job.viewRef);
  int64_t row = -1;
  if (lua_type(L, -1) == LUA_TUSERDATA) {
    const RowView& v = *static_cast<const RowView*>(lua_touserdata(L, -1));
    if (v.row >= v.first && v.row < v.end) row = v.row;
  }
  lua_pop(L, 1);
  return row;
}

void endRowView(lua_State* L, Job& job) {
  if (job.viewRef == LUA_NOREF || job.viewRef == LUA_REFNIL) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, job.viewRef);
  if (lua_type(L, -1) == LUA_TUSERDATA) {
    static_cast<RowView*>(lua_touserdata(L, -1))->live = false;
    // empty the view, so that a script that kept it reads an error, not a stale row
    if (lua_getiuservalue(L, -1, 1) == LUA_TTABLE) {
      for (const Column& c : job.columns) {
        lua_pushlstring(L, c.name.data(), c.name.size());
        lua_pushnil(L);
        lua_rawset(L, -3);
      }
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, job.viewRef);
  job.viewRef = LUA_NOREF;
}

}  // namespace luapool
