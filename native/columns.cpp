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

struct RowView {
  const Column* cols;  // job.columns (the job outlives the view's live period)
  uint32_t ncols;
  bool live;           // false once the job has ended
  int64_t row;         // the current row
  int64_t first;
  int64_t end;         // one past the last row
  // the columns as luapool_setrow / luapool_getrow take them, and their scratch space (the
  // job's thread only); they follow the struct in the same userdata
  void** data;
  void** names;        // the column names' string objects (kept alive by the names table)
  unsigned int* slots; // where each field lives in the view table (luapool_setrow's cache)
  lua_Integer* ints;
  lua_Number* nums;
  unsigned char* types;
  unsigned char* kinds;
};

// sizeof(RowView) plus its arrays for n columns
size_t rowViewSize(size_t n) {
  return sizeof(RowView) +
         n * (2 * sizeof(void*) + sizeof(lua_Integer) + sizeof(lua_Number) + sizeof(unsigned int) + 2);
}

void initRowView(RowView* v, const Job& job) {
  const size_t n = job.columns.size();
  char* at = reinterpret_cast<char*>(v + 1);
  v->data = reinterpret_cast<void**>(at);
  at += n * sizeof(void*);
  v->names = reinterpret_cast<void**>(at);
  at += n * sizeof(void*);
  v->ints = reinterpret_cast<lua_Integer*>(at);
  at += n * sizeof(lua_Integer);
  v->nums = reinterpret_cast<lua_Number*>(at);
  at += n * sizeof(lua_Number);
  v->slots = reinterpret_cast<unsigned int*>(at);
  at += n * sizeof(unsigned int);
  v->types = reinterpret_cast<unsigned char*>(at);
  v->kinds = v->types + n;
  for (size_t i = 0; i < n; ++i) {
    v->data[i] = job.columns[i].data;
    v->names[i] = nullptr;
    v->slots[i] = 0;
    v->types[i] = static_cast<unsigned char>(job.columns[i].type);
  }
  v->cols = job.columns.data();
  v->ncols = static_cast<uint32_t>(n);
  v->live = true;
  v->first = job.firstRow;
  v->row = job.firstRow;
  v->end = job.firstRow + job.rowCount;
}

const char kLoopsKey = 0;  // registry: { [how the arguments are passed] = compiled loop }

// The C functions of the loop have upvalues (the view, e).
RowView& viewOf(lua_State* L) { return *static_cast<RowView*>(lua_touserdata(L, lua_upvalueindex(1))); }
constexpr int kViewTable = lua_upvalueindex(2);

void checkRow(lua_State* L, const RowView& v, lua_Integer row) {
  if (!v.live) {
    luaL_error(L, "row view: its callColumns call has ended (a row view is valid only during its call)");
  }
  if (row < v.first || row >= v.end) luaL_error(L, "row view: row %I is outside the call", row);
}

// Raises: column c holds a value at `idx` that is not a number. No position: the loop that
// calls us is not where the script went wrong.
[[noreturn]] void notANumberError(lua_State* L, const Column& c, int idx, lua_Integer row) {
  lua_pushfstring(L, "row view: column '%s' takes a number, got %s (row %I)", c.name.c_str(), luaL_typename(L, idx), row);
  lua_error(L);
  std::abort();  // not reached: lua_error does not return
}

[[noreturn]] void readonlyError(lua_State* L, const Column& c, lua_Integer row) {
  lua_pushfstring(L, "row view: column '%s' is read-only (row %I)", c.name.c_str(), row);
  lua_error(L);
  std::abort();  // not reached: lua_error does not return
}

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

// Fills e's fields with row `row`'s elements (one C call, no lookup per field).
void fillRow(lua_State* L, RowView& v, lua_Integer row) {
  v.row = row;
  luapool_setrow(L, kViewTable, static_cast<int>(v.ncols), v.names, v.slots, v.data, v.types,
                 static_cast<size_t>(row));
}

// get(first): fills e with row `first`.
int rowFirst(lua_State* L) {
  RowView& v = viewOf(L);
  lua_Integer row = lua_tointeger(L, 1);
  checkRow(L, v, row);
  fillRow(L, v, row);
  return 0;
}

// put(row): stores e's fields into the columns Lua may write and checks that the read-only
// ones are unchanged, in column order (the first bad value raises naming its column), then
// fills e with row + 1 (unless row is the last).
int rowNext(lua_State* L) {
  RowView& v = viewOf(L);
  lua_Integer row = lua_tointeger(L, 1);
  checkRow(L, v, row);
  const size_t r = static_cast<size_t>(row);
  luapool_getrow(L, kViewTable, static_cast<int>(v.ncols), v.names, v.slots, v.ints, v.nums, v.kinds);
  for (uint32_t i = 0; i < v.ncols; ++i) {
    const Column& c = v.cols[i];
    if (c.readonly) {
      if (!unchanged(v, i, r)) readonlyError(L, c, row);
    } else if (v.kinds[i] == 2 && c.type == ElementType::Float64) {
      static_cast<double*>(c.data)[r] = v.nums[i];  // the common case, inline
    } else if (v.kinds[i] == 1) {
      storeInteger(c.data, r, c.type, v.ints[i]);
    } else if (v.kinds[i] == 2) {
      storeNumber(c.data, r, c.type, v.nums[i]);
    } else {
      lua_pushlstring(L, c.name.data(), c.name.size());  // not a number (or nil)
      lua_rawget(L, kViewTable);
      notANumberError(L, c, lua_gettop(L), row);
    }
  }
  if (row + 1 < v.end) fillRow(L, v, row + 1);
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

void addInt(luaL_Buffer* b, const char* before, long long v, const char* after) {
  char num[64];
  std::snprintf(num, sizeof num, "%s%lld%s", before, v, after);
  luaL_addstring(b, num);
}

// Pushes the loop's source (see columns.hpp): the same for every set of columns, one per
// way of passing the extra arguments (up to 4 in locals, more unpacked from a table):
//     local fn, e, get, put, first, last, unpack, args, nargs = ...
//     local a1 = args[1]
//     get(first)                  -- e's fields = row first's elements
//     for row = first, last do
//       fn(e, a1)
//       put(row)                  -- stores the written columns, checks the read-only
//     end                         -- ones, fills e with row + 1
void pushLoopSource(lua_State* L, int nargs) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "local fn, e, get, put, first, last, unpack, args, nargs = ...\n");
  for (int i = 1; i <= nargs && nargs <= 4; ++i) addInt(&b, i == 1 ? "local a" : ", a", i, "");
  for (int i = 1; i <= nargs && nargs <= 4; ++i) addInt(&b, i == 1 ? " = args[" : ", args[", i, "]");
  if (nargs > 0 && nargs <= 4) luaL_addstring(&b, "\n");
  luaL_addstring(&b, "get(first)\nfor row = first, last do\n  fn(e");
  if (nargs <= 4) {
    for (int i = 1; i <= nargs; ++i) addInt(&b, ", a", i, "");
    luaL_addstring(&b, ")\n");
  } else {
    luaL_addstring(&b, ", unpack(args, 1, nargs))\n");
  }
  luaL_addstring(&b, "  put(row)\nend\n");
  luaL_pushresult(&b);
}

// Pushes the compiled loop for `nargs` extra arguments, from the state's cache (six at most).
void pushLoop(lua_State* L, int nargs) {
  const int how = nargs <= 4 ? nargs : 5;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kLoopsKey) != LUA_TTABLE) {  // cache
    lua_pop(L, 1);
    lua_createtable(L, 6, 0);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kLoopsKey);
  }
  if (lua_rawgeti(L, -1, how + 1) == LUA_TFUNCTION) {  // cache loop
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  pushLoopSource(L, nargs);  // cache src
  size_t len;
  const char* src = lua_tolstring(L, -1, &len);
  if (luaL_loadbufferx(L, src, len, "=(columns)", "t") != LUA_OK) lua_error(L);
  lua_remove(L, -2);  // cache loop
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, how + 1);
  lua_remove(L, -2);  // loop
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

  pushLoop(L, nargs);
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
    // one string object per name, the key of both tables (the names table keeps it alive
    // for the view's `names`, even if a collection clears e's key of a field set to nil)
    lua_pushlstring(L, job.columns[i].name.data(), job.columns[i].name.size());
    v->names[i] = const_cast<void*>(luapool_stringref(L, -1));
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
  lua_pushvalue(L, view);
  lua_pushvalue(L, e);
  lua_pushcclosure(L, rowFirst, 2);
  lua_pushvalue(L, view);
  lua_pushvalue(L, e);
  lua_pushcclosure(L, rowNext, 2);
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
