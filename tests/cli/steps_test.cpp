#include "cli/steps.hpp"

#include <gtest/gtest.h>

namespace lp::cli {
namespace {

// A step plan: 4 steps of 10 s up to 100 rps, p99 limit 50 ms.
core::Plan step_plan() {
  core::Plan plan;
  plan.mode = core::Mode::Step;
  plan.rps = 100;
  plan.duration_secs = 40;
  plan.steps = 4;
  plan.thresholds.p99_ms = 50;
  return plan;
}

metrics::Snapshot at(double elapsed, const char* phase = "steady") {
  metrics::Snapshot s;
  s.elapsed_secs = elapsed;
  s.load_secs = elapsed;
  s.phase = phase;
  return s;
}

// Cumulative stats of a run where every request of second `t` took latency(t) ms.
class FakeRun {
 public:
  explicit FakeRun(double (*latency_ms)(int second)) : latency_ms_(latency_ms) {}
  const metrics::RunStats& until(int second) {
    for (; done_ < second; ++done_) {
      for (int i = 0; i < 10; ++i) {
        stats_.tasks[0].record_ok(static_cast<std::uint64_t>(latency_ms_(done_) * 1000), 100);
        ++stats_.iterations;
      }
    }
    return stats_;
  }

 private:
  double (*latency_ms_)(int);
  metrics::RunStats stats_{1};
  int done_ = 0;
};

std::vector<StepResult> run_steps(const core::Plan& plan, FakeRun& run, int last_second, bool stopped = false) {
  StepTracker tracker(plan);
  for (int t = 1; t <= last_second; ++t) tracker.add(at(t), run.until(t));
  tracker.add(at(last_second, "done"), run.until(last_second));
  return step_results(plan, tracker.points(), stopped);
}

TEST(Steps, EachStepHasItsOwnFiguresNotARunningTotal) {
  // Latency is 10 ms in the first two steps, then 100 ms.
  FakeRun run([](int s) { return s < 20 ? 10.0 : 100.0; });

  const auto steps = run_steps(step_plan(), run, 40);

  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(steps[0].requests, 100u);
  EXPECT_NEAR(steps[1].figures.latency.p99_ms, 10.0, 0.1);
  EXPECT_NEAR(steps[2].figures.latency.p99_ms, 100.0, 1.0);
  EXPECT_NEAR(steps[2].figures.latency.p50_ms, 100.0, 1.0);  // cumulative would still say 10
  EXPECT_DOUBLE_EQ(steps[3].target_rps, 100.0);
  EXPECT_DOUBLE_EQ(steps[0].target_rps, 25.0);
  EXPECT_DOUBLE_EQ(steps[1].rps, 10.0);
}

TEST(Steps, KneeIsTheLastStepThatMetEveryThreshold) {
  FakeRun run([](int s) { return s < 20 ? 10.0 : 100.0; });

  const auto steps = run_steps(step_plan(), run, 40);

  EXPECT_TRUE(steps[0].passed);
  EXPECT_TRUE(steps[1].passed);
  EXPECT_FALSE(steps[2].passed);
  EXPECT_EQ(knee_index(steps), 1u);
}

TEST(Steps, AStepThatPassesAfterAFailingOneIsTheKnee) {
  FakeRun run([](int s) { return s >= 10 && s < 20 ? 100.0 : 10.0; });

  const auto steps = run_steps(step_plan(), run, 40);

  EXPECT_FALSE(steps[1].passed);
  EXPECT_EQ(knee_index(steps), 3u);
}

TEST(Steps, NoKneeWhenNoStepPassed) {
  FakeRun run([](int) { return 100.0; });

  const auto steps = run_steps(step_plan(), run, 40);

  EXPECT_FALSE(knee_index(steps).has_value());
}

TEST(Steps, DroppedIterationsFailAStepOnItsOwn) {
  core::Plan plan = step_plan();
  FakeRun run([](int) { return 10.0; });
  StepTracker tracker(plan);
  metrics::RunStats stats{1};
  for (int t = 1; t <= 40; ++t) {
    stats = run.until(t);
    if (t > 30) stats.dropped = 5u * static_cast<unsigned>(t - 30);  // only the last step drops
    tracker.add(at(t), stats);
  }
  tracker.add(at(40, "done"), stats);

  const auto steps = step_results(plan, tracker.points(), false);

  EXPECT_TRUE(steps[2].passed);
  EXPECT_EQ(steps[3].dropped, 50u);
  EXPECT_FALSE(steps[3].passed);
  EXPECT_EQ(steps[3].thresholds.back().key, "dropped_rate");
}

TEST(Steps, BoundaryTakesTheNearerSnapshot) {
  core::Plan plan = step_plan();
  FakeRun run([](int) { return 10.0; });
  StepTracker tracker(plan);

  tracker.add(at(9.6), run.until(9));
  tracker.add(at(10.7), run.until(10));

  ASSERT_EQ(tracker.points().size(), 2u);
  EXPECT_DOUBLE_EQ(tracker.points()[1].at_secs, 9.6);
}

TEST(Steps, StoppedRunEndsWithAPartialStepAndNothingAfter) {
  FakeRun run([](int) { return 10.0; });

  const auto steps = run_steps(step_plan(), run, 15, /*stopped=*/true);

  ASSERT_EQ(steps.size(), 2u);
  EXPECT_FALSE(steps[0].partial);
  EXPECT_TRUE(steps[1].partial);
  EXPECT_DOUBLE_EQ(steps[1].measured_to_secs, 15.0);
  EXPECT_EQ(knee_index(steps), 0u);  // a partial step is not judged
}

TEST(Steps, DrainSnapshotsDoNotMakeSteps) {
  core::Plan plan = step_plan();
  FakeRun run([](int) { return 10.0; });
  StepTracker tracker(plan);
  for (int t = 1; t <= 5; ++t) tracker.add(at(t), run.until(t));

  metrics::Snapshot drain = at(25, "draining");
  drain.load_secs = 5;
  tracker.add(drain, run.until(6));
  metrics::Snapshot done = at(26, "done");
  done.load_secs = 5;
  tracker.add(done, run.until(6));

  ASSERT_EQ(tracker.points().size(), 2u);
  EXPECT_DOUBLE_EQ(tracker.points()[1].at_secs, 5.0);
}

TEST(Steps, OtherModesHaveNoSteps) {
  core::Plan plan = step_plan();
  plan.mode = core::Mode::Ramp;
  FakeRun run([](int) { return 10.0; });

  EXPECT_TRUE(run_steps(plan, run, 40).empty());
}

}  // namespace
}  // namespace lp::cli
