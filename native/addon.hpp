// Per-environment data of the addon (one per main thread or worker_thread): no static
// mutable state anywhere, so the addon is context-aware.
#pragma once

#include <unordered_set>

#include <napi.h>

#include "record-keys.hpp"

namespace luapool {

class Runner;

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports);
  ~Addon();

  static Addon* From(napi_env env);
  const RecordKeys& keys() const { return keys_; }
  void track(Runner* r) { runners_.insert(r); }
  void untrack(Runner* r) { runners_.erase(r); }

  // Thread-pool work in flight: teardown waits until it has all completed.
  void slotStarted() { ++busySlots_; }
  void slotFinished();

 private:
  static void Cleanup(napi_async_cleanup_hook_handle handle, void* arg);
  void finishCleanupIfIdle();

  napi_env env_;
  RecordKeys keys_;
  std::unordered_set<Runner*> runners_;
  size_t busySlots_ = 0;
  napi_async_cleanup_hook_handle hook_ = nullptr;  // registered, not yet run
  napi_async_cleanup_hook_handle running_ = nullptr;  // running: removed once idle
};

}  // namespace luapool
