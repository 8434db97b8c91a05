// RunnerCore: scheduling jobs onto leased states and handing results back.
#include "runner-core.hpp"

namespace luapool {

RunnerCore::RunnerCore(const RunnerConfig& config)
    : config_(config),
      pool_(config.states),
      watchdog_([this](uint64_t id) { cancel(id, KillReason::Timeout, nullptr); }),
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

CancelResult RunnerCore::cancel(uint64_t id, KillReason reason, std::unique_ptr<Job>* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = running_.find(id);
  if (it != running_.end()) {
    if (reason == KillReason::None) return CancelResult::Unknown;  // queued jobs only
    states_[it->second]->kill(id, reason);
    return CancelResult::Interrupted;
  }
  if (out == nullptr) return CancelResult::Unknown;  // the watchdog only interrupts
  bool found = removeById(queue_, id, out);
  for (size_t i = 0; !found && i < pinned_.size(); ++i) found = removeById(pinned_[i], id, out);
  if (!found) return CancelResult::Unknown;
  --queuedCount_;
  return CancelResult::Dequeued;
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
  for (const auto& [id, index] : running_) states_[index]->kill(id, reason);
}

bool RunnerCore::hasRunnableFor(size_t index) {
  return !pinned_[index].empty() || !queue_.empty();
}

std::vector<size_t> RunnerCore::claimSlots() {
  std::vector<size_t> started;
  std::lock_guard<std::mutex> lock(mutex_);
  if (queuedCount_ == 0) return started;
  for (size_t s = 0; s < slots_.size(); ++s) {
    if (slots_[s].busy) continue;
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
  if (!mine.empty() && (queue_.empty() || mine.front()->id < queue_.front()->id)) {
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
      running_.emplace(job->id, index);
    }
    if (job->timeoutMs > 0) watchdog_.arm(job->id, job->deadline);
    executeJob(state, *job);
    if (job->timeoutMs > 0) watchdog_.disarm(job->id);
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
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    completed_.push_back(std::move(job));
    wake = !notifyPending_;
    notifyPending_ = true;
  }
  if (wake && notify_) notify_();
}

void RunnerCore::takeCompleted(std::vector<std::unique_ptr<Job>>& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  notifyPending_ = false;
  out.swap(completed_);
}

bool RunnerCore::idle() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (queuedCount_ != 0 || !running_.empty() || !completed_.empty()) return false;
  for (const auto& s : slots_) {
    if (s.busy) return false;
  }
  return true;
}

size_t RunnerCore::queued() {
  std::lock_guard<std::mutex> lock(mutex_);
  return queuedCount_;
}

size_t RunnerCore::running() {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_.size();
}

std::vector<RunnerCore::StateSnapshot> RunnerCore::snapshot() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<StateSnapshot> out;
  for (const auto& s : states_) {
    const StateStats& c = s->stats;
    out.push_back({s->bytesInUse(), s->peakBytes(), c.jobs.load(), c.gcSteps.load(),
                   c.fullGcs.load(), c.memoryErrors.load(), c.timeouts.load(),
                   pool_.isLeased(s->index())});
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
