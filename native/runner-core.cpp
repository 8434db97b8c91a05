// RunnerCore: scheduling jobs onto leased states and handing results back.
#include "runner-core.hpp"

#include "lua-api.hpp"

namespace luapool {

RunnerCore::RunnerCore(const RunnerConfig& config)
    : config_(config),
      pool_(config.states),
      watchdog_([this](uint64_t key) { onDeadline(key); }),
      pinned_(config.states),
      slots_(config.maxWorkers) {}

RunnerCore::~RunnerCore() {
  watchdog_.stop();
  pool_.shutdown();
}

bool RunnerCore::init(std::string& error) {
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
  return true;
}

bool RunnerCore::submit(std::unique_ptr<Job>& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (queuedCount_ >= config_.maxQueue) return false;
  job->queuedAt = std::chrono::steady_clock::now();
  if (job->pinnedState >= 0) {
    pinned_[static_cast<size_t>(job->pinnedState)].push_back(std::move(job));
  } else {
    queue_.push_back(std::move(job));
  }
  ++queuedCount_;
  return true;
}

static bool removeById(std::deque<std::unique_ptr<Job>>& q, uint64_t id,
                       std::unique_ptr<Job>* out) {
  for (auto it = q.begin(); it != q.end(); ++it) {
    if ((*it)->id == id) {
      if (out) *out = std::move(*it);
      q.erase(it);
      return true;
    }
  }
  return false;
}

void RunnerCore::killRunningLocked(Job& job, KillReason reason) {
  int none = 0;  // the first reason wins; beginJob applies it if the job has not begun
  job.killRequest.compare_exchange_strong(none, static_cast<int>(reason));
  states_[static_cast<size_t>(job.stateIndex)]->kill(job.id, reason);
  {
    // A worker blocked in a host call wakes up and sees the interrupt.
    std::lock_guard<std::mutex> lock(job.hostMutex);
    job.hostAbandoned = true;
  }
  job.hostCv.notify_all();
}

void RunnerCore::makeResumableLocked(std::unique_ptr<Job> job, KillReason reason) {
  if (reason != KillReason::None) {
    job->killedWhileSuspended = static_cast<int>(reason);
    job->hostReply = HostReply{false, "luapool: job interrupted"};
  }
  resumable_.push_back(std::move(job));
}

CancelResult RunnerCore::cancel(uint64_t id, KillReason reason, std::unique_ptr<Job>* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = running_.find(id);
  if (it != running_.end()) {
    if (reason == KillReason::None) return CancelResult::Unknown;  // queued jobs only
    killRunningLocked(*it->second, reason);
    return CancelResult::Interrupted;
  }
  auto sus = suspended_.find(id);
  if (sus != suspended_.end()) {
    if (reason == KillReason::None) return CancelResult::Unknown;
    // Resume it so it unwinds in its own state (its __close handlers run, interrupted).
    makeResumableLocked(std::move(sus->second), reason);
    suspended_.erase(sus);
    wakeMainLocked();
    return CancelResult::Interrupted;
  }
  if (out == nullptr) return CancelResult::Unknown;  // the watchdog only interrupts
  bool found = removeById(queue_, id, out);
  for (size_t i = 0; !found && i < pinned_.size(); ++i) found = removeById(pinned_[i], id, out);
  if (!found) return CancelResult::Unknown;
  --queuedCount_;
  return CancelResult::Dequeued;
}

void RunnerCore::cancelSuspended(KillReason reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& entry : suspended_) makeResumableLocked(std::move(entry.second), reason);
  if (!suspended_.empty()) wakeMainLocked();
  suspended_.clear();
}

bool RunnerCore::answerHost(uint64_t id, bool ok, std::string values) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto sus = suspended_.find(id);
  if (sus != suspended_.end()) {
    sus->second->hostReply = HostReply{ok, std::move(values)};
    makeResumableLocked(std::move(sus->second), KillReason::None);
    suspended_.erase(sus);
    return true;
  }
  auto wait = blockingWaits_.find(id);
  if (wait != blockingWaits_.end()) {
    Job& job = *wait->second;
    {
      std::lock_guard<std::mutex> jl(job.hostMutex);
      job.hostReply = HostReply{ok, std::move(values)};
      job.hostAnswered = true;
    }
    job.hostCv.notify_all();
    return true;
  }
  return false;
}

// Watchdog callback: a deadline passed. The first one interrupts the job; if the job is
// still running long after (code no interrupt check reaches), it is reported and its state
// quarantined: replaced by a fresh one once the job finally ends.
void RunnerCore::onDeadline(uint64_t key) {
  uint64_t id = key & ~kOverrunKey;
  if ((key & kOverrunKey) == 0) {
    if (cancel(id, KillReason::Timeout, nullptr) == CancelResult::Interrupted) {
      watchdog_.arm(id | kOverrunKey, std::chrono::steady_clock::now() + kOverrunGrace);
    }
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = running_.find(id);
  if (it == running_.end()) return;
  Job& job = *it->second;
  LuaState& state = *states_[static_cast<size_t>(job.stateIndex)];
  if (state.quarantined) return;
  state.quarantined = true;
  overruns_++;
  notices_.push_back(Notice{id, job.stateIndex,
                            std::chrono::duration<double, std::milli>(kOverrunGrace).count()});
  wakeMainLocked();
}

// The budget runs from the job's start (waiting for a state is acquireTimeoutMs's
// business); host calls count against it. Armed after beginJob, so a deadline that is
// already due interrupts the job instead of being lost.
void RunnerCore::startDeadline(Job& job) {
  job.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(job.timeoutMs);
  watchdog_.arm(job.id, job.deadline);
}

void RunnerCore::requestBlocking(Job& job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    blockingWaits_[job.id] = &job;
    hostCalls_.push_back(PendingHostCall{job.hostRequest, std::move(job.actions)});
    job.actions.clear();
    wakeMainLocked();
  }
}

void RunnerCore::flushActions(Job& job) {
  if (job.actions.empty()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  PendingHostCall flush;  // no request: actions only (function index kNoFunction)
  flush.request.jobId = job.id;
  flush.request.function = kNoFunction;
  flush.actions = std::move(job.actions);
  job.actions.clear();
  hostCalls_.push_back(std::move(flush));
  wakeMainLocked();
}

void RunnerCore::endBlocking(Job& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  blockingWaits_.erase(job.id);
}

// Called with mutex_ held, so setNotify(nullptr) at teardown cannot race a late wake-up
// (the thread-safe function is freed right after). Notifying never blocks.
void RunnerCore::wakeMainLocked() {
  if (notifyPending_) return;
  notifyPending_ = true;
  if (notify_) notify_();
}

void RunnerCore::setNotify(Notify notify) {
  std::lock_guard<std::mutex> lock(mutex_);
  notify_ = std::move(notify);
}

std::vector<std::unique_ptr<Job>> RunnerCore::takeQueued() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::unique_ptr<Job>> out;
  for (auto& j : queue_) out.push_back(std::move(j));
  queue_.clear();
  for (auto& q : pinned_) {
    for (auto& j : q) out.push_back(std::move(j));
    q.clear();
  }
  queuedCount_ = 0;
  return out;
}

void RunnerCore::interruptAll(KillReason reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& entry : running_) killRunningLocked(*entry.second, reason);
}

std::vector<size_t> RunnerCore::claimSlots() {
  std::vector<size_t> started;
  std::lock_guard<std::mutex> lock(mutex_);
  if (queuedCount_ == 0 && resumable_.empty()) return started;
  for (size_t s = 0; s < slots_.size(); ++s) {
    if (slots_[s].busy) continue;
    // A job answered by its host brings its own lease: it goes first on its state.
    if (!resumable_.empty()) {
      std::unique_ptr<Job> job = std::move(resumable_.front());
      resumable_.pop_front();
      slots_[s].busy = true;
      slots_[s].lease = std::move(job->lease);
      pinned_[slots_[s].lease.index()].push_front(std::move(job));
      ++queuedCount_;
      started.push_back(s);
      continue;
    }
    // Pinned work first (its state may be the only one that can take it), then any state.
    StateLease lease;
    for (size_t i = 0; i < pinned_.size() && !lease; ++i) {
      if (!pinned_[i].empty()) lease = pool_.tryAcquire(i);
    }
    if (!lease && !queue_.empty()) lease = pool_.tryAcquire();
    if (!lease) break;
    slots_[s].busy = true;
    slots_[s].lease = std::move(lease);
    started.push_back(s);
  }
  return started;
}

std::unique_ptr<Job> RunnerCore::popFor(size_t index) {
  auto& mine = pinned_[index];
  std::deque<std::unique_ptr<Job>>* from = nullptr;
  bool resume = !mine.empty() && mine.front()->threadRef != LUA_NOREF;
  if (!mine.empty() && (resume || queue_.empty() || mine.front()->id < queue_.front()->id)) {
    from = &mine;
  } else if (!queue_.empty()) {
    from = &queue_;
  }
  if (from == nullptr) return nullptr;
  std::unique_ptr<Job> job = std::move(from->front());
  from->pop_front();
  --queuedCount_;
  return job;
}

void RunnerCore::runSlot(size_t slot) {
  size_t index;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    index = slots_[slot].lease.index();
  }
  LuaState& state = *states_[index];
  for (;;) {
    std::unique_ptr<Job> job;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job = popFor(index);
      if (!job) {
        slots_[slot].lease.reset();  // under the lock: submit() sees a consistent pool
        return;
      }
      job->stateIndex = static_cast<int>(index);
      running_.emplace(job->id, job.get());
    }
    executeJob(state, *job);
    // Killed just as it suspended: let it unwind now, on this same lease.
    while (job->suspended && job->killedWhileSuspended != 0) executeJob(state, *job);
    if (job->suspended) {
      // The state stays leased to the job (not to this slot) until the host answers;
      // the watchdog stays armed: host calls count against the job's budget.
      {
        std::lock_guard<std::mutex> lock(mutex_);
        running_.erase(job->id);
        job->lease = std::move(slots_[slot].lease);
        hostCalls_.push_back(PendingHostCall{job->hostRequest, std::move(job->actions)});
        job->actions.clear();
        uint64_t id = job->id;
        suspended_.emplace(id, std::move(job));
        wakeMainLocked();
      }
          return;
    }
    if (job->timeoutMs > 0) {
      watchdog_.disarm(job->id);
      watchdog_.disarm(job->id | kOverrunKey);
    }
    if (state.quarantined) {
      // The job overran its deadline by far; it has ended now, so the state can be
      // replaced safely (never closed while code runs in it).
      auto fresh = std::make_unique<LuaState>(config_.state, index);
      if (fresh->ok()) {
        fresh->bridge = this;
        std::lock_guard<std::mutex> lock(mutex_);
        states_[index].swap(fresh);
        replacedStates_++;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      running_.erase(job->id);
    }
    complete(std::move(job));
  }
}

void RunnerCore::slotFinished(size_t slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  slots_[slot].busy = false;
}

void RunnerCore::complete(std::unique_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    completed_.push_back(std::move(job));
    wakeMainLocked();
  }
}

void RunnerCore::takeCompleted(std::vector<std::unique_ptr<Job>>& out,
                               std::vector<PendingHostCall>& calls, std::vector<Notice>& notices) {
  std::lock_guard<std::mutex> lock(mutex_);
  notifyPending_ = false;
  out.swap(completed_);
  calls.swap(hostCalls_);
  notices.swap(notices_);
}

size_t RunnerCore::queued() {
  std::lock_guard<std::mutex> lock(mutex_);
  return queuedCount_;
}

size_t RunnerCore::running() {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_.size();
}

size_t RunnerCore::suspended() {
  std::lock_guard<std::mutex> lock(mutex_);
  return suspended_.size() + resumable_.size();
}

std::vector<RunnerCore::StateSnapshot> RunnerCore::snapshot() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<StateSnapshot> out;
  for (const auto& s : states_) {
    const StateStats& c = s->stats;
    out.push_back({s->bytesInUse(), s->peakBytes(), c.jobs.load(), c.gcSteps.load(),
                   c.fullGcs.load(), c.memoryErrors.load(), c.timeouts.load(),
                   pool_.isLeased(s->index()), s->quarantined.load()});
  }
  return out;
}

void RunnerCore::closeStates() {
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
