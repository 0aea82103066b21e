#include "engine/snapshot_builder.hpp"

#include <algorithm>

namespace lp::engine {

namespace {

using std::chrono::duration;

}  // namespace

SnapshotBuilder::SnapshotBuilder(const core::Profile& profile, std::vector<std::string> task_names,
                                 Clock::time_point start)
    : profile_(profile), names_(std::move(task_names)), start_(start), last_time_(start) {
  auto now = Clock::now();
  double unix_now = duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  start_unix_ = unix_now + duration<double>(start - now).count();
}

metrics::Snapshot SnapshotBuilder::build(const metrics::RunStats& stats, Clock::time_point now,
                                         std::uint32_t active_workers, bool final) {
  metrics::Snapshot snap = metrics::make_snapshot(stats, names_);
  double elapsed = std::max(0.0, duration<double>(now - start_).count());
  snap.timestamp_secs = start_unix_ + elapsed;
  snap.elapsed_secs = elapsed;
  if (final) {
    double span = std::min(elapsed, std::max(profile_.total_secs(), 1e-9));
    snap.current_rps = span > 0 ? double(snap.requests_total) / span : 0;
    snap.phase = "done";
    snap.target_rps = 0;
    snap.active_workers = 0;
  } else {
    double dt = duration<double>(now - last_time_).count();
    snap.current_rps = dt > 0 ? double(snap.requests_total - last_requests_) / dt : 0;
    snap.phase = core::to_string(profile_.phase_at(elapsed));
    snap.target_rps = profile_.rate_at(elapsed);
    snap.active_workers = active_workers;
  }
  last_requests_ = snap.requests_total;
  last_time_ = now;
  return snap;
}

}  // namespace lp::engine
