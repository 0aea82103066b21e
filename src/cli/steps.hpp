#pragma once
// Step mode (`mode="step"`): each step's own figures and the knee point.
//
// A step's figures are the difference of the cumulative stats at its two boundaries, so
// its p99 and error rate are its own, not a running total. The engine reports stats
// once per interval, not at the boundaries, so StepTracker keeps the stats of the
// interval nearest each boundary (within half an interval: 0.5 s at the default 1 s);
// the last step ends with the final stats, drain included.

#include <cstdint>
#include <optional>
#include <vector>

#include "core/plan.hpp"
#include "metrics/snapshot.hpp"
#include "metrics/stats.hpp"
#include "metrics/thresholds.hpp"

namespace lp::cli {

/// Cumulative figures of a whole run at one instant, every task merged.
struct StepPoint {
  double at_secs = 0;             ///< elapsed time of the stats
  metrics::TaskStats total;       ///< RunStats::total() then
  std::uint64_t iterations = 0, late = 0, dropped = 0;
};

/// Collects the StepPoints at the boundaries of a step-mode plan (and nothing for the
/// other modes). Feed it every snapshot of the run with the cumulative stats behind it,
/// in order, the final one (phase "done") last.
class StepTracker {
 public:
  explicit StepTracker(const core::Plan& plan);

  /// While sending: a boundary between the previous snapshot and this one takes
  /// whichever of the two is nearer to it (the earlier one on a tie). Draining
  /// snapshots are ignored (the load is over). The final snapshot closes the step that
  /// was running when sending ended (at its load_secs) with the final stats, drain
  /// included; steps after it were never reached and get no point.
  void add(const metrics::Snapshot& snapshot, const metrics::RunStats& cumulative);

  /// Boundary points: the start (zero) first, then one per step that was reached.
  const std::vector<StepPoint>& points() const noexcept { return points_; }
  bool active() const noexcept { return steps_ > 0; }

 private:
  double boundary(std::uint32_t k) const noexcept;  ///< planned end of step k (1-based)
  void finish(double load_secs, const metrics::RunStats& final);

  std::uint32_t steps_ = 0;       ///< 0: not a step-mode plan
  double duration_secs_ = 0;
  std::vector<StepPoint> points_;
  std::optional<StepPoint> previous_;
  bool finished_ = false;
};

/// One step's own figures.
struct StepResult {
  std::uint32_t step = 0;          ///< 1-based
  double target_rps = 0;           ///< the profile's rate in this step: rps·step/steps
  double from_secs = 0, to_secs = 0;  ///< the planned window
  double measured_from_secs = 0, measured_to_secs = 0;  ///< the stats it is the difference of
  bool partial = false;            ///< the run stopped before the window ended
  std::uint64_t requests = 0, errors = 0, iterations = 0, late = 0, dropped = 0;
  double rps = 0;                  ///< requests / (measured_to - measured_from)
  metrics::Snapshot figures;       ///< the step alone as a snapshot (latency, success, errors_by_kind, rates)
  std::vector<metrics::ThresholdResult> thresholds;  ///< the plan's limits judged on `figures`
  bool passed = false;             ///< every threshold passed
};

/// The steps of `plan` from the tracker's points, judged against `plan.thresholds`
/// (metrics::evaluate_thresholds on each step's own figures, dropped_rate included).
/// Empty unless the plan is in step mode. The last reached step is `partial` when
/// `stopped` and the load ended before its planned end.
std::vector<StepResult> step_results(const core::Plan& plan, const std::vector<StepPoint>& points, bool stopped);

/// Index (into `steps`) of the knee point: the last step whose own figures met every
/// threshold. A partial step is not judged. nullopt when no step passed.
std::optional<std::size_t> knee_index(const std::vector<StepResult>& steps) noexcept;

}  // namespace lp::cli
