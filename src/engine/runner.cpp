#include "engine/runner.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <thread>

#include "engine/controlled_run.hpp"
#include "engine/snapshot_builder.hpp"

namespace lp::engine {

namespace {

using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

bool is_set(const std::atomic<bool>* flag) { return flag != nullptr && flag->load(std::memory_order_acquire); }

/// The run's loop on the calling thread: stops, snapshots once per interval, the drain.
RunResult drive(ControlledRun& run, const RunOptions& options) {
  const CompiledPlan& plan = run.plan();
  SnapshotBuilder builder(plan.profile, plan.task_names, run.start_time());
  auto emit = [&](const RunProgress& p, Clock::time_point now, SnapshotBuilder::Stage stage) {
    metrics::Snapshot snap = builder.build(p.stats, now, p.active_workers, stage);
    if (options.on_snapshot) options.on_snapshot(snap);
    if (options.on_stats) options.on_stats(snap, p.stats);
  };

  RunResult result;
  const auto interval = duration_cast<nanoseconds>(duration<double>(options.interval_secs));
  auto next_tick = run.start_time() + interval;
  const auto end = run.end_time();
  bool stop_sent = false, stop_now_sent = false, drain_seen = false;
  for (;;) {
    if (run.finished()) break;
    auto now = Clock::now();
    if (!stop_sent && is_set(options.stop)) {
      run.stop();
      stop_sent = true;
      result.stopped_early = true;
      builder.stopped_at(now);
    }
    if (stop_sent && !stop_now_sent && is_set(options.stop_now)) {
      run.stop(/*now=*/true);
      stop_now_sent = true;
    }
    const bool draining = stop_sent || now >= end;
    if (draining && !drain_seen) {
      // The drain gets a snapshot of its own at once, so "draining N requests" shows
      // when it starts; with nothing in flight the workers are about to finish.
      drain_seen = true;
      RunProgress p = run.progress();
      if (p.stats.in_flight > 0) {
        emit(p, now, SnapshotBuilder::Stage::Draining);
        next_tick = now + interval;
      }
    } else if (now >= next_tick) {
      emit(run.progress(), now, draining ? SnapshotBuilder::Stage::Draining : SnapshotBuilder::Stage::Sending);
      next_tick += interval;
      if (next_tick < now) next_tick = now + interval;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  run.join();

  RunProgress last = run.progress();
  result.final_snapshot = builder.build(last.stats, Clock::now(), 0, SnapshotBuilder::Stage::Done);
  result.stats = std::move(last.stats);
  if (options.on_snapshot) options.on_snapshot(result.final_snapshot);
  if (options.on_stats) options.on_stats(result.final_snapshot, result.stats);
  return result;
}

}  // namespace

Result<RunResult> run_plan(const core::Plan& plan, const RunOptions& options) {
  ControlOptions control;
  control.slot_count = std::max(1u, options.share_count);
  control.slots = {SlotStart{options.share_index, 0}};
  control.grace_secs = options.grace_secs;
  auto run = ControlledRun::start(plan, std::move(control));
  if (!run) return std::move(run).error();
  return drive(**run, options);
}

}  // namespace lp::engine
