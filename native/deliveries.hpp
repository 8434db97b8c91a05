// Deliveries: the named records the native side hands to JavaScript, built in one place
// and typed once in lib/native.ts (NativeDelivery). Main thread only.
//
//   { kind: 'done', id, status, value?, error?, actions?, waitMs, runMs, slices,
//     peakMemory, state, exitCode? }                 a job is over (its one settlement)
//   { kind: 'host', id, fn, args, blocking, actions? }  a script called engine.<fn>(...)
//   { kind: 'actions', id, actions }                 logs/posts streamed by a long job
//   { kind: 'overrun', id, state, afterMs }          a job runs far past its deadline
#pragma once

#include <napi.h>

#include "record-keys.hpp"
#include "scheduler.hpp"

namespace luapool {

// Longest error message or traceback handed to JavaScript (longer ones are cut, marked).
constexpr size_t kMaxErrorText = 1u << 20;

Napi::Object completionRecord(Napi::Env env, Keys& k, Job& job);
Napi::Object hostCallRecord(Napi::Env env, Keys& k, const HostCallRecord& call);
Napi::Object overrunRecord(Napi::Env env, Keys& k, const OverrunRecord& overrun);

}  // namespace luapool
