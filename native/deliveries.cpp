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
  switch (rd.u8()) {
    case kTagNil: out = env.Undefined(); return true;
    case kTagTrue: out = Napi::Boolean::New(env, true); return true;
    case kTagFalse: out = Napi::Boolean::New(env, false); return true;
    case kTagFloat: out = Napi::Number::New(env, rd.f64()); return true;
    case kTagInt32: out = Napi::Number::New(env, rd.i32()); return true;
    case kTagInt: {
      int64_t v = rd.i64();
      if (v > 9007199254740991LL || v < -9007199254740991LL) return false;
      out = Napi::Number::New(env, static_cast<double>(v));
      return true;
    }
    case kTagStr: {
      if (job.bytesAsBuffer) return false;
      uint32_t n = rd.u32();
      if (n > kMaxErrorText) return false;  // long strings: through the tree (a Buffer)
      out = Napi::String::New(env, rd.take(n), n);
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

}  // namespace

Napi::Object completionRecord(Napi::Env env, Keys& k, Job& job) {
  Napi::Object o = Napi::Object::New(env);
  o.Set(k(Key::kind), k(Key::done));
  o.Set(k(Key::id), Napi::Number::New(env, static_cast<double>(job.id)));
  o.Set(k(Key::status), Napi::Number::New(env, static_cast<int>(job.status)));
  if (job.status == JobStatus::Ok) {
    Napi::Value value;
    // multret: always the tree (a single nil must stay distinguishable from no value)
    if (!job.result.empty()) {
      if (job.multret || !fastScalar(env, job, value)) value = copy(env, job.result);
      o.Set(k(Key::value), value);
    }
  } else {
    Napi::Object e = Napi::Object::New(env);
    e.Set(k(Key::message), text(env, job.error.message));
    e.Set(k(Key::traceback), text(env, job.error.traceback));
    e.Set(k(Key::chunk), text(env, job.error.chunk));
    e.Set(k(Key::line), Napi::Number::New(env, job.error.line));
    if (!job.error.value.empty()) e.Set(k(Key::value), copy(env, job.error.value));
    if (job.error.index >= 0) e.Set(k(Key::index), Napi::Number::New(env, static_cast<double>(job.error.index)));
    o.Set(k(Key::error), e);
  }
  if (job.status == JobStatus::Exit) o.Set(k(Key::exitCode), Napi::Number::New(env, job.exitCode));
  Napi::Value actions = actionList(env, job.actions);
  if (!actions.IsUndefined()) o.Set(k(Key::actions), actions);
  o.Set(k(Key::waitMs), Napi::Number::New(env, job.waitMs));
  o.Set(k(Key::runMs), Napi::Number::New(env, job.runMs));
  o.Set(k(Key::slices), Napi::Number::New(env, job.slices));
  o.Set(k(Key::peakMemory), Napi::Number::New(env, static_cast<double>(job.peakMemory)));
  o.Set(k(Key::state), Napi::Number::New(env, job.stateIndex));
  return o;
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
