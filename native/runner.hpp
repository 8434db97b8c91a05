// Runner: the native class behind ScriptRunner (main thread only).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <napi.h>

#include "lua-api.hpp"
#include "runner-core.hpp"

namespace luapool {

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

  // One libuv work item, reused; while busy it keeps the core alive.
  struct SlotWork {
    Runner* runner = nullptr;
    size_t index = 0;
    napi_async_work work = nullptr;
    bool busy = false;
    bool orphaned = false;  // the Runner is gone; the completion callback frees the slot
    std::shared_ptr<RunnerCore> core;
  };
  static void ExecuteSlot(napi_env env, void* data);
  static void CompleteSlot(napi_env env, napi_status status, void* data);

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
