// The restricted libraries of the 'safe' profile: an io whose standard streams become log
// actions and whose file and process operations fail as Lua's own failures do, a
// read-only debug subset, and stand-ins that name what stays absent.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "job.hpp"
#include "lua-error.hpp"
#include "lua-state.hpp"
#include "sandbox.hpp"

namespace luapool {

namespace {

const char kFileMetaKey = 0;   // metatable of the three stream objects
const char kStreamsKey = 0;    // { stdin, stdout, stderr } (1-based)

constexpr size_t kMaxPendingLine = 64 * 1024;  // an unfinished line is sent beyond this

enum Stream : int { kStdin = 0, kStdout = 1, kStderr = 2 };
const char* const kStreamNames[] = {"stdin", "stdout", "stderr"};

// --- stand-ins ---------------------------------------------------------------------------

int raiseUnavailable(lua_State* L) {
  return luaL_error(L, "%s is not available in the sandbox", lua_tostring(L, lua_upvalueindex(1)));
}

// Fails like Lua's own file operations: nil, message.
int failUnavailable(lua_State* L) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s is not available in the sandbox", lua_tostring(L, lua_upvalueindex(1)));
  return 2;
}

void pushFailing(lua_State* L, const char* name) {
  lua_pushstring(L, name);
  lua_pushcclosure(L, failUnavailable, 1);
}

// os.execute(): is a shell available? No. With a command: not available.
int osExecute(lua_State* L) {
  if (lua_isnoneornil(L, 1)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  return luaL_error(L, "os.execute is not available in the sandbox");
}

// os.getenv(name): the sandbox has no environment variables.
int osGetenv(lua_State* L) {
  luaL_checkstring(L, 1);
  lua_pushnil(L);
  return 1;
}

// os.setlocale(): the locale is "C"; asking for another one cannot be honoured (nil).
int osSetlocale(lua_State* L) {
  static const char* const categories[] = {"all", "collate", "ctype", "monetary", "numeric", "time", nullptr};
  const char* locale = luaL_optstring(L, 1, nullptr);
  luaL_checkoption(L, 2, "all", categories);
  if (locale == nullptr || std::strcmp(locale, "C") == 0 || std::strcmp(locale, "POSIX") == 0) {
    lua_pushliteral(L, "C");
  } else {
    lua_pushnil(L);
  }
  return 1;
}

// --- io: the three standard streams ------------------------------------------------------

Job& ioJob(lua_State* L) {
  Job* job = currentJob(*LuaState::from(L));
  if (job == nullptr) luaL_error(L, "io functions can only be used while a job runs");
  return *job;
}

// The stream at idx, or -1 if it is not one of ours.
int toStream(lua_State* L, int idx) {
  if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return -1;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kFileMetaKey);
  bool ours = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  if (!ours) return -1;
  return *static_cast<const unsigned char*>(lua_touserdata(L, idx));
}

int checkStream(lua_State* L, int idx) {
  int stream = toStream(L, idx);
  if (stream < 0) luaL_typeerror(L, idx, "FILE*");
  return stream;
}

void pushStream(lua_State* L, int stream) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kStreamsKey);
  lua_rawgeti(L, -1, stream + 1);
  lua_remove(L, -2);
}

const char* levelOf(int stream) { return stream == kStderr ? "warn" : "info"; }

// Sends text as log actions of at most kMaxPendingLine bytes each. C++ only (call it in a
// cppIsland): raises nothing, returns what the caller raises.
ActionStatus sendText(lua_State* L, Job& job, int stream, const std::string& text, size_t from,
                      size_t to) {
  do {
    size_t n = std::min(to - from, kMaxPendingLine);
    ActionStatus status = sendAction(L, job, ActionType::Log, levelOf(stream), text.substr(from, n));
    if (status != ActionStatus::Ok) return status;
    from += n;
  } while (from < to);
  return ActionStatus::Ok;
}

// Sends the complete lines of the stream's pending text as log actions, and what is left
// too when it is `all` or has grown to kMaxPendingLine. C++ only, like sendText.
ActionStatus sendLines(lua_State* L, Job& job, int stream, bool all) {
  std::string& pending = job.ioPending[stream - 1];
  size_t start = 0;
  for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    ActionStatus status = sendText(L, job, stream, pending, start, nl);
    if (status != ActionStatus::Ok) return status;
  }
  size_t keep = pending.size() - start;
  if (keep > 0 && (all || keep >= kMaxPendingLine)) {
    size_t end = all ? pending.size() : pending.size() - keep % kMaxPendingLine;
    ActionStatus status = sendText(L, job, stream, pending, start, end);
    if (status != ActionStatus::Ok) return status;
    start = end;
  }
  pending.erase(0, start);
  return ActionStatus::Ok;
}

// sendLines in a cppIsland; raises what it failed with.
void flushLines(lua_State* L, Job& job, int stream, bool all) {
  ActionStatus status = ActionStatus::NoMemory;
  cppIsland([&] { status = sendLines(L, job, stream, all); });
  raiseAction(L, status);
}

// The "Bad file descriptor" failure of writing to stdin or reading from stdout.
int badDescriptor(lua_State* L) {
  lua_pushnil(L);
  lua_pushliteral(L, "Bad file descriptor");
  lua_pushinteger(L, 9);  // EBADF
  return 3;
}

// Writes arguments [arg, last] to the stream (like liolib's g_write: numbers in Lua's
// formats, strings as they are); the file object at fileIdx is the result.
int writeTo(lua_State* L, int stream, int fileIdx, int arg, int last) {
  if (stream == kStdin) return badDescriptor(L);
  Job& job = ioJob(L);
  std::string& pending = job.ioPending[stream - 1];  // the job's: a reference, nothing to destroy
  bool newline = false;
  for (; arg <= last; ++arg) {
    char buffer[64];
    const char* s = buffer;
    size_t len = 0;
    if (lua_type(L, arg) == LUA_TNUMBER) {
      int n = lua_isinteger(L, arg)
                  ? std::snprintf(buffer, sizeof buffer, LUA_INTEGER_FMT, static_cast<LUAI_UACINT>(lua_tointeger(L, arg)))
                  : std::snprintf(buffer, sizeof buffer, LUA_NUMBER_FMT, static_cast<LUAI_UACNUMBER>(lua_tonumber(L, arg)));
      len = n > 0 ? static_cast<size_t>(n) : 0;
    } else {
      s = luaL_checklstring(L, arg, &len);
      if (!newline && std::memchr(s, '\n', len) != nullptr) newline = true;
    }
    if (!cppIsland([&] { pending.append(s, len); })) return raiseNoMemory(L);
  }
  if (newline || pending.size() >= kMaxPendingLine) flushLines(L, job, stream, false);
  lua_pushvalue(L, fileIdx);
  return 1;
}

// Reads from the empty standard input (like liolib's g_read at end of file): "a" gives
// "", every other format nil, which ends the results. Formats are checked as Lua does.
int readEof(lua_State* L, int first) {
  int nargs = lua_gettop(L) - first + 1;
  if (nargs <= 0) {
    lua_pushnil(L);
    return 1;
  }
  luaL_checkstack(L, nargs + LUA_MINSTACK, "too many arguments");
  int n = first;
  for (; nargs-- > 0; ++n) {
    if (lua_type(L, n) == LUA_TNUMBER) {
      luaL_checkinteger(L, n);
      lua_pushnil(L);
      return n - first + 1;
    }
    const char* p = luaL_checkstring(L, n);
    if (*p == '*') ++p;  // Lua 5.3 formats
    switch (*p) {
      case 'n': case 'l': case 'L':
        lua_pushnil(L);
        return n - first + 1;
      case 'a':
        lua_pushliteral(L, "");
        break;
      default:
        return luaL_argerror(L, n, "invalid format");
    }
  }
  return n - first;
}

int readFrom(lua_State* L, int stream, int first) {
  if (stream != kStdin) return badDescriptor(L);
  return readEof(L, first);
}

// The iterator of lines(): reads with the formats it was made with.
int linesIterator(lua_State* L) {
  int stream = static_cast<int>(lua_tointeger(L, lua_upvalueindex(1)));
  int n = static_cast<int>(lua_tointeger(L, lua_upvalueindex(2)));
  lua_settop(L, 0);
  luaL_checkstack(L, n, "too many arguments");
  for (int i = 1; i <= n; ++i) lua_pushvalue(L, lua_upvalueindex(2 + i));
  if (stream != kStdin) return luaL_error(L, "Bad file descriptor");
  return readEof(L, 1);
}

int pushLines(lua_State* L, int stream, int first) {
  int n = lua_gettop(L) - first + 1;
  if (n < 0) n = 0;
  luaL_argcheck(L, n <= 250, first + 250, "too many arguments");
  lua_pushinteger(L, stream);
  lua_pushinteger(L, n);
  for (int i = 0; i < n; ++i) lua_pushvalue(L, first + i);
  lua_pushcclosure(L, linesIterator, 2 + n);
  return 1;
}

int flushStream(lua_State* L, int stream) {
  if (stream != kStdin) flushLines(L, ioJob(L), stream, true);
  lua_pushboolean(L, 1);
  return 1;
}

int cannotClose(lua_State* L) {
  lua_pushnil(L);
  lua_pushliteral(L, "cannot close standard file");
  return 2;
}

// --- file methods ---

int fWrite(lua_State* L) { return writeTo(L, checkStream(L, 1), 1, 2, lua_gettop(L)); }
int fRead(lua_State* L) { return readFrom(L, checkStream(L, 1), 2); }
int fLines(lua_State* L) { return pushLines(L, checkStream(L, 1), 2); }
int fFlush(lua_State* L) { return flushStream(L, checkStream(L, 1)); }

int fClose(lua_State* L) {
  checkStream(L, 1);
  return cannotClose(L);
}

int fSeek(lua_State* L) {
  checkStream(L, 1);
  static const char* const modes[] = {"set", "cur", "end", nullptr};
  luaL_checkoption(L, 2, "cur", modes);
  luaL_optinteger(L, 3, 0);
  lua_pushnil(L);
  lua_pushliteral(L, "Illegal seek");
  lua_pushinteger(L, 29);  // ESPIPE: a terminal or a pipe
  return 3;
}

int fSetvbuf(lua_State* L) {
  checkStream(L, 1);
  static const char* const modes[] = {"no", "full", "line", nullptr};
  luaL_checkoption(L, 2, nullptr, modes);
  luaL_optinteger(L, 3, 0);
  lua_pushboolean(L, 1);
  return 1;
}

int fToString(lua_State* L) {
  lua_pushfstring(L, "file (%p)", lua_touserdata(L, 1));
  return 1;
}

int fNoop(lua_State*) { return 0; }

// --- io functions ---

int ioWrite(lua_State* L) {
  Job& job = ioJob(L);
  int top = lua_gettop(L);
  pushStream(L, job.ioOutput);
  return writeTo(L, job.ioOutput, top + 1, 1, top);
}

int ioRead(lua_State* L) { return readFrom(L, ioJob(L).ioInput, 1); }

int ioLines(lua_State* L) {
  if (!lua_isnoneornil(L, 1)) {
    luaL_checkstring(L, 1);
    lua_pushnil(L);
    lua_pushliteral(L, "io.lines is not available in the sandbox");
    return 2;
  }
  return pushLines(L, ioJob(L).ioInput, 2);
}

int ioFlush(lua_State* L) { return flushStream(L, ioJob(L).ioOutput); }

int ioClose(lua_State* L) {
  if (!lua_isnone(L, 1)) checkStream(L, 1);
  return cannotClose(L);
}

// io.input([file]) / io.output([file]): the job's default stream; a file name fails.
int ioDefault(lua_State* L, bool output) {
  Job& job = ioJob(L);
  uint8_t& current = output ? job.ioOutput : job.ioInput;
  if (!lua_isnoneornil(L, 1)) {
    if (lua_type(L, 1) == LUA_TSTRING) {
      lua_pushnil(L);
      lua_pushfstring(L, "io.%s is not available in the sandbox", output ? "output" : "input");
      return 2;
    }
    current = static_cast<uint8_t>(checkStream(L, 1));
  }
  pushStream(L, current);
  return 1;
}

int ioInput(lua_State* L) { return ioDefault(L, false); }
int ioOutput(lua_State* L) { return ioDefault(L, true); }

int ioType(lua_State* L) {
  luaL_checkany(L, 1);
  if (toStream(L, 1) >= 0) {
    lua_pushliteral(L, "file");
  } else {
    lua_pushnil(L);
  }
  return 1;
}

void setFunctions(lua_State* L, const luaL_Reg* fns) {
  for (; fns->name != nullptr; ++fns) {
    lua_pushcfunction(L, fns->func);
    lua_setfield(L, -2, fns->name);
  }
}

}  // namespace

void pushUnavailable(lua_State* L, const char* name) {
  lua_pushstring(L, name);
  lua_pushcclosure(L, raiseUnavailable, 1);
}

void installSandboxIo(lua_State* L, int base) {
  base = lua_absindex(L, base);
  // The stream objects' metatable; scripts see a read-only copy of it (pl.types and others
  // recognise files by getmetatable(io.stdout)).
  lua_createtable(L, 0, 8);
  int meta = lua_gettop(L);
  lua_createtable(L, 0, 8);
  static const luaL_Reg methods[] = {
      {"write", fWrite}, {"read", fRead},   {"lines", fLines},     {"flush", fFlush},
      {"close", fClose}, {"seek", fSeek},   {"setvbuf", fSetvbuf}, {nullptr, nullptr}};
  setFunctions(L, methods);
  makeReadonlyProxy(L, "file");
  lua_setfield(L, meta, "__index");
  lua_pushliteral(L, "FILE*");
  lua_setfield(L, meta, "__name");
  lua_pushcfunction(L, fToString);
  lua_setfield(L, meta, "__tostring");
  lua_pushcfunction(L, fNoop);  // `local f <close> = io.stdout` closes nothing
  lua_setfield(L, meta, "__close");
  lua_pushvalue(L, meta);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kFileMetaKey);
  // what getmetatable(file) returns: a read-only proxy of the same fields
  lua_createtable(L, 0, 4);
  for (const char* field : {"__index", "__name", "__tostring", "__close"}) {
    lua_getfield(L, meta, field);
    lua_setfield(L, -2, field);
  }
  makeReadonlyProxy(L, "file metatable");
  lua_setfield(L, meta, "__metatable");

  lua_createtable(L, 0, 16);
  int io = lua_gettop(L);
  lua_createtable(L, 3, 0);
  for (int stream = kStdin; stream <= kStderr; ++stream) {
    auto* id = static_cast<unsigned char*>(lua_newuserdatauv(L, 1, 0));
    *id = static_cast<unsigned char>(stream);
    lua_pushvalue(L, meta);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, io, kStreamNames[stream]);
    lua_rawseti(L, -2, stream + 1);
  }
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kStreamsKey);
  static const luaL_Reg functions[] = {
      {"write", ioWrite}, {"read", ioRead},     {"lines", ioLines},   {"flush", ioFlush},
      {"close", ioClose}, {"input", ioInput},   {"output", ioOutput}, {"type", ioType},
      {nullptr, nullptr}};
  setFunctions(L, functions);
  for (const char* name : {"io.open", "io.popen", "io.tmpfile"}) {
    pushFailing(L, name);
    lua_setfield(L, io, name + 3);
  }
  makeReadonlyProxy(L, "io");
  lua_setfield(L, base, "io");
  lua_settop(L, meta - 1);
}

void installSandboxDebug(lua_State* L, int base) {
  base = lua_absindex(L, base);
  luaL_requiref(L, "debug", luaopen_debug, 0);  // the real library, kept private
  lua_createtable(L, 0, 2);
  // Only what reads the job's own stack and describes functions. Everything else stays
  // nil, not a stand-in that raises: libraries test for these functions before they use
  // them (dkjson: `local debmeta = require "debug".getmetatable; if debmeta then ...`).
  for (const char* name : {"traceback", "getinfo"}) {
    lua_getfield(L, -2, name);
    lua_setfield(L, -2, name);
  }
  makeReadonlyProxy(L, "debug");
  lua_setfield(L, base, "debug");
  lua_pop(L, 1);
}

void addSandboxOsStubs(lua_State* L, int osTable) {
  osTable = lua_absindex(L, osTable);
  for (const char* name : {"os.exit", "os.tmpname"}) {
    pushUnavailable(L, name);
    lua_setfield(L, osTable, name + 3);
  }
  for (const char* name : {"os.remove", "os.rename"}) {
    pushFailing(L, name);
    lua_setfield(L, osTable, name + 3);
  }
  lua_pushcfunction(L, osExecute);
  lua_setfield(L, osTable, "execute");
  lua_pushcfunction(L, osGetenv);
  lua_setfield(L, osTable, "getenv");
  lua_pushcfunction(L, osSetlocale);
  lua_setfield(L, osTable, "setlocale");
}

void addSandboxBaseStubs(lua_State* L, int base) {
  base = lua_absindex(L, base);
  pushUnavailable(L, "dofile");
  lua_setfield(L, base, "dofile");
  pushFailing(L, "loadfile");
  lua_setfield(L, base, "loadfile");
}

void flushJobOutput(Job& job) {
  for (int stream = kStdout; stream <= kStderr; ++stream) {
    std::string& pending = job.ioPending[stream - 1];
    if (pending.empty()) continue;
    job.actions.push_back(Action{ActionType::Log, levelOf(stream), std::move(pending)});
    pending.clear();
  }
}

}  // namespace luapool
