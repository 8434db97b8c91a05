// Test hooks: see testing.hpp.
#include "testing.hpp"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "lua-api.hpp"
#include "state-pool.hpp"
#include "value-lua.hpp"

namespace luapool::testing {

namespace {

using Clock = std::chrono::steady_clock;

// hammer(slots, threads, iterations) -> { acquisitions, violations }
// Every thread loops acquire -> check no one else holds the slot -> release.
Napi::Value Hammer(const Napi::CallbackInfo& info) {
  size_t slots = info[0].As<Napi::Number>().Uint32Value();
  size_t threads = info[1].As<Napi::Number>().Uint32Value();
  size_t iterations = info[2].As<Napi::Number>().Uint32Value();
  StatePool pool(slots);
  std::vector<std::atomic<int>> holders(slots);
  std::atomic<uint64_t> acquisitions{0}, violations{0};
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (size_t i = 0; i < iterations; ++i) {
        StateLease lease = (i + t) % 3 == 0 ? pool.acquireFor(std::chrono::seconds(5))
                                            : pool.acquire();
        if (!lease) { violations++; continue; }
        if (holders[lease.index()].fetch_add(1) != 0) violations++;
        acquisitions++;
        std::this_thread::yield();
        holders[lease.index()].fetch_sub(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("acquisitions", Napi::Number::New(info.Env(), static_cast<double>(acquisitions)));
  out.Set("violations", Napi::Number::New(info.Env(), static_cast<double>(violations)));
  return out;
}

// scenario(name) -> object describing what happened, for the pool's edge cases.
Napi::Value Scenario(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  Napi::Object out = Napi::Object::New(env);
  if (name == "tryAcquireEmpty") {
    StatePool pool(1);
    StateLease a = pool.tryAcquire();
    StateLease b = pool.tryAcquire();
    out.Set("first", Napi::Boolean::New(env, static_cast<bool>(a)));
    out.Set("second", Napi::Boolean::New(env, static_cast<bool>(b)));
    a.reset();
    out.Set("afterRelease", Napi::Boolean::New(env, static_cast<bool>(pool.tryAcquire())));
  } else if (name == "acquireForTimeout") {
    StatePool pool(1);
    StateLease held = pool.acquire();
    auto t0 = Clock::now();
    StateLease b = pool.acquireFor(std::chrono::milliseconds(50));
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    out.Set("got", Napi::Boolean::New(env, static_cast<bool>(b)));
    out.Set("waitedMs", Napi::Number::New(env, ms));
  } else if (name == "acquireForRace") {
    StatePool pool(1);
    StateLease held = pool.acquire();
    std::thread releaser([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      held.reset();
    });
    auto t0 = Clock::now();
    StateLease b = pool.acquireFor(std::chrono::seconds(10));
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    releaser.join();
    out.Set("got", Napi::Boolean::New(env, static_cast<bool>(b)));
    out.Set("waitedMs", Napi::Number::New(env, ms));
  } else if (name == "shutdownWakesWaiters") {
    StatePool pool(1);
    StateLease held = pool.acquire();
    std::atomic<int> woke{0}, empty{0};
    std::vector<std::thread> waiters;
    for (int i = 0; i < 4; ++i) {
      waiters.emplace_back([&] {
        StateLease l = pool.acquire();
        woke++;
        if (!l) empty++;
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    pool.shutdown();
    for (auto& w : waiters) w.join();
    out.Set("woke", Napi::Number::New(env, woke));
    out.Set("emptyLeases", Napi::Number::New(env, empty));
    out.Set("acquireAfterShutdown", Napi::Boolean::New(env, static_cast<bool>(pool.tryAcquire())));
  } else if (name == "leaseMove") {
    StatePool pool(2);
    StateLease a = pool.acquire();
    StateLease b = std::move(a);
    out.Set("movedFromEmpty", Napi::Boolean::New(env, !a));
    out.Set("availableWhileHeld", Napi::Number::New(env, static_cast<double>(pool.available())));
    b.reset();
    out.Set("availableAfter", Napi::Number::New(env, static_cast<double>(pool.available())));
    StateLease c = pool.tryAcquire(1);
    StateLease d = pool.tryAcquire(1);
    out.Set("specificFirst", Napi::Boolean::New(env, static_cast<bool>(c)));
    out.Set("specificSecond", Napi::Boolean::New(env, static_cast<bool>(d)));
  } else {
    throw Napi::Error::New(env, "unknown scenario " + name);
  }
  return out;
}

// noop(callback): a thread-pool job that does nothing, then calls back on the main thread.
struct Noop {
  napi_async_work work;
  napi_ref callback;
};

Napi::Value NoopJob(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  auto* job = new Noop{};
  napi_create_reference(env, info[0], 1, &job->callback);
  napi_value name;
  napi_create_string_utf8(env, "luapool.noop", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(
      env, nullptr, name, [](napi_env, void*) {},
      [](napi_env env, napi_status, void* data) {
        auto* j = static_cast<Noop*>(data);
        napi_value cb, global;
        napi_get_reference_value(env, j->callback, &cb);
        napi_get_global(env, &global);
        napi_delete_reference(env, j->callback);
        napi_delete_async_work(env, j->work);
        delete j;
        napi_call_function(env, global, cb, 0, nullptr, nullptr);
      },
      job, &job->work);
  napi_queue_async_work(env, job->work);
  return info.Env().Undefined();
}

struct DecodeRun {
  const std::string* tree = nullptr;
  bool asEnv = false;
  int count = 0;
  std::string reencoded;
  std::string encodeError;
  bool encoded = false;
};

int decodeProtected(lua_State* L) {
  auto* run = static_cast<DecodeRun*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  if (run->asEnv) {
    lua_newtable(L);
    mergeDecodedInto(L, 1, *run->tree);
    run->count = 1;
  } else {
    run->count = pushDecoded(L, *run->tree);
  }
  run->encoded = encodeValues(L, 1, run->count, "decoded", run->reencoded, run->encodeError);
  return 0;
}

// decodeTree(buffer[, asEnv]) -> { ok, error?, count?, tree? }: decodes a value tree into a
// fresh lua_State the way jobs decode their arguments (as `env` with asEnv), then encodes
// the values back (tree). Lets tests feed truncated or garbage trees to the native decoder.
Napi::Value DecodeTree(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto buf = info[0].As<Napi::Buffer<char>>();
  std::string tree(buf.Data(), buf.Length());
  DecodeRun run;
  run.tree = &tree;
  run.asEnv = info.Length() > 1 && info[1].ToBoolean().Value();
  lua_State* L = luaL_newstate();
  if (L == nullptr) throw Napi::Error::New(env, "not enough memory");
  lua_pushcfunction(L, decodeProtected);
  lua_pushlightuserdata(L, &run);
  int status = lua_pcall(L, 1, 0, 0);
  Napi::Object out = Napi::Object::New(env);
  out.Set("ok", Napi::Boolean::New(env, status == LUA_OK));
  if (status != LUA_OK) {
    const char* msg = lua_tostring(L, -1);
    out.Set("error", Napi::String::New(env, msg ? msg : "(no message)"));
  } else {
    out.Set("count", Napi::Number::New(env, run.count));
    if (run.encoded) {
      out.Set("tree", Napi::Buffer<char>::Copy(env, run.reencoded.data(), run.reencoded.size()));
    } else {
      out.Set("encodeError", Napi::String::New(env, run.encodeError));
    }
  }
  lua_close(L);
  return out;
}

}  // namespace

Napi::Object Init(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("hammer", Napi::Function::New(env, Hammer));
  o.Set("scenario", Napi::Function::New(env, Scenario));
  o.Set("noop", Napi::Function::New(env, NoopJob));
  o.Set("decodeTree", Napi::Function::New(env, DecodeTree));
  return o;
}

}  // namespace luapool::testing
