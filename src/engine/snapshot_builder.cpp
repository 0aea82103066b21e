#include "engine/snapshot_builder.hpp"

#include <algorithm>

namespace lp::engine {

namespace {

using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

double unix_secs_of(Clock::time_point start) {
  const auto now = Clock::now();
  const double unix_now = duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return unix_now + duration<double>(start - now).count();
}

}  // namespace

SnapshotBuilder::SnapshotBuilder(const core::Profile& profile, std::vector<std::string> task_names,
                                 Clock::time_point start, double start_unix_secs)
    : profile_(profile),
      names_(std::move(task_names)),
      start_(start),
      start_unix_(start_unix_secs),
      load_end_(start + duration_cast<nanoseconds>(duration<double>(profile.total_secs()))),
      last_time_(start) {}

SnapshotBuilder::SnapshotBuilder(const core::Profile& profile, std::vector<std::string> task_names,
                                 Clock::time_point start)
    : SnapshotBuilder(profile, std::move(task_names), start, unix_secs_of(start)) {}

void SnapshotBuilder::stopped_at(Clock::time_point at) {
  stopped_ = true;
  load_end_ = std::min(load_end_, std::max(at, start_));
}

metrics::Snapshot SnapshotBuilder::build(const metrics::RunStats& stats, Clock::time_point now,
                                         std::uint32_t active_workers, Stage stage) {
  metrics::Snapshot snap = metrics::make_snapshot(stats, names_);
  const double elapsed = std::max(0.0, duration<double>(now - start_).count());
  snap.timestamp_secs = start_unix_ + elapsed;
  snap.elapsed_secs = elapsed;
  snap.load_secs = std::min(elapsed, duration<double>(load_end_ - start_).count());
  snap.stopped = stopped_;

  metrics::RunStats since = stats;
  since.subtract(last_stats_);
  const metrics::TaskStats interval = since.total();
  snap.interval.secs = std::max(0.0, duration<double>(now - last_time_).count());
  snap.interval.requests = interval.requests;
  snap.interval.errors = interval.errors;
  snap.interval.rps = snap.interval.secs > 0 ? double(interval.requests) / snap.interval.secs : 0;
  snap.interval.latency = metrics::LatencySummary::of(interval.latency);

  switch (stage) {
    case Stage::Sending:
      snap.phase = core::to_string(profile_.phase_at(elapsed));
      snap.target_rps = profile_.rate_at(elapsed);
      snap.active_workers = active_workers;
      snap.current_rps = snap.interval.rps;
      break;
    case Stage::Draining:
      snap.phase = "draining";
      snap.active_workers = active_workers;
      snap.current_rps = snap.interval.rps;
      break;
    case Stage::Done:
      snap.phase = "done";
      snap.current_rps = snap.load_secs > 0 ? double(snap.requests_total) / snap.load_secs : 0;
      break;
  }
  last_stats_ = stats;
  last_time_ = now;
  return snap;
}

}  // namespace lp::engine
