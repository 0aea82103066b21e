#include "core/profile.hpp"

#include <gtest/gtest.h>

#include <cmath>

using lp::core::Mode;
using lp::core::Phase;
using lp::core::Profile;

TEST(Profile, RampClimbsLinearlyThenHolds) {
  Profile p(Mode::Ramp, 100, 30, 10, 5);

  EXPECT_DOUBLE_EQ(p.total_secs(), 40);
  EXPECT_DOUBLE_EQ(p.rate_at(0), 0);
  EXPECT_DOUBLE_EQ(p.rate_at(5), 50);
  EXPECT_DOUBLE_EQ(p.rate_at(20), 100);
  EXPECT_EQ(p.phase_at(5), Phase::RampUp);
  EXPECT_EQ(p.phase_at(10), Phase::Steady);
  EXPECT_EQ(p.phase_at(40), Phase::Done);
  EXPECT_DOUBLE_EQ(p.count_until(10), 500);   // triangle: 10 s × 100 / 2
  EXPECT_DOUBLE_EQ(p.total_count(), 3500);
}

TEST(Profile, ConstantHoldsFullRateForDuration) {
  Profile p(Mode::Constant, 400, 5, 10, 5);

  EXPECT_DOUBLE_EQ(p.total_secs(), 5);
  EXPECT_DOUBLE_EQ(p.rate_at(0), 400);
  EXPECT_EQ(p.phase_at(2), Phase::Steady);
  EXPECT_DOUBLE_EQ(p.total_count(), 2000);
}

TEST(Profile, StepSplitsDurationIntoEqualWindows) {
  Profile p(Mode::Step, 100, 50, 0, 5);

  EXPECT_DOUBLE_EQ(p.rate_at(1), 20);
  EXPECT_DOUBLE_EQ(p.rate_at(15), 40);
  EXPECT_DOUBLE_EQ(p.rate_at(49), 100);
  EXPECT_EQ(p.phase_at(1), Phase::RampUp);
  EXPECT_EQ(p.phase_at(45), Phase::Steady);
  EXPECT_DOUBLE_EQ(p.total_count(), 10 * (20 + 40 + 60 + 80 + 100));
}

TEST(Profile, SpikeIsTwentyHundredTwentyPercentInThirds) {
  Profile p(Mode::Spike, 100, 30, 0, 5);

  EXPECT_DOUBLE_EQ(p.rate_at(5), 20);
  EXPECT_DOUBLE_EQ(p.rate_at(15), 100);
  EXPECT_DOUBLE_EQ(p.rate_at(25), 20);
  EXPECT_EQ(p.phase_at(5), Phase::RampUp);
  EXPECT_EQ(p.phase_at(15), Phase::Steady);
  EXPECT_EQ(p.phase_at(25), Phase::RampDown);
}

TEST(Profile, TimeOfInvertsCountUntil) {
  for (Mode mode : {Mode::Ramp, Mode::Constant, Mode::Step, Mode::Spike}) {
    Profile p(mode, 37.5, 12, 4, 3);
    for (double n = 0.5; n < p.total_count(); n += 7.25) {
      EXPECT_NEAR(p.count_until(p.time_of(n)), n, 1e-6) << lp::core::to_string(mode) << " n=" << n;
    }
  }
}

TEST(Profile, FirstIterationIsDueAtStartAndNoneAfterTheEnd) {
  Profile p(Mode::Constant, 3, 2, 0, 1);

  EXPECT_DOUBLE_EQ(p.time_of(0), 0);
  EXPECT_NEAR(p.time_of(1), 1.0 / 3, 1e-12);
  EXPECT_GE(p.time_of(6), p.total_secs());
}

TEST(Profile, FractionalRatesFireTheRightCountOverTime) {
  Profile p(Mode::Constant, 0.5, 10, 0, 1);

  int fired = 0;
  for (int k = 0; p.time_of(k) < p.total_secs(); ++k) ++fired;

  EXPECT_EQ(fired, 5);
}
