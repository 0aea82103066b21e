#include "metrics/stats.hpp"

#include <gtest/gtest.h>

#include <string_view>

namespace lp::metrics {
namespace {

TEST(ErrorKind, EveryKindHasItsJsonKey) {
  const std::array<std::string_view, kErrorKindCount> expected = {
      "connect", "timeout", "reset", "tls", "http_4xx", "http_5xx", "protocol", "check", "interrupted"};

  for (std::size_t i = 0; i < kErrorKindCount; ++i) {
    EXPECT_EQ(to_string(static_cast<ErrorKind>(i)), expected[i]);
  }
}

TEST(TaskStats, MergeAddsCountersAndHistograms) {
  TaskStats a, b;
  a.record_ok(1'000, 800);
  a.record_error(ErrorKind::Timeout);
  b.record_ok(3'000, 2'000);
  b.record_error(ErrorKind::Timeout);
  b.record_error(ErrorKind::Http5xx);

  a.merge(b);

  EXPECT_EQ(a.requests, 5u);
  EXPECT_EQ(a.errors, 3u);
  EXPECT_EQ(a.errors_by_kind[static_cast<std::size_t>(ErrorKind::Timeout)], 2u);
  EXPECT_EQ(a.errors_by_kind[static_cast<std::size_t>(ErrorKind::Http5xx)], 1u);
  EXPECT_EQ(a.latency.count(), 2u);
  EXPECT_EQ(a.latency.max_us(), 3'000u);
  EXPECT_EQ(a.service.min_us(), 800u);
}

TEST(RunStats, MergeAddsTasksByIndexAndGrowsToTheLarger) {
  RunStats a(1), b(3);
  a.tasks[0].record_ok(10, 5);
  b.tasks[0].record_ok(20, 5);
  b.tasks[2].record_error(ErrorKind::Connect);

  a.merge(b);

  ASSERT_EQ(a.tasks.size(), 3u);
  EXPECT_EQ(a.tasks[0].requests, 2u);
  EXPECT_EQ(a.tasks[1].requests, 0u);
  EXPECT_EQ(a.tasks[2].errors, 1u);
}

TEST(RunStats, MergeKeepsTheLargerTaskListWhenTheOtherIsShorter) {
  RunStats a(2), b(1);
  a.tasks[1].record_ok(10, 5);
  b.tasks[0].record_ok(10, 5);

  a.merge(b);

  ASSERT_EQ(a.tasks.size(), 2u);
  EXPECT_EQ(a.tasks[0].requests, 1u);
  EXPECT_EQ(a.tasks[1].requests, 1u);
}

TEST(RunStats, MergeSumsEveryWorkersCounters) {
  RunStats a, b;
  a.iterations = 10; a.late = 1; a.dropped = 2; a.in_flight = 3; a.connections = 4;
  b.iterations = 20; b.late = 10; b.dropped = 20; b.in_flight = 30; b.connections = 40;

  a.merge(b);

  EXPECT_EQ(a.iterations, 30u);
  EXPECT_EQ(a.late, 11u);
  EXPECT_EQ(a.dropped, 22u);
  EXPECT_EQ(a.in_flight, 33u);
  EXPECT_EQ(a.connections, 44u);
}

TEST(TaskStats, ATimeoutIsALatencySampleAtItsElapsedTime) {
  TaskStats t;

  t.record_failure(ErrorKind::Timeout, 30'000'000);

  EXPECT_EQ(t.requests, 1u);
  EXPECT_EQ(t.errors, 1u);
  EXPECT_EQ(t.latency.count(), 1u);
  EXPECT_EQ(t.latency.max_us(), 30'000'000u);
  EXPECT_EQ(t.service.count(), 0u);  // the server never answered
  EXPECT_EQ(t.success.count(), 0u);
}

TEST(TaskStats, FailuresBeforeAnyResponseCarryNoLatency) {
  TaskStats t;

  for (ErrorKind kind : {ErrorKind::Connect, ErrorKind::Reset, ErrorKind::Tls, ErrorKind::Protocol,
                         ErrorKind::Interrupted}) {
    t.record_failure(kind, 1'000);
  }

  EXPECT_EQ(t.requests, 5u);
  EXPECT_EQ(t.errors, 5u);
  EXPECT_EQ(t.latency.count(), 0u);
}

TEST(TaskStats, EveryResponseIsInLatencyAndOnlySuccessesInSuccess) {
  TaskStats t;

  t.record_ok(1'000, 900);
  t.record_http_error(ErrorKind::Http5xx, 50'000, 49'000);

  EXPECT_EQ(t.latency.count(), 2u);
  EXPECT_EQ(t.service.count(), 2u);
  EXPECT_EQ(t.success.count(), 1u);
  EXPECT_EQ(t.success.max_us(), 1'000u);
  EXPECT_EQ(t.errors_by_kind[static_cast<std::size_t>(ErrorKind::Http5xx)], 1u);
}

TEST(TaskStats, ACheckFailureCountsAgainstASuccessfulRequest) {
  TaskStats t;
  t.record_ok(1'000, 900);

  t.record_check_failure();

  EXPECT_EQ(t.requests, 1u);
  EXPECT_EQ(t.errors, 1u);
  EXPECT_EQ(t.errors_without_request, 0u);
}

TEST(TaskStats, ACheckFailureWithNoRequestLeftToBlameJoinsTheDenominator) {
  TaskStats t;
  t.record_error(ErrorKind::Connect);

  t.record_check_failure();  // the task raised after its only call failed
  t.record_check_failure();  // and once before any call

  EXPECT_EQ(t.errors, 3u);
  EXPECT_EQ(t.errors_without_request, 2u);
  EXPECT_LE(t.errors, t.requests + t.errors_without_request);
}

TEST(RunStats, SubtractingAnEarlierCopyGivesTheIntervalAndKeepsTheGauges) {
  RunStats cumulative(2);
  cumulative.tasks[0].record_ok(3'000, 2'000);
  cumulative.iterations = 1;
  const RunStats earlier = cumulative;
  cumulative.tasks[0].record_ok(1'000, 800);  // a new minimum: exact in the interval
  cumulative.tasks[1].record_error(ErrorKind::Connect);
  cumulative.iterations = 3;
  cumulative.dropped = 2;
  cumulative.in_flight = 7;

  cumulative.subtract(earlier);

  EXPECT_EQ(cumulative.tasks[0].requests, 1u);
  EXPECT_EQ(cumulative.tasks[0].latency.count(), 1u);
  EXPECT_EQ(cumulative.tasks[0].latency.min_us(), 1'000u);
  EXPECT_EQ(cumulative.tasks[1].errors, 1u);
  EXPECT_EQ(cumulative.iterations, 2u);
  EXPECT_EQ(cumulative.dropped, 2u);
  EXPECT_EQ(cumulative.in_flight, 7u);
}

TEST(RunStats, TotalMergesEveryTask) {
  RunStats stats(2);
  stats.tasks[0].record_ok(100, 50);
  stats.tasks[1].record_ok(300, 150);
  stats.tasks[1].record_error(ErrorKind::Check);

  const TaskStats total = stats.total();

  EXPECT_EQ(total.requests, 3u);
  EXPECT_EQ(total.errors, 1u);
  EXPECT_EQ(total.errors_by_kind[static_cast<std::size_t>(ErrorKind::Check)], 1u);
  EXPECT_EQ(total.latency.count(), 2u);
  EXPECT_EQ(total.latency.min_us(), 100u);
  EXPECT_EQ(total.latency.max_us(), 300u);
}

}  // namespace
}  // namespace lp::metrics
