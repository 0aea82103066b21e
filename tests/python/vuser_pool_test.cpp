#include "python/vuser_pool.hpp"

#include <gtest/gtest.h>

namespace lp::python {
namespace {

core::Plan plan_of(double rps, std::uint32_t vusers = 0, core::Mode mode = core::Mode::Constant,
                   double ramp_up_secs = 0) {
  core::Plan plan;
  plan.rps = rps;
  plan.vusers = vusers;
  plan.mode = mode;
  plan.ramp_up_secs = ramp_up_secs;
  return plan;
}

TEST(VUserPool, DefaultSizeIsAHundredthOfTheRateBetweenFiveAndAHundred) {
  EXPECT_EQ(VUserPool::default_size(0.5), 5u);
  EXPECT_EQ(VUserPool::default_size(50), 5u);
  EXPECT_EQ(VUserPool::default_size(500), 5u);
  EXPECT_EQ(VUserPool::default_size(501), 6u);  // rounded up: 5.01 users' worth
  EXPECT_EQ(VUserPool::default_size(3500), 35u);
  EXPECT_EQ(VUserPool::default_size(10'000), 100u);
  EXPECT_EQ(VUserPool::default_size(1e9), 100u);
}

TEST(VUserPool, UnsetItStartsAtTheDefaultAndMayGrowToTheCap) {
  VUserPool pool(plan_of(50));

  EXPECT_EQ(pool.size(), 5u);
  EXPECT_FALSE(pool.fixed());
  EXPECT_EQ(pool.cap(), VUserPool::kGrowCap);
}

TEST(VUserPool, SetItIsExactlyThatManyAndNeverGrows) {
  VUserPool pool(plan_of(50, /*vusers=*/3));

  EXPECT_TRUE(pool.fixed());
  EXPECT_EQ(pool.size(), 3u);
  EXPECT_EQ(pool.to_start(1.0, /*users=*/3, /*starting=*/0, /*unserved=*/40), 0u);
}

TEST(VUserPool, OutsideRampModeTheWholePoolStartsBeforeTheClock) {
  VUserPool pool(plan_of(50, 0, core::Mode::Ramp, /*ramp_up_secs=*/0));

  EXPECT_EQ(pool.before_clock(), 5u);
  EXPECT_EQ(pool.to_start(0.0, /*users=*/5, 0, 0), 0u);
}

TEST(VUserPool, InRampModeUsersStartOneAfterAnotherOverTheRampUp) {
  VUserPool pool(plan_of(40, /*vusers=*/4, core::Mode::Ramp, /*ramp_up_secs=*/2));

  EXPECT_EQ(pool.before_clock(), 1u);
  EXPECT_EQ(pool.start_time(1), 0.5);
  EXPECT_EQ(pool.start_time(3), 1.5);
  EXPECT_EQ(pool.to_start(0.4, /*users=*/1, 0, 0), 0u);
  EXPECT_EQ(pool.to_start(0.5, /*users=*/1, 0, 0), 1u);
  EXPECT_EQ(pool.to_start(1.6, /*users=*/2, 0, 0), 2u);
  EXPECT_EQ(pool.to_start(9.0, /*users=*/4, 0, 0), 0u);
}

TEST(VUserPool, AStaggeredUserStartsEarlyWhenEveryStartedUserIsBusy) {
  VUserPool pool(plan_of(40, /*vusers=*/4, core::Mode::Ramp, /*ramp_up_secs=*/2));

  EXPECT_EQ(pool.to_start(0.1, /*users=*/1, /*starting=*/0, /*unserved=*/2), 2u);
  EXPECT_EQ(pool.to_start(0.1, /*users=*/1, 0, /*unserved=*/10), 3u);  // never past the pool
}

TEST(VUserPool, GrowsByOneUserPerIterationThatFoundEveryUserBusy) {
  VUserPool pool(plan_of(50));

  EXPECT_EQ(pool.to_start(1.0, /*users=*/5, /*starting=*/0, /*unserved=*/3), 3u);
}

TEST(VUserPool, UsersStillInOnStartCountAsComing) {
  VUserPool pool(plan_of(50));

  EXPECT_EQ(pool.to_start(1.0, /*users=*/8, /*starting=*/3, /*unserved=*/3), 0u);
  EXPECT_EQ(pool.to_start(1.0, /*users=*/8, /*starting=*/3, /*unserved=*/5), 2u);
}

TEST(VUserPool, NeverGrowsPastTheCap) {
  VUserPool pool(plan_of(50));

  EXPECT_EQ(pool.to_start(1.0, /*users=*/VUserPool::kGrowCap - 2, 0, /*unserved=*/100), 2u);
  EXPECT_EQ(pool.to_start(1.0, /*users=*/VUserPool::kGrowCap, 0, /*unserved=*/100), 0u);
}

TEST(VUserPool, AFixedPoolLargerThanTheGrowCapIsKept) {
  VUserPool pool(plan_of(50, /*vusers=*/5000));

  EXPECT_EQ(pool.cap(), 5000u);
  EXPECT_EQ(pool.before_clock(), 5000u);
}

}  // namespace
}  // namespace lp::python
