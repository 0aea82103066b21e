#include "engine/runner.hpp"

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <thread>

#include "engine/compiled_plan.hpp"
#include "engine/snapshot_builder.hpp"
#include "engine/worker.hpp"

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

class Run {
 public:
  Run(std::shared_ptr<const CompiledPlan> plan, const RunOptions& options)
      : plan_(std::move(plan)), options_(options) {}

  RunResult execute() {
    const std::uint32_t threads = plan_->threads;
    const std::uint64_t stride = std::uint64_t{options_.share_count} * threads;
    for (std::uint32_t i = 0; i < threads; ++i) {
      WorkerConfig cfg;
      cfg.residue = options_.share_index + std::uint64_t{options_.share_count} * i;
      cfg.stride = stride;
      cfg.max_connections = plan_->connections_per_thread;
      cfg.grace = duration_cast<nanoseconds>(duration<double>(options_.grace_secs));
      workers_.push_back(std::make_unique<Worker>(*plan_, cfg));
    }
    // A little head room so every thread is parked in its loop before iteration 0.
    start_ = Clock::now() + std::chrono::milliseconds(5);
    builder_.emplace(plan_->profile, plan_->task_names, start_);
    for (auto& w : workers_) {
      threads_.emplace_back([w = w.get(), start = start_] { w->run(start); });
    }

    RunResult result;
    const auto interval = duration_cast<nanoseconds>(duration<double>(options_.interval_secs));
    auto next_tick = start_ + interval;
    const auto end = start_ + duration_cast<nanoseconds>(duration<double>(plan_->profile.total_secs()));
    bool stop_sent = false, stop_now_sent = false, drain_seen = false;
    for (;;) {
      if (all_finished()) break;
      auto now = Clock::now();
      if (!stop_sent && is_set(options_.stop)) {
        for (auto& w : workers_) w->request_stop();
        stop_sent = true;
        result.stopped_early = true;
        builder_->stopped_at(now);
      }
      if (stop_sent && !stop_now_sent && is_set(options_.stop_now)) {
        for (auto& w : workers_) w->request_stop(/*now=*/true);
        stop_now_sent = true;
      }
      const bool draining = stop_sent || now >= end;
      if (draining && !drain_seen) {
        // The drain gets a snapshot of its own at once, so "draining N requests" shows
        // when it starts; with nothing in flight the workers are about to finish.
        drain_seen = true;
        auto stats = gather();
        if (stats.in_flight > 0) {
          emit(stats, now, SnapshotBuilder::Stage::Draining);
          next_tick = now + interval;
        }
      } else if (now >= next_tick) {
        emit(gather(), now, draining ? SnapshotBuilder::Stage::Draining : SnapshotBuilder::Stage::Sending);
        next_tick += interval;
        if (next_tick < now) next_tick = now + interval;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto& t : threads_) t.join();

    metrics::RunStats stats(plan_->task_names.size());
    for (auto& w : workers_) w->merge_published(stats);
    result.final_snapshot = builder_->build(stats, Clock::now(), 0, SnapshotBuilder::Stage::Done);
    result.stats = std::move(stats);
    if (options_.on_snapshot) options_.on_snapshot(result.final_snapshot);
    if (options_.on_stats) options_.on_stats(result.final_snapshot, result.stats);
    return result;
  }

 private:
  static bool is_set(const std::atomic<bool>* flag) {
    return flag != nullptr && flag->load(std::memory_order_acquire);
  }

  bool all_finished() const {
    return std::all_of(workers_.begin(), workers_.end(), [](auto& w) { return w->finished(); });
  }

  /// A fresh copy of every worker's stats, merged.
  metrics::RunStats gather() {
    ++epoch_;
    for (auto& w : workers_) w->request_publish(epoch_);
    // Workers publish at the top of their loop; they wake for it at once.
    auto give_up = Clock::now() + std::chrono::milliseconds(200);
    for (auto& w : workers_) {
      while (w->published_epoch() < epoch_ && !w->finished() && Clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    metrics::RunStats stats(plan_->task_names.size());
    for (auto& w : workers_) w->merge_published(stats);
    return stats;
  }

  void emit(const metrics::RunStats& stats, Clock::time_point now, SnapshotBuilder::Stage stage) {
    auto active = static_cast<std::uint32_t>(
        std::count_if(workers_.begin(), workers_.end(), [](auto& w) { return !w->finished(); }));
    metrics::Snapshot snap = builder_->build(stats, now, active, stage);
    if (options_.on_snapshot) options_.on_snapshot(snap);
    if (options_.on_stats) options_.on_stats(snap, stats);
  }

  std::shared_ptr<const CompiledPlan> plan_;
  RunOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  Clock::time_point start_{};
  std::optional<SnapshotBuilder> builder_;
  std::uint64_t epoch_ = 0;
};

}  // namespace

Result<RunResult> run_plan(const core::Plan& plan, const RunOptions& options) {
  ::signal(SIGPIPE, SIG_IGN);  // a peer that closes mid-write is an error we count, not a crash
  raise_fd_limit();
  auto compiled = compile_plan(plan);
  if (!compiled) return std::move(compiled).error();
  Run run(std::move(*compiled), options);
  return run.execute();
}

}  // namespace lp::engine
