// Test hooks exposed as `binding.testing`: StatePool scenarios driven by native threads
// (so JS tests can prove the pool's guarantees) and a no-op thread-pool job (the floor
// that the benchmark compares per-job overhead against).
#pragma once

#include <napi.h>

namespace luapool::testing {

Napi::Object Init(Napi::Env env);

}  // namespace luapool::testing
