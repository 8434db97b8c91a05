// require in the sandbox. `require` and `package` in the base are the same for every job,
// but what they work on is the running job's *package record*, made on first use: its
// own package.loaded (the libraries, _G), package.preload, package.searchers, path... A
// context has one record for all its jobs (until reset). So a job that changes a library
// table it required changes nothing for the next job, and requiring in every job costs a
// run of the module's chunk: the compiled chunk comes from the state's chunk cache (keyed
// by the source's id), and the source from the runner's ModuleCatalog without a round trip
// to the main thread, except the first time the `modules` function is asked about a name
// (an internal host call: the job suspends where Lua can yield, blocks where it cannot).
//
// require follows Lua's ll_require/findloader (loadlib.c) step by step, with continuations
// (lua_callk) where Lua calls searchers and loaders, so a module's chunk can call host
// functions, be time-sliced, and the `modules` searcher can suspend the job.
#include "require.hpp"

#include <cstring>
#include <string>

#include "host-call.hpp"
#include "job.hpp"
#include "lua-error.hpp"
#include "modules.hpp"
#include "sandbox.hpp"

namespace luapool {

namespace {

const char kContextPackagesKey = 0;  // { [context key] = record }
const char kTemplateKey = 0;         // what every new record copies (see installRequire)

// A record: { [kPublic] = the table `package` reads and writes, [kLoaded] = the loaded
// table require uses, [kPreload] = the table the preload searcher reads }. As in Lua 5.4,
// replacing package.loaded or package.preload does not change what require uses.
enum RecordSlot { kPublic = 1, kLoaded = 2, kPreload = 3 };

const char* const kLibraryNames[] = {"coroutine", "debug", "io", "math", "os", "package",
                                     "string", "table", "utf8", nullptr};

Job& jobOf(lua_State* L) {
  Job* job = currentJob(*LuaState::from(L));
  if (job == nullptr) luaL_error(L, "require and package can only be used while a job runs");
  return *job;
}

// package.loaded._G: the job's environment (its context's in a context); in a module
// call, the environment of the module function that used package or require first.
void pushJobGlobals(lua_State* L, Job& job) {
  const StateConfig& config = LuaState::from(L)->config();
  if (!job.contextKey.empty()) {
    pushContextEnv(L, config, job.contextKey.data(), job.contextKey.size());
  } else if (job.kind == JobKind::Run && job.envRef != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, job.envRef);
  } else {
    pushCallerEnvironment(L);
  }
}

void newRecord(lua_State* L, Job& job) {
  lua_createtable(L, 3, 0);
  int record = lua_gettop(L);
  lua_createtable(L, 0, 8);
  int pub = lua_gettop(L);
  lua_createtable(L, 0, 12);
  int loaded = lua_gettop(L);
  pushSandboxBase(L);
  for (int i = 0; kLibraryNames[i] != nullptr; ++i) {
    if (lua_getfield(L, -1, kLibraryNames[i]) == LUA_TNIL) {
      lua_pop(L, 1);
    } else {
      lua_setfield(L, loaded, kLibraryNames[i]);
    }
  }
  lua_pop(L, 1);
  pushJobGlobals(L, job);
  lua_setfield(L, loaded, "_G");
  lua_pushvalue(L, loaded);
  lua_rawseti(L, record, kLoaded);
  lua_setfield(L, pub, "loaded");
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_rawseti(L, record, kPreload);
  lua_setfield(L, pub, "preload");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kTemplateKey);
  int tmpl = lua_gettop(L);
  for (const char* field : {"path", "cpath", "config", "searchpath", "loadlib"}) {
    lua_getfield(L, tmpl, field);
    lua_setfield(L, pub, field);
  }
  lua_getfield(L, tmpl, "searchers");
  lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, -1));
  lua_createtable(L, static_cast<int>(n), 0);
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, -2, i);
    lua_rawseti(L, -2, i);
  }
  lua_setfield(L, pub, "searchers");
  lua_settop(L, pub);
  lua_rawseti(L, record, kPublic);
}

// Pushes the running job's record (its context's), making it on first use.
void pushRecord(lua_State* L) {
  Job& job = jobOf(L);
  if (!job.contextKey.empty()) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kContextPackagesKey);
    lua_pushlstring(L, job.contextKey.data(), job.contextKey.size());
    if (lua_rawget(L, -2) == LUA_TTABLE) {
      lua_remove(L, -2);
      return;
    }
    lua_pop(L, 1);
    newRecord(L, job);
    lua_pushlstring(L, job.contextKey.data(), job.contextKey.size());
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_remove(L, -2);
    return;
  }
  if (job.packageRef != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, job.packageRef);
    return;
  }
  newRecord(L, job);
  lua_pushvalue(L, -1);
  job.packageRef = luaL_ref(L, LUA_REGISTRYINDEX);
}

void pushPublic(lua_State* L) {
  pushRecord(L);
  lua_rawgeti(L, -1, kPublic);
  lua_remove(L, -2);
}

// --- the `package` proxy: reads and writes go to the job's record ------------------------

int packageIndex(lua_State* L) {
  pushPublic(L);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

int packageNewindex(lua_State* L) {
  pushPublic(L);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_rawset(L, -3);
  return 0;
}

int publicNext(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  if (lua_next(L, 1) == 0) return 0;
  return 2;
}

int packagePairs(lua_State* L) {
  lua_pushcfunction(L, publicNext);
  pushPublic(L);
  lua_pushnil(L);
  return 3;
}

// --- searchers --------------------------------------------------------------------------

int searcherPreload(lua_State* L) {
  const char* name = luaL_checkstring(L, 1);
  pushRecord(L);
  lua_rawgeti(L, -1, kPreload);
  if (lua_getfield(L, -1, name) == LUA_TNIL) {
    lua_pushfstring(L, "no field package.preload['%s']", name);
    return 1;
  }
  lua_pushliteral(L, ":preload:");
  return 2;
}

// Pushes the loader of a define() or `modules` source: its compiled chunk (from the chunk
// cache) bound to a fresh module environment, or to the global table in trusted states.
void pushModuleLoader(lua_State* L, const char* name, const ModuleSource& mod, const char* from) {
  LuaState& state = *LuaState::from(L);
  if (pushCompiledModule(L, state, mod) != LUA_OK) {
    luaL_error(L, "error loading module '%s' from %s:\n\t%s", name, from, lua_tostring(L, -1));
  }
  if (state.config().trusted) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  } else {
    pushModuleEnv(L);
  }
  lua_insert(L, -2);
  bindChunkEnv(L);
}

// Looks `name` up in the catalog (C++ only: a cppIsland). A source found is pinned in the
// LuaState while it is compiled (a shared_ptr in the searcher's frame would leak on a Lua
// error); the answer is Missing when there is no catalog.
ModuleCatalog::Answer lookUp(lua_State* L, const char* name, size_t len, bool definedOnly,
                             const ModuleSource*& found, bool& ok) {
  LuaState& state = *LuaState::from(L);
  ModuleCatalog* catalog = state.config().catalog.get();
  ModuleCatalog::Answer answer = ModuleCatalog::Answer::Missing;
  found = nullptr;
  ok = cppIsland([&] {
    state.pinnedModule.reset();
    if (catalog == nullptr) return;
    if (definedOnly) {
      state.pinnedModule = catalog->defined(std::string(name, len));
      if (state.pinnedModule) answer = ModuleCatalog::Answer::Source;
    } else {
      answer = catalog->lookup(std::string(name, len), state.pinnedModule);
    }
    found = state.pinnedModule.get();
  });
  return answer;
}

// The compiled chunk no longer needs its source.
void unpin(lua_State* L) { LuaState::from(L)->pinnedModule.reset(); }

int searcherDefine(lua_State* L) {
  size_t len;
  const char* name = luaL_checklstring(L, 1, &len);
  const ModuleSource* mod;
  bool ok;
  lookUp(L, name, len, true, mod, ok);
  if (!ok) return raiseNoMemory(L);
  if (mod == nullptr) {
    if (LuaState::from(L)->config().trusted) return 0;  // plain Lua's message, as the standalone's
    lua_pushfstring(L, "no module '%s' defined with runner.define()", name);
    return 1;
  }
  pushModuleLoader(L, name, *mod, "runner.define()");
  unpin(L);
  lua_pushliteral(L, ":define:");
  return 2;
}

int searcherModulesAnswered(lua_State* L, int status, lua_KContext ctx);

// `asked`: the main thread has just answered for this name.
int modulesSearch(lua_State* L, bool asked) {
  size_t len;
  const char* name = luaL_checklstring(L, 1, &len);
  const ModuleSource* mod;
  bool ok;
  ModuleCatalog::Answer answer = lookUp(L, name, len, false, mod, ok);
  if (!ok) return raiseNoMemory(L);
  if (answer == ModuleCatalog::Answer::Source) {
    pushModuleLoader(L, name, *mod, "the modules option");
    unpin(L);
    lua_pushliteral(L, ":modules:");
    return 2;
  }
  if (answer == ModuleCatalog::Answer::Unknown && !asked) {
    // The function form decides, on the main thread; its answer goes into the catalog.
    return hostRoundTrip(L, kModuleLookupFunction, name, len, searcherModulesAnswered, 0);
  }
  if (LuaState::from(L)->config().trusted) return 0;  // plain Lua's message, as the standalone's
  lua_pushfstring(L, "no module '%s' in the modules option", name);
  return 1;
}

int searcherModules(lua_State* L) { return modulesSearch(L, false); }

int searcherModulesAnswered(lua_State* L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  hostRoundTripReply(L);  // raises the function's error, or a kill
  return modulesSearch(L, true);
}

// 'package' in an explicit list: Lua files along the job's package.path, run in the
// environment of the code that requires them (the job's, the context's, a module's).
int searcherFile(lua_State* L) {
  const char* name = luaL_checkstring(L, 1);
  pushPublic(L);
  if (lua_getfield(L, -1, "path") != LUA_TSTRING) return luaL_error(L, "'package.path' must be a string");
  int path = lua_gettop(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kTemplateKey);
  lua_getfield(L, -1, "_searchpath");  // the real package.searchpath
  lua_pushvalue(L, 1);
  lua_pushvalue(L, path);
  lua_call(L, 2, 2);
  if (lua_isnil(L, -2)) return 1;  // its message lists the files tried
  lua_pop(L, 1);
  const char* filename = lua_tostring(L, -1);
  int file = lua_gettop(L);
  if (luaL_loadfilex(L, filename, "t") != LUA_OK) {
    return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, filename, lua_tostring(L, -1));
  }
  pushCallerEnvironment(L);
  if (lua_setupvalue(L, -2, 1) == nullptr) lua_pop(L, 1);
  lua_pushvalue(L, file);
  return 2;
}

int searchpathUnavailable(lua_State* L) {
  luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  lua_pushnil(L);
  lua_pushliteral(L, "package.searchpath is not available in the sandbox");
  return 2;
}

int loadlibUnavailable(lua_State* L) {
  luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  lua_pushnil(L);
  lua_pushliteral(L, "package.loadlib is not available in the sandbox");
  lua_pushliteral(L, "absent");
  return 3;
}

// --- require: ll_require and findloader of loadlib.c, with continuations ------------------
// Stack while it searches: 1 name, 2 loaded, 3 searchers, 4 the message so far, then the
// two results of a searcher (5 loader, 6 its data), then the loader's result (7).

int requireSearched(lua_State* L, int status, lua_KContext ctx);
int requireLoaded(lua_State* L, int status, lua_KContext ctx);

// After a searcher: true if it found a loader; else its message is added.
bool searcherFound(lua_State* L) {
  if (lua_isfunction(L, 5)) return true;
  if (lua_isstring(L, 5)) {
    lua_pushvalue(L, 4);
    lua_pushliteral(L, "\n\t");
    lua_pushvalue(L, 5);
    lua_concat(L, 3);
    lua_replace(L, 4);
  }
  lua_settop(L, 4);
  return false;
}

int runLoader(lua_State* L) {
  lua_settop(L, 6);
  lua_pushvalue(L, 5);  // the loader gets (name, data), like Lua's
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 6);
  lua_callk(L, 2, 1, 0, requireLoaded);
  return requireLoaded(L, LUA_OK, 0);
}

int searchFrom(lua_State* L, lua_Integer i) {
  for (;; ++i) {
    if (lua_rawgeti(L, 3, i) == LUA_TNIL) {
      return luaL_error(L, "module '%s' not found:%s", lua_tostring(L, 1), lua_tostring(L, 4));
    }
    lua_pushvalue(L, 1);
    lua_callk(L, 1, 2, static_cast<lua_KContext>(i), requireSearched);
    if (searcherFound(L)) return runLoader(L);
  }
}

int requireSearched(lua_State* L, int status, lua_KContext ctx) {
  (void)status;
  if (searcherFound(L)) return runLoader(L);
  return searchFrom(L, static_cast<lua_Integer>(ctx) + 1);
}

int requireLoaded(lua_State* L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  const char* name = lua_tostring(L, 1);
  if (!lua_isnil(L, -1)) {
    lua_setfield(L, 2, name);  // LOADED[name] = returned value
  } else {
    lua_pop(L, 1);
  }
  if (lua_getfield(L, 2, name) == LUA_TNIL) {  // the module set no value
    lua_pushboolean(L, 1);
    lua_copy(L, -1, -2);
    lua_setfield(L, 2, name);
  }
  lua_pushvalue(L, 6);  // module result, loader data
  return 2;
}

int sandboxRequire(lua_State* L) {
  const char* name = luaL_checkstring(L, 1);
  lua_settop(L, 1);
  pushRecord(L);                // 2
  lua_rawgeti(L, 2, kLoaded);   // 3
  lua_getfield(L, 3, name);
  if (lua_toboolean(L, -1)) return 1;  // already loaded
  lua_settop(L, 3);
  lua_rawgeti(L, 2, kPublic);
  if (lua_getfield(L, -1, "searchers") != LUA_TTABLE) {
    return luaL_error(L, "'package.searchers' must be a table");
  }
  lua_remove(L, 4);  // 1 name, 2 record, 3 loaded, 4 searchers
  lua_remove(L, 2);
  lua_pushliteral(L, "");
  return searchFrom(L, 1);
}

}  // namespace

void installRequire(lua_State* L, int base, const StateConfig& config) {
  base = lua_absindex(L, base);
  const bool files = (config.libs & kLibPackage) != 0;
  luaL_requiref(L, LUA_LOADLIBNAME, luaopen_package, 0);  // the real library, kept private
  int real = lua_gettop(L);
  lua_createtable(L, 0, 8);
  int tmpl = lua_gettop(L);
  lua_getfield(L, real, "config");
  lua_setfield(L, tmpl, "config");
  lua_getfield(L, real, "searchpath");
  lua_setfield(L, tmpl, "_searchpath");
  if (files) {
    for (const char* field : {"path", "cpath", "searchpath", "loadlib"}) {
      lua_getfield(L, real, field);
      lua_setfield(L, tmpl, field);
    }
  } else {
    // Inert: a script may read and write them, nothing searches them.
    lua_pushliteral(L, "");
    lua_setfield(L, tmpl, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, tmpl, "cpath");
    lua_pushcfunction(L, searchpathUnavailable);
    lua_setfield(L, tmpl, "searchpath");
    lua_pushcfunction(L, loadlibUnavailable);
    lua_setfield(L, tmpl, "loadlib");
  }
  lua_createtable(L, 4, 0);
  lua_CFunction searchers[] = {searcherPreload, searcherDefine, searcherModules, searcherFile};
  int count = files ? 4 : 3;
  for (int i = 0; i < count; ++i) {
    lua_pushcfunction(L, searchers[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, tmpl, "searchers");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kTemplateKey);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kContextPackagesKey);

  lua_newtable(L);  // the `package` proxy
  lua_createtable(L, 0, 4);
  lua_pushcfunction(L, packageIndex);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, packageNewindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, packagePairs);
  lua_setfield(L, -2, "__pairs");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  freezeTable(L, -1);  // rawset and setmetatable refuse it: it is shared by every job
  lua_setfield(L, base, "package");
  lua_pushcfunction(L, sandboxRequire);
  lua_setfield(L, base, "require");
  lua_settop(L, real - 1);
}

void installTrustedSearchers(lua_State* L) {
  lua_getglobal(L, LUA_LOADLIBNAME);
  if (lua_type(L, -1) != LUA_TTABLE || lua_getfield(L, -1, "searchers") != LUA_TTABLE) {
    lua_settop(L, lua_gettop(L) - 2);
    return;
  }
  lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, -1));
  for (lua_Integer i = n; i >= 2; --i) {
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 2);
  }
  lua_pushcfunction(L, searcherDefine);
  lua_rawseti(L, -2, 2);
  lua_pushcfunction(L, searcherModules);
  lua_rawseti(L, -2, 3);
  lua_pop(L, 2);
}

void dropContextPackage(lua_State* L, const char* key, size_t len) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kContextPackagesKey) == LUA_TTABLE) {
    lua_pushlstring(L, key, len);
    lua_pushnil(L);
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);
}

}  // namespace luapool
