// scheduler.test.cpp: drives every transition of the job lifecycle (native/scheduler.hpp)
// without Node: plain threads stand in for libuv's pool, this thread for the main thread.
// Everything synchronises on deliveries (the scheduler's own wake-ups), never on timing.
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "scheduler.hpp"
#include "value.hpp"

using namespace luapool;

namespace {

// A scheduler with a fake main thread: pump() starts workers, next() waits for deliveries.
class Harness {
 public:
  explicit Harness(SchedulerConfig config) : s(config) {
    std::string error;
    REQUIRE(s.init(error));
    s.setNotify([this] {
      std::lock_guard<std::mutex> lock(m_);
      notified_ = true;
      cv_.notify_all();
    });
  }
  ~Harness() {
    s.shutdown();
    for (auto& t : workers_) t.join();
    s.setNotify(nullptr);
  }

  uint64_t submit(const char* source, void (*tweak)(Job&) = nullptr) {
    auto job = std::make_unique<Job>();
    job->id = nextId_++;
    job->kind = JobKind::Run;
    job->source = source;
    if (tweak) tweak(*job);
    uint64_t id = job->id;
    REQUIRE(s.submit(job));
    pump();
    return id;
  }

  void pump() {
    size_t n = s.startWorkers(16);
    for (size_t i = 0; i < n; ++i) workers_.emplace_back([this] { s.work(); });
  }

  // Waits for the next deliveries and files them; false if nothing came for 30 s (a hang).
  bool next() {
    {
      std::unique_lock<std::mutex> lock(m_);
      if (!cv_.wait_for(lock, std::chrono::seconds(30), [this] { return notified_; })) return false;
      notified_ = false;
    }
    Deliveries d;
    s.takeDeliveries(d);
    for (auto& job : d.completed) {
      order.push_back(job->id);
      done[job->id] = std::move(job);
    }
    for (auto& call : d.hostCalls) {
      if (!call.actionsOnly) calls.push_back(call);
    }
    for (auto& o : d.overruns) overruns.push_back(o);
    pump();
    return true;
  }

  // Waits until the job is done (or a hang is reported).
  Job& await(uint64_t id) {
    while (done.find(id) == done.end()) REQUIRE(next());
    return *done[id];
  }
  // Waits until `n` jobs run Lua on a thread (a worker picks a job asynchronously).
  void awaitRunning(size_t n) {
    while (s.counts().running < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Waits for the next host call of the job.
  HostCallRecord awaitCall(uint64_t id) {
    for (;;) {
      for (size_t i = 0; i < calls.size(); ++i) {
        if (calls[i].jobId == id) {
          HostCallRecord c = calls[i];
          calls.erase(calls.begin() + static_cast<std::ptrdiff_t>(i));
          return c;
        }
      }
      REQUIRE(next());
    }
  }

  Scheduler s;
  std::map<uint64_t, std::unique_ptr<Job>> done;
  std::vector<uint64_t> order;  // completion order
  std::vector<HostCallRecord> calls;
  std::vector<OverrunRecord> overruns;

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool notified_ = false;
  std::vector<std::thread> workers_;
  uint64_t nextId_ = 1;
};

SchedulerConfig sandboxed(size_t states, size_t threads, uint32_t sliceMs) {
  SchedulerConfig c;
  c.states = states;
  c.threads = threads;
  c.sliceMs = sliceMs;
  c.state.libs = kLibBase | kLibString | kLibTable | kLibMath | kLibCoroutine;
  c.state.hostFunctions = {"f"};
  return c;
}

// The single integer a job returned (or a sentinel).
int64_t intResult(const Job& job) {
  const std::string& r = job.result;
  if (job.status != JobStatus::Ok || r.size() < kHeaderSize + 1) return -999999;
  ValueReader rd(r.data(), r.size());
  rd.u8();
  if (rd.u32() < 1) return -999998;
  uint8_t tag = rd.u8();
  if (tag == kTagInt32) return rd.i32();
  if (tag == kTagInt) return rd.i64();
  return -999997;
}

std::string intTree(int32_t v) {
  std::string out;
  ValueWriter w(out);
  w.header(0, 1);
  w.tag(kTagInt32);
  w.i32(v);
  return out;
}

const char* kSpin = "while true do end";

}  // namespace

TEST_CASE("scheduler: Queued -> Running -> Done") {
  Harness h(sandboxed(2, 1, 2));
  uint64_t id = h.submit("return 40 + 2");
  Job& job = h.await(id);
  CHECK(job.status == JobStatus::Ok);
  CHECK_EQ(intResult(job), 42);
  CHECK(job.state == JobState::Done);
  CHECK_EQ(job.slices, 0u);
}

TEST_CASE("scheduler: Queued -> Done by cancel, and by acquire timeout") {
  Harness h(sandboxed(1, 1, 0));  // no slices: the spinning job keeps the only thread
  uint64_t spin = h.submit(kSpin);
  uint64_t waiting = h.submit("return 1");
  uint64_t timed = h.submit("return 2", [](Job& j) { j.acquireTimeoutMs = 20; });
  CHECK(h.s.cancel(waiting, KillReason::Cancelled) == CancelResult::Settled);
  CHECK(h.await(waiting).status == JobStatus::Cancelled);
  CHECK(h.await(timed).status == JobStatus::AcquireTimeout);
  CHECK(h.s.cancel(spin, KillReason::Cancelled) == CancelResult::Interrupting);
  CHECK(h.await(spin).status == JobStatus::Cancelled);
  CHECK(h.s.cancel(spin, KillReason::Cancelled) == CancelResult::Unknown);  // already Done
  CHECK_EQ(intResult(h.await(h.submit("return 3"))), 3);  // the state is usable
}

TEST_CASE("scheduler: Running -> Runnable (slice over) -> Running, other jobs in between") {
  Harness h(sandboxed(2, 1, 1));
  // The long job calls the host first, so the short one is submitted while it runs.
  uint64_t longJob = h.submit("engine.f() local s = 0 for i = 1, 3e7 do s = s + i % 7 end return s");
  h.awaitCall(longJob);
  CHECK(h.s.answerHost(longJob, true, std::string()));
  uint64_t shortJob = h.submit("return 7");
  Job& s = h.await(shortJob);
  CHECK_EQ(intResult(s), 7);
  Job& l = h.await(longJob);
  CHECK(l.status == JobStatus::Ok);
  CHECK(l.slices >= 1u);
  int64_t expect = 0;
  for (int64_t i = 1; i <= 30000000; ++i) expect += i % 7;
  CHECK_EQ(intResult(l), expect);  // the slices did not change what it computed
  CHECK(h.order.front() == shortJob);
}

TEST_CASE("scheduler: Suspended (host call) -> Runnable (answer) -> Done") {
  Harness h(sandboxed(1, 1, 2));
  uint64_t id = h.submit("return engine.f(1) + 1");
  HostCallRecord call = h.awaitCall(id);
  CHECK(!call.request.blocking);
  CHECK_EQ(h.s.counts().suspended, 1u);
  // while it waits for the host, its state runs other jobs
  CHECK_EQ(intResult(h.await(h.submit("return 5"))), 5);
  CHECK(h.s.answerHost(id, true, intTree(41)));
  CHECK(!h.s.answerHost(id, true, intTree(41)));  // a second answer is refused
  CHECK_EQ(intResult(h.await(id)), 42);
}

TEST_CASE("scheduler: Blocked (host call where Lua cannot yield) -> Running -> Done") {
  Harness h(sandboxed(1, 1, 2));
  // a sort comparator is called through lua_call: no yield can cross it
  uint64_t id = h.submit("local r table.sort({2, 1}, function(a, b) r = engine.f() return a < b end) return r + 1");
  HostCallRecord call = h.awaitCall(id);
  CHECK(call.request.blocking);
  CHECK_EQ(h.s.counts().blocked, 1u);
  CHECK(h.s.answerHost(id, true, intTree(9)));
  CHECK_EQ(intResult(h.await(id)), 10);
}

TEST_CASE("scheduler: kills in every state settle once and release the coroutine") {
  Harness h(sandboxed(1, 1, 0));
  // Running: the deadline
  CHECK(h.await(h.submit(kSpin, [](Job& j) { j.timeoutMs = 20; })).status == JobStatus::Timeout);
  // Blocked: a cancel wakes it; and a deadline
  uint64_t blocked = h.submit("table.sort({2, 1}, function(a, b) engine.f() return a < b end)");
  h.awaitCall(blocked);
  CHECK(h.s.cancel(blocked, KillReason::Cancelled) == CancelResult::Interrupting);
  CHECK(h.await(blocked).status == JobStatus::Cancelled);
  uint64_t blockedT = h.submit("table.sort({2, 1}, function(a, b) engine.f() return a < b end)",
                               [](Job& j) { j.timeoutMs = 30; });
  CHECK(h.await(blockedT).status == JobStatus::Timeout);
  // Suspended: a cancel; a deadline while the host keeps it waiting
  uint64_t suspended = h.submit("local x <close> = setmetatable({}, {__close = function() closed = true end}) return engine.f()");
  h.awaitCall(suspended);
  CHECK(h.s.cancel(suspended, KillReason::Cancelled) == CancelResult::Interrupting);
  CHECK(h.await(suspended).status == JobStatus::Cancelled);
  uint64_t suspendedT = h.submit("return engine.f()", [](Job& j) { j.timeoutMs = 30; });
  h.awaitCall(suspendedT);
  CHECK(h.await(suspendedT).status == JobStatus::Timeout);
  CHECK(!h.s.answerHost(suspendedT, true, intTree(1)));  // too late: it is gone
  // Runnable: answered while the only thread is busy, then cancelled
  uint64_t answered = h.submit("return engine.f()");
  h.awaitCall(answered);
  uint64_t spin = h.submit(kSpin);
  h.awaitRunning(1);
  CHECK(h.s.answerHost(answered, true, intTree(1)));
  CHECK_EQ(h.s.counts().runnable, 1u);
  CHECK(h.s.cancel(answered, KillReason::Cancelled) == CancelResult::Interrupting);
  CHECK(h.s.cancel(spin, KillReason::Cancelled) == CancelResult::Interrupting);
  CHECK(h.await(answered).status == JobStatus::Cancelled);  // never the host's answer
  CHECK(h.await(spin).status == JobStatus::Cancelled);
  // nothing is left open, and the coroutines are gone: memory is back near its baseline
  auto snap = h.s.snapshot();
  CHECK_EQ(snap[0].openJobs, 0u);
  size_t before = snap[0].memory;
  for (int i = 0; i < 50; ++i) {
    uint64_t id = h.submit("local big = {} for i = 1, 1e4 do big[i] = i end return engine.f()");
    h.awaitCall(id);
    h.s.cancel(id, KillReason::Cancelled);
    CHECK(h.await(id).status == JobStatus::Cancelled);
  }
  h.await(h.submit("collectgarbage() return 1"));
  CHECK(h.s.snapshot()[0].memory < before + 64 * 1024);
}

TEST_CASE("scheduler: a budget spent while suspended times out once a thread is free") {
  Harness h(sandboxed(1, 1, 0));
  uint64_t waiting = h.submit("return engine.f()", [](Job& j) { j.timeoutMs = 40; });
  h.awaitCall(waiting);
  uint64_t spin = h.submit(kSpin);  // holds the only thread
  // the deadline fires while it is suspended: it becomes runnable, killed
  while (h.s.counts().runnable == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(h.s.cancel(spin, KillReason::Cancelled) == CancelResult::Interrupting);
  CHECK(h.await(waiting).status == JobStatus::Timeout);
  CHECK(h.await(spin).status == JobStatus::Cancelled);
}

TEST_CASE("scheduler: a context's jobs run one at a time, in order, across slices and host calls") {
  Harness h(sandboxed(2, 2, 1));
  auto inContext = [](Job& j) { j.contextKey = "ctx"; j.pinnedState = 1; };
  uint64_t a = h.submit("engine.f() n = (n or 0) + 1 return n", inContext);
  uint64_t b = h.submit("n = n * 10 return n", inContext);
  uint64_t c = h.submit("local s = 0 for i = 1, 1e6 do s = s + 1 end n = n + 1 return n", inContext);
  h.awaitCall(a);
  CHECK(h.done.find(b) == h.done.end());  // b waits behind a, which waits for the host
  CHECK(h.s.answerHost(a, true, std::string()));
  CHECK_EQ(intResult(h.await(a)), 1);
  CHECK_EQ(intResult(h.await(b)), 10);
  CHECK_EQ(intResult(h.await(c)), 11);
}

TEST_CASE("scheduler: groups take turns while a group floods the threads") {
  Harness h(sandboxed(4, 1, 1));
  std::vector<uint64_t> hostile;
  for (int i = 0; i < 3; ++i) {
    hostile.push_back(h.submit("local s = 0 for i = 1, 2e7 do s = s + 1 end return s",
                               [](Job& j) { j.group = "hostile"; }));
  }
  uint64_t benign = h.submit("return 1", [](Job& j) { j.group = "benign"; });
  CHECK_EQ(intResult(h.await(benign)), 1);
  for (uint64_t id : hostile) CHECK(h.done.find(id) == h.done.end() || h.order.front() != id);
  for (uint64_t id : hostile) CHECK(h.await(id).status == JobStatus::Ok);
  CHECK(h.s.counts().slices >= 2u);
}

TEST_CASE("scheduler: close settles queued and waiting jobs, force interrupts running ones") {
  Harness h(sandboxed(2, 1, 0));
  uint64_t spin = h.submit(kSpin);
  h.awaitRunning(1);
  uint64_t queued = h.submit("return 1");
  h.s.close(false);
  CHECK(h.await(queued).status == JobStatus::Cancelled);
  CHECK(h.done.find(spin) == h.done.end());  // plain close waits for running jobs
  h.s.close(true);
  CHECK(h.await(spin).status == JobStatus::Cancelled);
}

TEST_CASE("scheduler: a job far past its deadline is reported; its state is replaced after") {
  SchedulerConfig c = sandboxed(1, 1, 0);
  c.state.trusted = true;  // os.execute: C code no interrupt check reaches
  Harness h(c);
  uint64_t id = h.submit("os.execute('sleep 2.5') return 1", [](Job& j) { j.timeoutMs = 10; });
  Job& job = h.await(id);
  CHECK(job.status == JobStatus::Timeout);
  REQUIRE(h.overruns.size() == 1u);
  CHECK_EQ(h.overruns[0].jobId, id);
  CHECK(h.overruns[0].afterMs >= 1000);
  CHECK_EQ(h.s.counts().replacedStates, 1u);
  CHECK_EQ(intResult(h.await(h.submit("return 2"))), 2);  // on the fresh state
}

TEST_CASE("scheduler: os.exit in a trusted state ends the job with its code, uncatchable") {
  SchedulerConfig c = sandboxed(1, 1, 0);
  c.state.trusted = true;
  Harness h(c);
  Job& job = h.await(h.submit("pcall(os.exit, 7) return 1"));
  CHECK(job.status == JobStatus::Exit);
  CHECK_EQ(job.exitCode, 7);
  CHECK_EQ(h.await(h.submit("os.exit(false)")).exitCode, 1);
  CHECK_EQ(intResult(h.await(h.submit("return 3"))), 3);
}

TEST_CASE("scheduler: shutdown interrupts running jobs and stops the workers") {
  Harness h(sandboxed(1, 1, 2));
  uint64_t id = h.submit(kSpin);
  h.awaitRunning(1);
  h.s.shutdown();
  CHECK(h.await(id).status == JobStatus::Cancelled);
  CHECK_EQ(h.s.startWorkers(16), 0u);
}

// The scheduler may ask a picked job to yield before its step has begun on the state (a
// fresh job arrived meanwhile): the request must reach that step, not be dropped until the
// next slice tick.
TEST_CASE("lua state: a slice request made between pick and the step's start reaches the step") {
  SchedulerConfig c = sandboxed(1, 1, 2);
  LuaState state(c.state, 0);
  REQUIRE(state.ok());
  Job job;
  job.id = 7;
  job.kind = JobKind::Run;
  job.source = "local n = 0 for i = 1, 3e6 do n = n + 1 end return n";
  CHECK(!state.requestSlice(job));  // not running here yet: kept on the job
  CHECK(executeJob(state, job) == StepResult::Sliced);
  CHECK(executeJob(state, job) == StepResult::Finished);  // not asked again: runs to the end
  CHECK(job.status == JobStatus::Ok);
  CHECK_EQ(intResult(job), 3000000);
}
