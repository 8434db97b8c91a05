// Row views for callColumns (see columns.hpp). Reads and writes go straight to the typed
// arrays' memory from the worker thread: the main thread does nothing per row. Parts of
// one call run on several threads at once, each on its own rows, so they never touch the
// same bytes (lib/script-runner.ts refuses written columns that overlap other columns).
#include "columns.hpp"

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

namespace luapool {

namespace {

struct RowView {
  const Column* cols;  // job.columns (the job outlives the view's live period)
  uint32_t ncols;
  bool live;           // false once the job has ended
  int64_t row;         // the current row
  int64_t end;         // one past the last row
};

RowView& viewAt(lua_State* L, int idx) { return *static_cast<RowView*>(lua_touserdata(L, idx)); }

RowView& liveView(lua_State* L) {
  RowView& v = viewAt(L, 1);
  if (!v.live) {
    luaL_error(L, "row view: its callColumns call has ended (a row view is valid only during its call)");
  }
  return v;
}

// Looks up the field name (stack index 2) in the name -> column index table (upvalue 1).
// Returns the column, or raises naming the field.
const Column& columnFor(lua_State* L, const RowView& v) {
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNUMBER) {
    lua_pop(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
      luaL_error(L, "row view: no column named '%s' (row %I)", lua_tostring(L, 2),
                 static_cast<lua_Integer>(v.row));
    }
    luaL_error(L, "row view: no column named by a %s key (row %I)", luaL_typename(L, 2),
               static_cast<lua_Integer>(v.row));
  }
  lua_Integer i = lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v.cols[i];
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

// e.x
int rowIndex(lua_State* L) {
  RowView& v = liveView(L);
  const Column& c = columnFor(L, v);
  pushElement(L, c, static_cast<size_t>(v.row));
  return 1;
}

// e.x = value
int rowNewindex(lua_State* L) {
  RowView& v = liveView(L);
  const Column& c = columnFor(L, v);
  if (c.readonly) {
    return luaL_error(L, "row view: column '%s' is read-only (row %I)", c.name.c_str(),
                      static_cast<lua_Integer>(v.row));
  }
  if (lua_type(L, 3) != LUA_TNUMBER) {
    return luaL_error(L, "row view: column '%s' takes a number, got %s (row %I)", c.name.c_str(),
                      luaL_typename(L, 3), static_cast<lua_Integer>(v.row));
  }
  if (lua_isinteger(L, 3)) {
    storeInteger(c.data, static_cast<size_t>(v.row), c.type, lua_tointeger(L, 3));
  } else {
    storeNumber(c.data, static_cast<size_t>(v.row), c.type, lua_tonumber(L, 3));
  }
  return 0;
}

// next(view, name): the columns in the order they were given (upvalue 1: name -> index)
int rowNext(lua_State* L) {
  RowView& v = liveView(L);
  lua_Integer i = 0;
  if (!lua_isnoneornil(L, 2)) {
    lua_settop(L, 2);
    const Column& c = columnFor(L, v);
    i = (&c - v.cols) + 1;
  }
  if (i >= static_cast<lua_Integer>(v.ncols)) return 0;
  const Column& c = v.cols[i];
  lua_pushlstring(L, c.name.data(), c.name.size());
  pushElement(L, c, static_cast<size_t>(v.row));
  return 2;
}

// pairs(view): upvalue 1 is rowNext
int rowPairs(lua_State* L) {
  liveView(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

int rowTostring(lua_State* L) {
  RowView& v = viewAt(L, 1);
  if (!v.live) {
    lua_pushliteral(L, "row view (ended)");
  } else {
    lua_pushfstring(L, "row view (row %I)", static_cast<lua_Integer>(v.row));
  }
  return 1;
}

// nextrow(view) -> whether there is a row left (the view is now on it)
int rowAdvance(lua_State* L) {
  RowView& v = viewAt(L, 1);
  if (!v.live || v.row + 1 >= v.end) {
    lua_pushboolean(L, 0);
    return 1;
  }
  ++v.row;
  lua_pushboolean(L, 1);
  return 1;
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

const char kRowViewName[] = "luapool.row";

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

void pushRowView(lua_State* L, Job& job) {
  luaL_checkstack(L, 8, "row view");
  auto* v = static_cast<RowView*>(lua_newuserdatauv(L, sizeof(RowView), 0));
  v->cols = job.columns.data();
  v->ncols = static_cast<uint32_t>(job.columns.size());
  v->live = true;
  v->row = job.firstRow - 1;
  v->end = job.firstRow + job.rowCount;
  int view = lua_gettop(L);

  lua_createtable(L, 0, static_cast<int>(job.columns.size()));  // name -> column index
  int names = lua_gettop(L);
  for (size_t i = 0; i < job.columns.size(); ++i) {
    lua_pushlstring(L, job.columns[i].name.data(), job.columns[i].name.size());
    lua_pushinteger(L, static_cast<lua_Integer>(i));
    lua_rawset(L, names);
  }
  lua_createtable(L, 0, 6);  // the view's metatable, one per job
  lua_pushvalue(L, names);
  lua_pushcclosure(L, rowIndex, 1);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, names);
  lua_pushcclosure(L, rowNewindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_pushvalue(L, names);
  lua_pushcclosure(L, rowNext, 1);
  lua_pushcclosure(L, rowPairs, 1);
  lua_setfield(L, -2, "__pairs");
  lua_pushcfunction(L, rowTostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushstring(L, kRowViewName);
  lua_setfield(L, -2, "__name");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, view);
  lua_settop(L, view);

  lua_pushvalue(L, view);
  job.viewRef = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushcfunction(L, rowAdvance);
}

int64_t rowViewRow(lua_State* L, const Job& job) {
  if (job.viewRef == LUA_NOREF || job.viewRef == LUA_REFNIL) return -1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, job.viewRef);
  int64_t row = -1;
  if (lua_type(L, -1) == LUA_TUSERDATA) {
    const RowView& v = viewAt(L, -1);
    if (v.row >= job.firstRow && v.row < v.end) row = v.row;
  }
  lua_pop(L, 1);
  return row;
}

void endRowView(lua_State* L, Job& job) {
  if (job.viewRef == LUA_NOREF || job.viewRef == LUA_REFNIL) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, job.viewRef);
  if (lua_type(L, -1) == LUA_TUSERDATA) viewAt(L, -1).live = false;
  lua_pop(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, job.viewRef);
  job.viewRef = LUA_NOREF;
}

}  // namespace luapool
