// Deliveries: the named records the native side hands to JavaScript, built in one place
// and typed once in lib/native.ts (NativeDelivery). Main thread only.
//
//   { kind: 'done', id, status, value?, error?, actions?, waitMs, runMs, slices,
//     peakMemory, state, exitCode? }                 a job is over (its one settlement)
//   { kind: 'host', id, fn, args, blocking, actions? }  a script called engine.<fn>(...)
//
// `done` records are the common case (thousands per frame), so they travel packed: one row
// of DoneField numbers per job in a Float64Array, and two slots per job in an array (its
// value or error, its actions). lib/native.ts (unpackDone) names them again, in one place.
// The other records are built here as objects.
//   { kind: 'actions', id, actions }                 logs/posts streamed by a long job
//   { kind: 'overrun', id, state, afterMs }          a job runs far past its deadline
#pragma once

#include <napi.h>

#include "record-keys.hpp"
#include "scheduler.hpp"

namespace luapool {

// Longest error message or traceback handed to JavaScript (longer ones are cut, marked).
constexpr size_t kMaxErrorText = 1u << 20;

// The columns of a packed `done` row (mirrored by DoneField in lib/native.ts).
enum DoneField : uint32_t {
  kDoneId, kDoneStatus, kDoneWaitMs, kDoneRunMs, kDoneSlices, kDonePeakMemory, kDoneState, kDoneExitCode,
  kDoneFields
};

struct PackedCompletions {
  Napi::Float64Array numbers;  // kDoneFields per job
  Napi::Array extras;          // per job: value (or error record), actions (or undefined)
};
// Packs the jobs' completions; never leaves one out (a job whose outcome cannot be
// converted gets an internal error instead).
PackedCompletions packCompletions(Napi::Env env, Keys& k, const std::vector<std::unique_ptr<Job>>& jobs);
Napi::Object hostCallRecord(Napi::Env env, Keys& k, const HostCallRecord& call);
Napi::Object overrunRecord(Napi::Env env, Keys& k, const OverrunRecord& overrun);

}  // namespace luapool
