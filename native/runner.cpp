// Runner: the JS-visible native class behind ScriptRunner. Main thread only: it turns
// requests into Jobs, starts the scheduler's workers as libuv thread-pool work, and hands
// deliveries to JavaScript through a thread-safe function.
#include "runner.hpp"

#include <algorithm>
#include <chrono>

#include "addon.hpp"
#include "deliveries.hpp"
#include "value.hpp"

namespace luapool {

namespace {

std::string bytesOf(const Napi::Value& v) {
  if (v.IsBuffer()) {
    auto b = v.As<Napi::Buffer<char>>();
    return std::string(b.Data(), b.Length());
  }
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
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

double numberOf(const Napi::Value& v, double fallback) {
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

double number(const Napi::Object& o, const char* key, double fallback = 0) {
  return numberOf(o.Get(key), fallback);
}

uint32_t u32(const Napi::Object& o, const char* key, uint32_t fallback = 0) {
  double d = number(o, key, fallback);
  if (!(d >= 0)) return 0;
  return d >= 4294967295.0 ? 4294967295u : static_cast<uint32_t>(d);
}

size_t bytesOption(const Napi::Object& o, const char* key) {
  double d = number(o, key);
  if (!(d > 0)) return 0;
  return d >= 9.0e15 ? static_cast<size_t>(9.0e15) : static_cast<size_t>(d);
}

bool flag(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

std::string str(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

// The delivery handler of JS has nothing to call back into when the runner is idle: it is
// held weakly then (see Runner::onDeliver_).
void noop(const Napi::CallbackInfo&) {}

}  // namespace

Napi::Function Runner::Init(Napi::Env env) {
  return DefineClass(env, "NativeRunner", {
      InstanceMethod<&Runner::Submit>("submit"),
      InstanceMethod<&Runner::Define>("define"),
      InstanceMethod<&Runner::Share>("share"),
      InstanceMethod<&Runner::CheckSyntax>("checkSyntax"),
      InstanceMethod<&Runner::Cancel>("cancel"),
      InstanceMethod<&Runner::AnswerHost>("answerHost"),
      InstanceMethod<&Runner::CloseJobs>("closeJobs"),
      InstanceMethod<&Runner::CloseStates>("closeStates"),
      InstanceMethod<&Runner::Stats>("stats"),
  });
}

// new NativeRunner(config: NativeRunnerConfig, onDeliver: (records) => void)
Runner::Runner(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Runner>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "NativeRunner(config, onDeliver)");
  }
  Napi::Object o = info[0].As<Napi::Object>();
  SchedulerConfig config;
  config.states = std::max<uint32_t>(1, u32(o, "states", 1));
  config.threads = std::max<uint32_t>(1, u32(o, "threads", 1));
  if (config.threads > config.states) config.threads = config.states;
  double maxQueue = number(o, "maxQueue", 1e300);
  config.maxQueue = maxQueue >= 1e15 ? SIZE_MAX : static_cast<size_t>(std::max(0.0, maxQueue));
  config.sliceMs = u32(o, "sliceMs", 0);
  config.state.trusted = flag(o, "trusted");
  Napi::Value libs = o.Get("libs");
  if (libs.IsArray()) {
    Napi::Array list = libs.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) config.state.libs |= libBit(list.Get(i).ToString().Utf8Value());
  }
  config.state.memoryLimit = bytesOption(o, "memoryLimit");
  config.state.gcEveryJobs = u32(o, "gcEveryJobs");
  config.state.gcEveryBytes = bytesOption(o, "gcEveryBytes");
  config.state.generationalGc = flag(o, "generationalGc");
  config.state.chunkCacheSize = u32(o, "chunkCacheSize", 256);
  Napi::Value host = o.Get("hostFunctions");
  if (host.IsArray()) {
    Napi::Array list = host.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      config.state.hostFunctions.push_back(list.Get(i).ToString().Utf8Value());
    }
  }

  scheduler_ = std::make_shared<Scheduler>(config);
  std::string error;
  if (!scheduler_->init(error)) throw Napi::Error::New(env, error);

  onDeliver_ = Napi::Weak(info[1].As<Napi::Function>());
  // The thread-safe function holds a function that captures nothing: the handler is
  // reached through onDeliver_, so the TSFN never keeps the runner alive by itself.
  tsfn_ = Tsfn::New(env, Napi::Function::New(env, noop), "luapool.deliver", 0, 1, this);
  tsfn_.Unref(env);
  auto* tsfn = &tsfn_;
  scheduler_->setNotify([tsfn] { tsfn->NonBlockingCall(); });

  env_ = env;
  addon_ = Addon::From(env);
  if (napi_get_uv_event_loop(env, &loop_) != napi_ok) throw Napi::Error::New(env, "no event loop");
  for (size_t s = 0; s < config.threads; ++s) {
    auto worker = std::make_unique<Worker>();
    worker->req.data = worker.get();
    worker->runner = this;
    worker->addon = addon_;
    workers_.push_back(std::move(worker));
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
  scheduler_->shutdown();
  for (auto& worker : workers_) {
    if (worker->busy) {
      worker->runner = nullptr;  // its completion callback deletes it
      worker.release();
    }
  }
  workers_.clear();
  scheduler_->setNotify(nullptr);  // no worker may touch the thread-safe function after this
  if (!tsfnReleased_) {
    tsfnReleased_ = true;
    tsfn_.Abort();
  }
}

void Runner::exiting() { scheduler_->shutdown(); }

void Runner::ExecuteWorker(uv_work_t* req) {
  static_cast<Worker*>(req->data)->scheduler->work();
}

void Runner::CompleteWorker(uv_work_t* req, int) {
  auto* worker = static_cast<Worker*>(req->data);
  worker->busy = false;
  worker->scheduler.reset();
  Addon* addon = worker->addon;
  if (worker->runner == nullptr) {
    delete worker;
  } else {
    worker->runner->pump();
  }
  addon->slotFinished();
}

// Starts as many workers as there are jobs waiting for a thread (and threads free).
void Runner::pump() {
  if (tornDown_) return;
  size_t idle = 0;
  for (auto& w : workers_) idle += w->busy ? 0 : 1;
  if (idle == 0) return;
  size_t n = scheduler_->startWorkers(idle);
  for (auto it = workers_.begin(); n > 0 && it != workers_.end(); ++it) {
    Worker& w = **it;
    if (w.busy) continue;
    --n;
    w.busy = true;
    w.scheduler = scheduler_;
    addon_->slotStarted();
    uv_queue_work(loop_, &w.req, &Runner::ExecuteWorker, &Runner::CompleteWorker);
  }
}

// While jobs are pending the runner must stay alive (its handler settles them).
void Runner::jobsAdded(size_t n) {
  if (n == 0) return;
  if (pending_ == 0) {
    Ref();
    onDeliver_.Ref();
    if (!tsfnReleased_) tsfn_.Ref(env_);
  }
  pending_ += n;
}

void Runner::jobsDelivered(size_t n) {
  if (n == 0) return;
  pending_ -= n;
  if (pending_ == 0) {
    onDeliver_.Unref();
    if (!tsfnReleased_) tsfn_.Unref(env_);
    Unref();
  }
}

// submit(request: NativeJobRequest) -> queued? (false: the queue is full)
Napi::Value Runner::Submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (tornDown_) throw Napi::Error::New(env, "runner is closed");
  Keys k(env, addon_->keys());
  Napi::Object r = info[0].As<Napi::Object>();
  auto field = [&](Key key) { return r.Get(k(key)); };
  auto job = std::make_unique<Job>();
  job->id = static_cast<uint64_t>(numberOf(field(Key::id), 0));
  Napi::Value kind = field(Key::kind);
  if (kind.StrictEquals(k(Key::run))) {
    job->kind = JobKind::Run;
    job->source = bytesOf(field(Key::source));
    job->chunkName = bytesOf(field(Key::chunkName));
    job->env = bytesOf(field(Key::env));
  } else if (kind.StrictEquals(k(Key::call)) || kind.StrictEquals(k(Key::batch))) {
    job->kind = kind.StrictEquals(k(Key::call)) ? JobKind::Call : JobKind::Batch;
    std::string name = bytesOf(field(Key::module));
    auto it = modules_.find(name);
    if (it == modules_.end()) throw Napi::Error::New(env, "module is not defined: " + name);
    job->module = it->second;
    job->function = bytesOf(field(Key::fn));
    if (job->kind == JobKind::Batch) {
      job->batchMode = static_cast<BatchMode>(static_cast<int>(numberOf(field(Key::mode), 0)) & 3);
    }
  } else if (kind.StrictEquals(k(Key::columns))) {
    job->kind = JobKind::Columns;
    std::string name = bytesOf(field(Key::module));
    auto it = modules_.find(name);
    if (it == modules_.end()) throw Napi::Error::New(env, "module is not defined: " + name);
    job->module = it->second;
    job->function = bytesOf(field(Key::fn));
    readColumns(env, k, r, *job);
  } else if (kind.StrictEquals(k(Key::reset))) {
    job->kind = JobKind::ResetContext;
  } else {
    throw Napi::TypeError::New(env, "submit(request): unknown kind");
  }
  job->args = bytesOf(field(Key::args));
  job->multret = field(Key::multret).ToBoolean().Value();
  job->bytesAsBuffer = field(Key::bytesAsBuffer).ToBoolean().Value();
  double timeoutMs = numberOf(field(Key::timeoutMs), 0);
  if (timeoutMs > 0) job->timeoutMs = static_cast<uint32_t>(std::max(1.0, std::min(timeoutMs, 4e9)));
  double acquireMs = numberOf(field(Key::acquireTimeoutMs), 0);
  if (acquireMs > 0) job->acquireTimeoutMs = static_cast<uint32_t>(std::max(1.0, std::min(acquireMs, 4e9)));
  job->contextKey = bytesOf(field(Key::context));
  job->pinnedState = static_cast<int>(numberOf(field(Key::state), -1));
  job->group = bytesOf(field(Key::group));
  job->shared = shared_;
  if (!scheduler_->submit(job)) return Napi::Boolean::New(env, false);
  jobsAdded(1);
  pump();
  return Napi::Boolean::New(env, true);
}

// The typed arrays of a columns request: { columns: TypedArray[], names: string[],
// readonly: boolean[], first, count }. lib/script-runner.ts validated them; this checks
// again what memory safety depends on (the element type, the length, a detached buffer).
void Runner::readColumns(Napi::Env env, Keys& k, const Napi::Object& r, Job& job) {
  Napi::Value arrays = r.Get(k(Key::columns));
  Napi::Value names = r.Get(k(Key::names));
  Napi::Value readonly = r.Get(k(Key::readonly));
  if (!arrays.IsArray() || !names.IsArray() || !readonly.IsArray()) {
    throw Napi::TypeError::New(env, "submit(request): bad columns");
  }
  Napi::Array a = arrays.As<Napi::Array>(), n = names.As<Napi::Array>(), ro = readonly.As<Napi::Array>();
  double first = numberOf(r.Get(k(Key::first)), 0), count = numberOf(r.Get(k(Key::count)), 0);
  if (!(first >= 0 && count >= 0 && first + count <= 9007199254740991.0)) {
    throw Napi::RangeError::New(env, "submit(request): bad row range");
  }
  job.firstRow = static_cast<int64_t>(first);
  job.rowCount = static_cast<int64_t>(count);
  uint32_t len = a.Length();
  job.columns.reserve(len);
  for (uint32_t i = 0; i < len; ++i) {
    Column c;
    c.name = n.Get(i).As<Napi::String>().Utf8Value();
    c.readonly = ro.Get(i).ToBoolean().Value();
    Napi::Value v = a.Get(i);
    napi_typedarray_type type;
    size_t length = 0, offset = 0;
    void* data = nullptr;
    napi_value buffer;
    if (!v.IsTypedArray() ||
        napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset) != napi_ok) {
      throw Napi::TypeError::New(env, "columns." + c.name + " must be a typed array");
    }
    switch (type) {
      case napi_int8_array: c.type = ElementType::Int8; break;
      case napi_uint8_array: c.type = ElementType::Uint8; break;
      case napi_int16_array: c.type = ElementType::Int16; break;
      case napi_uint16_array: c.type = ElementType::Uint16; break;
      case napi_int32_array: c.type = ElementType::Int32; break;
      case napi_uint32_array: c.type = ElementType::Uint32; break;
      case napi_float32_array: c.type = ElementType::Float32; break;
      case napi_float64_array: c.type = ElementType::Float64; break;
      default: throw Napi::TypeError::New(env, "columns." + c.name + ": unsupported element type");
    }
    bool detached = false;
    if (Napi::Value(env, buffer).IsArrayBuffer()) napi_is_detached_arraybuffer(env, buffer, &detached);
    if (detached || (data == nullptr && length > 0)) {
      throw Napi::TypeError::New(env, "columns." + c.name + ": its ArrayBuffer is detached");
    }
    if (static_cast<double>(length) < first + count) {
      throw Napi::RangeError::New(env, "columns." + c.name + " is shorter than first + count");
    }
    c.data = data;
    c.length = length;
    job.columns.push_back(std::move(c));
  }
}

// share(name, tree | undefined): publishes (or, without a tree, removes) engine.shared.<name>
// for every job submitted from now on. The set is copied (shared pointers only) and
// replaced, so jobs already submitted keep the one they carry.
Napi::Value Runner::Share(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  auto next = std::make_shared<SharedSet>();
  if (shared_) next->values = shared_->values;
  next->version = ++sharedVersion_;
  auto it = std::lower_bound(next->values.begin(), next->values.end(), name,
                             [](const auto& e, const std::string& n) { return e.first < n; });
  bool present = it != next->values.end() && it->first == name;
  if (info[1].IsUndefined()) {
    if (present) next->values.erase(it);
  } else {
    auto value = std::make_shared<SharedValue>();
    value->version = next->version;
    value->tree = bytesOf(info[1]);
    if (present) {
      it->second = std::move(value);
    } else {
      next->values.insert(it, {name, std::move(value)});
    }
  }
  shared_ = std::move(next);
  return info.Env().Undefined();
}

// define(name, version, source)
Napi::Value Runner::Define(const Napi::CallbackInfo& info) {
  auto mod = std::make_shared<ModuleSource>();
  mod->name = info[0].As<Napi::String>().Utf8Value();
  mod->version = info[1].As<Napi::Number>().Uint32Value();
  mod->source = bytesOf(info[2]);
  modules_[mod->name] = std::move(mod);
  return info.Env().Undefined();
}

// checkSyntax(source, chunkName) -> error message or undefined. Parses only (nothing
// runs), in a small state of the main thread's own, so define() can report errors at once.
Napi::Value Runner::CheckSyntax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string source = bytesOf(info[0]);
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

// cancel(id, reason: Kill) -> 'settled' | 'interrupting' | undefined. Either way the job's
// completion arrives as a delivery.
Napi::Value Runner::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  auto reason = static_cast<KillReason>(info[1].As<Napi::Number>().Int32Value());
  CancelResult r = scheduler_->cancel(id, reason);
  pump();  // an interrupted job waiting for the host became runnable
  switch (r) {
    case CancelResult::Settled: return Napi::String::New(env, "settled");
    case CancelResult::Interrupting: return Napi::String::New(env, "interrupting");
    default: return env.Undefined();
  }
}

// answerHost(id, ok, valuesBuffer | errorMessage) -> whether the job was still waiting
Napi::Value Runner::AnswerHost(const Napi::CallbackInfo& info) {
  uint64_t id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  bool ok = info[1].As<Napi::Boolean>().Value();
  std::string data = bytesOf(info[2]);
  bool delivered = scheduler_->answerHost(id, ok, std::move(data));
  if (delivered) pump();
  return Napi::Boolean::New(info.Env(), delivered);
}

// closeJobs(force): settles queued jobs, cancels jobs waiting for the host (and with
// `force` every running one); their completions follow as deliveries.
Napi::Value Runner::CloseJobs(const Napi::CallbackInfo& info) {
  scheduler_->close(info[0].ToBoolean().Value());
  pump();
  return info.Env().Undefined();
}

Napi::Value Runner::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  auto snaps = scheduler_->snapshot();
  Napi::Array states = Napi::Array::New(env, snaps.size());
  for (size_t i = 0; i < snaps.size(); ++i) {
    const auto& s = snaps[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("memory", Napi::Number::New(env, static_cast<double>(s.memory)));
    o.Set("peakMemory", Napi::Number::New(env, static_cast<double>(s.peak)));
    o.Set("openJobs", Napi::Number::New(env, static_cast<double>(s.openJobs)));
    o.Set("jobs", Napi::Number::New(env, static_cast<double>(s.jobs)));
    o.Set("gcSteps", Napi::Number::New(env, static_cast<double>(s.gcSteps)));
    o.Set("fullGcs", Napi::Number::New(env, static_cast<double>(s.fullGcs)));
    o.Set("memoryErrors", Napi::Number::New(env, static_cast<double>(s.memoryErrors)));
    o.Set("timeouts", Napi::Number::New(env, static_cast<double>(s.timeouts)));
    o.Set("busy", Napi::Boolean::New(env, s.busy));
    o.Set("quarantined", Napi::Boolean::New(env, s.quarantined));
    states.Set(i, o);
  }
  Scheduler::Counts c = scheduler_->counts();
  out.Set("states", states);
  out.Set("queued", Napi::Number::New(env, static_cast<double>(c.queued)));
  out.Set("running", Napi::Number::New(env, static_cast<double>(c.running)));
  out.Set("blocked", Napi::Number::New(env, static_cast<double>(c.blocked)));
  out.Set("suspended", Napi::Number::New(env, static_cast<double>(c.suspended)));
  out.Set("runnable", Napi::Number::New(env, static_cast<double>(c.runnable)));
  out.Set("slices", Napi::Number::New(env, static_cast<double>(c.slices)));
  out.Set("overruns", Napi::Number::New(env, static_cast<double>(c.overruns)));
  out.Set("replacedStates", Napi::Number::New(env, static_cast<double>(c.replacedStates)));
  return out;
}

// closeStates() -> Promise: resolves once every state is closed (on the thread pool, since
// closing runs pending finalizers). Every job must have been delivered (the JS layer waits).
Napi::Value Runner::CloseStates(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  struct Closer {
    std::shared_ptr<Scheduler> scheduler;
    Napi::Promise::Deferred deferred;
    napi_async_work work;
  };
  auto* closer = new Closer{scheduler_, deferred, nullptr};
  napi_create_async_work(
      env, nullptr, Napi::String::New(env, "luapool.close"),
      [](napi_env, void* data) { static_cast<Closer*>(data)->scheduler->closeStates(); },
      [](napi_env env, napi_status, void* data) {
        auto* c = static_cast<Closer*>(data);
        c->deferred.Resolve(Napi::Env(env).Undefined());
        napi_delete_async_work(env, c->work);
        delete c;
      },
      closer, &closer->work);
  napi_queue_async_work(env, closer->work);
  scheduler_->setNotify(nullptr);
  if (!tsfnReleased_) {
    tsfnReleased_ = true;
    tsfn_.Release();
  }
  return deferred.Promise();
}

// Thread-safe function callback: hands every pending delivery to the JS handler in one
// call, as an array of named records. Runs with env == nullptr at teardown (records are
// just freed then).
void Runner::CallJs(Napi::Env env, Napi::Function, Runner* self, void*) {
  Deliveries d;
  self->scheduler_->takeDeliveries(d);
  if (env == nullptr || self->tornDown_) return;
  Napi::HandleScope scope(env);
  Keys keys(env, self->addon_->keys());
  size_t completed = d.completed.size();
  Napi::Array records = Napi::Array::New(env);
  uint32_t k = 0;
  for (const OverrunRecord& o : d.overruns) records.Set(k++, overrunRecord(env, keys, o));
  for (const HostCallRecord& c : d.hostCalls) {
    try {
      records.Set(k++, hostCallRecord(env, keys, c));
    } catch (const Napi::Error&) {
      // cannot happen for bounded records; the job then sees its host call refused
      self->scheduler_->answerHost(c.jobId, false, "luapool: the host call could not be delivered");
      --k;
    }
  }
  for (auto& job : d.completed) {
    try {
      records.Set(k++, completionRecord(env, keys, *job));
    } catch (const Napi::Error& e) {
      // Never leave a job unsettled: report what went wrong instead of its outcome.
      Job failed;
      failed.id = job->id;
      failed.status = JobStatus::Internal;
      failed.error.message = std::string("luapool: the job's outcome could not be delivered: ") + e.Message();
      failed.stateIndex = job->stateIndex;
      records.Set(k - 1, completionRecord(env, keys, failed));
    }
  }
  d.clear();  // frees the jobs (their memory is no longer needed)
  if (k > 0) {
    Napi::Value handler = self->onDeliver_.Value();
    if (handler.IsFunction()) {
      try {
        handler.As<Napi::Function>().Call({records});
      } catch (const Napi::Error& e) {
        // The JS layer never throws here; if it does, report it like an uncaught error.
        napi_fatal_exception(env, e.Value());
      }
    }
  }
  self->jobsDelivered(completed);
  self->pump();
}

}  // namespace luapool
