// Module entry: registers the native classes and the per-environment cleanup.
#include "addon.hpp"

#include "lua-api.hpp"
#include "runner.hpp"
#include "testing.hpp"

namespace luapool {

Addon::Addon(Napi::Env env, Napi::Object exports) : env_(env) {
  exports.Set("NativeRunner", Runner::Init(env));
  exports.Set("luaVersion", Napi::String::New(env, LUA_RELEASE));
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  exports.Set("testing", testing::Init(env));
  // Runs before the environment's loop is drained at teardown (worker_threads exiting):
  // interrupting running jobs lets their thread-pool work finish promptly.
  napi_add_env_cleanup_hook(env, &Addon::Cleanup, this);
}

Addon::~Addon() {
  if (!cleanedUp_) napi_remove_env_cleanup_hook(env_, &Addon::Cleanup, this);
}

void Addon::Cleanup(void* arg) {
  auto* self = static_cast<Addon*>(arg);
  self->cleanedUp_ = true;
  auto runners = self->runners_;
  for (Runner* r : runners) r->teardown();
}

Addon* Addon::From(napi_env env) {
  Addon* addon = nullptr;
  if (napi_get_instance_data(env, reinterpret_cast<void**>(&addon)) != napi_ok) return nullptr;
  return addon;
}

}  // namespace luapool

using luapool::Addon;
NODE_API_ADDON(Addon)
