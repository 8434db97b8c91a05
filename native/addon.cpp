// Module entry: registers the native classes and the per-environment cleanup.
#include "addon.hpp"

#include "deliveries.hpp"

#include "lua-api.hpp"
#include "runner.hpp"
#include "testing.hpp"
#include "value.hpp"

namespace luapool {

Addon::Addon(Napi::Env env, Napi::Object exports) : env_(env), keys_(env) {
  exports.Set("NativeRunner", Runner::Init(env));
  exports.Set("luaVersion", Napi::String::New(env, LUA_RELEASE));
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  // Bumped whenever the value-tree format (value.hpp) changes; lib/native.ts checks it.
  exports.Set("valueFormat", Napi::Number::New(env, kValueFormat));
  // The packed layouts of submit() and of `done` records; lib/native.ts checks them.
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("requestFields", Napi::Number::New(env, kRequestFields));
  layout.Set("doneFields", Napi::Number::New(env, kDoneFields));
  exports.Set("layout", layout);
#ifdef LUAPOOL_TEST_HOOKS
  // Test hooks (testing.hpp): only in builds made for the test suite (scripts/build.js in
  // a checkout with test/, CMake dev builds); never in prebuilds or a published install.
  exports.Set("testing", testing::Init(env));
#endif
  // processExiting(): the process is about to exit (process 'exit' event: process.exit()
  // or an uncaught exception). Node then joins libuv's threads, so every running job is
  // interrupted now instead of being waited for.
  exports.Set("processExiting", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    Addon* self = Addon::From(info.Env());
    if (self != nullptr) {
      for (Runner* r : self->runners_) r->exiting();
    }
  }));
  // At teardown (a worker_thread exiting), interrupt running jobs, then keep the
  // environment alive until their thread-pool work has completed (an async cleanup hook).
  napi_add_async_cleanup_hook(env, &Addon::Cleanup, this, &hook_);
}

Addon::~Addon() {
  if (hook_ != nullptr) napi_remove_async_cleanup_hook(hook_);
}

void Addon::Cleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  auto* self = static_cast<Addon*>(arg);
  self->hook_ = nullptr;
  self->running_ = handle;
  auto runners = self->runners_;
  for (Runner* r : runners) r->teardown();
  self->finishCleanupIfIdle();
}

void Addon::slotFinished() {
  --busySlots_;
  finishCleanupIfIdle();
}

void Addon::finishCleanupIfIdle() {
  if (running_ != nullptr && busySlots_ == 0) {
    napi_async_cleanup_hook_handle h = running_;
    running_ = nullptr;
    napi_remove_async_cleanup_hook(h);
  }
}

Addon* Addon::From(napi_env env) {
  Addon* addon = nullptr;
  if (napi_get_instance_data(env, reinterpret_cast<void**>(&addon)) != napi_ok) return nullptr;
  return addon;
}

}  // namespace luapool

using luapool::Addon;
NODE_API_ADDON(Addon)
