#include "engine/snapshot_builder.hpp"

#include <gtest/gtest.h>

#include "engine/clock.hpp"

namespace lp::engine {
namespace {

using namespace std::chrono_literals;
using Stage = SnapshotBuilder::Stage;

constexpr double kStartUnix = 1'700'000'000.0;

class SnapshotBuilderTest : public ::testing::Test {
 protected:
  FakeClock clock;
  core::Profile profile{core::Mode::Constant, 100, 10, 0, 1};
  SnapshotBuilder builder{profile, {"a"}, clock.now(), kStartUnix};
  metrics::RunStats stats{1};

  void complete(std::uint64_t n, std::uint64_t latency_us) {
    for (std::uint64_t i = 0; i < n; ++i) stats.tasks[0].record_ok(latency_us, latency_us);
  }
};

TEST_F(SnapshotBuilderTest, EachIntervalHasItsOwnFiguresBesideTheCumulativeOnes) {
  complete(100, 1'000);
  clock.advance(1s);
  builder.build(stats, clock.now(), 1, Stage::Sending);
  complete(50, 500'000);  // a stall in the second interval
  clock.advance(1s);

  const metrics::Snapshot snap = builder.build(stats, clock.now(), 1, Stage::Sending);

  EXPECT_EQ(snap.requests_total, 150u);
  EXPECT_DOUBLE_EQ(snap.interval.secs, 1.0);
  EXPECT_EQ(snap.interval.requests, 50u);
  EXPECT_DOUBLE_EQ(snap.interval.rps, 50.0);
  EXPECT_EQ(snap.current_rps, snap.interval.rps);
  EXPECT_EQ(snap.interval.latency.count, 50u);
  EXPECT_NEAR(snap.interval.latency.p50_ms, 500.0, 5.0);
  EXPECT_NEAR(snap.latency.p50_ms, 1.0, 0.01);  // cumulative: the stall is a third of it
}

TEST_F(SnapshotBuilderTest, SendingSnapshotsTakePhaseAndTargetFromTheProfile) {
  clock.advance(2s);

  const metrics::Snapshot snap = builder.build(stats, clock.now(), 3, Stage::Sending);

  EXPECT_EQ(snap.phase, "steady");
  EXPECT_DOUBLE_EQ(snap.target_rps, 100.0);
  EXPECT_EQ(snap.active_workers, 3u);
  EXPECT_DOUBLE_EQ(snap.elapsed_secs, 2.0);
  EXPECT_DOUBLE_EQ(snap.load_secs, 2.0);
  EXPECT_DOUBLE_EQ(snap.timestamp_secs, kStartUnix + 2.0);
}

TEST_F(SnapshotBuilderTest, TheDrainIsItsOwnPhaseAndLoadSecsStopsAtTheProfilesEnd) {
  clock.advance(11500ms);

  const metrics::Snapshot snap = builder.build(stats, clock.now(), 1, Stage::Draining);

  EXPECT_EQ(snap.phase, "draining");
  EXPECT_DOUBLE_EQ(snap.target_rps, 0.0);
  EXPECT_DOUBLE_EQ(snap.load_secs, 10.0);
  EXPECT_FALSE(snap.stopped);
}

TEST_F(SnapshotBuilderTest, TheFinalRateIsRequestsOverTheLoadDurationNotTheWallTime) {
  complete(1'000, 2'500'000);
  clock.advance(12500ms);  // 10 s of load, then 2.5 s for the last responses

  const metrics::Snapshot snap = builder.build(stats, clock.now(), 0, Stage::Done);

  EXPECT_EQ(snap.phase, "done");
  EXPECT_DOUBLE_EQ(snap.current_rps, 100.0);
  EXPECT_DOUBLE_EQ(snap.load_secs, 10.0);
  EXPECT_DOUBLE_EQ(snap.elapsed_secs, 12.5);
}

TEST_F(SnapshotBuilderTest, AStopEndsTheLoadDurationWhereItHappened) {
  complete(400, 1'000);
  clock.advance(4s);
  builder.stopped_at(clock.now());
  clock.advance(2s);

  const metrics::Snapshot snap = builder.build(stats, clock.now(), 0, Stage::Done);

  EXPECT_TRUE(snap.stopped);
  EXPECT_DOUBLE_EQ(snap.load_secs, 4.0);
  EXPECT_DOUBLE_EQ(snap.current_rps, 100.0);
}

}  // namespace
}  // namespace lp::engine
