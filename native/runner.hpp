// Runner: the native class behind ScriptRunner (main thread only). It turns job requests
// into Jobs for the Scheduler, runs the scheduler's workers as libuv thread-pool work, and
// hands deliveries (deliveries.cpp) to JavaScript through a thread-safe function.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <napi.h>
#include <uv.h>

#include "lua-api.hpp"
#include "record-keys.hpp"
#include "scheduler.hpp"

namespace luapool {

// The layout of submit()'s `fields` (mirrored by RequestField in lib/native.ts, which checks
// the count against the addon's layout.requestFields).
// submit()'s arguments: fields, text, name, context, group, args, env, columns request,
// layout key, then (callColumns) the typed arrays.
constexpr size_t kColumnArrays = 9;

enum RequestField : uint32_t {
  kRequestId, kRequestKind, kRequestFlags, kRequestTimeoutMs, kRequestAcquireTimeoutMs, kRequestState,
  kRequestMode, kRequestFirst, kRequestRowCount, kRequestFields
};

class Addon;

class Runner : public Napi::ObjectWrap<Runner> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Runner(const Napi::CallbackInfo& info);
  ~Runner() override;

  // Interrupts everything and stops calling into JavaScript (environment teardown, GC).
  void teardown();
  // The process is exiting: interrupt every running job so that libuv can join its threads.
  void exiting();

 private:
  static void CallJs(Napi::Env env, Napi::Function, Runner* self, void*);
  void deliver(Napi::Env env, Deliveries& d);  // CallJs's work; may throw Napi::Error
  using Tsfn = Napi::TypedThreadSafeFunction<Runner, void, &Runner::CallJs>;

  // One libuv work request running Scheduler::work(), reused. Plain libuv work (not
  // napi_async_work): Node waits for napi_async_work before it runs cleanup hooks, so a
  // worker_thread being terminated could never interrupt a long script.
  struct Worker {
    uv_work_t req;
    Runner* runner = nullptr;  // null once the Runner is gone (the completion frees it)
    Addon* addon = nullptr;
    bool busy = false;
    std::shared_ptr<Scheduler> scheduler;  // kept alive while the work runs
  };
  static void ExecuteWorker(uv_work_t* req);
  static void CompleteWorker(uv_work_t* req, int status);

  Napi::Value Submit(const Napi::CallbackInfo& info);
  Napi::Value Define(const Napi::CallbackInfo& info);
  Napi::Value SetModule(const Napi::CallbackInfo& info);
  Napi::Value ForgetModules(const Napi::CallbackInfo& info);
  Napi::Value Share(const Napi::CallbackInfo& info);
  void readColumns(const Napi::CallbackInfo& info, Job& job);
  const std::vector<std::pair<std::string, bool>>& columnLayout(Napi::Env env, const Napi::String& key,
                                                                 const Napi::Object& request);
  void setRows(Napi::Env env, double first, double count, Job& job);
  Napi::Value CheckSyntax(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value AnswerHost(const Napi::CallbackInfo& info);
  Napi::Value CloseJobs(const Napi::CallbackInfo& info);
  Napi::Value CloseStates(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value ProfileStart(const Napi::CallbackInfo& info);
  Napi::Value ProfileStop(const Napi::CallbackInfo& info);

  void pump();
  void jobsAdded(size_t n);
  void jobsDelivered(size_t n);

  napi_env env_ = nullptr;
  uv_loop_t* loop_ = nullptr;
  Addon* addon_ = nullptr;
  std::shared_ptr<Scheduler> scheduler_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unordered_map<std::string, std::shared_ptr<const ModuleSource>> modules_;
  std::shared_ptr<ModuleCatalog> catalog_;  // define() and `modules` sources, for require (any thread)
  std::shared_ptr<const SharedSet> shared_;  // runner.share() values, replaced on each share
  uint64_t sharedVersion_ = 0;
  // The names and read-only flags of recent column layouts, by lib's key (main thread only).
  struct ColumnLayout {
    std::string key;
    std::vector<std::pair<std::string, bool>> columns;
  };
  static constexpr size_t kLayouts = 16;
  std::vector<ColumnLayout> layouts_;
  size_t nextLayout_ = 0;  // the entry replaced next once layouts_ is full
  Tsfn tsfn_;
  // The JS delivery handler: weak while no job is pending, so an idle runner dropped
  // without close() is garbage-collected; strong (with the wrapper) while jobs are pending.
  Napi::FunctionReference onDeliver_;
  bool tsfnReleased_ = false;
  bool tornDown_ = false;
  size_t pending_ = 0;  // submitted and not yet delivered as completed
  lua_State* syntaxState_ = nullptr;  // parses define()d modules on the main thread
};

}  // namespace luapool
