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
      cfg.drain = duration_cast<nanoseconds>(duration<double>(options_.drain_secs));
      workers_.push_back(std::make_unique<Worker>(*plan_, cfg));
    }
    // A little head room so every thread is parked in its loop before iteration 0.
    start_ = Clock::now() + std::chrono::milliseconds(5);
    builder_.emplace(plan_->profile, plan_->task_names, start_);
    for (auto& w : workers_) {
      threads_.emplace_back([w = w.get(), start = start_] { w->run(start); });
    }

    RunResult result;
    auto next_tick = start_ + duration_cast<nanoseconds>(duration<double>(options_.interval_secs));
    const auto end = start_ + duration_cast<nanoseconds>(duration<double>(plan_->profile.total_secs()));
    bool stop_sent = false;
    for (;;) {
      bool all_done = std::all_of(workers_.begin(), workers_.end(), [](auto& w) { return w->finished(); });
      if (all_done) break;
      if (!stop_sent && options_.stop && options_.stop->load(std::memory_order_acquire)) {
        for (auto& w : workers_) w->request_stop();
        stop_sent = true;
        result.stopped_early = true;
      }
      auto now = Clock::now();
      if (now >= next_tick && now < end) {  // past the end, the final snapshot says it all
        auto snap = collect(now, /*final=*/false);
        if (options_.on_snapshot) options_.on_snapshot(snap);
        next_tick += duration_cast<nanoseconds>(duration<double>(options_.interval_secs));
        if (next_tick < now) next_tick = now + duration_cast<nanoseconds>(duration<double>(options_.interval_secs));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto& t : threads_) t.join();

    auto now = Clock::now();
    result.final_snapshot = collect(now, /*final=*/true);
    result.stats = std::move(last_stats_);
    if (options_.on_snapshot) options_.on_snapshot(result.final_snapshot);
    return result;
  }

 private:
  metrics::Snapshot collect(Clock::time_point now, bool final) {
    ++epoch_;
    if (!final) {
      for (auto& w : workers_) w->request_publish(epoch_);
      // Workers publish at the top of their loop; they wake for it at once.
      auto give_up = Clock::now() + std::chrono::milliseconds(200);
      for (auto& w : workers_) {
        while (w->published_epoch() < epoch_ && !w->finished() && Clock::now() < give_up) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      }
    }
    metrics::RunStats stats(plan_->task_names.size());
    for (auto& w : workers_) w->merge_published(stats);
    auto active = static_cast<std::uint32_t>(
        std::count_if(workers_.begin(), workers_.end(), [](auto& w) { return !w->finished(); }));
    metrics::Snapshot snap = builder_->build(stats, now, active, final);
    last_stats_ = std::move(stats);
    return snap;
  }

  std::shared_ptr<const CompiledPlan> plan_;
  RunOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  Clock::time_point start_{};
  std::optional<SnapshotBuilder> builder_;
  std::uint64_t epoch_ = 0;
  metrics::RunStats last_stats_;
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
