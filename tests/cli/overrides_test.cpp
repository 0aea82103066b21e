#include "cli/overrides.hpp"

#include <gtest/gtest.h>

#include "core/validate.hpp"

namespace lp::cli {
namespace {

TEST(Overrides, ReplaceTheScenariosSettings) {
  std::vector<std::string> problems;
  core::Plan plan;

  const auto o = parse_setting_flags({"50", "2m30s", "15s", "step", "4"}, problems);
  apply_overrides(o, plan);

  EXPECT_TRUE(problems.empty());
  EXPECT_DOUBLE_EQ(plan.rps, 50);
  EXPECT_DOUBLE_EQ(plan.duration_secs, 150);
  EXPECT_DOUBLE_EQ(plan.ramp_up_secs, 15);
  EXPECT_EQ(plan.mode, core::Mode::Step);
  EXPECT_EQ(plan.steps, 4u);
}

TEST(Overrides, UnsetFlagsLeaveTheScenarioAlone) {
  std::vector<std::string> problems;
  core::Plan plan;
  plan.rps = 7;

  apply_overrides(parse_setting_flags({}, problems), plan);

  EXPECT_DOUBLE_EQ(plan.rps, 7);
  EXPECT_DOUBLE_EQ(plan.duration_secs, 60);
}

TEST(Overrides, EveryBadFlagIsListedLikeTheScenariosOwn) {
  std::vector<std::string> problems;

  parse_setting_flags({"fast", "2 minutes", "x", "burst", "0"}, problems);

  EXPECT_EQ(problems, (std::vector<std::string>{
                          "--rps must be a number, got 'fast'",
                          "--duration is not a duration: '2 minutes' (use e.g. \"90\", \"500ms\", \"30s\", \"2m30s\")",
                          "--ramp-up is not a duration: 'x' (use e.g. \"90\", \"500ms\", \"30s\", \"2m30s\")",
                          "--mode must be one of ramp, constant, step, spike, got 'burst'",
                          "--steps must be a whole number >= 1, got '0'"}));
}

TEST(Overrides, RangesAreCheckedWithThePlan) {
  std::vector<std::string> problems;
  core::Plan plan;
  plan.duration_secs = 60;
  plan.ramp_up_secs = 10;

  apply_overrides(parse_setting_flags({"0", "5s", "", "", ""}, problems), plan);
  const auto invalid = core::validate(plan);

  EXPECT_TRUE(problems.empty());
  EXPECT_NE(std::find(invalid.begin(), invalid.end(), "rps must be > 0, got 0"), invalid.end());
  EXPECT_NE(std::find(invalid.begin(), invalid.end(), "ramp_up (10s) exceeds duration (5s)"), invalid.end());
}

TEST(Overrides, DescribedWithTheScenariosValue) {
  std::vector<std::string> problems;
  core::Plan before;
  before.rps = 100;

  const auto text = describe_overrides(parse_setting_flags({"50", "30s", "", "constant", ""}, problems), before);

  EXPECT_EQ(text, (std::vector<std::string>{"rps 50 (scenario: 100)", "duration 30s (scenario: 1m)",
                                            "mode constant (scenario: ramp)"}));
}

}  // namespace
}  // namespace lp::cli
