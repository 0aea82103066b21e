#include "engine/controlled_run.hpp"

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <map>

namespace lp::engine {

namespace {

using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

/// Lets the run open as many sockets as the hard limit allows (the soft limit is often
/// 1024, fewer than a busy run needs).
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace

Result<std::unique_ptr<ControlledRun>> ControlledRun::start(const core::Plan& plan, ControlOptions options) {
  auto compiled = compile_plan(plan);
  if (!compiled) return std::move(compiled).error();
  return start(std::move(*compiled), std::move(options));
}

std::unique_ptr<ControlledRun> ControlledRun::start(std::shared_ptr<const CompiledPlan> plan, ControlOptions options) {
  ::signal(SIGPIPE, SIG_IGN);  // a peer that closes mid-write is an error we count, not a crash
  raise_fd_limit();
  return std::unique_ptr<ControlledRun>(new ControlledRun(std::move(plan), std::move(options)));
}

ControlledRun::ControlledRun(std::shared_ptr<const CompiledPlan> plan, ControlOptions options)
    : plan_(std::move(plan)), slot_count_(std::max(1u, options.slot_count)) {
  const std::uint32_t threads = plan_->threads;
  for (std::uint32_t i = 0; i < threads; ++i) {
    WorkerConfig cfg;
    cfg.slot_count = slot_count_;
    cfg.thread_index = i;
    cfg.thread_count = threads;
    cfg.slots = options.slots;
    cfg.lease_secs = options.lease_secs;
    cfg.max_connections = plan_->connections_per_thread;
    cfg.grace = duration_cast<nanoseconds>(duration<double>(options.grace_secs));
    workers_.push_back(std::make_unique<Worker>(*plan_, std::move(cfg)));
  }
  // A little head room so every thread is parked in its loop before iteration 0.
  start_ = options.start.value_or(Clock::now() + std::chrono::milliseconds(5));
  end_ = start_ + duration_cast<nanoseconds>(duration<double>(plan_->profile.total_secs()));
  for (auto& w : workers_) {
    threads_.emplace_back([w = w.get(), start = start_] { w->run(start); });
  }
}

ControlledRun::~ControlledRun() {
  if (!finished()) stop(/*now=*/true);
  join();
}

void ControlledRun::adopt(std::uint32_t slot, std::uint64_t from_index) {
  for (auto& w : workers_) w->adopt(slot, from_index);
}

std::optional<std::uint64_t> ControlledRun::release(std::uint32_t slot, std::chrono::milliseconds timeout) {
  std::lock_guard lock(release_mu_);
  // Two steps, so the threads agree on one index: each stops taking the slot's
  // iterations and says where its lane is; the first index none has reached yet (the
  // largest of theirs) is where the slot changes hands. A lane behind it still fires
  // its iterations below it, each at its due time.
  std::optional<std::uint64_t> end;
  bool all_answered = true;
  for (auto& w : workers_) {
    const auto deadline = Clock::now() + timeout;
    std::optional<std::uint64_t> next = w->freeze(slot, timeout);
    if (!next && !w->finished() && Clock::now() >= deadline) all_answered = false;
    if (next) end = std::max(end.value_or(0), *next);
  }
  if (!all_answered || !end) {
    for (auto& w : workers_) w->cap(slot, UINT64_MAX);  // resume as it was
    return std::nullopt;
  }
  for (auto& w : workers_) w->cap(slot, *end);
  return end;
}

void ControlledRun::set_lease(double until_secs) {
  for (auto& w : workers_) w->set_lease(until_secs);
}

void ControlledRun::stop(bool now) {
  for (auto& w : workers_) w->request_stop(now);
}

bool ControlledRun::finished() const {
  return std::all_of(workers_.begin(), workers_.end(), [](auto& w) { return w->finished(); });
}

void ControlledRun::join() {
  std::lock_guard lock(join_mu_);
  if (joined_) return;
  for (auto& t : threads_) t.join();
  joined_ = true;
}

RunProgress ControlledRun::progress() {
  std::lock_guard lock(progress_mu_);
  ++epoch_;
  for (auto& w : workers_) w->request_publish(epoch_);
  // Workers publish at the top of their loop; they wake for it at once.
  const auto give_up = Clock::now() + std::chrono::milliseconds(200);
  for (auto& w : workers_) {
    while (w->published_epoch() < epoch_ && !w->finished() && Clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  RunProgress p;
  p.stats = metrics::RunStats(plan_->task_names.size());
  std::map<std::uint32_t, LaneProgress> slots;
  p.lease_expired = !workers_.empty();
  p.finished = true;
  for (auto& w : workers_) {
    w->merge_published(p.stats);
    for (const LaneProgress& lane : w->published_lanes()) {
      auto [it, first] = slots.try_emplace(lane.slot, lane);
      if (!first) {
        // The slot's progress is its laggiest lane's; it is closed when all of them are.
        it->second.next_index = std::min(it->second.next_index, lane.next_index);
        it->second.closed = it->second.closed && lane.closed;
      }
    }
    if (auto began = w->began_at()) p.began = p.began ? std::min(*p.began, *began) : *began;
    p.lease_expired = p.lease_expired && w->lease_expired();
    if (!w->finished()) {
      p.finished = false;
      ++p.active_workers;
    }
  }
  for (auto& [slot, lane] : slots) p.slots.push_back(lane);
  return p;
}

}  // namespace lp::engine
