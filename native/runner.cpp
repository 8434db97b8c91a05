// Runner: the JS-visible native class behind ScriptRunner. Main thread only: it turns
// calls into Jobs, starts worker slots as libuv thread-pool work, and hands finished jobs
// to JavaScript through a thread-safe function.
#include "runner.hpp"

#include <chrono>

#include "addon.hpp"
#include "value.hpp"

namespace luapool {

namespace {

constexpr uint32_t kFlagMultret = 1;
constexpr uint32_t kFlagBytesAsBuffer = 2;

std::string bufferOrEmpty(const Napi::Value& v) {
  if (v.IsBuffer()) {
    auto b = v.As<Napi::Buffer<char>>();
    return std::string(b.Data(), b.Length());
  }
  return {};
}

uint32_t libBit(const std::string& name) {
  static const struct { const char* name; uint32_t bit; } table[] = {
      {"base", kLibBase},   {"string", kLibString}, {"table", kLibTable},
      {"math", kLibMath},   {"utf8", kLibUtf8},     {"coroutine", kLibCoroutine},
      {"os", kLibOs},       {"io", kLibIo},         {"debug", kLibDebug},
      {"package", kLibPackage},
  };
  for (const auto& e : table) {
    if (name == e.name) return e.bit;
  }
  return 0;
}

// A finished job's single scalar result, converted without a round trip through JS.
bool fastScalar(Napi::Env env, const Job& job, bool asBuffer, Napi::Value& out) {
  const std::string& r = job.result;
  if (r.size() < kHeaderSize + 1) return false;
  ValueReader rd(r.data(), r.size());
  rd.u8();
  if (rd.u32() != 1) return false;
  switch (rd.u8()) {
    case kTagNil: out = env.Undefined(); return true;
    case kTagTrue: out = Napi::Boolean::New(env, true); return true;
    case kTagFalse: out = Napi::Boolean::New(env, false); return true;
    case kTagFloat: out = Napi::Number::New(env, rd.f64()); return true;
    case kTagInt32: out = Napi::Number::New(env, rd.i32()); return true;
    case kTagInt: {
      int64_t v = rd.i64();
      if (v > 9007199254740991LL || v < -9007199254740991LL) return false;
      out = Napi::Number::New(env, static_cast<double>(v));
      return true;
    }
    case kTagStr: {
      if (asBuffer) return false;
      uint32_t n = rd.u32();
      out = Napi::String::New(env, rd.take(n), n);
      return true;
    }
    default: return false;
  }
}

}  // namespace

Napi::Function Runner::Init(Napi::Env env) {
  return DefineClass(env, "NativeRunner", {
      InstanceMethod<&Runner::Run>("run"),
      InstanceMethod<&Runner::Call>("call"),
      InstanceMethod<&Runner::Define>("define"),
      InstanceMethod<&Runner::CheckSyntax>("checkSyntax"),
      InstanceMethod<&Runner::ResetContext>("resetContext"),
      InstanceMethod<&Runner::Cancel>("cancel"),
      InstanceMethod<&Runner::TakeQueued>("takeQueued"),
      InstanceMethod<&Runner::InterruptAll>("interruptAll"),
      InstanceMethod<&Runner::AnswerHost>("answerHost"),
      InstanceMethod<&Runner::CancelSuspended>("cancelSuspended"),
      InstanceMethod<&Runner::Stats>("stats"),
      InstanceMethod<&Runner::Close>("close"),
  });
}

// new NativeRunner(options, onComplete)
Runner::Runner(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Runner>(info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  RunnerConfig config;
  config.states = o.Get("states").As<Napi::Number>().Uint32Value();
  config.maxWorkers = o.Get("maxWorkers").As<Napi::Number>().Uint32Value();
  double maxQueue = o.Get("maxQueue").As<Napi::Number>().DoubleValue();
  config.maxQueue = maxQueue >= 1e15 ? SIZE_MAX : static_cast<size_t>(maxQueue);
  config.state.trusted = o.Get("trusted").As<Napi::Boolean>().Value();
  Napi::Array libs = o.Get("libs").As<Napi::Array>();
  for (uint32_t i = 0; i < libs.Length(); ++i) {
    config.state.libs |= libBit(libs.Get(i).As<Napi::String>().Utf8Value());
  }
  config.state.memoryLimit = static_cast<size_t>(o.Get("memoryLimit").As<Napi::Number>().DoubleValue());
  config.state.gcEveryJobs = o.Get("gcEveryJobs").As<Napi::Number>().Uint32Value();
  config.state.gcEveryBytes = static_cast<size_t>(o.Get("gcEveryBytes").As<Napi::Number>().DoubleValue());
  config.state.generationalGc = o.Get("generationalGc").As<Napi::Boolean>().Value();
  config.state.chunkCacheSize = o.Get("chunkCacheSize").As<Napi::Number>().Uint32Value();
  Napi::Array host = o.Get("hostFunctions").As<Napi::Array>();
  for (uint32_t i = 0; i < host.Length(); ++i) {
    config.state.hostFunctions.push_back(host.Get(i).As<Napi::String>().Utf8Value());
  }
  if (config.maxWorkers < 1) config.maxWorkers = 1;
  if (config.maxWorkers > config.states) config.maxWorkers = config.states;

  core_ = std::make_shared<RunnerCore>(config);
  std::string error;
  if (!core_->init(error)) throw Napi::Error::New(env, error);

  tsfn_ = Tsfn::New(env, info[1].As<Napi::Function>(), "luapool.complete", 0, 1, this);
  tsfn_.Unref(env);
  auto* tsfn = &tsfn_;
  core_->setNotify([tsfn] { tsfn->NonBlockingCall(); });

  env_ = env;
  addon_ = Addon::From(env);
  if (napi_get_uv_event_loop(env, &loop_) != napi_ok) throw Napi::Error::New(env, "no event loop");
  for (size_t s = 0; s < config.maxWorkers; ++s) {
    auto slot = std::make_unique<SlotWork>();
    slot->req.data = slot.get();
    slot->runner = this;
    slot->addon = addon_;
    slot->index = s;
    slots_.push_back(std::move(slot));
  }
  addon_->track(this);
}

Runner::~Runner() {
  addon_->untrack(this);
  teardown();
  if (syntaxState_ != nullptr) lua_close(syntaxState_);
}

// Drops everything without calling into JS: environment teardown or garbage collection.
void Runner::teardown() {
  if (tornDown_) return;
  tornDown_ = true;
  core_->takeQueued();
  core_->interruptAll(KillReason::Shutdown);
  for (auto& slot : slots_) {
    if (slot->busy) {
      slot->orphaned = true;  // its completion callback deletes it
      slot.release();
    }
  }
  slots_.clear();
  core_->setNotify(nullptr);  // no worker may touch the thread-safe function after this
  if (!tsfnReleased_) {
    tsfnReleased_ = true;
    tsfn_.Abort();
  }
}

void Runner::ExecuteSlot(uv_work_t* req) {
  auto* slot = static_cast<SlotWork*>(req->data);
  slot->core->runSlot(slot->index);
}

void Runner::CompleteSlot(uv_work_t* req, int) {
  auto* slot = static_cast<SlotWork*>(req->data);
  slot->busy = false;
  slot->core->slotFinished(slot->index);
  slot->core.reset();
  Addon* addon = slot->addon;
  if (slot->orphaned) {
    delete slot;
  } else {
    slot->runner->pump();
  }
  addon->slotFinished();
}

// Starts as many worker slots as there are states free for queued jobs.
void Runner::pump() {
  if (tornDown_) return;
  for (size_t s : core_->claimSlots()) {
    SlotWork& slot = *slots_[s];
    slot.busy = true;
    slot.core = core_;
    addon_->slotStarted();
    uv_queue_work(loop_, &slot.req, &Runner::ExecuteSlot, &Runner::CompleteSlot);
  }
}

void Runner::jobQueued(Napi::Env env) {
  if (pending_++ == 0 && !tsfnReleased_) tsfn_.Ref(env);
}

void Runner::jobSettled(Napi::Env env, size_t n) {
  pending_ -= n;
  if (pending_ == 0 && !tsfnReleased_) tsfn_.Unref(env);
}

static std::unique_ptr<Job> newJob(const Napi::CallbackInfo& info, uint32_t flagsIndex) {
  auto job = std::make_unique<Job>();
  job->id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  uint32_t flags = info[flagsIndex].As<Napi::Number>().Uint32Value();
  job->multret = flags & kFlagMultret;
  job->bytesAsBuffer = flags & kFlagBytesAsBuffer;
  double timeoutMs = info[flagsIndex + 1].As<Napi::Number>().DoubleValue();
  if (timeoutMs > 0) job->timeoutMs = static_cast<uint32_t>(std::max(1.0, std::min(timeoutMs, 4e9)));
  if (info[flagsIndex + 2].IsString()) job->contextKey = info[flagsIndex + 2].As<Napi::String>().Utf8Value();
  job->pinnedState = info[flagsIndex + 3].As<Napi::Number>().Int32Value();
  return job;
}

Napi::Value Runner::enqueue(Napi::Env env, std::unique_ptr<Job> job) {
  if (tornDown_) throw Napi::Error::New(env, "runner is closed");
  if (job->pinnedState >= static_cast<int>(core_->config().states)) job->pinnedState = -1;
  if (!core_->submit(job)) return Napi::Boolean::New(env, false);
  jobQueued(env);
  pump();
  return Napi::Boolean::New(env, true);
}

// run(id, source, chunkName, args, env, flags, timeoutMs, contextKey, pinnedState) -> queued?
Napi::Value Runner::Run(const Napi::CallbackInfo& info) {
  auto job = newJob(info, 5);
  job->kind = JobKind::Run;
  job->source = info[1].As<Napi::String>().Utf8Value();
  if (info[2].IsString()) job->chunkName = info[2].As<Napi::String>().Utf8Value();
  job->args = bufferOrEmpty(info[3]);
  job->env = bufferOrEmpty(info[4]);
  return enqueue(info.Env(), std::move(job));
}

// call(id, moduleName, fnName, args, batch, flags, timeoutMs, contextKey, pinnedState)
Napi::Value Runner::Call(const Napi::CallbackInfo& info) {
  auto job = newJob(info, 5);
  job->kind = info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value() ? JobKind::Batch : JobKind::Call;
  std::string name = info[1].As<Napi::String>().Utf8Value();
  auto it = modules_.find(name);
  if (it == modules_.end()) throw Napi::Error::New(info.Env(), "module is not defined: " + name);
  job->module = it->second;
  job->function = info[2].As<Napi::String>().Utf8Value();
  job->args = bufferOrEmpty(info[3]);
  return enqueue(info.Env(), std::move(job));
}

// define(name, version, source)
Napi::Value Runner::Define(const Napi::CallbackInfo& info) {
  auto mod = std::make_shared<ModuleSource>();
  mod->name = info[0].As<Napi::String>().Utf8Value();
  mod->version = info[1].As<Napi::Number>().Uint32Value();
  mod->source = info[2].As<Napi::String>().Utf8Value();
  modules_[mod->name] = std::move(mod);
  return info.Env().Undefined();
}

// checkSyntax(source, chunkName) -> error message or undefined. Parses only (nothing
// runs), in a small state of the main thread's own, so define() can report errors at once.
Napi::Value Runner::CheckSyntax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string source = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  if (syntaxState_ == nullptr) {
    syntaxState_ = luaL_newstate();
    if (syntaxState_ == nullptr) throw Napi::Error::New(env, "not enough memory");
  }
  lua_State* L = syntaxState_;
  int status = luaL_loadbufferx(L, source.data(), source.size(), name.c_str(), "t");
  Napi::Value result = env.Undefined();
  if (status != LUA_OK) {
    const char* msg = lua_tostring(L, -1);
    result = Napi::String::New(env, msg ? msg : "syntax error");
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT);
  return result;
}

// resetContext(id, key, pinnedState)
Napi::Value Runner::ResetContext(const Napi::CallbackInfo& info) {
  auto job = std::make_unique<Job>();
  job->id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  job->kind = JobKind::ResetContext;
  job->contextKey = info[1].As<Napi::String>().Utf8Value();
  job->pinnedState = info[2].As<Napi::Number>().Int32Value();
  return enqueue(info.Env(), std::move(job));
}

// cancel(id, reason) -> 'dequeued' | 'interrupted' | undefined
Napi::Value Runner::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  auto reason = static_cast<KillReason>(info[1].As<Napi::Number>().Int32Value());
  std::unique_ptr<Job> job;
  switch (core_->cancel(id, reason, &job)) {
    case CancelResult::Dequeued:
      jobSettled(env, 1);
      return Napi::String::New(env, "dequeued");
    case CancelResult::Interrupted:
      pump();  // a suspended job became resumable
      return Napi::String::New(env, "interrupted");
    default:
      return env.Undefined();
  }
}

// takeQueued() -> ids of every job that had not started (they will never run)
Napi::Value Runner::TakeQueued(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto jobs = core_->takeQueued();
  Napi::Array ids = Napi::Array::New(env, jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) ids.Set(i, Napi::Number::New(env, static_cast<double>(jobs[i]->id)));
  jobSettled(env, jobs.size());
  return ids;
}

// answerHost(id, ok, valuesBuffer | errorMessage) -> whether the job was still waiting
Napi::Value Runner::AnswerHost(const Napi::CallbackInfo& info) {
  uint64_t id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  bool ok = info[1].As<Napi::Boolean>().Value();
  std::string data = info[2].IsBuffer() ? bufferOrEmpty(info[2]) : info[2].As<Napi::String>().Utf8Value();
  bool delivered = core_->answerHost(id, ok, std::move(data));
  if (delivered) pump();
  return Napi::Boolean::New(info.Env(), delivered);
}

Napi::Value Runner::CancelSuspended(const Napi::CallbackInfo& info) {
  core_->cancelSuspended(static_cast<KillReason>(info[0].As<Napi::Number>().Int32Value()));
  pump();
  return info.Env().Undefined();
}

Napi::Value Runner::InterruptAll(const Napi::CallbackInfo& info) {
  core_->interruptAll(static_cast<KillReason>(info[0].As<Napi::Number>().Int32Value()));
  return info.Env().Undefined();
}

Napi::Value Runner::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  auto snaps = core_->snapshot();
  Napi::Array states = Napi::Array::New(env, snaps.size());
  for (size_t i = 0; i < snaps.size(); ++i) {
    const auto& s = snaps[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("memory", Napi::Number::New(env, static_cast<double>(s.memory)));
    o.Set("peakMemory", Napi::Number::New(env, static_cast<double>(s.peak)));
    o.Set("jobs", Napi::Number::New(env, static_cast<double>(s.jobs)));
    o.Set("gcSteps", Napi::Number::New(env, static_cast<double>(s.gcSteps)));
    o.Set("fullGcs", Napi::Number::New(env, static_cast<double>(s.fullGcs)));
    o.Set("memoryErrors", Napi::Number::New(env, static_cast<double>(s.memoryErrors)));
    o.Set("timeouts", Napi::Number::New(env, static_cast<double>(s.timeouts)));
    o.Set("busy", Napi::Boolean::New(env, s.busy));
    o.Set("quarantined", Napi::Boolean::New(env, s.quarantined));
    states.Set(i, o);
  }
  out.Set("states", states);
  out.Set("queued", Napi::Number::New(env, static_cast<double>(core_->queued())));
  out.Set("running", Napi::Number::New(env, static_cast<double>(core_->running())));
  out.Set("suspended", Napi::Number::New(env, static_cast<double>(core_->suspended())));
  out.Set("overruns", Napi::Number::New(env, static_cast<double>(core_->overruns())));
  out.Set("replacedStates", Napi::Number::New(env, static_cast<double>(core_->replacedStates())));
  return out;
}

// close() -> Promise: resolves once every state is closed (on the thread pool, since
// closing runs pending finalizers). Running jobs must have finished (the JS layer waits).
Napi::Value Runner::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  struct Closer {
    std::shared_ptr<RunnerCore> core;
    Napi::Promise::Deferred deferred;
    napi_async_work work;
  };
  auto* closer = new Closer{core_, deferred, nullptr};
  napi_create_async_work(
      env, nullptr, Napi::String::New(env, "luapool.close"),
      [](napi_env, void* data) { static_cast<Closer*>(data)->core->closeStates(); },
      [](napi_env env, napi_status, void* data) {
        auto* c = static_cast<Closer*>(data);
        c->deferred.Resolve(Napi::Env(env).Undefined());
        napi_delete_async_work(env, c->work);
        delete c;
      },
      closer, &closer->work);
  napi_queue_async_work(env, closer->work);
  core_->setNotify(nullptr);
  if (!tsfnReleased_) {
    tsfnReleased_ = true;
    tsfn_.Release();
  }
  return deferred.Promise();
}

static Napi::Value actionsToJs(Napi::Env env, const std::vector<Action>& actions) {
  if (actions.empty()) return env.Undefined();
  Napi::Array a = Napi::Array::New(env, actions.size() * 3);
  uint32_t k = 0;
  for (const Action& act : actions) {
    a.Set(k++, Napi::Number::New(env, static_cast<int>(act.type)));
    a.Set(k++, Napi::String::New(env, act.name));
    if (act.type == ActionType::Post) {
      a.Set(k++, Napi::Buffer<char>::Copy(env, act.data.data(), act.data.size()));
    } else {
      a.Set(k++, Napi::String::New(env, act.data));
    }
  }
  return a;
}

// Thread-safe function callback: delivers finished jobs and host calls to JavaScript.
void Runner::DeliverCompleted(Napi::Env env, Napi::Function callback, Runner* self, void*) {
  std::vector<std::unique_ptr<Job>> done;
  std::vector<PendingHostCall> calls;
  std::vector<Notice> notices;
  self->core_->takeCompleted(done, calls, notices);
  if (env == nullptr) return;  // teardown: the jobs are freed here
  auto deliver = [&](std::initializer_list<napi_value> args) {
    try {
      callback.Call(args);
    } catch (const Napi::Error& e) {
      // The JS layer never throws here; if it does, keep delivering the other jobs.
      napi_fatal_exception(env, e.Value());
    }
  };
  for (const Notice& n : notices) {
    // status -2: a job overran its deadline by far (id, -2, state index, overrun ms)
    deliver({Napi::Number::New(env, static_cast<double>(n.jobId)), Napi::Number::New(env, -2),
             Napi::Number::New(env, n.stateIndex), Napi::Number::New(env, n.overrunMs)});
  }
  for (auto& call : calls) {
    if (call.request.function == RunnerCore::kNoFunction) {
      // status -3: actions streamed by a job still running (id, -3, actions)
      deliver({Napi::Number::New(env, static_cast<double>(call.request.jobId)), Napi::Number::New(env, -3),
               actionsToJs(env, call.actions)});
      continue;
    }
    // status -1: a host call (id, -1, args, function index, actions, blocking)
    deliver({Napi::Number::New(env, static_cast<double>(call.request.jobId)), Napi::Number::New(env, -1),
             Napi::Buffer<char>::Copy(env, call.request.args.data(), call.request.args.size()),
             Napi::Number::New(env, call.request.function), actionsToJs(env, call.actions),
             Napi::Boolean::New(env, call.request.blocking)});
  }
  size_t n = done.size();
  for (auto& job : done) {
    Napi::Value value = env.Undefined();
    Napi::Value err = env.Undefined();
    if (job->status == JobStatus::Ok) {
      // multret: always the tree (a single nil must stay distinguishable from no value)
      if (!job->result.empty() && (job->multret || !fastScalar(env, *job, job->bytesAsBuffer, value))) {
        value = Napi::Buffer<char>::Copy(env, job->result.data(), job->result.size());
      }
    } else {
      Napi::Array e = Napi::Array::New(env, 5);
      e.Set(0u, Napi::String::New(env, job->error.message));
      e.Set(1u, Napi::String::New(env, job->error.traceback));
      e.Set(2u, Napi::String::New(env, job->error.chunk));
      e.Set(3u, Napi::Number::New(env, job->error.line));
      if (!job->error.value.empty()) {
        e.Set(4u, Napi::Buffer<char>::Copy(env, job->error.value.data(), job->error.value.size()));
      }
      err = e;
    }
    deliver({Napi::Number::New(env, static_cast<double>(job->id)),
             Napi::Number::New(env, static_cast<int>(job->status)), value, err,
             actionsToJs(env, job->actions), Napi::Number::New(env, job->waitMs),
             Napi::Number::New(env, job->runMs), Napi::Number::New(env, job->stateIndex)});
  }
  if (n > 0) self->jobSettled(env, n);
  self->pump();
}

}  // namespace luapool
