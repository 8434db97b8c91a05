// LuaState: creation of a pooled lua_State, its counting allocator and interrupt handler.
#include "lua-state.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "chunk-cache.hpp"
#include "job.hpp"
#include "lua-error.hpp"
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
  if (used > self->stepPeak_.load(std::memory_order_relaxed)) {
    self->stepPeak_.store(used, std::memory_order_relaxed);
    if (used > self->peak_.load(std::memory_order_relaxed)) self->peak_.store(used, std::memory_order_relaxed);
  }
  return block;
}

// The error value a kill raises (short strings: interned once, found again without
// allocating while they stay anchored).
static const char* killMessage(KillReason reason) {
  switch (reason) {
    case KillReason::Timeout: return "luapool: job timed out";
    case KillReason::Exit: return "luapool: os.exit";
    default: return "luapool: job cancelled";
  }
}
static const char kKillMessagesKey = 0;

// Runs on the thread running Lua whenever the interrupt flag is set: a kill raises (again
// at every check, so pcall cannot swallow it); a slice request yields the job's own
// coroutine where it can (`canyield`: a check in the VM, patch 0015), and is otherwise
// dropped until the scheduler's next slice tick asks again.
int LuaState::onInterrupt(lua_State* L, int canyield) {
  LuaState* self = from(L);
  KillReason reason = KillReason::None;
  bool slice = false, sample = false;
  cppIsland([&] {  // the lock is released before anything below can raise
    std::lock_guard<std::mutex> lock(self->killMutex_);
    reason = static_cast<KillReason>(self->reason_.load(std::memory_order_relaxed));
    slice = self->sliceAsked_;
    sample = self->sampleAsked_;
    self->sampleAsked_ = false;
    if (reason == KillReason::None) {
      self->sliceAsked_ = false;
      self->publishFlagLocked();  // 0: nothing else can be pending without a kill
    }
  });
  if (reason == KillReason::None) {
    if (sample) {
      Job* job = self->runningJob;
      bool call = job != nullptr && job->kind == JobKind::Call;
      // C++ only (its lock, its tables): a cppIsland, so no exception reaches the VM
      cppIsland([&] { self->profile.sample(L, call ? job->function.c_str() : nullptr); });
    }
    Job* job = self->runningJob;
    if (slice && canyield && job != nullptr && L == job->coroutine) {
      job->yieldForSlice = true;
      return 1;
    }
    return 0;
  }
  // The error value only has to stop the script; the job is classified by reason_, never
  // by what the script does with this value. The messages are anchored in the registry
  // (see openAll), so pushing one needs no memory past the deadline.
  lua_pushstring(L, killMessage(reason));
  return lua_error(L);
}

LuaState::LuaState(const StateConfig& config, size_t index) : config_(config), index_(index) {
  uint64_t n1, n2;
  freshSeeds(n1, n2);
  stateRandom_.seed(n1, n2);
  L_ = lua_newstate(&LuaState::allocate, this);
  if (L_ == nullptr) return;
  *static_cast<LuaState**>(lua_getextraspace(L_)) = this;
  interruptFlag_ = lua_interruptflag(L_);
  lua_setinterrupthandler(L_, &LuaState::onInterrupt);
  lua_setemergencyf(L_, &LuaState::onEmergency, this);
  luapool_setdefaultwarnf(L_);
  if (config_.generationalGc) lua_gc(L_, LUA_GCGEN, 0, 0);
  openLibraries();
}

LuaState::~LuaState() {
  if (L_ != nullptr) lua_close(L_);
}

// os.exit in a trusted state: ends the running job (ExitError with the code) instead of the
// process, and like the real one it cannot be caught: it is a kill (see onInterrupt).
static int osExit(lua_State* L) {
  LuaState* self = LuaState::from(L);
  int code = EXIT_SUCCESS;
  if (lua_isboolean(L, 1)) {
    code = lua_toboolean(L, 1) ? EXIT_SUCCESS : EXIT_FAILURE;
  } else {
    code = static_cast<int>(luaL_optinteger(L, 1, EXIT_SUCCESS));
  }
  Job* job = self->runningJob;
  if (job == nullptr) return luaL_error(L, "os.exit: no job is running");
  job->exitCode = code;
  self->kill(job->id, KillReason::Exit);
  lua_checkinterrupt(L);  // raises
  return 0;
}

static int openAll(lua_State* L) {
  auto* self = static_cast<LuaState*>(lua_touserdata(L, 1));
  if (self->config().trusted) {
    luaL_openlibs(L);
    lua_getglobal(L, LUA_OSLIBNAME);  // os.exit ends the job, not the process
    lua_pushcfunction(L, osExit);
    lua_setfield(L, -2, "exit");
    lua_pop(L, 1);
  }
  installSandbox(L, self->config());
  lua_createtable(L, 3, 0);  // anchors the kill messages for the state's lifetime
  for (KillReason r : {KillReason::Timeout, KillReason::Cancelled, KillReason::Exit}) {
    lua_pushstring(L, killMessage(r));
    lua_rawseti(L, -2, static_cast<int>(r));
  }
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kKillMessagesKey);
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
  random_ = nullptr;  // chosen again at the job's first draw (a job or its context)
  std::lock_guard<std::mutex> lock(killMutex_);
  int requested = job.killRequest.load(std::memory_order_acquire);
  if (preset == KillReason::None) preset = static_cast<KillReason>(requested);
  currentJob_ = job.id;
  lastJobId_ = job.id;
  sliceAsked_ = job.sliceRequest.exchange(false, std::memory_order_relaxed);
  sampleAsked_ = false;
  memExceeded_ = job.memoryHit;  // sticky across the job's steps
  refused_.pending = false;
  stepPeak_.store(inUse_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  reason_.store(static_cast<int>(preset), std::memory_order_release);
  publishFlagLocked();
}

KillReason LuaState::endJob() {
  std::lock_guard<std::mutex> lock(killMutex_);
  auto reason = static_cast<KillReason>(reason_.load(std::memory_order_acquire));
  currentJob_ = 0;
  sliceAsked_ = false;
  sampleAsked_ = false;
  reason_.store(0, std::memory_order_release);
  publishFlagLocked();
  return reason;
}

bool LuaState::kill(uint64_t jobId, KillReason reason, bool duringClose) {
  std::lock_guard<std::mutex> lock(killMutex_);
  if (currentJob_ != jobId || jobId == 0) return false;
  if (closing_ && !duringClose) return true;  // unwinding already; the grace bounds it
  if (reason_.load(std::memory_order_relaxed) == 0) {
    reason_.store(static_cast<int>(reason), std::memory_order_release);
  }
  publishFlagLocked();
  return true;
}

KillReason LuaState::beginClosing() {
  std::lock_guard<std::mutex> lock(killMutex_);
  auto saved = static_cast<KillReason>(reason_.load(std::memory_order_relaxed));
  closing_ = true;
  reason_.store(0, std::memory_order_release);
  sliceAsked_ = false;
  publishFlagLocked();
  closingMemExceeded_ = memExceeded_;
  memExceeded_ = false;
  return saved;
}

void LuaState::endClosing(KillReason saved) {
  std::lock_guard<std::mutex> lock(killMutex_);
  // The job's outcome was decided before it unwound: a kill that arrived meanwhile (the
  // grace period's, or a late cancel) only stopped the close handlers.
  closing_ = false;
  reason_.store(static_cast<int>(saved), std::memory_order_release);
  memExceeded_ = memExceeded_ || closingMemExceeded_;
  closingMemExceeded_ = false;
  publishFlagLocked();
}

bool LuaState::requestSample(uint64_t jobId) {
  std::lock_guard<std::mutex> lock(killMutex_);
  if (currentJob_ != jobId || jobId == 0) return false;
  sampleAsked_ = true;
  publishFlagLocked();
  return true;
}

bool LuaState::requestSlice(Job& job) {
  std::lock_guard<std::mutex> lock(killMutex_);
  if (currentJob_ != job.id) {
    job.sliceRequest.store(true, std::memory_order_relaxed);  // taken by beginJob
    return false;
  }
  sliceAsked_ = true;
  publishFlagLocked();
  return true;
}

int LuaState::flagValueLocked() const {
  if (reason_.load(std::memory_order_relaxed) != 0) return LUA_INTERRUPT_STOP | LUA_INTERRUPT_REQUEST;
  return sliceAsked_ || sampleAsked_ ? LUA_INTERRUPT_REQUEST : 0;
}

void LuaState::publishFlagLocked() {
  __atomic_store_n(interruptFlag_, flagValueLocked(), __ATOMIC_RELEASE);
}

// Patch 0025: an allocation failed and Lua is about to run an emergency collection (then
// retry). The caches that can be rebuilt go first, so that their memory is the job's:
// the chunk cache (compiled sources, also of required and defined modules' sources). Runs
// where the allocation failed: allocates nothing, raises nothing, leaves the stack alone.
void LuaState::onEmergency(void* ud, lua_State* L) {
  auto* self = static_cast<LuaState*>(ud);
  if (self->cachedChunks == 0) return;
  dropChunkCache(L);
  self->cachedChunks = 0;
  self->cachedChunkBytes = 0;
}

void LuaState::afterJob(bool hadMemoryError) {
  stats.jobs++;
  // The job is over: its generator goes (a bound, should a job ever end without this).
  jobRandom_.erase(lastJobId_);
  if (jobRandom_.size() > 65536) jobRandom_.clear();
  random_ = nullptr;
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

void LuaState::freshSeeds(uint64_t& n1, uint64_t& n2) {
  uint64_t now = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  uint64_t wall = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  n1 = mix64(now ^ mix64(++seedCounter_ + (static_cast<uint64_t>(index_) << 32)));
  n2 = mix64(wall ^ mix64(reinterpret_cast<uintptr_t>(this) ^ reinterpret_cast<uintptr_t>(&n1)));
}

Prng& LuaState::random() {
  if (random_ != nullptr) return *random_;
  Job* job = runningJob;
  uint64_t n1, n2;
  if (job == nullptr) {
    random_ = &stateRandom_;
  } else if (!job->contextKey.empty()) {
    auto entry = contextRandom_.try_emplace(job->contextKey);
    if (entry.second) {
      freshSeeds(n1, n2);
      entry.first->second.seed(n1, n2);
    }
    random_ = &entry.first->second;
  } else {
    auto entry = jobRandom_.try_emplace(job->id);
    if (entry.second) {
      freshSeeds(n1, n2);
      entry.first->second.seed(n1, n2);
    }
    random_ = &entry.first->second;
  }
  return *random_;
}

void LuaState::dropContextRandom(const char* key, size_t len) {
  contextRandom_.erase(std::string(key, len));
  random_ = nullptr;
}

}  // namespace luapool
