// RecordKeys: the property names of the records that cross the native boundary (job
// requests in, deliveries out), created once per environment as internalized JS strings,
// so reading or building a record never converts a name from UTF-8 again.
#pragma once

#include <napi.h>

namespace luapool {

#define LUAPOOL_RECORD_KEYS(X)                                                              \
  X(kind) X(id) X(status) X(value) X(error) X(message) X(traceback) X(chunk) X(line)         \
  X(exitCode) X(actions) X(waitMs) X(runMs) X(slices) X(peakMemory) X(state) X(fn) X(args)   \
  X(blocking) X(afterMs) X(source) X(chunkName) X(env) X(module) X(multret) X(bytesAsBuffer) \
  X(timeoutMs) X(acquireTimeoutMs) X(context) X(group) X(done) X(host) X(overrun) X(run)     \
  X(call) X(batch) X(reset) X(names) X(readonly) X(mode) X(index)

enum class Key : int {
#define LUAPOOL_KEY_ENUM(name) name,
  LUAPOOL_RECORD_KEYS(LUAPOOL_KEY_ENUM)
#undef LUAPOOL_KEY_ENUM
  count_
};

// The names, held for the environment's lifetime.
class RecordKeys {
 public:
  explicit RecordKeys(Napi::Env env) {
    static const char* const names[] = {
#define LUAPOOL_KEY_NAME(name) #name,
        LUAPOOL_RECORD_KEYS(LUAPOOL_KEY_NAME)
#undef LUAPOOL_KEY_NAME
    };
    // Node-API 9 cannot reference a string, so the names live in an array; taken as an
    // object's property names, they are the engine's own internalized strings.
    Napi::Object holder = Napi::Object::New(env);
    for (const char* name : names) holder.Set(name, true);
    names_ = Napi::Persistent(static_cast<Napi::Object>(holder.GetPropertyNames()));
  }

 private:
  friend class Keys;
  Napi::ObjectReference names_;
};

// The names as local handles, each looked up once per handle scope: make one per batch of
// records (or per request) and call it with the key.
class Keys {
 public:
  Keys(Napi::Env env, const RecordKeys& keys) : env_(env), names_(keys.names_.Value()) {}
  Napi::Value operator()(Key k) {
    napi_value& v = cache_[static_cast<int>(k)];
    if (v == nullptr) v = names_.Get(static_cast<uint32_t>(k));
    return Napi::Value(env_, v);
  }

 private:
  Napi::Env env_;
  Napi::Object names_;
  napi_value cache_[static_cast<int>(Key::count_)] = {};
};

}  // namespace luapool
