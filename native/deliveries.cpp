// Deliveries: native records -> JavaScript objects (see deliveries.hpp for their shapes).
#include "deliveries.hpp"

#include "value.hpp"

namespace luapool {

namespace {

// A finished job's single scalar result, converted without a round trip through JS.
bool fastScalar(Napi::Env env, const Job& job, Napi::Value& out) {
  const std::string& r = job.result;
  if (r.size() < kHeaderSize + 1) return false;
  ValueReader rd(r.data(), r.size());
  rd.u8();
  if (rd.u32() != 1) return false;
  // every read checked against the tree's size (value.hpp), like the decoders'
  switch (rd.u8()) {
    case kTagNil: out = env.Undefined(); return true;
    case kTagTrue: out = Napi::Boolean::New(env, true); return true;
    case kTagFalse: out = Napi::Boolean::New(env, false); return true;
    case kTagFloat: if (!rd.has(8)) return false; out = Napi::Number::New(env, rd.f64()); return true;
    case kTagInt32: if (!rd.has(4)) return false; out = Napi::Number::New(env, rd.i32()); return true;
    case kTagInt: {
      if (!rd.has(8)) return false;
      int64_t v = rd.i64();
      if (v > 9007199254740991LL || v < -9007199254740991LL) return false;
      out = Napi::Number::New(env, static_cast<double>(v));
      return true;
    }
    case kTagStr: {
      if (job.bytesAsBuffer || !rd.has(4)) return false;
      uint32_t n = rd.u32();
      if (n > kMaxErrorText || !rd.has(n)) return false;  // long strings: through the tree (a Buffer)
      const char* s = rd.take(n);
      // Bytes that are not UTF-8 go through the tree: the JS decoder applies `strict`.
      if (!validUtf8(s, n)) return false;
      out = Napi::String::New(env, s, n);
      return true;
    }
    default: return false;
  }
}

// Error texts are cut to a length every JS engine can hold as a string.
Napi::String text(Napi::Env env, const std::string& s) {
  if (s.size() <= kMaxErrorText) return Napi::String::New(env, s);
  std::string cut = s.substr(0, kMaxErrorText);
  cut += "... (" + std::to_string(s.size() - kMaxErrorText) + " more bytes)";
  return Napi::String::New(env, cut);
}

Napi::Buffer<char> copy(Napi::Env env, const std::string& s) {
  return Napi::Buffer<char>::Copy(env, s.data(), s.size());
}

// [type, name, data, type, name, data, ...]: data is a log's text or a post's value tree
Napi::Value actionList(Napi::Env env, const std::vector<Action>& actions) {
  if (actions.empty()) return env.Undefined();
  Napi::Array a = Napi::Array::New(env, actions.size() * 3);
  uint32_t k = 0;
  for (const Action& act : actions) {
    a.Set(k++, Napi::Number::New(env, static_cast<int>(act.type)));
    a.Set(k++, text(env, act.name));
    if (act.type == ActionType::Post) {
      a.Set(k++, copy(env, act.data));
    } else {
      a.Set(k++, text(env, act.data));
    }
  }
  return a;
}

// { message, traceback, chunk, line, value? }
Napi::Object errorRecord(Napi::Env env, Keys& k, const ErrorInfo& error) {
  Napi::Object e = Napi::Object::New(env);
  e.Set(k(Key::message), text(env, error.message));
  e.Set(k(Key::traceback), text(env, error.traceback));
  e.Set(k(Key::chunk), text(env, error.chunk));
  e.Set(k(Key::line), Napi::Number::New(env, error.line));
  if (!error.value.empty()) e.Set(k(Key::value), copy(env, error.value));
  if (error.index >= 0) e.Set(k(Key::index), Napi::Number::New(env, static_cast<double>(error.index)));
  return e;
}

// The job's value (status Ok) or error record.
Napi::Value outcome(Napi::Env env, Keys& k, const Job& job) {
  if (job.status != JobStatus::Ok) return errorRecord(env, k, job.error);
  if (job.result.empty()) return env.Undefined();
  Napi::Value value;
  // multret: always the tree (a single nil must stay distinguishable from no value)
  if (job.multret || !fastScalar(env, job, value)) value = copy(env, job.result);
  return value;
}

}  // namespace

PackedCompletions packCompletions(Napi::Env env, Keys& k, const std::vector<std::unique_ptr<Job>>& jobs) {
  size_t n = jobs.size();
  PackedCompletions out{Napi::Float64Array::New(env, n * kDoneFields), Napi::Array::New(env, n * 2)};
  double* row = out.numbers.Data();
  for (size_t i = 0; i < n; ++i, row += kDoneFields) {
    const Job& job = *jobs[i];
    JobStatus status = job.status;
    Napi::Value first, actions;
    try {
      first = outcome(env, k, job);
      actions = actionList(env, job.actions);
    } catch (const Napi::Error& e) {
      // Never leave a job unsettled: report what went wrong instead of its outcome.
      ErrorInfo failed;
      failed.message = std::string("luapool: the job's outcome could not be delivered: ") + e.Message();
      status = JobStatus::Internal;
      first = errorRecord(env, k, failed);
      actions = env.Undefined();
    }
    row[kDoneId] = static_cast<double>(job.id);
    row[kDoneStatus] = static_cast<double>(status);
    row[kDoneWaitMs] = job.waitMs;
    row[kDoneRunMs] = job.runMs;
    row[kDoneSlices] = job.slices;
    row[kDonePeakMemory] = static_cast<double>(job.peakMemory);
    row[kDoneState] = job.stateIndex;
    row[kDoneExitCode] = job.exitCode;
    out.extras.Set(static_cast<uint32_t>(2 * i), first);
    out.extras.Set(static_cast<uint32_t>(2 * i + 1), actions);
  }
  return out;
}

Napi::Object hostCallRecord(Napi::Env env, Keys& k, const HostCallRecord& call) {
  Napi::Object o = Napi::Object::New(env);
  o.Set(k(Key::kind), k(call.actionsOnly ? Key::actions : Key::host));
  o.Set(k(Key::id), Napi::Number::New(env, static_cast<double>(call.jobId)));
  if (!call.actionsOnly) {
    o.Set(k(Key::fn), Napi::Number::New(env, call.request.function));
    o.Set(k(Key::args), copy(env, call.request.args));
    o.Set(k(Key::blocking), Napi::Boolean::New(env, call.request.blocking));
  }
  Napi::Value actions = actionList(env, call.actions);
  if (!actions.IsUndefined()) o.Set(k(Key::actions), actions);
  return o;
}

Napi::Object overrunRecord(Napi::Env env, Keys& k, const OverrunRecord& overrun) {
  Napi::Object o = Napi::Object::New(env);
  o.Set(k(Key::kind), k(Key::overrun));
  o.Set(k(Key::id), Napi::Number::New(env, static_cast<double>(overrun.jobId)));
  o.Set(k(Key::state), Napi::Number::New(env, overrun.stateIndex));
  o.Set(k(Key::afterMs), Napi::Number::New(env, overrun.afterMs));
  return o;
}

}  // namespace luapool
