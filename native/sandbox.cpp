// The environment scripts see. Allow-list only: a script reaches nothing that is not
// copied into the base here.
#include "sandbox.hpp"

#include <cstring>
#include <string>

#include "host-call.hpp"
#include "job.hpp"
#include "lua-error.hpp"
#include "require.hpp"
#include "shared.hpp"
#include "value-lua.hpp"

namespace luapool {

namespace {

// Registry keys: addresses of these constants (never written).
const char kBaseKey = 0;
const char kEnvMetaKey = 0;
const char kFrozenKey = 0;
const char kContextsKey = 0;
const char kCurrentEnvKey = 0;

constexpr size_t kMaxLogBytes = 64 * 1024;         // one log message
constexpr size_t kMinActionBytes = 64u << 20;      // everything one job posts: at least this

void getRegistry(lua_State* L, const char* key) { lua_rawgetp(L, LUA_REGISTRYINDEX, key); }

// --- engine bridge -----------------------------------------------------------------------

Job& requireJob(lua_State* L) {
  Job* job = currentJob(*LuaState::from(L));
  if (job == nullptr) luaL_error(L, "engine functions can only be called while a job runs");
  return *job;
}

// Everything one job logs and posts: the state's encode budget, and at least 64 MiB.
size_t maxActionBytes(lua_State* L) {
  size_t budget = encodeBudget(L);
  return budget > kMinActionBytes ? budget : kMinActionBytes;
}

// Appends an action to the job (a C++ island: raises nothing). Returns what the caller must
// raise once its own C++ scope has closed (raiseAction), or ActionStatus::Ok.
ActionStatus appendAction(lua_State* L, Job& job, ActionType type, std::string&& name,
                          std::string&& data) {
  size_t bytes = name.size() + data.size() + 32;
  size_t limit = maxActionBytes(L);
  if (job.actionBytes + bytes > limit) return ActionStatus::TooMuch;
  bool ok = cppIsland([&] {
    job.actions.push_back(Action{type, std::move(name), std::move(data)});
    job.actionBytes += bytes;
    // A long job streams its actions: at most about one frame (16 ms) or 256 actions late.
    auto now = std::chrono::steady_clock::now();
    if (job.actions.size() >= 256 || now - job.lastFlush >= std::chrono::milliseconds(16)) {
      job.lastFlush = now;
      LuaState::from(L)->bridge->flushActions(job);
    }
  });
  return ok ? ActionStatus::Ok : ActionStatus::NoMemory;
}

// Pushes arguments [first, top] joined with `sep` (tostring semantics, so __tostring may
// run and raise), capped in size. A luaL_Buffer lives on the Lua stack: nothing to destroy.
void pushJoined(lua_State* L, int first, const char* sep) {
  int top = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = first; i <= top; ++i) {
    if (i > first) luaL_addstring(&b, sep);
    luaL_tolstring(L, i, nullptr);
    luaL_addvalue(&b);
    if (luaL_bufflen(&b) > kMaxLogBytes) {
      luaL_buffsub(&b, luaL_bufflen(&b) - kMaxLogBytes);
      luaL_addstring(&b, "...(truncated)");
      break;
    }
  }
  luaL_pushresult(&b);
}

// Sends the string at the top as a log action, after `prefix` (an unfinished io.write
// line, moved out of the job), and pops it.
ActionStatus sendLog(lua_State* L, Job& job, const char* level, std::string* prefix) {
  size_t len;
  const char* text = lua_tolstring(L, -1, &len);
  ActionStatus status = ActionStatus::NoMemory;
  cppIsland([&] {
    std::string line;
    if (prefix != nullptr) {
      line.swap(*prefix);
      prefix->clear();
    }
    line.append(text, len);
    status = appendAction(L, job, ActionType::Log, level, std::move(line));
  });
  lua_pop(L, 1);
  return status;
}

int engineLog(lua_State* L) {
  const char* level = luaL_checkstring(L, 1);
  Job& job = requireJob(L);
  pushJoined(L, 2, " ");
  return raiseAction(L, sendLog(L, job, level, nullptr));
}

int enginePost(lua_State* L) {
  luaL_checkany(L, 1);
  if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER) {
    return luaL_argerror(L, 1, "name must be a string or a number");
  }
  Job& job = requireJob(L);
  size_t len;
  const char* name = lua_tolstring(L, 1, &len);  // number: converts the stack slot (may raise)
  lua_settop(L, 2);
  LuaState& state = *LuaState::from(L);
  ActionStatus status = ActionStatus::NoMemory;
  cppIsland([&] {
    std::string data;
    if (!encodeValues(L, 2, 1, "data", data, state.scratch)) {
      status = ActionStatus::Marshal;  // the message is in state.scratch
      return;
    }
    status = appendAction(L, job, ActionType::Post, std::string(name, len), std::move(data));
  });
  if (status == ActionStatus::Marshal) return luaL_error(L, "engine.post: %s", state.scratch.c_str());
  return raiseAction(L, status);
}

int sandboxPrint(lua_State* L) {
  Job& job = requireJob(L);
  pushJoined(L, 1, "\t");
  // print and io.write share stdout: an unfinished io.write line starts this one
  return raiseAction(L, sendLog(L, job, "info", &job.ioPending[0]));
}

int sandboxWarn(lua_State* L) {
  luaL_checkstring(L, 1);
  Job& job = requireJob(L);
  pushJoined(L, 1, "");
  const char* text = lua_tostring(L, -1);
  if (text[0] == '@') {  // a control message ("@on", "@off"): no action
    lua_pop(L, 1);
    return 0;
  }
  return raiseAction(L, sendLog(L, job, "warn", nullptr));
}

// --- guarded base functions ---------------------------------------------------------------

bool isFrozen(lua_State* L, int idx) {
  idx = lua_absindex(L, idx);
  getRegistry(L, &kFrozenKey);
  lua_pushvalue(L, idx);
  bool frozen = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 2);
  return frozen;
}

int sandboxRawset(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  if (isFrozen(L, 1)) return luaL_error(L, "attempt to modify a read-only table");
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

int sandboxSetmetatable(lua_State* L) {
  // The real one's argument checks, here: raised from this frame, the error names the
  // function from the caller's call info, instead of searching package.loaded for the
  // name of a function called from C (luaL_argerror's pushglobalfuncname), 3x slower.
  int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL) {
      return luaL_error(L, "setmetatable: __gc metamethods are not allowed in the sandbox");
    }
    lua_pop(L, 1);
  }
  if (lua_type(L, 1) == LUA_TTABLE && isFrozen(L, 1)) {
    return luaL_error(L, "attempt to modify a read-only table");
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

// A fresh job environment: an empty table reading through to the read-only base.
void pushFreshEnv(lua_State* L) {
  lua_createtable(L, 0, 4);
  getRegistry(L, &kEnvMetaKey);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "_G");
}

// Pushes the environment of the function that called us: the _ENV upvalue of the nearest
// Lua function on the calling coroutine's stack that has one (C functions such as pcall
// in between are skipped, and so are Lua functions that use no globals: `local load =
// load` in a helper still binds the chunk's environment). A job's chunk and its functions
// have the job's environment, a context's the context's, a module's the module's. Never
// the private global table of the state (the sandbox's own functions have it). With no
// such function on this coroutine's stack: in a chunk job (run, or a context's run), that
// job's environment (set by the job as it starts); else a fresh environment over the base.
void pushCallerEnv(lua_State* L) {
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); ++level) {
    lua_getinfo(L, "f", &ar);
    if (lua_iscfunction(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    for (int i = 1;; ++i) {
      const char* name = lua_getupvalue(L, -1, i);
      if (name == nullptr) break;
      if (std::strcmp(name, "_ENV") == 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        bool privateGlobals = lua_rawequal(L, -1, -2);
        lua_pop(L, 1);
        if (!privateGlobals && lua_istable(L, -1)) {
          lua_remove(L, -2);  // the function
          return;
        }
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  Job* job = currentJob(*LuaState::from(L));
  if (job != nullptr && job->kind == JobKind::Run) {
    getRegistry(L, &kCurrentEnvKey);
    if (lua_istable(L, -1)) return;
    lua_pop(L, 1);
  }
  pushFreshEnv(L);
}

// load(chunk [, chunkname [, mode [, env]]]): text only; without an env argument the chunk
// gets the caller's environment (as plain Lua gives it the global one).
int sandboxLoad(lua_State* L) {
  int nargs = lua_gettop(L);
  lua_settop(L, 4);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  if (nargs < 4) {
    pushCallerEnv(L);
    lua_replace(L, 4);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 4, LUA_MULTRET);
  return lua_gettop(L);
}

int sandboxCollectgarbage(lua_State* L) {
  static const char* const allowed[] = {"collect", "count", "step", "isrunning", nullptr};
  const char* opt = luaL_optstring(L, 1, "collect");
  for (int i = 0; allowed[i]; ++i) {
    if (std::strcmp(opt, allowed[i]) == 0) {
      lua_pushvalue(L, lua_upvalueindex(1));
      lua_insert(L, 1);
      lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
      return lua_gettop(L);
    }
  }
  return luaL_error(L, "collectgarbage('%s') is not allowed in the sandbox", opt);
}

// --- math.random: one generator per job and per context ----------------------------------
// The same algorithm, arguments and errors as Lua 5.4's math.random/math.randomseed
// (lmathlib.c), on the running job's (or context's) own state instead of one per lua_State.

int sandboxRandom(lua_State* L) {
  Prng& prng = LuaState::from(L)->random();
  uint64_t rv = prng.next();
  lua_Integer low, up;
  switch (lua_gettop(L)) {
    case 0:
      lua_pushnumber(L, Prng::toDouble(rv));
      return 1;
    case 1:
      low = 1;
      up = luaL_checkinteger(L, 1);
      if (up == 0) {  // math.random(0): a full random integer
        lua_pushinteger(L, static_cast<lua_Integer>(rv));
        return 1;
      }
      break;
    case 2:
      low = luaL_checkinteger(L, 1);
      up = luaL_checkinteger(L, 2);
      break;
    default:
      return luaL_error(L, "wrong number of arguments");
  }
  luaL_argcheck(L, low <= up, 1, "interval is empty");
  uint64_t p = prng.project(rv, static_cast<uint64_t>(up) - static_cast<uint64_t>(low));
  lua_pushinteger(L, static_cast<lua_Integer>(p + static_cast<uint64_t>(low)));
  return 1;
}

int sandboxRandomseed(lua_State* L) {
  LuaState* state = LuaState::from(L);
  Prng& prng = state->random();
  uint64_t n1, n2;
  if (lua_isnone(L, 1)) {
    state->freshSeeds(n1, n2);
  } else {
    n1 = static_cast<uint64_t>(luaL_checkinteger(L, 1));
    n2 = static_cast<uint64_t>(luaL_optinteger(L, 2, 0));
  }
  prng.seed(n1, n2);
  lua_pushinteger(L, static_cast<lua_Integer>(n1));
  lua_pushinteger(L, static_cast<lua_Integer>(n2));
  return 2;
}

int readonlyNewindex(lua_State* L) {
  return luaL_error(L, "attempt to modify read-only table '%s'",
                    lua_tostring(L, lua_upvalueindex(1)));
}

// next() over the private table, keyed through the proxy: the iterator never hands the
// real table to the script (pairs returning `next, real` would make it writable).
int readonlyNext(lua_State* L) {
  lua_settop(L, 2);
  if (lua_next(L, lua_upvalueindex(1)) == 0) return 0;
  return 2;
}

int readonlyPairs(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));  // the iterator closure
  lua_pushvalue(L, 1);                    // the proxy as the "state"
  lua_pushnil(L);
  return 3;
}

// Replaces the table at the top with a read-only proxy for it.
void makeReadonly(lua_State* L, const char* name) {
  int real = lua_gettop(L);
  lua_newtable(L);                       // proxy
  lua_createtable(L, 0, 4);              // its metatable
  lua_pushvalue(L, real);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_pushcclosure(L, readonlyNewindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_pushvalue(L, real);
  lua_pushcclosure(L, readonlyNext, 1);
  lua_pushcclosure(L, readonlyPairs, 1);
  lua_setfield(L, -2, "__pairs");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  getRegistry(L, &kFrozenKey);
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_replace(L, real);
}

void copyField(lua_State* L, int from, int to, const char* name) {
  from = lua_absindex(L, from);
  to = lua_absindex(L, to);
  lua_getfield(L, from, name);
  lua_setfield(L, to, name);
}

void openLib(lua_State* L, const char* name, lua_CFunction open) {
  luaL_requiref(L, name, open, 0);  // leaves the library table on the stack
}

void pushEngineTable(lua_State* L, const StateConfig& config) {
  lua_createtable(L, 0, 4);
  registerHostFunctions(L, -1, config.hostFunctions);
  lua_pushcfunction(L, engineLog);
  lua_setfield(L, -2, "log");
  lua_pushcfunction(L, enginePost);
  lua_setfield(L, -2, "post");
  lua_pushcfunction(L, enginePost);
  lua_setfield(L, -2, "post_to_main_thread");
  pushSharedRoot(L);  // engine.shared: runner.share() values, read-only
  lua_setfield(L, -2, "shared");
}

}  // namespace

void installSandbox(lua_State* L, const StateConfig& config) {
  lua_newtable(L);  // frozen set, weak keys
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kFrozenKey);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kContextsKey);
  setEncodeBudget(L, encodeBudgetFor(config.memoryLimit));

  if (config.trusted) {
    // Plain Lua: jobs use the global table, as under the standalone interpreter.
    pushEngineTable(L, config);
    lua_setglobal(L, "engine");
    installTrustedSearchers(L);  // require also finds define() and `modules` sources
    return;
  }

  // The real base library lives only in the private global table.
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  int globals = lua_gettop(L);
  luaL_requiref(L, "_G", luaopen_base, 1);
  lua_pop(L, 1);

  lua_newtable(L);
  int base = lua_gettop(L);
  if (config.libs & kLibBase) {
    static const char* const plain[] = {
        "assert", "error",  "getmetatable", "ipairs", "next",     "pairs",  "pcall",
        "rawequal", "rawget", "rawlen",     "select", "tonumber", "tostring", "type",
        "xpcall",   "_VERSION", nullptr};
    for (int i = 0; plain[i]; ++i) copyField(L, globals, base, plain[i]);
    lua_pushcfunction(L, sandboxRawset);
    lua_setfield(L, base, "rawset");
    lua_getfield(L, globals, "setmetatable");
    lua_pushcclosure(L, sandboxSetmetatable, 1);
    lua_setfield(L, base, "setmetatable");
    lua_getfield(L, globals, "load");
    lua_pushcclosure(L, sandboxLoad, 1);
    lua_setfield(L, base, "load");
    lua_getfield(L, globals, "collectgarbage");
    lua_pushcclosure(L, sandboxCollectgarbage, 1);
    lua_setfield(L, base, "collectgarbage");
    lua_pushcfunction(L, sandboxPrint);
    lua_setfield(L, base, "print");
    lua_pushcfunction(L, sandboxWarn);
    lua_setfield(L, base, "warn");
  }
  if (config.libs & kLibString) {
    openLib(L, "string", luaopen_string);
    pushUnavailable(L, "string.dump");  // no bytecode out of the sandbox
    lua_setfield(L, -2, "dump");
    // Hide the metatable shared by every string of the state; its __index is the private
    // library table, which scripts reach only through the read-only proxy below.
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    makeReadonly(L, "string");
    lua_setfield(L, base, "string");
  }
  struct { uint32_t bit; const char* name; lua_CFunction open; } libs[] = {
      {kLibTable, "table", luaopen_table},      {kLibMath, "math", luaopen_math},
      {kLibUtf8, "utf8", luaopen_utf8},         {kLibCoroutine, "coroutine", luaopen_coroutine},
      {kLibIo, "io", luaopen_io},               {kLibDebug, "debug", luaopen_debug},
  };
  for (const auto& lib : libs) {
    if (!(config.libs & lib.bit)) continue;
    openLib(L, lib.name, lib.open);
    if (lib.bit == kLibMath) {
      lua_pushcfunction(L, sandboxRandom);
      lua_setfield(L, -2, "random");
      lua_pushcfunction(L, sandboxRandomseed);
      lua_setfield(L, -2, "randomseed");
    }
    makeReadonly(L, lib.name);
    lua_setfield(L, base, lib.name);
  }
  if (!(config.libs & kLibIo) && config.sandboxIo) installSandboxIo(L, base);
  if (!(config.libs & kLibDebug) && config.sandboxDebug) installSandboxDebug(L, base);
  if (config.libs & kLibOs) {
    openLib(L, "os", luaopen_os);
    lua_createtable(L, 0, 12);
    for (const char* name : {"time", "clock", "date", "difftime"}) copyField(L, -2, -1, name);
    addSandboxOsStubs(L, lua_gettop(L));
    lua_remove(L, -2);
    makeReadonly(L, "os");
    lua_setfield(L, base, "os");
  }
  if (config.libs & kLibBase) addSandboxBaseStubs(L, base);
  if (config.libs & (kLibBase | kLibPackage)) installRequire(L, base, config);
  pushEngineTable(L, config);
  makeReadonly(L, "engine");
  lua_setfield(L, base, "engine");

  lua_pushvalue(L, base);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kBaseKey);

  lua_createtable(L, 0, 2);  // metatable of every job environment
  lua_pushvalue(L, base);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kEnvMetaKey);
  lua_settop(L, globals - 1);
}

static void newEnv(lua_State* L, const StateConfig& config) {
  if (!config.trusted) {
    pushFreshEnv(L);
    return;
  }
  lua_createtable(L, 0, 4);
  lua_createtable(L, 0, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "_G");
}

void pushJobEnv(lua_State* L, const StateConfig& config) {
  if (config.trusted) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    return;
  }
  newEnv(L, config);
}

void pushContextEnv(lua_State* L, const StateConfig& config, const char* key, size_t len) {
  getRegistry(L, &kContextsKey);
  lua_pushlstring(L, key, len);
  if (lua_rawget(L, -2) == LUA_TNIL) {
    lua_pop(L, 1);
    newEnv(L, config);
    lua_pushlstring(L, key, len);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
  }
  lua_remove(L, -2);
}

void dropContextEnv(lua_State* L, const char* key, size_t len) {
  getRegistry(L, &kContextsKey);
  lua_pushlstring(L, key, len);
  lua_pushnil(L);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  dropContextPackage(L, key, len);
  LuaState::from(L)->dropContextRandom(key, len);
}

void setCurrentEnv(lua_State* L, int envIndex) {
  lua_pushvalue(L, envIndex);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kCurrentEnvKey);
}

int raiseAction(lua_State* L, ActionStatus status) {
  switch (status) {
    case ActionStatus::Ok: return 0;
    case ActionStatus::TooMuch:
      return luaL_error(L, "engine: this job posted more than %d MiB",
                        static_cast<int>(maxActionBytes(L) >> 20));
    default: return raiseNoMemory(L);
  }
}

ActionStatus sendAction(lua_State* L, Job& job, ActionType type, std::string&& name, std::string&& data) {
  return appendAction(L, job, type, std::move(name), std::move(data));
}

void pushModuleEnv(lua_State* L) { pushFreshEnv(L); }

void pushCallerEnvironment(lua_State* L) { pushCallerEnv(L); }

void pushSandboxBase(lua_State* L) { getRegistry(L, &kBaseKey); }

void makeReadonlyProxy(lua_State* L, const char* name) { makeReadonly(L, name); }

void freezeTable(lua_State* L, int idx) {
  idx = lua_absindex(L, idx);
  getRegistry(L, &kFrozenKey);
  if (lua_istable(L, -1)) {
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);
}

}  // namespace luapool
