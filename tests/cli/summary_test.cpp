#include "cli/summary.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace lp::cli {
namespace {

using metrics::ThresholdResult;

// Runs print_summary into memory (open_memstream) and returns the text.
std::string summary_of(const metrics::Snapshot& final, double duration_secs,
                       const std::vector<ThresholdResult>& thresholds,
                       const SetupStats* setup = nullptr) {
  char* buf = nullptr;
  std::size_t size = 0;
  std::FILE* out = open_memstream(&buf, &size);
  print_summary(out, "shop", final, duration_secs, thresholds, setup);
  std::fclose(out);
  std::string text(buf, size);
  std::free(buf);
  return text;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

metrics::Snapshot finished_run() {
  metrics::Snapshot s;
  s.elapsed_secs = 60;
  s.requests_total = 6000;
  s.errors_total = 12;
  s.latency = {0.41, 1.23, 1.1, 2.0, 2.5, 4.9, 8.8, 9.1};
  s.service = {0.3, 0.9, 0.8, 1.5, 1.9, 3.1, 6.0, 7.0};
  s.errors_by_kind[static_cast<std::size_t>(metrics::ErrorKind::Timeout)] = 10;
  s.errors_by_kind[static_cast<std::size_t>(metrics::ErrorKind::Http5xx)] = 2;
  metrics::TaskSnapshot browse;
  browse.name = "browse";
  browse.requests = 6000;
  browse.errors = 12;
  browse.latency = s.latency;
  s.tasks = {browse};
  return s;
}

TEST(Summary, ShowsTotalsAchievedRateAndErrorRate) {
  const auto text = summary_of(finished_run(), 60, {});

  EXPECT_TRUE(contains(text, "Summary · shop · ran 1m")) << text;
  EXPECT_TRUE(contains(text, "6,000   100 rps achieved")) << text;
  EXPECT_TRUE(contains(text, "12   0.20% error rate")) << text;
}

TEST(Summary, LatencyTableHasEveryPercentileColumn) {
  const auto text = summary_of(finished_run(), 60, {});

  for (const char* column : {"min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"}) {
    EXPECT_TRUE(contains(text, column)) << column;
  }
  EXPECT_TRUE(contains(text, "0.41ms")) << text;
  EXPECT_TRUE(contains(text, "9.1ms")) << text;
}

TEST(Summary, ListsOnlyErrorKindsThatOccurred) {
  const auto text = summary_of(finished_run(), 60, {});

  EXPECT_TRUE(contains(text, "timeout")) << text;
  EXPECT_TRUE(contains(text, "http_5xx")) << text;
  EXPECT_FALSE(contains(text, "connect")) << text;
  EXPECT_FALSE(contains(text, "http_4xx")) << text;
}

TEST(Summary, HasAPerTaskRow) {
  const auto text = summary_of(finished_run(), 60, {});

  EXPECT_TRUE(contains(text, "  browse       6,000        12    0.20%")) << text;
}

TEST(Summary, MentionsLateAndDroppedOnlyWhenNonZero) {
  auto behind = finished_run();
  behind.late = 4;
  behind.dropped = 1;

  const auto calm_text = summary_of(finished_run(), 60, {});
  const auto behind_text = summary_of(behind, 60, {});

  EXPECT_FALSE(contains(calm_text, "generator behind"));
  EXPECT_TRUE(contains(behind_text, "generator behind: 4 sent late (≥10 ms after due), 1 dropped")) << behind_text;
}

TEST(Summary, ReportsSetupRequestsApartFromTheLoad) {
  const SetupStats setup{20, 1};

  const auto with_setup = summary_of(finished_run(), 60, {}, &setup);
  const auto without = summary_of(finished_run(), 60, {});

  EXPECT_TRUE(contains(with_setup, "setup (on_start/on_stop): 20 requests, 1 errors")) << with_setup;
  EXPECT_FALSE(contains(without, "setup ("));
}

TEST(Summary, ADistributedRunListsItsAgentsAndTheStartSkew) {
  metrics::Snapshot s = finished_run();
  s.agents = {{"agent-0", "done", 3001, 0.0}, {"agent-1", "timed_out", 2999, 0.0312}, {"agent-2", "lost", 0, std::nullopt}};
  s.start_skew_ms = 0.0312;

  const auto text = summary_of(s, 60, {});

  EXPECT_TRUE(contains(text, "  agent    state         requests   start skew\n")) << text;
  EXPECT_TRUE(contains(text, "  agent-0  done             3,001      0.000ms\n")) << text;
  EXPECT_TRUE(contains(text, "  agent-1  timed_out        2,999      0.031ms\n")) << text;
  EXPECT_TRUE(contains(text, "  agent-2  lost                 0            -\n")) << text;  // never began
  EXPECT_TRUE(contains(text, "  start skew 0.031ms (the latest agent's start minus the earliest's")) << text;
}

TEST(Summary, ALocalRunHasNoAgentsTable) {
  const auto text = summary_of(finished_run(), 60, {});

  EXPECT_FALSE(contains(text, "start skew")) << text;
}

TEST(Summary, ThresholdRowsCarryCheckOrCrossAndAFailCount) {
  const std::vector<ThresholdResult> results = {{"p95_ms", 200, 2.5, true, false, {}},
                                                {"error_rate", 0.1, 0.2, false, false, {}}};

  const auto text = summary_of(finished_run(), 60, results);

  EXPECT_TRUE(contains(text, "✓ p95_ms       actual      2.5ms   limit 200ms")) << text;
  EXPECT_TRUE(contains(text, "✗ error_rate   actual      0.20%   limit 0.1%")) << text;
  EXPECT_TRUE(contains(text, "1 of 2 thresholds failed\n")) << text;
}

TEST(Summary, SaysAllThresholdsPassedWhenTheyDid) {
  const auto text = summary_of(finished_run(), 60, {{"p99_ms", 5, 4.9, true, false, {}}});

  EXPECT_TRUE(contains(text, "✓ p99_ms")) << text;
  EXPECT_FALSE(contains(text, "✗"));
  EXPECT_TRUE(contains(text, "All thresholds passed\n")) << text;
}

TEST(Summary, SaysWhenNoThresholdsAreSet) {
  const auto text = summary_of(finished_run(), 60, {});

  EXPECT_TRUE(contains(text, "No thresholds set\n")) << text;
}

TEST(Summary, AchievedRateIsRequestsOverTheLoadDurationNotTheWallTime) {
  auto run = finished_run();
  run.elapsed_secs = 62.5;  // the last responses came in a 2.5 s drain
  run.load_secs = 60;

  const auto text = summary_of(run, 63, {});

  EXPECT_TRUE(contains(text, "6,000   100 rps achieved")) << text;
}

TEST(Summary, LatencyTableShowsAllResponsesSuccessesAndServiceTime) {
  auto run = finished_run();
  run.success = {0.5, 1.0, 1.0, 1.9, 2.4, 3.3, 7.7, 8.1};

  const auto text = summary_of(run, 60, {});

  EXPECT_TRUE(contains(text, "  all         0.41ms")) << text;
  EXPECT_TRUE(contains(text, "  success     0.50ms")) << text;
  EXPECT_TRUE(contains(text, "  service     0.30ms")) << text;
  EXPECT_TRUE(contains(text, "Thresholds use all.")) << text;
}

TEST(Summary, ALatencyThresholdWithNothingToJudgeSaysWhy) {
  const std::vector<ThresholdResult> results = {{"p99_ms", 200, 0, false, false, "no responses to measure"}};

  const auto text = summary_of(metrics::Snapshot{}, 2, results);

  EXPECT_TRUE(contains(text, "✗ p99_ms       actual          -   limit 200ms   (no responses to measure)")) << text;
  EXPECT_TRUE(contains(text, "1 of 1 thresholds failed\n")) << text;
}

TEST(Summary, ADefaultLimitIsMarkedAsSuch) {
  const auto text = summary_of(finished_run(), 60, {{"dropped_rate", 1, 0, true, true, {}}});

  EXPECT_TRUE(contains(text, "✓ dropped_rate actual      0.00%   limit 1% (default)")) << text;
}

TEST(Summary, AStoppedRunSaysSoAndCountsTheInterruptedRequests) {
  auto run = finished_run();
  run.stopped = true;
  run.load_secs = 12;
  run.errors_by_kind[static_cast<std::size_t>(metrics::ErrorKind::Interrupted)] = 3;

  const auto text = summary_of(run, 14, {});

  EXPECT_TRUE(contains(text, "stopped early after 12s of load; 3 requests in flight were cut off (interrupted)"))
      << text;
  EXPECT_TRUE(contains(text, "interrupted")) << text;
}

TEST(Summary, ErrorRateCountsTasksThatFailedBeforeAnyRequest) {
  metrics::Snapshot run;
  run.requests_total = 0;
  run.errors_total = 4;
  run.errors_without_request = 4;

  const auto text = summary_of(run, 1, {});

  EXPECT_TRUE(contains(text, "100.00% error rate")) << text;
  EXPECT_TRUE(contains(text, "4 of the errors are tasks that failed before making any request")) << text;
}

TEST(Summary, EmptyRunPrintsZerosWithoutDividingByZero) {
  const auto text = summary_of(metrics::Snapshot{}, 0, {});

  EXPECT_TRUE(contains(text, "0 rps achieved")) << text;
  EXPECT_TRUE(contains(text, "0.00% error rate")) << text;
}

}  // namespace
}  // namespace lp::cli
