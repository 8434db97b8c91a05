// engine.<name>(...): calls into a JavaScript host function. Where Lua can yield, the job's
// coroutine yields and the worker thread is given back (the state stays leased to the job);
// where it cannot (a metamethod, a sort comparator, a gsub callback), the worker thread
// waits for the main thread's answer, still bounded by the job's deadline.
#include "host-call.hpp"

#include "job.hpp"
#include "lua-error.hpp"
#include "lua-state.hpp"
#include "value-lua.hpp"

namespace luapool {

namespace {

// Pushes the reply's values, or raises its error, in the calling coroutine.
int deliverReply(lua_State* L, Job& job) {
  if (!job.hostReply.ok) {
    lua_pushlstring(L, job.hostReply.values.data(), job.hostReply.values.size());
    return lua_error(L);
  }
  return pushDecoded(L, job.hostReply.values);
}

// Continuation after the coroutine is resumed with the host's answer.
int hostContinue(lua_State* L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  Job& job = *currentJob(*LuaState::from(L));
  lua_settop(L, 0);
  lua_checkinterrupt(L);  // killed while suspended: stop here, not at the next check
  return deliverReply(L, job);
}

// Waits on the worker thread for the main thread's answer; raises if the job is killed
// (timeout, cancel, shutdown) meanwhile. The answer is in job.hostReply.
void waitBlocking(lua_State* L, LuaState& state, Job& job) {
  lua_checkinterrupt(L);  // already killed: do not call the host at all
  // C++ only in here (locks, the bridge): no Lua error may cross a held lock.
  bool ok = cppIsland([&] {
    {
      std::lock_guard<std::mutex> lock(job.hostMutex);
      job.hostAnswered = false;
      job.hostAbandoned = false;
    }
    state.bridge->beginBlocking(job);
    {
      std::unique_lock<std::mutex> lock(job.hostMutex);
      auto done = [&] { return job.hostAnswered || job.hostAbandoned; };
      if (job.timeoutMs > 0) {
        job.hostCv.wait_until(lock, job.deadline, done);
      } else {
        job.hostCv.wait(lock, done);
      }
    }
    state.bridge->endBlocking(job);
    // The deadline passed here before the watchdog fired: the outcome is the same timeout.
    if (!job.hostAnswered && !job.hostAbandoned) state.kill(job.id, KillReason::Timeout);
  });
  if (!ok) raiseNoMemory(L);
  lua_checkinterrupt(L);  // raises: the job was killed (timeout, cancel, shutdown)
}

int hostCall(lua_State* L) {
  LuaState& state = *LuaState::from(L);
  Job* job = currentJob(state);
  const char* name = lua_tostring(L, lua_upvalueindex(2));
  if (job == nullptr) return luaL_error(L, "engine.%s can only be called while a job runs", name);
  bool encoded = false;
  if (!cppIsland([&] {
        encoded = encodeValues(L, 1, lua_gettop(L), "args", job->hostRequest.args, state.scratch);
      })) {
    return raiseNoMemory(L);
  }
  if (!encoded) return luaL_error(L, "engine.%s: %s", name, state.scratch.c_str());
  job->hostRequest.jobId = job->id;
  job->hostRequest.function = static_cast<uint32_t>(lua_tointeger(L, lua_upvalueindex(1)));
  // Yield only from the job's own coroutine: a yield inside a script's coroutine would go
  // to the script's coroutine.resume instead of to us.
  if (L == job->coroutine && lua_isyieldable(L)) {
    job->hostRequest.blocking = false;
    job->yieldForHost = true;
    return lua_yieldk(L, 0, 0, hostContinue);
  }
  job->hostRequest.blocking = true;
  waitBlocking(L, state, *job);
  lua_settop(L, 0);
  return deliverReply(L, *job);
}

}  // namespace

int hostRoundTrip(lua_State* L, uint32_t function, const char* args, size_t len, lua_KFunction k,
                  lua_KContext ctx) {
  LuaState& state = *LuaState::from(L);
  Job* job = currentJob(state);
  if (job == nullptr) return luaL_error(L, "luapool: no job is running");
  if (!cppIsland([&] { job->hostRequest.args.assign(args, len); })) return raiseNoMemory(L);
  job->hostRequest.jobId = job->id;
  job->hostRequest.function = function;
  if (L == job->coroutine && lua_isyieldable(L)) {
    job->hostRequest.blocking = false;
    job->yieldForHost = true;
    return lua_yieldk(L, 0, ctx, k);
  }
  job->hostRequest.blocking = true;
  waitBlocking(L, state, *job);
  return k(L, LUA_YIELD, ctx);
}

const HostReply& hostRoundTripReply(lua_State* L) {
  Job& job = *currentJob(*LuaState::from(L));
  lua_checkinterrupt(L);  // killed while suspended: stop here
  if (!job.hostReply.ok) {
    lua_pushlstring(L, job.hostReply.values.data(), job.hostReply.values.size());
    lua_error(L);
  }
  return job.hostReply;
}

void registerHostFunctions(lua_State* L, int engineTable, const std::vector<std::string>& names) {
  engineTable = lua_absindex(L, engineTable);
  for (size_t i = 0; i < names.size(); ++i) {
    lua_pushinteger(L, static_cast<lua_Integer>(i));
    lua_pushstring(L, names[i].c_str());
    lua_pushcclosure(L, hostCall, 2);
    lua_setfield(L, engineTable, names[i].c_str());
  }
}

}  // namespace luapool
