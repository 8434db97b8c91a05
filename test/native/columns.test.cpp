// columns.test.cpp: callColumns' row loop (native/columns.cpp) without Node. Several
// threads, each with its own lua_State, run the loop over disjoint rows of the same arrays
// of every element type at once, as the parts of one call do; the sanitizer builds run it
// (TSan: no two threads touch the same bytes; ASan/UBSan: every access in bounds). Then the
// read-only check and the errors that name the column and the row.

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "columns.hpp"

namespace {

using luapool::Column;
using luapool::ElementType;
using luapool::Job;

constexpr int kRows = 4000;
constexpr int kThreads = 4;

// The arrays of one test: one per element type, plus a read-only index column.
struct Arrays {
  std::vector<double> f64 = std::vector<double>(kRows);
  std::vector<float> f32 = std::vector<float>(kRows);
  std::vector<int32_t> i32 = std::vector<int32_t>(kRows);
  std::vector<uint32_t> u32 = std::vector<uint32_t>(kRows);
  std::vector<int16_t> i16 = std::vector<int16_t>(kRows);
  std::vector<uint16_t> u16 = std::vector<uint16_t>(kRows);
  std::vector<int8_t> i8 = std::vector<int8_t>(kRows);
  std::vector<uint8_t> u8 = std::vector<uint8_t>(kRows);
  std::vector<int32_t> idx = std::vector<int32_t>(kRows);
  Arrays() {
    for (int i = 0; i < kRows; ++i) idx[i] = i;
  }
};

Column column(const char* name, void* data, ElementType type, bool readonly = false) {
  Column c;
  c.name = name;
  c.data = data;
  c.length = kRows;
  c.type = type;
  c.readonly = readonly;
  return c;
}

void setColumns(Job& job, Arrays& a) {
  job.kind = luapool::JobKind::Columns;
  job.columns = {
      column("f64", a.f64.data(), ElementType::Float64), column("f32", a.f32.data(), ElementType::Float32),
      column("i32", a.i32.data(), ElementType::Int32),   column("u32", a.u32.data(), ElementType::Uint32),
      column("idx", a.idx.data(), ElementType::Int32, true),
      column("i16", a.i16.data(), ElementType::Int16),   column("u16", a.u16.data(), ElementType::Uint16),
      column("i8", a.i8.data(), ElementType::Int8),      column("u8", a.u8.data(), ElementType::Uint8),
  };
}

const char* kFill =
    "return function(e)\n"
    "  local i = e.idx\n"
    "  e.f64 = i * 0.5 + 1; e.f32 = i * 0.25; e.i32 = -i * 3; e.u32 = i * 7\n"
    "  e.i16 = -i; e.u16 = i * 2; e.i8 = i; e.u8 = i + 1\n"
    "end";

// Runs the loop for the job's rows with fn = the chunk's function; returns the status
// and leaves the error message (if any) in *message.
int runRows(lua_State* L, Job& job, const char* chunk, std::string* message) {
  lua_settop(L, 0);
  if (luaL_loadstring(L, chunk) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) return -1;
  // pushColumnsCall raises on memory errors only: call it protected, as job.cpp does
  lua_pushcfunction(L, [](lua_State* S) -> int {
    Job* j = static_cast<Job*>(lua_touserdata(S, 1));
    lua_remove(S, 1);
    luapool::pushColumnsCall(S, *j);  // loop fn args...
    return lua_gettop(S);
  });
  lua_insert(L, 1);
  lua_pushlightuserdata(L, &job);
  lua_insert(L, 2);  // setup job fn
  if (lua_pcall(L, 2, LUA_MULTRET, 0) != LUA_OK) return -2;
  int nargs = lua_gettop(L) - 1;  // loop args...
  int status = lua_pcall(L, nargs, 0, 0);
  if (status != LUA_OK && message) *message = lua_tostring(L, -1) ? lua_tostring(L, -1) : "?";
  luapool::endRowView(L, job);
  return status;
}

lua_State* newState() {
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  return L;
}

}  // namespace

TEST_CASE("columns: several states write every element type of the same arrays at once, on disjoint rows") {
  Arrays a;
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&a, &bad, t] {
      lua_State* L = newState();
      Job job;
      setColumns(job, a);
      job.firstRow = t * (kRows / kThreads);
      job.rowCount = kRows / kThreads;
      std::string msg;
      for (int round = 0; round < 3; ++round) {  // the loop compiled once, then reused
        if (runRows(L, job, kFill, &msg) != LUA_OK) ++bad;
      }
      lua_close(L);
    });
  }
  for (auto& th : threads) th.join();
  CHECK_EQ(bad.load(), 0);
  int wrong = 0;
  for (int i = 0; i < kRows; ++i) {
    if (a.f64[i] != i * 0.5 + 1 || a.f32[i] != static_cast<float>(i * 0.25) || a.i32[i] != -i * 3 ||
        a.u32[i] != static_cast<uint32_t>(i * 7) || a.i16[i] != static_cast<int16_t>(-i) ||
        a.u16[i] != static_cast<uint16_t>(i * 2) || a.i8[i] != static_cast<int8_t>(i) ||
        a.u8[i] != static_cast<uint8_t>(i + 1) || a.idx[i] != i) {
      ++wrong;
    }
  }
  CHECK_EQ(wrong, 0);
}

TEST_CASE("columns: a changed read-only column and a non-number fail naming the column and the row") {
  Arrays a;
  lua_State* L = newState();
  Job job;
  setColumns(job, a);
  job.firstRow = 10;
  job.rowCount = 20;
  std::string msg;
  CHECK(runRows(L, job, "return function(e) if e.idx == 17 then e.idx = 0 end end", &msg) != LUA_OK);
  CHECK_EQ(msg, std::string("row view: column 'idx' is read-only (row 17)"));
  CHECK(runRows(L, job, "return function(e) if e.idx == 12 then e.u8 = 'x' end end", &msg) != LUA_OK);
  CHECK_EQ(msg, std::string("row view: column 'u8' takes a number, got string (row 12)"));
  // NaN in a read-only float column is left alone, not a change
  job.columns[0].readonly = true;
  a.f64[15] = std::nan("");
  CHECK_EQ(runRows(L, job, "return function(e) e.u8 = 1 end", &msg), LUA_OK);
  CHECK(std::isnan(a.f64[15]));
  CHECK_EQ(static_cast<int>(a.u8[29]), 1);
  lua_close(L);
}
