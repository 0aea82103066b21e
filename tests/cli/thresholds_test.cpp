#include "cli/thresholds.hpp"

#include <gtest/gtest.h>

namespace lp::cli {
namespace {

metrics::Snapshot snapshot_with(double p99_ms, std::uint64_t requests, std::uint64_t errors) {
  metrics::Snapshot s;
  s.latency.p50_ms = 1.0;
  s.latency.p95_ms = 3.0;
  s.latency.p99_ms = p99_ms;
  s.latency.max_ms = 9.0;
  s.requests_total = requests;
  s.errors_total = errors;
  return s;
}

TEST(EvaluateThresholds, ReportsOnlyTheLimitsThatAreSetInKeyOrder) {
  core::Thresholds t;
  t.error_rate = 1.0;
  t.p95_ms = 10.0;

  auto results = evaluate_thresholds(t, snapshot_with(5.0, 100, 0));

  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].key, "p95_ms");
  EXPECT_EQ(results[1].key, "error_rate");
}

TEST(EvaluateThresholds, PassesWhenActualIsBelowOrAtTheLimit) {
  core::Thresholds t;
  t.p99_ms = 5.0;
  t.max_ms = 10.0;

  auto results = evaluate_thresholds(t, snapshot_with(5.0, 100, 0));

  EXPECT_EQ(results[0], (ThresholdResult{"p99_ms", 5.0, 5.0, true}));
  EXPECT_EQ(results[1], (ThresholdResult{"max_ms", 10.0, 9.0, true}));
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

TEST(EvaluateThresholds, ErrorRateIsAPercentOfRequests) {
  core::Thresholds t;
  t.error_rate = 1.0;

  auto results = evaluate_thresholds(t, snapshot_with(5.0, 200, 3));

  EXPECT_DOUBLE_EQ(results[0].actual, 1.5);
  EXPECT_FALSE(results[0].passed);
}

TEST(EvaluateThresholds, ZeroRequestsMeansZeroErrorRate) {
  core::Thresholds t;
  t.error_rate = 0.0;

  auto results = evaluate_thresholds(t, snapshot_with(0.0, 0, 0));

  EXPECT_EQ(results[0], (ThresholdResult{"error_rate", 0.0, 0.0, true}));
}

TEST(EvaluateThresholds, NoThresholdsGiveNoResultsAndPass) {
  auto results = evaluate_thresholds(core::Thresholds{}, snapshot_with(5.0, 10, 10));

  EXPECT_TRUE(results.empty());
  EXPECT_TRUE(all_passed(results));
}

TEST(ApplyThresholdOverrides, SetsEachKeyAndKeepsTheOthers) {
  core::Thresholds base;
  base.p50_ms = 100;
  base.p99_ms = 900;

  auto result = apply_threshold_overrides(
      base, {"p95_ms=250", "p99_ms=500.5", "max_ms=2000", "error_rate=1"});

  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->p50_ms, 100.0);
  EXPECT_EQ(result->p95_ms, 250.0);
  EXPECT_EQ(result->p99_ms, 500.5);
  EXPECT_EQ(result->max_ms, 2000.0);
  EXPECT_EQ(result->error_rate, 1.0);
}

TEST(ApplyThresholdOverrides, LaterItemForTheSameKeyWins) {
  auto result = apply_threshold_overrides({}, {"p99_ms=1", "p99_ms=2"});

  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->p99_ms, 2.0);
}

TEST(ApplyThresholdOverrides, AcceptsAPercentSignOnErrorRate) {
  auto result = apply_threshold_overrides({}, {"error_rate=0.5%"});

  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->error_rate, 0.5);
}

TEST(ApplyThresholdOverrides, UnknownKeyNamesTheItemAndTheValidKeys) {
  auto result = apply_threshold_overrides({}, {"p99=5"});

  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::Invalid);
  EXPECT_EQ(result.error().message,
            "--threshold 'p99=5': unknown key 'p99' (use p50_ms, p95_ms, p99_ms, max_ms or "
            "error_rate)");
  EXPECT_FALSE(result.error().hint.empty());
}

TEST(ApplyThresholdOverrides, NonNumericValueIsRejected) {
  auto result = apply_threshold_overrides({}, {"p99_ms=abc"});

  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message, "--threshold 'p99_ms=abc': value must be a number");
}

TEST(ApplyThresholdOverrides, ReportsEveryBadItemAtOnce) {
  auto result = apply_threshold_overrides(
      {}, {"p99=5", "p95_ms=200", "p99_ms=abc", "nokey", "error_rate=150", "max_ms=-1"});

  ASSERT_FALSE(result.ok());
  const auto& message = result.error().message;
  EXPECT_NE(message.find("'p99=5': unknown key 'p99'"), std::string::npos);
  EXPECT_NE(message.find("'p99_ms=abc': value must be a number"), std::string::npos);
  EXPECT_NE(message.find("'nokey': expected KEY=VALUE"), std::string::npos);
  EXPECT_NE(message.find("'error_rate=150': error_rate is a percent from 0 to 100"),
            std::string::npos);
  EXPECT_NE(message.find("'max_ms=-1': value must be >= 0"), std::string::npos);
  EXPECT_EQ(message.find("p95_ms=200"), std::string::npos);
}

TEST(ApplyThresholdOverrides, EmptyValueAndTrailingJunkAreNotNumbers) {
  auto result = apply_threshold_overrides({}, {"p50_ms=", "p95_ms=5ms", "p99_ms=nan"});

  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message,
            "--threshold 'p50_ms=': value must be a number; "
            "--threshold 'p95_ms=5ms': value must be a number; "
            "--threshold 'p99_ms=nan': value must be a number");
}

TEST(ApplyThresholdOverrides, NoItemsReturnsTheBaseUnchanged) {
  core::Thresholds base;
  base.error_rate = 2;

  auto result = apply_threshold_overrides(base, {});

  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->error_rate, 2.0);
  EXPECT_FALSE(result->p99_ms.has_value());
}

}  // namespace
}  // namespace lp::cli
