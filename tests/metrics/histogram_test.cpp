#include "metrics/histogram.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>

namespace lp::metrics {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kOneHourUs = 3'600'000'000;

double relative_error(std::uint64_t reported, std::uint64_t recorded) {
  return std::abs(double(reported) - double(recorded)) / double(recorded);
}

TEST(Histogram, MergingTwoEqualsRecordingIntoOne) {
  Histogram a, b, both;
  for (auto v : {12us, 12us, 38us, 70'000us}) { a.record(v); both.record(v); }
  for (auto v : {99us, 14us, 5'000'000us})    { b.record(v); both.record(v); }

  a.merge(b);

  EXPECT_EQ(a, both);
  EXPECT_EQ(a.count(), 7u);
  EXPECT_EQ(a.min_us(), 12u);
  EXPECT_EQ(a.max_us(), 5'000'000u);
}

TEST(Histogram, MergingAnEmptyHistogramChangesNothing) {
  Histogram a, empty;
  a.record(std::uint64_t{42});
  const Histogram before = a;

  a.merge(empty);

  EXPECT_EQ(a, before);
  EXPECT_EQ(a.min_us(), 42u);
}

TEST(Histogram, SubtractingAnEarlierCopyLeavesExactlyTheSamplesSince) {
  Histogram cumulative, interval;
  for (auto v : {12us, 38us, 70'000us}) cumulative.record(v);
  const Histogram earlier = cumulative;
  for (auto v : {14us, 99us, 5'000'000us}) { cumulative.record(v); interval.record(v); }

  EXPECT_TRUE(cumulative.subtract(earlier));

  EXPECT_EQ(cumulative, interval);  // buckets, count, sum, and here min and max too
  EXPECT_EQ(cumulative.value_at_quantile(0.5), interval.value_at_quantile(0.5));
}

TEST(Histogram, SubtractedMinAndMaxStayWithinTheirBucketWhenNotNewExtremes) {
  Histogram cumulative;
  cumulative.record(std::uint64_t{1'000});    // min of the whole run
  cumulative.record(std::uint64_t{900'000});  // max of the whole run
  const Histogram earlier = cumulative;
  cumulative.record(std::uint64_t{20'000});
  cumulative.record(std::uint64_t{40'000});

  cumulative.subtract(earlier);

  EXPECT_EQ(cumulative.count(), 2u);
  EXPECT_EQ(cumulative.sum_us(), 60'000u);
  EXPECT_EQ(Histogram::bucket_of(cumulative.min_us()), Histogram::bucket_of(20'000));
  EXPECT_EQ(Histogram::bucket_of(cumulative.max_us()), Histogram::bucket_of(40'000));
  EXPECT_LT(relative_error(cumulative.max_us(), 40'000), 0.01);
}

TEST(Histogram, SubtractingEverythingGivesAnEmptyHistogram) {
  Histogram h;
  for (auto v : {5us, 500us}) h.record(v);
  const Histogram same = h;

  EXPECT_TRUE(h.subtract(same));

  EXPECT_EQ(h, Histogram{});
  EXPECT_EQ(h.min_us(), 0u);
}

TEST(Histogram, SubtractingALaterCopyIsReportedAndClampsAtZero) {
  Histogram earlier, later;
  later.record(std::uint64_t{10});
  earlier.record(std::uint64_t{10});
  earlier.record(std::uint64_t{20});

  EXPECT_FALSE(later.subtract(earlier));

  EXPECT_EQ(later.count(), 0u);
}

TEST(Histogram, ValuesBelow256AreExact) {
  for (std::uint64_t v = 0; v < Histogram::kLinearLimit; ++v) {
    Histogram h;
    h.record(v);
    h.record(Histogram::kMaxValueUs);  // keeps the [min, max] clamp from hiding an error

    const std::size_t bucket = Histogram::bucket_of(v);

    EXPECT_EQ(Histogram::bucket_lower(bucket), v);
    EXPECT_EQ(Histogram::bucket_upper(bucket), v);
    EXPECT_EQ(h.value_at_quantile(0.5), v);
  }
}

TEST(Histogram, BucketsTileTheWholeRangeWithoutGaps) {
  EXPECT_EQ(Histogram::bucket_lower(0), 0u);

  for (std::size_t b = 0; b + 1 < Histogram::kBucketCount; ++b) {
    ASSERT_EQ(Histogram::bucket_upper(b) + 1, Histogram::bucket_lower(b + 1)) << "bucket " << b;
    ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_lower(b)), b);
    ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_upper(b)), b);
  }

  EXPECT_EQ(Histogram::bucket_upper(Histogram::kBucketCount - 1), Histogram::kMaxValueUs);
}

TEST(Histogram, BucketsAreAtMostOneIn128OfTheirLowerBoundWide) {
  for (std::size_t b = Histogram::kLinearLimit; b < Histogram::kBucketCount; ++b) {
    const std::uint64_t width = Histogram::bucket_upper(b) - Histogram::bucket_lower(b) + 1;

    ASSERT_LE(width * 128, Histogram::bucket_lower(b)) << "bucket " << b;
  }
}

TEST(Histogram, ReportsValuesFrom1UsTo1HourWithin1Percent) {
  for (double x = 1.0; x <= double(kOneHourUs); x *= 1.003) {
    const auto v = static_cast<std::uint64_t>(x);
    Histogram single;
    single.record(v);
    Histogram spread;  // 1 µs and the maximum around v, so the median is v's midpoint
    for (std::uint64_t sample : {std::uint64_t{1}, v, Histogram::kMaxValueUs}) {
      spread.record(sample);
    }

    const std::size_t bucket = Histogram::bucket_of(v);

    ASSERT_LE(Histogram::bucket_lower(bucket), v);
    ASSERT_GE(Histogram::bucket_upper(bucket), v);
    ASSERT_EQ(single.value_at_quantile(0.5), v);  // min and max clamp a lone sample exactly
    ASSERT_LE(relative_error(spread.value_at_quantile(0.5), v), 0.01) << "value " << v;
  }
}

TEST(Histogram, QuantilesOfAUniformDistributionAreWithin1Percent) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 10'000; ++v) h.record(v);

  EXPECT_LE(relative_error(h.value_at_quantile(0.50), 5'000), 0.01);
  EXPECT_LE(relative_error(h.value_at_quantile(0.90), 9'000), 0.01);
  EXPECT_LE(relative_error(h.value_at_quantile(0.99), 9'900), 0.01);
  EXPECT_LE(relative_error(h.value_at_quantile(0.999), 9'990), 0.01);
  EXPECT_EQ(h.min_us(), 1u);
  EXPECT_EQ(h.max_us(), 10'000u);
  EXPECT_DOUBLE_EQ(h.mean_us(), 5'000.5);
}

TEST(Histogram, QuantileTakesTheCeilingRank) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);

  // ceil(0.95 · 100) = 95, even though 0.95 · 100 is not exactly 95 in binary.
  EXPECT_EQ(h.value_at_quantile(0.95), 95u);
  EXPECT_EQ(h.value_at_quantile(0.951), 96u);
  EXPECT_EQ(h.value_at_quantile(0.001), 1u);
}

TEST(Histogram, QuantilesAtOrBeyondTheEndsAreMinAndMax) {
  Histogram h;
  for (std::uint64_t v : {300u, 7'000u, 123'456u}) h.record(v);

  EXPECT_EQ(h.value_at_quantile(0.0), 300u);
  EXPECT_EQ(h.value_at_quantile(-1.0), 300u);
  EXPECT_EQ(h.value_at_quantile(1.0), 123'456u);
  EXPECT_EQ(h.value_at_quantile(2.0), 123'456u);
}

TEST(Histogram, ValuesAboveTheRangeAreClampedAndCounted) {
  Histogram h;

  h.record(Histogram::kMaxValueUs);
  h.record(Histogram::kMaxValueUs + 1);
  h.record(UINT64_MAX);

  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.saturated(), 2u);
  EXPECT_EQ(h.max_us(), Histogram::kMaxValueUs);
  EXPECT_EQ(h.value_at_quantile(0.5), Histogram::kMaxValueUs);
  EXPECT_EQ(h.sum_us(), 3 * Histogram::kMaxValueUs);
}

TEST(Histogram, NanosecondsAreTruncatedToMicrosecondsAndNegativeBecomesZero) {
  Histogram h;

  h.record(1'999ns);
  h.record(-5ns);

  EXPECT_EQ(h.max_us(), 1u);
  EXPECT_EQ(h.min_us(), 0u);
}

TEST(Histogram, SparseRoundTripEqualsTheOriginal) {
  Histogram original;
  for (std::uint64_t v : {0u, 1u, 255u, 256u, 1'000u, 1'000u, 65'432u, 3'000'000u}) {
    original.record(v);
  }
  original.record(Histogram::kMaxValueUs);

  Histogram copy;
  const bool ok = copy.add_sparse(original.sparse(), original.min_us(), original.max_us(),
                                  original.sum_us());

  EXPECT_TRUE(ok);
  EXPECT_EQ(copy, original);
  EXPECT_EQ(copy.value_at_quantile(0.9), original.value_at_quantile(0.9));
}

TEST(Histogram, SparseListsOnlyNonEmptyBucketsInOrder) {
  Histogram h;
  for (std::uint64_t v : {500u, 3u, 3u}) h.record(v);

  const auto buckets = h.sparse();

  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0], (std::pair<std::uint32_t, std::uint64_t>{3, 2}));
  EXPECT_EQ(buckets[1].first, Histogram::bucket_of(500));
  EXPECT_EQ(buckets[1].second, 1u);
}

TEST(Histogram, AddSparseIgnoresAndReportsOutOfRangeBuckets) {
  Histogram h;

  const bool ok = h.add_sparse({{7, 1}, {std::uint32_t(Histogram::kBucketCount), 5}}, 7, 7, 7);

  EXPECT_FALSE(ok);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.value_at_quantile(0.5), 7u);
}

TEST(Histogram, AddSparseOfNothingKeepsTheHistogramEmpty) {
  Histogram h;

  const bool ok = h.add_sparse({}, 0, 0, 0);

  EXPECT_TRUE(ok);
  EXPECT_EQ(h, Histogram{});
}

TEST(Histogram, EmptyHistogramReportsZeros) {
  const Histogram h;

  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min_us(), 0u);
  EXPECT_EQ(h.max_us(), 0u);
  EXPECT_EQ(h.sum_us(), 0u);
  EXPECT_EQ(h.mean_us(), 0.0);
  EXPECT_EQ(h.value_at_quantile(0.0), 0u);
  EXPECT_EQ(h.value_at_quantile(0.5), 0u);
  EXPECT_EQ(h.value_at_quantile(1.0), 0u);
  EXPECT_TRUE(h.sparse().empty());
}

TEST(Histogram, ResetMakesItEqualToAFreshOne) {
  Histogram h;
  for (std::uint64_t v : {std::uint64_t{5}, std::uint64_t{5'000}, UINT64_MAX}) h.record(v);

  h.reset();

  EXPECT_EQ(h, Histogram{});
  EXPECT_EQ(h.saturated(), 0u);
  EXPECT_EQ(h.min_us(), 0u);
}

}  // namespace
}  // namespace lp::metrics
