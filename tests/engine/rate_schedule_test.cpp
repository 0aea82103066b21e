#include "engine/rate_schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>

using lp::core::Mode;
using lp::core::Profile;
using lp::engine::RateSchedule;

namespace {

/// Takes every iteration due by time t (seconds) — the worker's loop with an injected clock.
std::uint64_t fire_until(RateSchedule& s, double t) {
  std::uint64_t fired = 0;
  while (!s.exhausted() && s.next_due() <= t) {
    s.advance();
    ++fired;
  }
  return fired;
}

}  // namespace

TEST(RateSchedule, ThreeRpsOverTwoSharesFiresThreePerSecond) {
  Profile p(Mode::Constant, 3, 10, 0, 1);
  RateSchedule a(p, 0, 2), b(p, 1, 2);

  std::uint64_t fired = fire_until(a, 10) + fire_until(b, 10);

  EXPECT_EQ(fired, 30u);
  EXPECT_EQ(a.count(), 15u);
  EXPECT_EQ(b.count(), 15u);
}

TEST(RateSchedule, EverySecondOfALowSplitRateFiresTheRightCount) {
  Profile p(Mode::Constant, 3, 4, 0, 1);
  RateSchedule a(p, 0, 2), b(p, 1, 2);

  std::uint64_t total = 0;
  for (int second = 1; second <= 4; ++second) {
    total += fire_until(a, second - 1e-9) + fire_until(b, second - 1e-9);
    EXPECT_EQ(total, 3u * second) << "after " << second << " s";
  }
}

TEST(RateSchedule, HalfAnIterationPerSecondIsNotRoundedAway) {
  Profile p(Mode::Constant, 0.5, 10, 0, 1);
  RateSchedule s(p, 0, 1);

  EXPECT_EQ(s.count(), 5u);
  EXPECT_EQ(fire_until(s, 0), 1u);  // the first one fires at t = 0
  EXPECT_EQ(fire_until(s, 1.9), 0u);
  EXPECT_EQ(fire_until(s, 2.0), 1u);
}

TEST(RateSchedule, FourHundredRpsForFiveSecondsIsExactlyTwoThousand) {
  Profile p(Mode::Constant, 400, 5, 0, 1);
  RateSchedule s0(p, 0, 3), s1(p, 1, 3), s2(p, 2, 3);

  EXPECT_EQ(s0.count() + s1.count() + s2.count(), 2000u);
}

TEST(RateSchedule, KeepsDueTimesWhenFallingBehind) {
  Profile p(Mode::Constant, 100, 10, 0, 1);
  RateSchedule s(p, 0, 1);

  // 50 ms pass without a free connection: five iterations are due, none is lost and
  // the first still carries its original due time (lateness is reported, not hidden).
  EXPECT_EQ(s.backlog(0.045), 5u);
  EXPECT_DOUBLE_EQ(s.next_due(), 0.0);
}

TEST(RateSchedule, DropsOnlyWhatIsOlderThanTheLagLimit) {
  Profile p(Mode::Constant, 100, 10, 0, 1);
  RateSchedule s(p, 0, 1);

  std::uint64_t dropped = s.drop_due_before(1.0);  // due at 0.00 .. 0.99

  EXPECT_EQ(dropped, 100u);
  EXPECT_NEAR(s.next_due(), 1.0, 1e-9);
  EXPECT_EQ(s.drop_rest(), 900u);
  EXPECT_TRUE(s.exhausted());
}

TEST(RateSchedule, RampStartsSlowly) {
  Profile p(Mode::Ramp, 100, 10, 10, 1);
  RateSchedule s(p, 0, 1);

  std::uint64_t first_second = fire_until(s, 1.0 - 1e-9);

  EXPECT_EQ(first_second, 5u);  // ∫0^1 10·t dt = 5
  EXPECT_EQ(s.count(), 1500u);  // 500 ramping + 1000 steady
}

TEST(RateSchedule, AShareStartedAtAnIndexFiresFromTheFirstOfItsOwnAtOrAfterIt) {
  Profile p(Mode::Constant, 10, 10, 0, 1);  // k due at k / 10 s

  RateSchedule s(p, 1, 4, /*from_index=*/22);  // 1, 5, 9, ..., 21, 25, ...

  EXPECT_EQ(s.next_index(), 25u);
  EXPECT_DOUBLE_EQ(s.next_due(), 2.5);
  EXPECT_EQ(s.count(), 19u);  // 25, 29, ..., 97
}

TEST(RateSchedule, ALimitGivesUpEveryIndexFromItOn) {
  Profile p(Mode::Constant, 10, 10, 0, 1);
  RateSchedule s(p, 0, 2);

  s.limit_to(7);

  EXPECT_EQ(fire_until(s, 100), 4u);  // 0, 2, 4, 6
  EXPECT_TRUE(s.exhausted());
  EXPECT_EQ(s.next_index(), 8u);
}

TEST(RateSchedule, TheFirstIndexDueAtOrAfterATimeIsExactOnARamp) {
  Profile p(Mode::Ramp, 37, 20, 10, 1);  // irrational-ish due times on the ramp

  for (double t : {0.0, 0.3, 2.71, 9.99, 10.0, 10.013, 19.5}) {
    for (std::uint64_t stride : {1u, 3u}) {
      const std::uint64_t k = lp::engine::first_index_due_at_or_after(p, t, 2, stride);

      EXPECT_GE(p.time_of(static_cast<double>(k)), t) << t;
      if (k >= 2 + stride) {
        EXPECT_LT(p.time_of(static_cast<double>(k - stride)), t) << t;
      }
      EXPECT_EQ((k - 2) % stride, 0u);
    }
  }
}

TEST(RateSchedule, DroppingBeforeATimeExactlyLeavesTheFirstIndexDueAtOrAfterIt) {
  Profile p(Mode::Ramp, 37, 20, 10, 1);
  RateSchedule s(p, 1, 2);

  s.drop_due_before_exact(7.77);

  EXPECT_EQ(s.next_index(), lp::engine::first_index_due_at_or_after(p, 7.77, 1, 2));
}
