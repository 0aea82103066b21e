#pragma once
// Runs a plan on this machine: worker threads with one event loop each, an open-model
// schedule, and one metrics snapshot per interval plus a final one (phase "done").
// This is the engine's whole public surface; everything else in engine/ is internal.

#include <atomic>
#include <functional>

#include "core/plan.hpp"
#include "core/result.hpp"
#include "metrics/snapshot.hpp"
#include "metrics/stats.hpp"

namespace lp::engine {

struct RunOptions {
  /// Called on the calling thread once per interval, once when the drain starts (if
  /// anything is in flight then) and once at the end (phase "done").
  std::function<void(const metrics::Snapshot&)> on_snapshot;
  /// Called right after each on_snapshot, on the same thread, with the cumulative stats
  /// that snapshot was built from (histograms included): for figures a snapshot cannot
  /// carry (per-step histogram differences, Prometheus histograms). Copy what you keep.
  std::function<void(const metrics::Snapshot&, const metrics::RunStats&)> on_stats;
  /// Set from anywhere (a signal handler included) to stop early: sending stops at once,
  /// in-flight requests get `grace_secs` to finish, then the ones still unanswered are
  /// counted as `interrupted` and the final snapshot is emitted.
  const std::atomic<bool>* stop = nullptr;
  /// Set (after `stop`, e.g. a second Ctrl+C) to cut the grace short: in-flight requests
  /// are counted as `interrupted` at once.
  const std::atomic<bool>* stop_now = nullptr;
  double interval_secs = 1.0;
  /// In-flight requests' time to finish after a stop. At the profile's natural end
  /// there is no such limit: each request keeps its own timeout (timeout_ms).
  double grace_secs = 2.0;
  /// This runner's share of a larger run (distributed mode): it fires iterations
  /// k ≡ share_index (mod share_count) of the global schedule, so any rate split over
  /// any number of runners fires the right total.
  std::uint32_t share_index = 0;
  std::uint32_t share_count = 1;
};

struct RunResult {
  metrics::Snapshot final_snapshot;  ///< the "done" snapshot
  metrics::RunStats stats;           ///< cumulative, histograms included (for merging)
  bool stopped_early = false;
};

/// Runs a validated plan to its end (or until *options.stop). Returns an error only when
/// the run could not start (e.g. the target's host name does not resolve).
Result<RunResult> run_plan(const core::Plan& plan, const RunOptions& options);

}  // namespace lp::engine
