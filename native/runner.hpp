// Runner: the native class behind ScriptRunner (main thread only).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <napi.h>
#include <uv.h>

#include "lua-api.hpp"
#include "runner-core.hpp"

namespace luapool {

class Addon;

class Runner : public Napi::ObjectWrap<Runner> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Runner(const Napi::CallbackInfo& info);
  ~Runner() override;

  // Interrupts everything and stops calling into JavaScript (environment teardown).
  void teardown();

 private:
  static void DeliverCompleted(Napi::Env env, Napi::Function callback, Runner* self, void*);
  using Tsfn = Napi::TypedThreadSafeFunction<Runner, void, &Runner::DeliverCompleted>;

  // One libuv work request, reused; while busy it keeps the core alive. Plain libuv work
  // (not napi_async_work): Node waits for napi_async_work before it runs cleanup hooks,
  // so a worker_thread being terminated could never interrupt a long script.
  struct SlotWork {
    uv_work_t req;
    Runner* runner = nullptr;
    Addon* addon = nullptr;
    size_t index = 0;
    bool busy = false;
    bool orphaned = false;  // the Runner is gone; the completion callback frees the slot
    std::shared_ptr<RunnerCore> core;
  };
  static void ExecuteSlot(uv_work_t* req);
  static void CompleteSlot(uv_work_t* req, int status);

  Napi::Value Run(const Napi::CallbackInfo& info);
  Napi::Value Call(const Napi::CallbackInfo& info);
  Napi::Value Define(const Napi::CallbackInfo& info);
  Napi::Value CheckSyntax(const Napi::CallbackInfo& info);
  Napi::Value ResetContext(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value TakeQueued(const Napi::CallbackInfo& info);
  Napi::Value InterruptAll(const Napi::CallbackInfo& info);
  Napi::Value AnswerHost(const Napi::CallbackInfo& info);
  Napi::Value CancelSuspended(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  Napi::Value enqueue(Napi::Env env, std::unique_ptr<Job> job);
  void pump();
  void jobQueued(Napi::Env env);
  void jobSettled(Napi::Env env, size_t n);

  napi_env env_ = nullptr;
  uv_loop_t* loop_ = nullptr;
  Addon* addon_ = nullptr;
  std::shared_ptr<RunnerCore> core_;
  std::vector<std::unique_ptr<SlotWork>> slots_;
  std::unordered_map<std::string, std::shared_ptr<const ModuleSource>> modules_;
  Tsfn tsfn_;
  bool tsfnReleased_ = false;
  bool tornDown_ = false;
  size_t pending_ = 0;  // submitted and not yet delivered
  lua_State* syntaxState_ = nullptr;  // parses define()d modules on the main thread
};

}  // namespace luapool
