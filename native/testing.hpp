// Test hooks exposed as `binding.testing`: StatePool scenarios driven by native threads
// (so JS tests can prove the pool's guarantees), a no-op thread-pool job (the floor
// that the benchmark compares per-job overhead against), and the value-tree decoder on
// arbitrary bytes (decodeTree: malformed trees must fail cleanly).
#pragma once

#include <napi.h>

namespace luapool::testing {

Napi::Object Init(Napi::Env env);

}  // namespace luapool::testing
