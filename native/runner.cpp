// Runner: the JS-visible native class behind ScriptRunner. Main thread only: it turns
// requests into Jobs, starts the scheduler's workers as libuv thread-pool work, and hands
// deliveries to JavaScript through a thread-safe function.
#include "runner.hpp"

#include <algorithm>
#include <chrono>

#include "addon.hpp"
#include "deliveries.hpp"
#include "modules.hpp"
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

enum RequestKind : int { kKindRun = 0, kKindCall = 1, kKindBatch = 2, kKindReset = 3, kKindColumns = 4 };
constexpr uint32_t kFlagMultret = 1;
constexpr uint32_t kFlagBytesAsBuffer = 2;

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

// The delivery handler of JS has nothing to call back into when the runner is idle: it is
// held weakly then (see Runner::onDeliver_).
void noop(const Napi::CallbackInfo&) {}

}  // namespace

Napi::Function Runner::Init(Napi::Env env) {
  return DefineClass(env, "NativeRunner", {
      InstanceMethod<&Runner::Submit>("submit"),
      InstanceMethod<&Runner::Define>("define"),
      InstanceMethod<&Runner::SetModule>("setModule"),
      InstanceMethod<&Runner::ForgetModules>("forgetModules"),
      InstanceMethod<&Runner::Share>("share"),
      InstanceMethod<&Runner::CheckSyntax>("checkSyntax"),
      InstanceMethod<&Runner::Cancel>("cancel"),
      InstanceMethod<&Runner::AnswerHost>("answerHost"),
      InstanceMethod<&Runner::CloseJobs>("closeJobs"),
      InstanceMethod<&Runner::CloseStates>("closeStates"),
      InstanceMethod<&Runner::Stats>("stats"),
      InstanceMethod<&Runner::ProfileStart>("profileStart"),
      InstanceMethod<&Runner::ProfileStop>("profileStop"),
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
  Napi::Value sandboxLibs = o.Get("sandboxLibs");
  if (sandboxLibs.IsArray()) {
    Napi::Array list = sandboxLibs.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      std::string name = list.Get(i).ToString().Utf8Value();
      if (name == "io") config.state.sandboxIo = true;
      if (name == "debug") config.state.sandboxDebug = true;
    }
  }
  catalog_ = std::make_shared<ModuleCatalog>();
  catalog_->setFunctionForm(flag(o, "modulesFunction"));
  config.state.catalog = catalog_;
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

// submit(fields, text, name, context, group, args, env[, request, layout, ...arrays])
//   -> queued? (false: the queue is full)
//   fields: Float64Array of RequestField (lib/native.ts packs a NativeJobRequest into it)
//   text: run: the source; call/batch: the module name.  name: run: chunk name; call: fn
//   context, group: strings or undefined.  args, env: encoded value trees or null
//   callColumns only: the request ({ names, readonly }), its layout key, the typed arrays
Napi::Value Runner::Submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (tornDown_) throw Napi::Error::New(env, "runner is closed");
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[0].As<Napi::Float64Array>().ElementLength() != kRequestFields) {
    throw Napi::TypeError::New(env, "submit(fields): a Float64Array of the request layout");
  }
  const double* f = info[0].As<Napi::Float64Array>().Data();
  auto job = std::make_unique<Job>();
  job->id = static_cast<uint64_t>(f[kRequestId]);
  switch (static_cast<int>(f[kRequestKind])) {
    case kKindRun:
      job->kind = JobKind::Run;
      job->source = bytesOf(info[1]);
      job->chunkName = bytesOf(info[2]);
      job->env = bytesOf(info[6]);
      break;
    case kKindCall:
    case kKindBatch:
    case kKindColumns: {
      int kind = static_cast<int>(f[kRequestKind]);
      job->kind = kind == kKindCall ? JobKind::Call : kind == kKindBatch ? JobKind::Batch : JobKind::Columns;
      std::string name = bytesOf(info[1]);
      auto it = modules_.find(name);
      if (it == modules_.end()) throw Napi::Error::New(env, "module is not defined: " + name);
      job->module = it->second;
      job->function = bytesOf(info[2]);
      if (job->kind == JobKind::Batch) {
        job->batchMode = static_cast<BatchMode>(static_cast<int>(f[kRequestMode]) & 3);
      } else if (job->kind == JobKind::Columns) {
        // the arrays lent to the job, then its rows
        readColumns(info, *job);
        setRows(env, f[kRequestFirst], f[kRequestRowCount], *job);
      }
      break;
    }
    case kKindReset:
      job->kind = JobKind::ResetContext;
      break;
    default:
      throw Napi::TypeError::New(env, "submit(fields): unknown kind");
  }
  uint32_t flags = static_cast<uint32_t>(f[kRequestFlags]);
  job->multret = (flags & kFlagMultret) != 0;
  job->bytesAsBuffer = (flags & kFlagBytesAsBuffer) != 0;
  double timeoutMs = f[kRequestTimeoutMs];
  if (timeoutMs > 0) job->timeoutMs = static_cast<uint32_t>(std::max(1.0, std::min(timeoutMs, 4e9)));
  double acquireMs = f[kRequestAcquireTimeoutMs];
  if (acquireMs > 0) job->acquireTimeoutMs = static_cast<uint32_t>(std::max(1.0, std::min(acquireMs, 4e9)));
  job->pinnedState = f[kRequestState] >= 0 && f[kRequestState] < 1e6 ? static_cast<int>(f[kRequestState]) : -1;
  job->contextKey = bytesOf(info[3]);
  job->group = bytesOf(info[4]);
  job->args = bytesOf(info[5]);
  job->shared = shared_;
  if (!scheduler_->submit(job)) return Napi::Boolean::New(env, false);
  jobsAdded(1);
  pump();
  return Napi::Boolean::New(env, true);
}

// The typed arrays of a columns request: submit()'s arguments from kColumnArrays on, with
// their names and read-only flags from the request ({ names: string[], readonly: boolean[] })
// or, for a layout seen recently, from layouts_ (`layout`: lib's key of the names and flags).
// lib/columns.ts validated them; this checks again what memory safety depends on (the
// element type, a detached buffer; the length in setRows).
void Runner::readColumns(const Napi::CallbackInfo& info, Job& job) {
  Napi::Env env = info.Env();
  if (!info[7].IsObject() || !info[8].IsString()) throw Napi::TypeError::New(env, "submit(columns): the column set");
  const std::vector<std::pair<std::string, bool>>& layout = columnLayout(env, info[8].As<Napi::String>(), info[7].As<Napi::Object>());
  if (info.Length() != kColumnArrays + layout.size()) throw Napi::TypeError::New(env, "submit(columns): the arrays");
  job.columns.reserve(layout.size());
  for (size_t i = 0; i < layout.size(); ++i) {
    Column c;
    c.name = layout[i].first;
    c.readonly = layout[i].second;
    Napi::Value v = info[kColumnArrays + i];
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
    c.data = data;
    c.length = length;
    job.columns.push_back(std::move(c));
  }
}

// The names and read-only flags of a layout: from layouts_ if its key was seen recently, else
// read from the request and remembered (at most kLayouts, the oldest replaced first).
const std::vector<std::pair<std::string, bool>>& Runner::columnLayout(Napi::Env env, const Napi::String& key,
                                                                       const Napi::Object& r) {
  std::string k = key.Utf8Value();
  for (const ColumnLayout& l : layouts_) {
    if (l.key == k) return l.columns;
  }
  Keys keys(env, addon_->keys());
  Napi::Value names = r.Get(keys(Key::names));
  Napi::Value readonly = r.Get(keys(Key::readonly));
  if (!names.IsArray() || !readonly.IsArray()) throw Napi::TypeError::New(env, "submit(request): bad columns");
  Napi::Array n = names.As<Napi::Array>(), ro = readonly.As<Napi::Array>();
  ColumnLayout l;
  l.key = std::move(k);
  for (uint32_t i = 0, len = n.Length(); i < len; ++i) {
    l.columns.emplace_back(n.Get(i).As<Napi::String>().Utf8Value(), ro.Get(i).ToBoolean().Value());
  }
  if (layouts_.size() < kLayouts) {
    layouts_.push_back(std::move(l));
    return layouts_.back().columns;
  }
  ColumnLayout& slot = layouts_[nextLayout_];
  nextLayout_ = (nextLayout_ + 1) % kLayouts;
  slot = std::move(l);
  return slot.columns;
}

// The rows of a columns job: every column must hold them.
void Runner::setRows(Napi::Env env, double first, double count, Job& job) {
  if (!(first >= 0 && count >= 0 && first + count <= 9007199254740991.0)) {
    throw Napi::RangeError::New(env, "submit(request): bad row range");
  }
  job.firstRow = static_cast<int64_t>(first);
  job.rowCount = static_cast<int64_t>(count);
  for (const Column& c : job.columns) {
    if (static_cast<double>(c.length) < first + count) {
      throw Napi::RangeError::New(env, "columns." + c.name + " is shorter than first + count");
    }
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
  mod->id = catalog_->nextId();
  catalog_->define(mod);
  modules_[mod->name] = std::move(mod);
  return info.Env().Undefined();
}

// setModule(name, source | null, answer): a `modules` source (or, with null, a known miss);
// `answer`: the function form's answer (forgetModules drops those). name: string or Buffer.
Napi::Value Runner::SetModule(const Napi::CallbackInfo& info) {
  std::string name = bytesOf(info[0]);
  std::shared_ptr<const ModuleSource> source;
  if (info[1].IsString() || info[1].IsBuffer()) {
    auto mod = std::make_shared<ModuleSource>();
    mod->name = name;
    mod->version = 0;
    mod->source = bytesOf(info[1]);
    mod->id = catalog_->nextId();
    source = std::move(mod);
  }
  catalog_->setModule(name, std::move(source), info[2].ToBoolean().Value());
  return info.Env().Undefined();
}

// forgetModules(names?: (string | Buffer)[]): drops the function form's answers (all of
// them without names), so the next require asks again.
Napi::Value Runner::ForgetModules(const Napi::CallbackInfo& info) {
  std::vector<std::string> names;
  if (info[0].IsArray()) {
    Napi::Array list = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) names.push_back(bytesOf(list.Get(i)));
  }
  catalog_->forget(names);
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

// profileStart(hz): samples every running job's stack hz times a second (1..10000).
Napi::Value Runner::ProfileStart(const Napi::CallbackInfo& info) {
  double hz = info[0].As<Napi::Number>().DoubleValue();
  scheduler_->startProfile(static_cast<uint32_t>(std::max(1.0, std::min(hz, 10000.0))));
  return info.Env().Undefined();
}

// profileStop() -> [{ nodes: [{ parent, name, url, line }], samples: Int32Array,
//                     deltasUs: Float64Array }] per state
Napi::Value Runner::ProfileStop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto snaps = scheduler_->stopProfile();
  Napi::Array out = Napi::Array::New(env, snaps.size());
  for (size_t i = 0; i < snaps.size(); ++i) {
    const StateProfile::Snapshot& s = snaps[i];
    Napi::Array nodes = Napi::Array::New(env, s.nodes.size());
    for (size_t n = 0; n < s.nodes.size(); ++n) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("parent", Napi::Number::New(env, s.nodes[n].parent));
      o.Set("name", Napi::String::New(env, s.nodes[n].name));
      o.Set("url", Napi::String::New(env, s.nodes[n].url));
      o.Set("line", Napi::Number::New(env, s.nodes[n].line));
      nodes.Set(n, o);
    }
    auto samples = Napi::Int32Array::New(env, s.samples.size());
    std::copy(s.samples.begin(), s.samples.end(), samples.Data());
    auto deltas = Napi::Float64Array::New(env, s.deltasUs.size());
    std::copy(s.deltasUs.begin(), s.deltasUs.end(), deltas.Data());
    Napi::Object state = Napi::Object::New(env);
    state.Set("nodes", nodes);
    state.Set("samples", samples);
    state.Set("deltasUs", deltas);
    out.Set(i, state);
  }
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
        try {
          c->deferred.Resolve(Napi::Env(env).Undefined());
        } catch (const Napi::Error&) {
          // a terminating environment: nobody waits for the promise any more
        }
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
// just freed then). Nothing may throw out of it: it is called from libuv, not from JS, so
// a C++ exception here would end the process. While a worker thread's environment is
// being terminated every Node-API call fails (node-addon-api throws Napi::Error): the
// deliveries are dropped then, as at teardown, which follows.
void Runner::CallJs(Napi::Env env, Napi::Function, Runner* self, void*) {
  Deliveries d;
  self->scheduler_->takeDeliveries(d);
  if (env == nullptr || self->tornDown_) return;
  size_t completed = d.completed.size();
  try {
    self->deliver(env, d);
  } catch (const Napi::Error&) {
    // the environment cannot run JS any more (terminating): nothing to hand over to
  } catch (const std::exception&) {
    // std::bad_alloc building the records: the jobs are freed below; see deliver()
  }
  d.clear();
  self->jobsDelivered(completed);
  self->pump();
}

void Runner::deliver(Napi::Env env, Deliveries& d) {
  Napi::HandleScope scope(env);
  Keys keys(env, addon_->keys());
  size_t completed = d.completed.size();
  Napi::Array records = Napi::Array::New(env);
  uint32_t k = 0;
  for (const OverrunRecord& o : d.overruns) records.Set(k++, overrunRecord(env, keys, o));
  for (const HostCallRecord& c : d.hostCalls) {
    try {
      records.Set(k, hostCallRecord(env, keys, c));
      ++k;
    } catch (const Napi::Error&) {
      // cannot happen for bounded records; the job then sees its host call refused
      scheduler_->answerHost(c.jobId, false, "luapool: the host call could not be delivered");
    }
  }
  PackedCompletions done = packCompletions(env, keys, d.completed);
  d.clear();  // frees the jobs (their memory is no longer needed)
  if (k == 0 && completed == 0) return;
  Napi::Value handler = onDeliver_.Value();
  if (!handler.IsFunction()) return;
  napi_value argv[3] = {records, done.numbers, done.extras};
  napi_value result;
  napi_status status = napi_call_function(env, env.Undefined(), handler, 3, argv, &result);
  if (status == napi_pending_exception) {
    // The JS layer never throws here; if it does, report it like an uncaught error (a
    // terminating environment has its termination pending instead: nothing to report).
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok && !Napi::Value(env, error).IsUndefined()) {
      napi_fatal_exception(env, error);
    }
  }
}

}  // namespace luapool
