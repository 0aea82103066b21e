#include "cli/thresholds.hpp"

#include <gtest/gtest.h>

namespace lp::cli {
namespace {

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
            "--threshold 'p99=5': unknown key 'p99' (use p50_ms, p95_ms, p99_ms, max_ms, "
            "error_rate or dropped_rate)");
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

TEST(ApplyThresholdOverrides, DroppedRateIsAPercentLikeErrorRate) {
  auto ok = apply_threshold_overrides({}, {"dropped_rate=5%"});
  auto bad = apply_threshold_overrides({}, {"dropped_rate=101"});

  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->dropped_rate, 5.0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "--threshold 'dropped_rate=101': dropped_rate is a percent from 0 to 100");
}

}  // namespace
}  // namespace lp::cli
