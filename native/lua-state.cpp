// LuaState: creation of a pooled lua_State, its counting allocator and interrupt handler.
#include "lua-state.hpp"

#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "job.hpp"
#include "sandbox.hpp"

namespace luapool {

LuaState* LuaState::from(lua_State* L) {
  // Every thread of a state shares the main thread's extra space contents at creation.
  return *static_cast<LuaState**>(lua_getextraspace(L));
}

void* LuaState::allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* self = static_cast<LuaState*>(ud);
  size_t old = ptr ? osize : 0;  // with ptr == NULL, osize is a type tag, not a size
  size_t used = self->inUse_.load(std::memory_order_relaxed);
  if (nsize == 0) {
    std::free(ptr);
    self->inUse_.store(used - old, std::memory_order_relaxed);
    return nullptr;
  }
  if (nsize > old) {
    size_t growth = nsize - old;
    // Past its deadline (or cancelled) a job may not grow: long C functions that no
    // interrupt check reaches (concat, rep, format) fail on their next allocation.
    if (self->reason_.load(std::memory_order_relaxed) != 0) return nullptr;
    size_t limit = self->config_.memoryLimit;
    if (limit != 0 && (self->memExceeded_ || used + growth > limit)) {
      // Lua answers a refusal with an emergency full collection and one retry of the same
      // request. The garbage of earlier jobs may fill the state: only when the retry is
      // refused too is the limit really reached, and then it is sticky, so that a script
      // catching the error cannot go on growing.
      // (Where Lua will not retry -- stack growth, inside a collection step -- the first
      // refusal is final.)
      Refusal& r = self->refused_;
      if (self->memExceeded_) return nullptr;
      if ((r.pending && r.ptr == ptr && r.osize == osize && r.nsize == nsize) ||
          self->L_ == nullptr || !luapool_willretryalloc(self->L_)) {
        self->memExceeded_ = true;
        r.pending = false;
      } else {
        r = Refusal{ptr, osize, nsize, true};
      }
      return nullptr;
    }
    self->refused_.pending = false;
    self->sinceGc_ += growth;
  }
  void* block = std::realloc(ptr, nsize);
  if (block == nullptr) return nullptr;
  used = used - old + nsize;
  self->inUse_.store(used, std::memory_order_relaxed);
  if (used > self->peak_.load(std::memory_order_relaxed)) {
    self->peak_.store(used, std::memory_order_relaxed);
  }
  return block;
}

void LuaState::onInterrupt(lua_State* L) {
  LuaState* self = from(L);
  KillReason reason = self->killReason();
  if (reason == KillReason::None) return;  // stale request for a job that already ended
  // The error value only has to stop the script; the job is classified by reason_, never
  // by what the script does with this value.
  lua_pushstring(L, reason == KillReason::Timeout ? "luapool: job timed out"
                                                  : "luapool: job cancelled");
  lua_error(L);
}

LuaState::LuaState(const StateConfig& config, size_t index) : config_(config), index_(index) {
  L_ = lua_newstate(&LuaState::allocate, this);
  if (L_ == nullptr) return;
  *static_cast<LuaState**>(lua_getextraspace(L_)) = this;
  interruptFlag_ = lua_interruptflag(L_);
  lua_setinterrupthandler(L_, &LuaState::onInterrupt);
  luapool_setdefaultwarnf(L_);
  if (config_.generationalGc) lua_gc(L_, LUA_GCGEN, 0, 0);
  openLibraries();
}

LuaState::~LuaState() {
  if (L_ != nullptr) lua_close(L_);
}

static int openAll(lua_State* L) {
  auto* self = static_cast<LuaState*>(lua_touserdata(L, 1));
  if (self->config().trusted) {
    luaL_openlibs(L);
  }
  installSandbox(L, self->config());
  return 0;
}

void LuaState::openLibraries() {
  lua_pushcfunction(L_, openAll);
  lua_pushlightuserdata(L_, this);
  if (lua_pcall(L_, 1, 0, 0) != LUA_OK) {  // only a memory error can get here
    const char* msg = lua_tostring(L_, -1);
    initError_ = msg ? msg : "unknown error";
    lua_close(L_);
    L_ = nullptr;
  }
}

void LuaState::beginJob(Job& job, KillReason preset) {
  std::lock_guard<std::mutex> lock(killMutex_);
  int requested = job.killRequest.load(std::memory_order_acquire);
  if (preset == KillReason::None) preset = static_cast<KillReason>(requested);
  currentJob_ = job.id;
  memExceeded_ = false;
  refused_.pending = false;
  reason_.store(static_cast<int>(preset), std::memory_order_release);
  __atomic_store_n(interruptFlag_, preset != KillReason::None ? 1 : 0, __ATOMIC_RELEASE);
}

KillReason LuaState::endJob() {
  std::lock_guard<std::mutex> lock(killMutex_);
  auto reason = static_cast<KillReason>(reason_.load(std::memory_order_acquire));
  currentJob_ = 0;
  reason_.store(0, std::memory_order_release);
  __atomic_store_n(interruptFlag_, 0, __ATOMIC_RELEASE);
  return reason;
}

bool LuaState::kill(uint64_t jobId, KillReason reason) {
  std::lock_guard<std::mutex> lock(killMutex_);
  if (currentJob_ != jobId || jobId == 0) return false;
  if (reason_.load(std::memory_order_relaxed) == 0) {
    reason_.store(static_cast<int>(reason), std::memory_order_release);
  }
  __atomic_store_n(interruptFlag_, 1, __ATOMIC_RELEASE);
  return true;
}

void LuaState::afterJob(bool hadMemoryError) {
  stats.jobs++;
  if (hadMemoryError) {
    stats.memoryErrors++;
    lua_gc(L_, LUA_GCCOLLECT);
    stats.fullGcs++;
#if defined(__GLIBC__)
    // A memory bomb leaves the freed blocks in this thread's malloc arena; hand them back.
    malloc_trim(0);
#endif
    sinceGc_ = 0;
    jobsSinceGc_ = 0;
    return;
  }
  ++jobsSinceGc_;
  bool byJobs = config_.gcEveryJobs != 0 && jobsSinceGc_ >= config_.gcEveryJobs;
  bool byBytes = config_.gcEveryBytes != 0 && sinceGc_ >= config_.gcEveryBytes;
  if (byJobs || byBytes) {
    lua_gc(L_, LUA_GCSTEP, 0);
    stats.gcSteps++;
    sinceGc_ = 0;
    jobsSinceGc_ = 0;
  }
}

}  // namespace luapool
