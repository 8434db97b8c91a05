// Executing one job on a leased state: compile (cached), environment, arguments, run,
// results or error details. All Lua stack work that can raise runs in a protected call.
#include "job.hpp"

#include <cstdlib>
#include <cstring>

#include "chunk-cache.hpp"
#include "columns.hpp"
#include "lua-error.hpp"
#include "lua-state.hpp"
#include "sandbox.hpp"
#include "shared.hpp"
#include "value-lua.hpp"

namespace luapool {

namespace {

const char kModulesKey = 0;
const char kTracebackKey = 0;
const char kBatchHelperKeys[4] = {};  // one compiled helper per BatchMode
// Bytes of allocation the collector is held off for per byte of a batch's encoded arguments
// (holdCollector). Its tables take about 6 times their encoded size with their results (the
// issue-10 entity: ~125 bytes encoded, ~750 in Lua); 32 leaves room for the calls' own
// temporaries (measured: 16 saved 5 % of the worker's instructions per entity, 32 9 %).
constexpr size_t kBatchGcAllowance = 32;

// The batch helper: calls fn once per argument list of `flat` (per call: its argument count,
// then its arguments) and collects the results; how depends on the BatchMode:
//   Plain           out[n] = first result                       returns out, n
//   Multret         out: count, results... per call (flat)       returns out, #flat
//   Settled         out[n] = result or failure record, and       returns out, n + 1
//                   out[n + 1] = the failed calls' numbers
//   SettledMultret  flat, a failed call is -1, failure record    returns out, #flat
// Each call of a settled batch runs under xpcall with a handler that records the failure
// (message, traceback, position, value). The local `n` is the number of the call running:
// on a failure the runtime reads it back (batchEntry) to name the failing call.
std::string batchHelperSource(BatchMode mode) {
  const bool settled = mode == BatchMode::Settled || mode == BatchMode::SettledMultret;
  auto call = [&](const std::string& args) -> std::string {
    switch (mode) {
      case BatchMode::Plain: return "out[n] = fn(" + args + ")";
      case BatchMode::Multret: return "k = append(out, k, fn(" + args + "))";
      case BatchMode::Settled:
        return "local ok, v = xpcall(fn, handler" + (args.empty() ? "" : ", " + args) +
               ") out[n] = v if not ok then nf = nf + 1 fails[nf] = n end";
      case BatchMode::SettledMultret:
        return "k = appendp(out, k, xpcall(fn, handler" + (args.empty() ? "" : ", " + args) + "))";
    }
    return "";
  };
  std::string s =
      "local fn, flat, total, unpack, xpcall, handler, append, appendp = ...\n"
      "local out, n, k, i = {}, 0, 1, 1\n";
  if (settled) s += "local fails, nf = {}, 0\n";
  s += "while i <= total do\n"
       "  local argc = flat[i]\n"
       "  n = n + 1\n"
       "  if argc == 1 then " + call("flat[i + 1]") + "\n"
       "  elseif argc == 2 then " + call("flat[i + 1], flat[i + 2]") + "\n"
       "  elseif argc == 0 then " + call("") + "\n"
       "  else " + call("unpack(flat, i + 1, i + argc)") + " end\n"
       "  i = i + argc + 1\n"
       "end\n";
  switch (mode) {
    case BatchMode::Plain: s += "return out, n\n"; break;
    case BatchMode::Settled: s += "if nf > 0 then out[n + 1] = fails end\nreturn out, n + 1\n"; break;
    default: s += "return out, k - 1\n"; break;
  }
  return s;
}

using Clock = std::chrono::steady_clock;

double msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Replaces the function at the top with a private copy whose _ENV is the value below it.
// Stack: env fn -> fn'
void bindEnv(lua_State* L) {
  lua_clonefunction(L, -1);
  lua_remove(L, -2);
  lua_insert(L, -2);
  if (lua_setupvalue(L, -2, 1) == nullptr) lua_pop(L, 1);  // a chunk always has _ENV
}

struct Setup {
  LuaState* state;
  Job* job;
  int nargs = 0;
  StepResult step = StepResult::Finished;
  bool closing = false;                      // beginClosing is in effect (see endClosing)
  KillReason closingSaved = KillReason::None;
};

// Pushes the job's environment (persistent for contexts) and records it for `load`.
void pushEnvFor(lua_State* L, const Setup& s) {
  const Job& job = *s.job;
  if (!job.contextKey.empty()) {
    pushContextEnv(L, s.state->config(), job.contextKey.data(), job.contextKey.size());
  } else {
    pushJobEnv(L, s.state->config());
  }
  if (!job.env.empty()) mergeDecodedInto(L, -1, job.env);
  setCurrentEnv(L, -1);
  if (!s.state->config().trusted) {  // kept for the job's later steps (see resumeEnv)
    lua_pushvalue(L, -1);
    s.job->envRef = luaL_ref(L, LUA_REGISTRYINDEX);
  }
}

// A resumed job's environment becomes the one `load` uses again (other jobs may have run
// on the state in between).
void resumeEnv(lua_State* L, Job& job) {
  if (job.envRef == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, job.envRef);
  setCurrentEnv(L, -1);
  lua_pop(L, 1);
}

// The job is over: its coroutine and environment are no longer referenced.
void releaseRefs(lua_State* L, Job& job) {
  luaL_unref(L, LUA_REGISTRYINDEX, job.threadRef);
  job.threadRef = LUA_NOREF;
  luaL_unref(L, LUA_REGISTRYINDEX, job.envRef);
  job.envRef = LUA_NOREF;
  luaL_unref(L, LUA_REGISTRYINDEX, job.packageRef);
  job.packageRef = LUA_NOREF;
  clearCurrentEnv(L);  // the finished job's globals are garbage now
  endRowView(L, job);  // a row view a script kept no longer reaches the arrays
}

// Protected: leaves the function to run and its arguments on the stack.
int setupRun(lua_State* L) {
  auto* s = static_cast<Setup*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  Job& job = *s->job;
  applyShared(L, *s->state, job);
  pushEnvFor(L, *s);
  if (pushCompiledChunk(L, *s->state, job.chunkName.data(), job.chunkName.size(), job.source) != LUA_OK) {
    return lua_error(L);
  }
  bindEnv(L);
  s->nargs = pushDecoded(L, job.args);
  return lua_gettop(L);
}

int describeError(lua_State* L);

void pushUnpack(lua_State* L) {
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
  lua_getfield(L, -1, "unpack");
  lua_remove(L, -2);
}

// The first Lua frame at or above `level` gives a chunk (short_src, into `chunk`) and line.
bool framePosition(lua_State* L, int level, char (&chunk)[LUA_IDSIZE], int& line) {
  lua_Debug ar;
  for (; lua_getstack(L, level, &ar); ++level) {
    if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
      std::memcpy(chunk, ar.short_src, LUA_IDSIZE);
      line = ar.currentline;
      return true;
    }
  }
  return false;
}

// The message handler of a settled batch's calls: the error becomes a failure record, a
// sequence { 1, message, traceback, chunk, line [, value] } (value: a non-string error
// object, when it can be converted), which the helper stores as the call's outcome.
// Positional, so it converts whatever the job's bytes/tables options are.
int batchFailure(lua_State* L) {
  lua_settop(L, 1);
  lua_createtable(L, 6, 0);
  lua_pushinteger(L, 1);
  lua_rawseti(L, 2, 1);
  lua_pushcfunction(L, describeError);
  lua_pushvalue(L, 1);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  lua_pushvalue(L, -1);
  lua_rawseti(L, 2, 2);
  luaL_traceback(L, L, lua_tostring(L, -1), 1);
  lua_rawseti(L, 2, 3);
  lua_pop(L, 1);
  char chunk[LUA_IDSIZE] = "";
  int line = -1;
  framePosition(L, 1, chunk, line);
  lua_pushstring(L, chunk);
  lua_rawseti(L, 2, 4);
  lua_pushinteger(L, line);
  lua_rawseti(L, 2, 5);
  if (lua_type(L, 1) != LUA_TSTRING && !lua_isnil(L, 1)) {
    bool convertible = false;
    if (!cppIsland([&] {
          std::string tree, error;
          convertible = encodeValues(L, 1, 1, "error", tree, error);
        })) {
      return raiseNoMemory(L);
    }
    if (convertible) {
      lua_pushvalue(L, 1);
      lua_rawseti(L, 2, 6);
    }
  }
  return 1;
}

// append(out, k, ...): out[k] = select('#', ...), then the values; returns the next k.
int batchAppend(lua_State* L) {
  int top = lua_gettop(L);
  lua_Integer k = lua_tointeger(L, 2);
  int count = top - 2;
  lua_pushinteger(L, count);
  lua_rawseti(L, 1, k);
  for (int i = 0; i < count; ++i) {
    lua_pushvalue(L, 3 + i);
    lua_rawseti(L, 1, k + 1 + i);
  }
  lua_pushinteger(L, k + count + 1);
  return 1;
}

// appendp(out, k, ok, ...): xpcall's outcome; a failure is -1 then its record.
int batchAppendOutcome(lua_State* L) {
  if (lua_toboolean(L, 3)) {
    lua_remove(L, 3);
    return batchAppend(L);
  }
  lua_Integer k = lua_tointeger(L, 2);
  lua_settop(L, 4);
  lua_pushinteger(L, -1);
  lua_rawseti(L, 1, k);
  lua_pushvalue(L, 4);
  lua_rawseti(L, 1, k + 1);
  lua_pushinteger(L, k + 2);
  return 1;
}

// The call of a batch that was running when the job failed (0-based), read from the
// helper's local `n` in the failed coroutine's stack, or -1.
int64_t batchEntry(lua_State* T) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(T, level, &ar); ++level) {
    if (!lua_getinfo(T, "S", &ar) || std::strcmp(ar.source, "=(batch)") != 0) continue;
    if (!lua_checkstack(T, 2)) return -1;
    for (int i = 1;; ++i) {
      const char* name = lua_getlocal(T, &ar, i);
      if (name == nullptr) return -1;
      bool isN = std::strcmp(name, "n") == 0;
      int64_t n = isN && lua_isinteger(T, -1) ? static_cast<int64_t>(lua_tointeger(T, -1)) : 0;
      lua_pop(T, 1);
      if (isN) return n - 1;
    }
  }
  return -1;
}

// Where a batch or columns job failed: the call or the row (see ErrorInfo::index).
void noteFailedEntry(lua_State* L, lua_State* T, Job& job) {
  if (job.kind == JobKind::Columns) {
    job.error.index = rowViewRow(L, job);
  } else if (job.kind == JobKind::Batch) {
    job.error.index = batchEntry(T);
  }
}

// A batch's tables (its arguments, its results, the flat lists) all stay alive until it
// ends: a collection while it runs would traverse them (and, generational, make them old,
// so that only a major collection frees them). So the collector is held off for an
// allowance of bytes in proportion to the batch's encoded arguments; allocations beyond it
// (a script's own garbage) make it run as usual, and once the batch is over
// (releaseCollector) the allowance is counted again: the next collection finds the
// batch's tables garbage, still young.
void holdCollector(lua_State* L, const LuaState& state, Job& job) {
  size_t limit = state.config().memoryLimit;
  size_t cap = limit != 0 ? limit / 4 : size_t(64) << 20;
  size_t allowance = std::min(job.args.size() * kBatchGcAllowance, cap);
  if (allowance == 0 || job.gcAllowance != 0) return;
  job.gcAllowance = static_cast<ptrdiff_t>(allowance);
  luapool_setgcdebt(L, luapool_gcdebt(L) - job.gcAllowance);
}

void releaseCollector(lua_State* L, Job& job) {
  if (job.gcAllowance == 0) return;
  luapool_setgcdebt(L, luapool_gcdebt(L) + job.gcAllowance);
  job.gcAllowance = 0;
}

// Protected: loads (or reuses) the module and leaves its exported function + arguments.
int setupCall(lua_State* L) {
  auto* s = static_cast<Setup*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  applyShared(L, *s->state, *s->job);
  const ModuleSource& mod = *s->job->module;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kModulesKey);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kModulesKey);
  }
  int modules = lua_gettop(L);
  lua_pushlstring(L, mod.name.data(), mod.name.size());
  lua_rawget(L, modules);  // { version = n, exports = t } or nil
  bool current = false;
  if (lua_istable(L, -1)) {
    lua_rawgeti(L, -1, 1);
    current = lua_tointeger(L, -1) == static_cast<lua_Integer>(mod.version);
    lua_pop(L, 1);
  }
  if (!current) {
    lua_pop(L, 1);
    // A module runs once per state and version, in an environment of its own.
    pushJobEnv(L, s->state->config());
    setCurrentEnv(L, -1);
    if (pushCompiledModule(L, *s->state, mod) != LUA_OK) return lua_error(L);
    bindEnv(L);
    lua_pushlstring(L, mod.name.data(), mod.name.size());  // ... is (name, ":define:"), as under require
    lua_pushliteral(L, ":define:");
    lua_call(L, 2, 1);
    if (!lua_istable(L, -1)) {
      return luaL_error(L, "module '%s' must return a table of functions (got %s)",
                        mod.name.c_str(), luaL_typename(L, -1));
    }
    lua_createtable(L, 2, 0);
    lua_pushinteger(L, mod.version);
    lua_rawseti(L, -2, 1);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 2);
    lua_pushlstring(L, mod.name.data(), mod.name.size());
    lua_pushvalue(L, -2);
    lua_rawset(L, modules);
  }
  lua_rawgeti(L, -1, 2);  // exports
  lua_pushlstring(L, s->job->function.data(), s->job->function.size());
  if (lua_rawget(L, -2) != LUA_TFUNCTION) {
    return luaL_error(L, "module '%s' has no function '%s'", mod.name.c_str(),
                      s->job->function.c_str());
  }
  lua_replace(L, 1);
  lua_settop(L, 1);
  if (s->job->kind == JobKind::Batch) {
    // helper(fn, flat, total, table.unpack, xpcall, handler, append, appendp): each helper
    // is compiled once per state
    const char* key = &kBatchHelperKeys[static_cast<int>(s->job->batchMode) & 3];
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      // the source is built in the state's scratch: a Lua error below destroys nothing
      std::string& src = s->state->scratch;
      if (!cppIsland([&] { src = batchHelperSource(s->job->batchMode); })) return raiseNoMemory(L);
      if (luaL_loadbufferx(L, src.data(), src.size(), "=(batch)", "t") != LUA_OK) return lua_error(L);
      lua_pushvalue(L, -1);
      lua_rawsetp(L, LUA_REGISTRYINDEX, key);
    }
    lua_insert(L, 1);
    holdCollector(L, *s->state, *s->job);
    if (pushDecoded(L, s->job->args) != 2) return luaL_error(L, "luapool: bad batch");
    pushUnpack(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);  // the state's own xpcall
    lua_getfield(L, -1, "xpcall");
    lua_remove(L, -2);
    lua_pushcfunction(L, guarded<batchFailure>);
    lua_pushcfunction(L, batchAppend);
    lua_pushcfunction(L, batchAppendOutcome);
    s->nargs = 8;
    return lua_gettop(L);
  }
  if (s->job->kind == JobKind::Columns) {
    // loop(fn, view, get, put, first, last, table.unpack, args, nargs), see columns.hpp
    s->nargs = pushColumnsCall(L, *s->job);
    return lua_gettop(L);
  }
  s->nargs = pushDecoded(L, s->job->args);
  return lua_gettop(L);
}

// Message handler: keeps the error object as it is and records a traceback.
int messageHandler(lua_State* L) {
  if (Job* job = LuaState::from(L)->runningJob) noteFailedEntry(L, L, *job);
  const char* msg = lua_tostring(L, 1);
  if (msg == nullptr) msg = "(error object is not a string)";
  luaL_traceback(L, L, msg, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kTracebackKey);
  lua_settop(L, 1);
  return 1;
}

// Protected: turns the error object at index 1 into a message (tostring semantics).
int describeError(lua_State* L) {
  if (lua_type(L, 1) == LUA_TSTRING) {
    lua_pushvalue(L, 1);
  } else if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
    // message from __tostring
  } else if (lua_type(L, 1) == LUA_TNUMBER) {
    lua_pushvalue(L, 1);
    lua_tostring(L, -1);
  } else {
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  return 1;
}

void fillErrorInfo(lua_State* L, int errIndex, Job& job) {
  errIndex = lua_absindex(L, errIndex);
  ErrorInfo& info = job.error;
  lua_pushcfunction(L, describeError);
  lua_pushvalue(L, errIndex);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
    size_t n;
    const char* s = lua_tolstring(L, -1, &n);
    info.message.assign(s, n);
  } else {
    info.message = std::string("(error object is a ") + luaL_typename(L, errIndex) + " value)";
  }
  lua_pop(L, 1);
  if (lua_type(L, errIndex) != LUA_TSTRING) {
    std::string& error = LuaState::from(L)->scratch;  // the state's: nothing to destroy
    if (!encodeValues(L, errIndex, 1, "error", info.value, error)) info.value.clear();
  }
}

// The first Lua frame of a failed job gives its chunk and line.
void fillPosition(lua_State* T, ErrorInfo& info) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(T, level, &ar); ++level) {
    if (lua_getinfo(T, "Sl", &ar) && ar.currentline > 0) {
      info.chunk = ar.short_src;
      info.line = ar.currentline;
      return;
    }
  }
}

JobStatus statusFor(int luaStatus) {
  switch (luaStatus) {
    case LUA_OK: return JobStatus::Ok;
    case LUA_ERRMEM: return JobStatus::MemoryLimit;
    default: return JobStatus::LuaError;
  }
}

// A batch's results: `out` holds n values (see batchHelperSource). A value that cannot be
// converted fails the job (Plain, Multret) or, in a settled batch, only its own call: its
// outcome becomes a marshal failure record and the rest is converted again.
// Where a batch's results failed to convert (C++ only, raises nothing): the failing slot
// `p` and what the record needs, the path text in `where` and the reason in `detail` (the
// state's scratch strings, so that no string lives in collectBatch's frame).
struct BatchFailureSpot {
  long long p = -1;
  lua_Integer start = 0, entry = 0, span = 1;
};
// error path: raises nothing
bool convertBatch(lua_State* L, int out, lua_Integer n, Job& job, bool flat, std::string& where,
                  std::string& detail, BatchFailureSpot& f) {
  std::string error, path;
  if (encodeSequence(L, out, n, "result", job.result, error, MarshalLimits(), &path)) return true;
  // path is "result[p]..." with p the 0-based position in `out`
  size_t close = path.find(']');
  if (path.compare(0, 7, "result[") == 0 && close != std::string::npos) {
    f.p = std::atoll(path.c_str() + 7);
  }
  std::string rest = close == std::string::npos ? std::string() : path.substr(close + 1);
  detail = error.size() > path.size() + 2 ? error.substr(path.size() + 2) : error;
  f.start = f.p + 1;  // the call's slot in `out`, and its number
  f.entry = f.p;
  f.span = 1;  // flat: how many values the call returned
  where = "result[" + std::to_string(f.p) + "]";
  if (flat && f.p >= 0) {
    lua_Integer j = 1;
    f.entry = 0;
    while (j <= n) {
      lua_rawgeti(L, out, j);
      lua_Integer c = lua_tointeger(L, -1);
      lua_pop(L, 1);
      f.span = c >= 0 ? c : -c;
      if (f.p + 1 <= j + f.span) break;
      j += f.span + 1;
      ++f.entry;
    }
    f.start = j;
    where = "result[" + std::to_string(f.entry) + "][" + std::to_string(f.p + 1 - j - 1) + "]";
  }
  where += rest;
  return false;
}

// A batch's results: `out` holds n values (see batchHelperSource). A value that cannot be
// converted fails the job (Plain, Multret) or, in a settled batch, only its own call: its
// outcome becomes a marshal failure record and the rest is converted again.
void collectBatch(lua_State* L, int out, lua_Integer n, Job& job) {
  const bool settled = job.batchMode == BatchMode::Settled || job.batchMode == BatchMode::SettledMultret;
  const bool flat = job.batchMode == BatchMode::Multret || job.batchMode == BatchMode::SettledMultret;
  constexpr int kMaxRetries = 256;
  out = lua_absindex(L, out);
  LuaState& state = *LuaState::from(L);
  std::string& where = state.scratch;    // the state's: references, nothing to destroy
  std::string& detail = state.scratch2;
  for (int attempt = 0;; ++attempt) {
    BatchFailureSpot f;
    if (convertBatch(L, out, n, job, flat, where, detail, f)) {
      job.status = JobStatus::Ok;
      return;
    }
    if (!settled || f.p < 0 || attempt >= kMaxRetries || !lua_checkstack(L, 4)) {
      job.status = JobStatus::MarshalError;
      job.error.message = where + ": " + detail;
      job.error.chunk = where;
      job.error.index = f.p < 0 ? -1 : f.entry;
      job.result.clear();
      return;
    }
    lua_createtable(L, 3, 0);  // a marshal failure record: { 2, path, detail }
    lua_pushinteger(L, 2);
    lua_rawseti(L, -2, 1);
    lua_pushlstring(L, where.data(), where.size());
    lua_rawseti(L, -2, 2);
    lua_pushlstring(L, detail.data(), detail.size());
    lua_rawseti(L, -2, 3);
    if (flat) {
      lua_pushinteger(L, -f.span);
      lua_rawseti(L, out, f.start);
      lua_rawseti(L, out, f.start + 1);
      for (lua_Integer m = f.start + 2; m <= f.start + f.span; ++m) {
        lua_pushnil(L);
        lua_rawseti(L, out, m);
      }
    } else {
      lua_rawseti(L, out, f.start);
      if (lua_rawgeti(L, out, n) != LUA_TTABLE) {  // the list of failed calls
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawseti(L, out, n);
      }
      lua_pushinteger(L, f.start);
      lua_rawseti(L, -2, static_cast<lua_Integer>(lua_rawlen(L, -2)) + 1);
      lua_pop(L, 1);
    }
  }
}

void collectResults(lua_State* L, int first, int count, Job& job) {
  std::string& error = LuaState::from(L)->scratch;  // the state's: nothing to destroy
  if (job.kind == JobKind::Batch && count == 2 && lua_istable(L, first)) {
    collectBatch(L, first, lua_tointeger(L, first + 1), job);
    return;
  }
  if (job.kind == JobKind::Columns) {  // the rows were written in place: nothing to return
    job.result.clear();
    job.status = JobStatus::Ok;
    return;
  }
  if (!job.multret && count > 1) count = 1;
  if (!encodeValues(L, first, count, "result", job.result, error, MarshalLimits(), &job.error.chunk)) {
    job.status = JobStatus::MarshalError;
    job.error.message = error;
    return;
  }
  job.status = JobStatus::Ok;
}

// Trusted states run on the main thread with lua_pcall, exactly like the standalone lua.
void runOnMainThread(LuaState& state, Job& job, Setup& setup) {
  lua_State* L = state.L();
  int base = lua_gettop(L);
  lua_pushcfunction(L, messageHandler);
  int handler = base + 1;
  lua_pushcfunction(L, job.kind == JobKind::Run ? guarded<setupRun> : guarded<setupCall>);
  lua_pushlightuserdata(L, &setup);
  int status = lua_pcall(L, 1, LUA_MULTRET, handler);
  if (status == LUA_OK) {
    int nargs = setup.nargs;
    status = lua_pcall(L, nargs, LUA_MULTRET, handler);
  }
  if (status == LUA_OK) {
    collectResults(L, handler + 1, lua_gettop(L) - handler, job);
  } else {
    job.status = statusFor(status);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kTracebackKey);
    if (lua_type(L, -1) == LUA_TSTRING) job.error.traceback = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kTracebackKey);
    fillErrorInfo(L, -1, job);
  }
  lua_settop(L, base);
}

// A killed job (or one over its memory limit) is reported and unwound with its interrupt
// lifted (LuaState::beginClosing) for a bounded grace. No guard object does the undoing (a
// Lua error is a longjmp and would skip its destructor): what was lifted is recorded in the
// Setup, ended by endClosing on the way out, and by executeJob after the protected call if
// an error (memory, while reporting) left that way instead.
void beginClosing(LuaState& state, Job& job, Setup& setup) {
  if (state.killReason() == KillReason::None && !state.memoryExceeded()) return;
  setup.closingSaved = state.beginClosing();
  setup.closing = true;
  state.bridge->armCloseGrace(job);
}

void endClosing(LuaState& state, Setup& setup) {
  if (!setup.closing) return;
  setup.closing = false;
  state.endClosing(setup.closingSaved);
}

// Sandboxed states run each job in a coroutine, so host calls can suspend it and time
// slices can end between two instructions.
StepResult runInCoroutine(LuaState& state, Job& job, Setup& setup) {
  lua_State* L = state.L();
  int base = lua_gettop(L);
  lua_State* T;
  int status;
  int nres = 0;
  if (job.threadRef != LUA_NOREF) {
    // Resuming after a host call (the continuation delivers the host's answer) or a slice.
    lua_rawgeti(L, LUA_REGISTRYINDEX, job.threadRef);
    luaL_unref(L, LUA_REGISTRYINDEX, job.threadRef);
    job.threadRef = LUA_NOREF;
    T = lua_tothread(L, -1);
    job.coroutine = T;
    job.yieldForHost = false;
    job.yieldForSlice = false;
    resumeEnv(L, job);
    status = lua_resume(T, L, 0, &nres);
  } else {
    T = lua_newthread(L);
    job.coroutine = T;
    lua_pushcfunction(T, job.kind == JobKind::Run ? guarded<setupRun> : guarded<setupCall>);
    lua_pushlightuserdata(T, &setup);
    status = lua_pcall(T, 1, LUA_MULTRET, 0);
    if (status != LUA_OK) {  // compile error (or memory): nothing ran, nothing to close
      job.status = statusFor(status);
      lua_xmove(T, L, 1);
      fillErrorInfo(L, -1, job);
      job.error.traceback = job.error.message;
      job.coroutine = nullptr;
      lua_settop(L, base);
      return StepResult::Finished;
    }
    status = lua_resume(T, L, setup.nargs, &nres);
  }
  if (status == LUA_YIELD && (job.yieldForHost || job.yieldForSlice)) {
    // Waiting for the host, or for its next slice: the coroutine stays in the registry.
    lua_pushvalue(L, base + 1);
    job.threadRef = luaL_ref(L, LUA_REGISTRYINDEX);
    job.coroutine = nullptr;
    lua_settop(L, base);
    return job.yieldForHost ? StepResult::Suspended : StepResult::Sliced;
  }
  if (status == LUA_YIELD) {
    // A bare coroutine.yield at the top level has no one to resume it.
    job.status = JobStatus::LuaError;
    fillPosition(T, job.error);
    job.error.message = "attempt to yield from outside a coroutine";
    luaL_traceback(L, T, job.error.message.c_str(), 0);
    job.error.traceback = lua_tostring(L, -1);
    job.coroutine = nullptr;
    lua_closethread(T, L);  // runs pending to-be-closed variables
    lua_settop(L, base);
    return StepResult::Finished;
  }
  job.coroutine = nullptr;
  if (status == LUA_OK) {
    collectResults(T, lua_gettop(T) - nres + 1, nres, job);
    lua_closethread(T, L);
  } else {
    // A killed job (or one over its memory limit) is reported and unwound with the
    // interrupt lifted, for a bounded grace period: building the traceback needs memory,
    // and its to-be-closed variables must run.
    beginClosing(state, job, setup);
    job.status = statusFor(status);
    fillPosition(T, job.error);
    noteFailedEntry(L, T, job);
    luaL_traceback(L, T, nullptr, 0);  // before closing: closing resets T's stack
    int traceback = lua_gettop(L);     // kept on the stack (a Lua string) until the end
    // Pending to-be-closed variables run now, as they would when the error leaves a
    // plain call; an error in one of them replaces the original error (as in Lua).
    status = lua_closethread(T, L);
    if (status == LUA_OK) lua_pushnil(T);  // cannot happen for a dead coroutine
    job.status = statusFor(status);
    lua_xmove(T, L, 1);  // the error object; T takes no more calls
    fillErrorInfo(L, -1, job);
    size_t len;
    const char* text = lua_tolstring(L, traceback, &len);
    job.error.traceback.reserve(job.error.message.size() + 1 + len);
    job.error.traceback.assign(job.error.message).append("\n").append(text, len);
    endClosing(state, setup);
  }
  lua_settop(L, base);
  return StepResult::Finished;
}

// Protected: traceback building can fail only on memory; wrap it.
int protectedRun(lua_State* L) {
  auto* s = static_cast<Setup*>(lua_touserdata(L, 1));
  lua_pop(L, 1);
  if (s->state->config().trusted) {
    runOnMainThread(*s->state, *s->job, *s);
  } else {
    s->step = runInCoroutine(*s->state, *s->job, *s);
  }
  return 0;
}

int protectedReset(lua_State* L) {
  auto* job = static_cast<Job*>(lua_touserdata(L, 1));
  dropContextEnv(L, job->contextKey.data(), job->contextKey.size());
  return 0;
}

}  // namespace

Job* currentJob(LuaState& state) { return state.runningJob; }

int pushCompiledModule(lua_State* L, LuaState& state, const ModuleSource& mod) {
  lua_pushliteral(L, "@");  // the chunk name, a Lua string anchored below the result
  lua_pushlstring(L, mod.name.data(), mod.name.size());
  lua_concat(L, 2);
  size_t len;
  const char* chunk = lua_tolstring(L, -1, &len);
  int status = pushCompiledChunk(L, state, chunk, len, mod.source, mod.id);
  lua_remove(L, -2);
  return status;
}

void bindChunkEnv(lua_State* L) { bindEnv(L); }

StepResult executeJob(LuaState& state, Job& job) {
  auto started = Clock::now();
  lua_State* L = state.L();
  state.runningJob = &job;
  state.beginJob(job, KillReason::None);  // applies a kill asked for before this step

  int top = lua_gettop(L);
  Setup setup{&state, &job};
  int status;
  if (job.kind == JobKind::ResetContext) {
    lua_pushcfunction(L, guarded<protectedReset>);
    lua_pushlightuserdata(L, &job);
    status = lua_pcall(L, 1, 0, 0);
    job.status = status == LUA_OK ? JobStatus::Ok : JobStatus::Internal;
  } else {
    lua_pushcfunction(L, guarded<protectedRun>);
    lua_pushlightuserdata(L, &setup);
    status = lua_pcall(L, 1, 0, 0);
    endClosing(state, setup);  // an error left the grace on (a longjmp runs no destructor)
    if (status != LUA_OK) {  // only memory errors while reporting another error get here
      setup.step = StepResult::Finished;
      job.status = JobStatus::MemoryLimit;
      if (job.error.message.empty()) job.error.message = "not enough memory";
    }
  }
  lua_settop(L, top);

  // Sticky for the whole job: the next step (after a slice or a host call) starts with it.
  job.memoryHit = job.memoryHit || state.memoryExceeded();
  bool memoryHit = job.memoryHit;
  KillReason reason = state.endJob();
  state.runningJob = nullptr;
  job.runMs += msBetween(started, Clock::now());
  job.peakMemory = std::max(job.peakMemory, state.stepPeakBytes());
  if (setup.step != StepResult::Finished) {
    // A kill that arrived during this step is still in killRequest: the next step applies it.
    if (setup.step == StepResult::Sliced) job.slices++;
    return setup.step;
  }
  releaseRefs(L, job);
  releaseCollector(L, job);
  flushJobOutput(job);  // an unfinished line written with io.write
  if (reason == KillReason::Timeout) {
    job.status = JobStatus::Timeout;
    state.stats.timeouts++;
  } else if (reason == KillReason::Exit) {
    job.status = JobStatus::Exit;
  } else if (reason == KillReason::Cancelled || reason == KillReason::Shutdown) {
    job.status = JobStatus::Cancelled;
  } else if (memoryHit) {
    job.status = JobStatus::MemoryLimit;  // even if the script caught the error itself
  }
  if (job.status != JobStatus::Ok) job.result.clear();
  state.afterJob(memoryHit || job.status == JobStatus::MemoryLimit);
  return StepResult::Finished;
}

}  // namespace luapool
