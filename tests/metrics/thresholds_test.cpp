#include "metrics/thresholds.hpp"

#include <gtest/gtest.h>

namespace lp::metrics {
namespace {

Snapshot snapshot_with(double p99_ms, std::uint64_t requests, std::uint64_t errors) {
  Snapshot s;
  s.latency.p50_ms = 1.0;
  s.latency.p95_ms = 3.0;
  s.latency.p99_ms = p99_ms;
  s.latency.max_ms = 9.0;
  s.latency.count = requests;
  s.requests_total = requests;
  s.errors_total = errors;
  s.iterations = requests;
  return s;
}

/// The result for `key`; fails the test when there is none.
ThresholdResult result_for(const std::vector<ThresholdResult>& results, const std::string& key) {
  for (const auto& r : results) {
    if (r.key == key) return r;
  }
  ADD_FAILURE() << "no result for " << key;
  return {};
}

TEST(EvaluateThresholds, ReportsTheLimitsThatAreSetInKeyOrderThenDroppedRate) {
  core::Thresholds t;
  t.error_rate = 1.0;
  t.p95_ms = 10.0;

  auto results = evaluate_thresholds(t, snapshot_with(5.0, 100, 0));

  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].key, "p95_ms");
  EXPECT_EQ(results[1].key, "error_rate");
  EXPECT_EQ(results[2].key, "dropped_rate");
}

TEST(EvaluateThresholds, PassesWhenActualIsBelowOrAtTheLimit) {
  core::Thresholds t;
  t.p99_ms = 5.0;
  t.max_ms = 10.0;

  auto results = evaluate_thresholds(t, snapshot_with(5.0, 100, 0));

  EXPECT_EQ(results[0], (ThresholdResult{"p99_ms", 5.0, 5.0, true, false, {}}));
  EXPECT_EQ(results[1], (ThresholdResult{"max_ms", 10.0, 9.0, true, false, {}}));
  EXPECT_TRUE(all_passed(results));
}

TEST(EvaluateThresholds, FailsWhenActualExceedsTheLimit) {
  core::Thresholds t;
  t.p50_ms = 0.5;
  t.p99_ms = 4.0;

  auto results = evaluate_thresholds(t, snapshot_with(5.0, 100, 0));

  EXPECT_FALSE(results[0].passed);
  EXPECT_FALSE(results[1].passed);
  EXPECT_EQ(failed_count(results), 2u);
  EXPECT_FALSE(all_passed(results));
}

TEST(EvaluateThresholds, ADeadTargetFailsALatencyLimitForWantOfResponses) {
  core::Thresholds t;
  t.p99_ms = 200;
  Snapshot dead;  // every request a connect error: no latency sample at all
  dead.requests_total = 20;
  dead.errors_total = 20;
  dead.iterations = 20;

  const ThresholdResult r = result_for(evaluate_thresholds(t, dead), "p99_ms");

  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.reason, "no responses to measure");
}

TEST(EvaluateThresholds, ErrorRateIsAPercentOfRequests) {
  core::Thresholds t;
  t.error_rate = 1.0;

  const ThresholdResult r = result_for(evaluate_thresholds(t, snapshot_with(5.0, 200, 3)), "error_rate");

  EXPECT_DOUBLE_EQ(r.actual, 1.5);
  EXPECT_FALSE(r.passed);
}

TEST(EvaluateThresholds, ErrorRateNeverExceedsAHundredPercent) {
  // A Python task that raises before any call, every iteration: errors without requests.
  TaskStats task;
  task.record_check_failure();
  task.record_check_failure();
  task.record_error(ErrorKind::Connect);
  task.record_check_failure();  // raised after its only call failed
  RunStats stats(1);
  stats.tasks[0] = task;
  core::Thresholds t;
  t.error_rate = 50;

  const ThresholdResult r = result_for(evaluate_thresholds(t, make_snapshot(stats, {"a"})), "error_rate");

  EXPECT_DOUBLE_EQ(r.actual, 100.0);
  EXPECT_FALSE(r.passed);
}

TEST(EvaluateThresholds, ZeroRequestsMeansZeroErrorRate) {
  core::Thresholds t;
  t.error_rate = 0.0;

  const ThresholdResult r = result_for(evaluate_thresholds(t, snapshot_with(0.0, 0, 0)), "error_rate");

  EXPECT_EQ(r, (ThresholdResult{"error_rate", 0.0, 0.0, true, false, {}}));
}

TEST(EvaluateThresholds, DroppedRateHasADefaultLimitOfOnePercent) {
  Snapshot s = snapshot_with(5.0, 98, 0);
  s.dropped = 2;  // 2 of 100 due iterations never sent

  const ThresholdResult r = result_for(evaluate_thresholds(core::Thresholds{}, s), "dropped_rate");

  EXPECT_EQ(r, (ThresholdResult{"dropped_rate", 1.0, 2.0, false, true, {}}));
}

TEST(EvaluateThresholds, ASetDroppedRateReplacesTheDefault) {
  Snapshot s = snapshot_with(5.0, 98, 0);
  s.dropped = 2;
  core::Thresholds t;
  t.dropped_rate = 5;

  const ThresholdResult r = result_for(evaluate_thresholds(t, s), "dropped_rate");

  EXPECT_TRUE(r.passed);
  EXPECT_FALSE(r.defaulted);
  EXPECT_EQ(r.limit, 5.0);
}

TEST(EvaluateThresholds, NoLimitsSetLeavesOnlyTheDefaultDroppedRate) {
  auto results = evaluate_thresholds(core::Thresholds{}, snapshot_with(5.0, 10, 10));

  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].key, "dropped_rate");
  EXPECT_TRUE(all_passed(results));
}

}  // namespace
}  // namespace lp::metrics
