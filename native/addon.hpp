// Per-environment data of the addon (one per main thread or worker_thread): no static
// mutable state anywhere, so the addon is context-aware.
#pragma once

#include <unordered_set>

#include <napi.h>

namespace luapool {

class Runner;

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports);
  ~Addon();

  static Addon* From(napi_env env);
  void track(Runner* r) { runners_.insert(r); }
  void untrack(Runner* r) { runners_.erase(r); }

 private:
  static void Cleanup(void* arg);
  napi_env env_;
  std::unordered_set<Runner*> runners_;
  bool cleanedUp_ = false;
};

}  // namespace luapool
