#include "cli/steps.hpp"

#include <algorithm>
#include <cmath>

namespace lp::cli {
namespace {

StepPoint point_of(double at_secs, const metrics::RunStats& stats) {
  return StepPoint{at_secs, stats.total(), stats.iterations, stats.late, stats.dropped};
}

// Counters of `later` minus `earlier`, never below zero (a stats source that restarted
// must not wrap around).
std::uint64_t minus(std::uint64_t later, std::uint64_t earlier) noexcept {
  return later > earlier ? later - earlier : 0;
}

}  // namespace

StepTracker::StepTracker(const core::Plan& plan) {
  if (plan.mode != core::Mode::Step || plan.steps == 0) return;
  steps_ = plan.steps;
  duration_secs_ = plan.duration_secs;
  points_.push_back(StepPoint{});
}

double StepTracker::boundary(std::uint32_t k) const noexcept {
  return duration_secs_ * static_cast<double>(k) / static_cast<double>(steps_);
}

void StepTracker::add(const metrics::Snapshot& snapshot, const metrics::RunStats& cumulative) {
  if (!active() || finished_) return;
  if (snapshot.phase == "done") return finish(snapshot.load_secs, cumulative);
  if (snapshot.phase == "draining") return;
  const double elapsed_secs = snapshot.elapsed_secs;
  StepPoint current = point_of(elapsed_secs, cumulative);
  // Interior boundaries only: the last step always ends with the final stats.
  while (points_.size() < steps_ && elapsed_secs >= boundary(static_cast<std::uint32_t>(points_.size()))) {
    const double b = boundary(static_cast<std::uint32_t>(points_.size()));
    const bool previous_nearer = previous_ && previous_->at_secs > points_.back().at_secs &&
                                 b - previous_->at_secs <= elapsed_secs - b;
    points_.push_back(previous_nearer ? *previous_ : current);
  }
  previous_ = std::move(current);
}

void StepTracker::finish(double load_secs, const metrics::RunStats& final) {
  if (!active() || finished_) return;
  finished_ = true;
  StepPoint last = point_of(load_secs, final);
  // The step running when sending ended gets the final stats (its requests still in
  // flight then finished in the drain); a boundary the load never reached adds nothing.
  if (points_.size() <= steps_) points_.push_back(std::move(last));
  previous_.reset();
}

std::vector<StepResult> step_results(const core::Plan& plan, const std::vector<StepPoint>& points, bool stopped) {
  std::vector<StepResult> out;
  if (plan.mode != core::Mode::Step || plan.steps == 0 || points.size() < 2) return out;
  const double window = plan.duration_secs / plan.steps;
  for (std::size_t i = 1; i < points.size(); ++i) {
    const StepPoint& from = points[i - 1];
    const StepPoint& to = points[i];
    StepResult r;
    r.step = static_cast<std::uint32_t>(i);
    r.target_rps = plan.rps * static_cast<double>(i) / plan.steps;
    r.from_secs = window * static_cast<double>(i - 1);
    r.to_secs = window * static_cast<double>(i);
    r.measured_from_secs = from.at_secs;
    r.measured_to_secs = to.at_secs;
    // Half an interval of slack: a boundary point may sit that far before the window's end.
    r.partial = stopped && i == points.size() - 1 && to.at_secs + 0.5 < r.to_secs;

    metrics::RunStats own(1);
    own.tasks[0] = to.total;
    own.tasks[0].subtract(from.total);
    own.iterations = minus(to.iterations, from.iterations);
    own.late = minus(to.late, from.late);
    own.dropped = minus(to.dropped, from.dropped);
    r.figures = metrics::make_snapshot(own, {"step"});
    r.figures.tasks.clear();
    const double secs = std::max(0.0, to.at_secs - from.at_secs);
    r.figures.elapsed_secs = r.figures.load_secs = secs;
    r.figures.target_rps = r.target_rps;
    r.requests = r.figures.requests_total;
    r.errors = r.figures.errors_total;
    r.iterations = own.iterations;
    r.late = own.late;
    r.dropped = own.dropped;
    r.rps = secs > 0 ? static_cast<double>(r.requests) / secs : 0;
    r.figures.current_rps = r.rps;
    r.thresholds = metrics::evaluate_thresholds(plan.thresholds, r.figures);
    r.passed = metrics::all_passed(r.thresholds);
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::size_t> knee_index(const std::vector<StepResult>& steps) noexcept {
  for (std::size_t i = steps.size(); i-- > 0;) {
    if (steps[i].passed && !steps[i].partial) return i;
  }
  return std::nullopt;
}

}  // namespace lp::cli
