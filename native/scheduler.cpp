// Scheduler: the job lifecycle (the transition table is at the top of scheduler.hpp).
#include "scheduler.hpp"

#include <algorithm>

#include "lua-api.hpp"

namespace luapool {

namespace {

double msBetween(Scheduler::Clock::time_point a, Scheduler::Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

bool removeJob(std::deque<Job*>& q, Job* job) {
  auto it = std::find(q.begin(), q.end(), job);
  if (it == q.end()) return false;
  q.erase(it);
  return true;
}

}  // namespace

Scheduler::Scheduler(const SchedulerConfig& config)
    : config_(config),
      pool_(config.states),
      watchdog_([this](uint64_t key) { onWatchdog(key); }),
      openJobs_(config.states, 0) {}

Scheduler::~Scheduler() {
  watchdog_.stop();
  pool_.shutdown();
}

bool Scheduler::init(std::string& error) {
  for (size_t i = 0; i < config_.states; ++i) {
    auto state = std::make_unique<LuaState>(config_.state, i);
    if (!state->ok()) {
      error = "could not create a Lua state: " +
              (state->initError().empty() ? std::string("not enough memory") : state->initError());
      return false;
    }
    state->bridge = this;
    states_.push_back(std::move(state));
  }
  // Started now, so that a thread that cannot be created is an error here, not an abort
  // in the middle of a job.
  return watchdog_.start(error);
}

void Scheduler::setNotify(Notify notify) {
  std::lock_guard<std::mutex> lock(mutex_);
  notify_ = std::move(notify);
}

// Called with mutex_ held, so setNotify(nullptr) at teardown cannot race a late wake-up
// (the thread-safe function is freed right after). Notifying never blocks.
void Scheduler::wakeMainLocked() {
  if (notifyPending_) return;
  notifyPending_ = true;
  if (notify_) notify_();
}

Scheduler::Group& Scheduler::groupLocked(Level level, const std::string& name) {
  auto& groups = groups_[level];
  auto it = groups.find(name);
  if (it == groups.end()) {
    it = groups.emplace(name, Group{}).first;
    it->second.name = name;
  }
  return it->second;
}

// ---------------------------------------------------------------------------------------
// Queued: submit, then wait in a lane (contexts) and a group's run queue

bool Scheduler::submit(std::unique_ptr<Job>& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_ || queued_ >= config_.maxQueue) return false;
  Job& j = *job;
  j.state = JobState::Queued;
  j.queuedAt = Clock::now();
  j.budgetLeft = std::chrono::milliseconds(j.timeoutMs);
  if (j.pinnedState >= static_cast<int>(states_.size())) j.pinnedState = -1;
  jobs_.emplace(j.id, std::move(job));
  ++queued_;
  ++shares_[j.group].live;
  if (j.acquireTimeoutMs > 0) {
    watchdog_.arm(j.id | kKeyAcquire, j.queuedAt + std::chrono::milliseconds(j.acquireTimeoutMs));
  }
  if (!j.contextKey.empty()) {
    Lane& lane = lanes_[j.contextKey];
    if (lane.open != 0 || !lane.waiting.empty()) {
      lane.waiting.push_back(&j);  // runs after the context's earlier jobs
      return true;
    }
    lane.open = j.id;
  }
  enqueueLocked(j, false);
  return true;
}

void Scheduler::enqueueLocked(Job& job, bool urgent) {
  ++waiting_;
  if (urgent) {
    urgent_.push_back(&job);
    ensureSliceTickLocked();
    return;
  }
  Level level = job.demoted ? kLong : kFresh;
  if (level == kLong && waitingAt_[kLong] == 0) freshRunSinceLong_ = {};  // long jobs start to wait
  groupLocked(level, job.group).queue.push_back(&job);
  ++waitingAt_[level];
  // A fresh job does not wait for a long job's slice to end.
  if (level == kFresh) preemptLocked(Clock::now());
  ensureSliceTickLocked();
}

void Scheduler::dequeueLocked(Job& job) {
  if (removeJob(urgent_, &job)) {
    --waiting_;
    return;
  }
  for (Level level : {kFresh, kLong}) {
    auto g = groups_[level].find(job.group);
    if (g != groups_[level].end() && removeJob(g->second.queue, &job)) {
      --waiting_;
      --waitingAt_[level];
      // a group with no waiting job leaves the map (group names may be per request)
      if (g->second.queue.empty()) groups_[level].erase(g);
      return;
    }
  }
  if (!job.contextKey.empty()) {
    auto lane = lanes_.find(job.contextKey);
    if (lane != lanes_.end()) removeJob(lane->second.waiting, &job);
  }
}

// ---------------------------------------------------------------------------------------
// Running: a worker picks the next job it can run
//
// Order: killed jobs first (they unwind and settle); then fresh jobs (new, or back from
// a host call, that have not used a whole slice); then long jobs (sliced out before). Long
// jobs that have waited kStarveSlices slices go before fresh ones, so a stream of fresh
// jobs cannot starve them. Within a level, the group served least recently goes first (a
// new group at once), FIFO within a group.

// A new (unpinned) job may start on a state that is not quarantined.
bool Scheduler::canPlaceLocked(size_t index) const {
  return !states_[index]->quarantined.load();
}

// The state the job can run on now, or -1. Leases change only under mutex_, so the answer
// holds until the caller acquires it.
int Scheduler::stateForLocked(const Job& job) const {
  if (job.started || job.pinnedState >= 0) {
    size_t index = job.started ? static_cast<size_t>(job.stateIndex) : static_cast<size_t>(job.pinnedState);
    return pool_.isLeased(index) ? -1 : static_cast<int>(index);
  }
  // A new job: the free state with the fewest open jobs (usually one with none).
  int best = -1;
  for (size_t i = 0; i < states_.size(); ++i) {
    if (!canPlaceLocked(i) || pool_.isLeased(i)) continue;
    if (best < 0 || openJobs_[i] < openJobs_[static_cast<size_t>(best)]) best = static_cast<int>(i);
  }
  return best;
}

// The least recently served group of the level with a job that can run now.
bool Scheduler::findInLevelLocked(Level level, Group*& group, std::deque<Job*>::iterator& at, int& index) {
  constexpr size_t kScan = 16;  // jobs looked at per group (the rest wait for their turn)
  group = nullptr;
  uint64_t best = 0;
  for (auto& entry : groups_[level]) {
    Group& g = entry.second;
    uint64_t served = shares_[g.name].lastServed;
    if (group != nullptr && served >= best) continue;
    size_t scanned = 0;
    for (auto it = g.queue.begin(); it != g.queue.end() && scanned < kScan; ++it, ++scanned) {
      int i = stateForLocked(**it);
      if (i >= 0) {
        group = &g;
        best = served;
        at = it;
        index = i;
        break;
      }
    }
  }
  return group != nullptr;
}

Job* Scheduler::pickLocked(StateLease& lease) {
  auto now = Clock::now();
  Job* picked = nullptr;
  int index = -1;
  bool guarded = false;
  for (auto it = urgent_.begin(); it != urgent_.end(); ++it) {
    index = stateForLocked(**it);
    if (index >= 0) {
      picked = *it;
      urgent_.erase(it);
      break;
    }
  }
  if (!picked) {
    // Measured in the fresh jobs' running time, not wall time: a process that gets no CPU
    // for a while (a loaded machine) has not starved its long jobs by running fresh ones.
    bool starving = waitingAt_[kLong] > 0 &&
                    freshRunSinceLong_ >= std::chrono::milliseconds(config_.sliceMs) * kStarveSlices;
    Level order[2] = {starving ? kLong : kFresh, starving ? kFresh : kLong};
    for (Level level : order) {
      Group* g;
      std::deque<Job*>::iterator at;
      if (!findInLevelLocked(level, g, at, index)) continue;
      picked = *at;
      g->queue.erase(at);
      shares_[g->name].lastServed = ++served_;
      --waitingAt_[level];
      if (level == kLong) {
        freshRunSinceLong_ = {};
        // A whole slice before a fresh job may preempt it: it was picked so as not to
        // starve, or the fresh jobs that wait cannot run now (so preempting it would only
        // hand its thread back to it, again and again).
        guarded = starving || waitingAt_[kFresh] > 0;
      }
      if (g->queue.empty()) groups_[level].erase(g->name);
      break;
    }
  }
  if (!picked) return nullptr;
  lease = pool_.tryAcquire(static_cast<size_t>(index));
  --waiting_;
  Job& job = *picked;
  if (!job.started) {
    job.started = true;
    job.stateIndex = index;
    ++openJobs_[static_cast<size_t>(index)];
    --queued_;
    job.waitMs = msBetween(job.queuedAt, now);
    if (job.acquireTimeoutMs > 0) watchdog_.disarm(job.id | kKeyAcquire);
  }
  job.state = JobState::Running;
  job.sliceStart = now;
  job.sliceRequest.store(false, std::memory_order_relaxed);  // a request is for one step
  job.guarded = guarded;
  running_.push_back(&job);
  armBudgetLocked(job);
  ensureSliceTickLocked();
  return &job;
}

void Scheduler::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    StateLease lease;
    Job* job = stopping_ ? nullptr : pickLocked(lease);
    if (job == nullptr) {
      --activeWorkers_;
      return;
    }
    LuaState* state = states_[lease.index()].get();
    lock.unlock();
    StepResult step = executeJob(*state, *job);
    lock.lock();
    finishStepLocked(*job, step);
    size_t index = lease.index();
    if (states_[index]->quarantined.load() && openJobs_[index] == 0) replaceStateLocked(index);
    lease.reset();  // under the lock: the next pick sees the state free
  }
}

// Running -> Done (finished), Suspended (host call) or Runnable (slice over).
void Scheduler::finishStepLocked(Job& job, StepResult step) {
  running_.erase(std::find(running_.begin(), running_.end(), &job));
  // only while long jobs wait (the count restarts when they begin to): no clock read otherwise
  if (!job.demoted && waitingAt_[kLong] > 0) freshRunSinceLong_ += Clock::now() - job.sliceStart;
  if (step == StepResult::Finished) {
    toDoneLocked(job);
    return;
  }
  if (step == StepResult::Sliced) {
    ++slices_;
    job.demoted = true;  // it used a whole slice (or was preempted as a long job)
    pauseBudgetLocked(job);
    toRunnableLocked(job);
    return;
  }
  // Suspended in a host call. A kill that arrived during the step, or a close() since it
  // started (the host is going away; nobody would answer): unwind instead.
  if (closing_) {
    int none = 0;
    job.killRequest.compare_exchange_strong(none, static_cast<int>(KillReason::Cancelled));
  }
  if (job.killRequest.load() != 0) {
    job.hostReply = HostReply{false, "luapool: job interrupted"};
    pauseBudgetLocked(job);
    toRunnableLocked(job);
    return;
  }
  job.state = JobState::Suspended;
  ++suspended_;
  HostCallRecord call{job.id, false, std::move(job.hostRequest), std::move(job.actions)};
  job.hostRequest = HostRequest{};
  job.actions.clear();
  deliveries_.hostCalls.push_back(std::move(call));
  wakeMainLocked();
}

// -> Runnable: back into its group's run queue (killed jobs first), pinned to its state.
void Scheduler::toRunnableLocked(Job& job) {
  if (job.state == JobState::Suspended) --suspended_;
  job.state = JobState::Runnable;
  bool killed = job.killRequest.load() != 0;
  enqueueLocked(job, killed);
  // A worker that is running picks it up; if none is, the main thread starts one.
  if (activeWorkers_ < config_.threads) wakeMainLocked();
}

// -> Done: the job leaves every queue; the main thread delivers and frees it.
void Scheduler::toDoneLocked(Job& job) {
  if (job.timeoutMs > 0) {
    watchdog_.disarm(job.id);
    watchdog_.disarm(job.id | kKeyOverrun);
  }
  if (job.acquireTimeoutMs > 0) watchdog_.disarm(job.id | kKeyAcquire);
  if (job.started) watchdog_.disarm(job.id | kKeyGrace);
  if (job.state == JobState::Queued) {
    --queued_;
    job.waitMs = msBetween(job.queuedAt, Clock::now());  // settled without starting
  }
  if (job.state == JobState::Suspended) --suspended_;
  if (job.started) --openJobs_[static_cast<size_t>(job.stateIndex)];
  job.state = JobState::Done;
  auto share = shares_.find(job.group);
  if (share != shares_.end() && --share->second.live == 0) shares_.erase(share);
  if (!job.contextKey.empty()) {
    auto lane = lanes_.find(job.contextKey);
    if (lane != lanes_.end() && lane->second.open == job.id) {
      Lane& l = lane->second;
      l.open = 0;
      if (!l.waiting.empty()) {
        Job* next = l.waiting.front();
        l.waiting.pop_front();
        l.open = next->id;
        enqueueLocked(*next, false);
      } else {
        lanes_.erase(lane);
      }
    }
  }
  auto owned = jobs_.find(job.id);
  deliveries_.completed.push_back(std::move(owned->second));
  jobs_.erase(owned);
  wakeMainLocked();
}

// ---------------------------------------------------------------------------------------
// Blocked: a host call where Lua cannot yield keeps its thread and state

void Scheduler::beginBlocking(Job& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  job.state = JobState::Blocked;
  if (closing_) {  // nobody would answer: cancelled, as close() cancels jobs already waiting
    killStartedLocked(job, KillReason::Cancelled);
    return;
  }
  HostCallRecord call{job.id, false, job.hostRequest, std::move(job.actions)};
  job.actions.clear();
  deliveries_.hostCalls.push_back(std::move(call));
  wakeMainLocked();
}

void Scheduler::endBlocking(Job& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  job.state = JobState::Running;
}

void Scheduler::flushActions(Job& job) {
  if (job.actions.empty()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  HostCallRecord flush{job.id, true, HostRequest{}, std::move(job.actions)};
  job.actions.clear();
  deliveries_.hostCalls.push_back(std::move(flush));
  wakeMainLocked();
}

void Scheduler::armCloseGrace(Job& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  watchdog_.arm(job.id | kKeyGrace, Clock::now() + kCloseGrace);
}

// ---------------------------------------------------------------------------------------
// Answers, kills and cancels (main thread, and the watchdog)

bool Scheduler::answerHost(uint64_t id, bool ok, std::string values) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  Job& job = *it->second;
  if (job.state == JobState::Suspended) {
    job.hostReply = HostReply{ok, std::move(values)};
    pauseBudgetLocked(job);
    toRunnableLocked(job);
    return true;
  }
  if (job.state == JobState::Blocked) {
    {
      std::lock_guard<std::mutex> jl(job.hostMutex);
      if (job.hostAnswered || job.hostAbandoned) return false;
      job.hostReply = HostReply{ok, std::move(values)};
      job.hostAnswered = true;
    }
    job.hostCv.notify_all();
    return true;
  }
  return false;
}

// A started job is interrupted where it is: a running one at its next check, a blocked one
// wakes up, a suspended or sliced-out one unwinds in its next step (scheduled first).
void Scheduler::killStartedLocked(Job& job, KillReason reason) {
  int none = 0;  // the first reason wins
  job.killRequest.compare_exchange_strong(none, static_cast<int>(reason));
  switch (job.state) {
    case JobState::Running:
    case JobState::Blocked:
      // shutdown (process exit) does not wait for a close handler's grace
      states_[static_cast<size_t>(job.stateIndex)]->kill(job.id, reason, reason == KillReason::Shutdown);
      {
        std::lock_guard<std::mutex> jl(job.hostMutex);
        job.hostAbandoned = true;
      }
      job.hostCv.notify_all();
      break;
    case JobState::Suspended:
      job.hostReply = HostReply{false, "luapool: job interrupted"};
      pauseBudgetLocked(job);
      toRunnableLocked(job);
      break;
    case JobState::Runnable:
      dequeueLocked(job);
      enqueueLocked(job, true);
      break;
    case JobState::Queued:
    case JobState::Done:
      break;
  }
}

CancelResult Scheduler::cancel(uint64_t id, KillReason reason, JobStatus status) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return CancelResult::Unknown;
  Job& job = *it->second;
  switch (job.state) {
    case JobState::Queued:
      dequeueLocked(job);
      job.status = status;
      toDoneLocked(job);
      return CancelResult::Settled;
    case JobState::Running:
    case JobState::Blocked:
    case JobState::Suspended:
    case JobState::Runnable:
      killStartedLocked(job, reason);
      return CancelResult::Interrupting;
    case JobState::Done:
      break;
  }
  return CancelResult::Unknown;
}

void Scheduler::close(bool force) {
  std::lock_guard<std::mutex> lock(mutex_);
  closing_ = true;
  std::vector<Job*> all;
  for (auto& entry : jobs_) all.push_back(entry.second.get());
  // oldest first, so jobs of one context settle in order
  std::sort(all.begin(), all.end(), [](Job* a, Job* b) { return a->id < b->id; });
  for (Job* job : all) {
    switch (job->state) {
      case JobState::Queued:
        dequeueLocked(*job);
        job->status = JobStatus::Cancelled;
        job->error.message = "runner closed before the job started";
        toDoneLocked(*job);
        break;
      case JobState::Blocked:
      case JobState::Suspended:  // would wait for ever: the host is going away
        killStartedLocked(*job, KillReason::Cancelled);
        break;
      case JobState::Running:
      case JobState::Runnable:
        if (force) killStartedLocked(*job, KillReason::Cancelled);
        break;
      case JobState::Done:
        break;
    }
  }
}

void Scheduler::shutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  for (auto& entry : jobs_) {
    Job& job = *entry.second;
    if (job.state == JobState::Running || job.state == JobState::Blocked) {
      killStartedLocked(job, KillReason::Shutdown);
    }
  }
}

size_t Scheduler::startWorkers(size_t available) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return 0;
  size_t idle = config_.threads - activeWorkers_;
  size_t n = std::min({idle, waiting_, available});
  activeWorkers_ += n;
  return n;
}

void Scheduler::takeDeliveries(Deliveries& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  notifyPending_ = false;
  std::swap(out, deliveries_);
}

// ---------------------------------------------------------------------------------------
// Budgets, slices, acquire timeouts and overruns (the watchdog thread)

void Scheduler::armBudgetLocked(Job& job) {
  if (job.timeoutMs == 0) return;
  if (job.killRequest.load() != 0) {
    // Killed already (its budget spent while suspended, say): it only unwinds now. No
    // second deadline; the overrun watchdog still reports code no check reaches.
    watchdog_.arm(job.id | kKeyOverrun, Clock::now() + kOverrunGrace);
    return;
  }
  job.deadline = Clock::now() + job.budgetLeft;
  watchdog_.arm(job.id, job.deadline);
}

void Scheduler::pauseBudgetLocked(Job& job) {
  if (job.timeoutMs == 0) return;
  watchdog_.disarm(job.id);
  auto now = Clock::now();
  job.budgetLeft = job.deadline > now ? job.deadline - now : Clock::duration::zero();
  // Spent while it waited for the host: it times out as soon as it can unwind.
  if (job.budgetLeft == Clock::duration::zero()) {
    int none = 0;
    job.killRequest.compare_exchange_strong(none, static_cast<int>(KillReason::Timeout));
  }
}

// When a running job must give its thread up: a long job (one that used a whole slice
// before) as soon as a fresh job waits, unless the starvation rule picked it; a fresh job
// after its first quantum (a fraction of a slice) while other fresh jobs wait, so a short
// job waits for a short quantum rather than a whole slice of an endless loop that arrived
// just before it (in its own group too); any job once it has run a whole slice while
// others wait.
Scheduler::Clock::time_point Scheduler::sliceEndLocked(const Job& job) const {
  if (waitingAt_[kFresh] > 0) {
    if (job.demoted && !job.guarded) return job.sliceStart;
    if (!job.demoted) return job.sliceStart + firstQuantum();
  }
  return job.sliceStart + std::chrono::milliseconds(config_.sliceMs);
}

Scheduler::Clock::duration Scheduler::firstQuantum() const {
  return std::chrono::microseconds(config_.sliceMs * 1000 / kFirstQuantumParts);
}

// Asks every running job whose slice is over (sliceEndLocked) to yield; returns the next
// time one will be.
Scheduler::Clock::time_point Scheduler::preemptLocked(Clock::time_point now) {
  auto next = Clock::time_point::max();
  if (config_.sliceMs == 0 || waiting_ == 0) return next;
  for (Job* job : running_) {
    if (job->state != JobState::Running) continue;  // a blocked job holds no Lua code
    auto end = sliceEndLocked(*job);
    if (now >= end) {
      states_[static_cast<size_t>(job->stateIndex)]->requestSlice(*job);
      end = now + std::chrono::milliseconds(config_.sliceMs);  // asked again then if it could not yield
    }
    next = std::min(next, end);
  }
  return next;
}

// While jobs wait for a thread, the watchdog's slice tick calls preemptLocked when the next
// slice ends. Nothing is armed while nobody waits.
void Scheduler::ensureSliceTickLocked() {
  if (config_.sliceMs == 0 || tickArmed_ || waiting_ == 0 || running_.empty()) return;
  tickArmed_ = true;
  auto next = Clock::time_point::max();
  for (Job* job : running_) next = std::min(next, sliceEndLocked(*job));
  auto now = Clock::now();
  watchdog_.arm(kKeySliceTick, std::max(next, now));
}

void Scheduler::onSliceTick() {
  std::lock_guard<std::mutex> lock(mutex_);
  tickArmed_ = false;
  if (waiting_ == 0 || running_.empty()) return;
  auto next = preemptLocked(Clock::now());
  if (next == Clock::time_point::max()) return;
  tickArmed_ = true;
  watchdog_.arm(kKeySliceTick, next);
}

void Scheduler::startProfile(uint32_t hz) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto now = Clock::now();
  for (auto& s : states_) s->profile.start(now);
  bool armed = profileHz_ != 0;
  profileHz_ = hz;
  if (!armed) watchdog_.arm(kKeyProfileTick, now + std::chrono::microseconds(1000000 / hz));
}

std::vector<StateProfile::Snapshot> Scheduler::stopProfile() {
  std::lock_guard<std::mutex> lock(mutex_);
  profileHz_ = 0;
  watchdog_.disarm(kKeyProfileTick);
  std::vector<StateProfile::Snapshot> out;
  for (auto& s : states_) out.push_back(s->profile.stop());
  return out;
}

void Scheduler::onWatchdog(uint64_t key) {
  if (key == kKeySliceTick) {
    onSliceTick();
    return;
  }
  if (key == kKeyProfileTick) {
    // Every state running Lua records its stack at its next interrupt check.
    std::lock_guard<std::mutex> lock(mutex_);
    if (profileHz_ == 0) return;
    for (Job* job : running_) {
      if (job->state == JobState::Running) states_[static_cast<size_t>(job->stateIndex)]->requestSample(job->id);
    }
    watchdog_.arm(kKeyProfileTick, Clock::now() + std::chrono::microseconds(1000000 / profileHz_));
    return;
  }
  uint64_t id = key & ~kKeyMask;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  Job& job = *it->second;
  if (key & kKeyAcquire) {
    if (job.state != JobState::Queued) return;  // it got a state in time
    dequeueLocked(job);
    job.status = JobStatus::AcquireTimeout;
    toDoneLocked(job);
    return;
  }
  if (key & kKeyGrace) {
    // A killed job's __close handlers ran out of their grace: interrupt them too.
    if (job.state == JobState::Running || job.state == JobState::Blocked) {
      states_[static_cast<size_t>(job.stateIndex)]->kill(job.id, KillReason::Cancelled, /*duringClose=*/true);
    }
    return;
  }
  if (key & kKeyOverrun) {
    // Still running long after its deadline: code no interrupt check reaches. Its state
    // is replaced once no job is open on it any more.
    if (job.state != JobState::Running && job.state != JobState::Blocked) return;
    LuaState& state = *states_[static_cast<size_t>(job.stateIndex)];
    if (state.quarantined.exchange(true)) return;
    overruns_++;
    deliveries_.overruns.push_back(OverrunRecord{id, job.stateIndex, msBetween(job.deadline, Clock::now())});
    wakeMainLocked();
    return;
  }
  // The deadline: interrupt the job where it is.
  if (job.state == JobState::Queued || job.state == JobState::Done) return;
  killStartedLocked(job, KillReason::Timeout);
  if (job.state == JobState::Running || job.state == JobState::Blocked) {
    watchdog_.arm(id | kKeyOverrun, Clock::now() + kOverrunGrace);
  }
}

// The state's last open job has ended after an overrun: a fresh state takes its place
// (the caller holds its lease, so no code runs in it).
void Scheduler::replaceStateLocked(size_t index) {
  auto fresh = std::make_unique<LuaState>(config_.state, index);
  if (!fresh->ok()) return;  // keep the old one (still quarantined); try again later
  fresh->bridge = this;
  states_[index].swap(fresh);
  replacedStates_++;
  // `fresh` (the old state) is closed here, under the lock: nothing else can reach it.
}

// ---------------------------------------------------------------------------------------
// Stats and teardown

std::vector<Scheduler::StateSnapshot> Scheduler::snapshot() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<StateSnapshot> out;
  for (const auto& s : states_) {
    const StateStats& c = s->stats;
    out.push_back({s->bytesInUse(), s->peakBytes(), openJobs_[s->index()], c.jobs.load(), c.gcSteps.load(),
                   c.fullGcs.load(), c.memoryErrors.load(), c.timeouts.load(), pool_.isLeased(s->index()),
                   s->quarantined.load()});
  }
  return out;
}

Scheduler::Counts Scheduler::counts() {
  std::lock_guard<std::mutex> lock(mutex_);
  Counts c{queued_, 0, 0, suspended_, 0, overruns_, replacedStates_, slices_};
  for (Job* job : running_) (job->state == JobState::Blocked ? c.blocked : c.running)++;
  for (const auto& entry : jobs_) {
    if (entry.second->state == JobState::Runnable) c.runnable++;
  }
  return c;
}

void Scheduler::closeStates() {
  watchdog_.stop();
  pool_.shutdown();
  std::vector<std::unique_ptr<LuaState>> states;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    states.swap(states_);
  }
  states.clear();  // lua_close runs pending finalizers
}

}  // namespace luapool
