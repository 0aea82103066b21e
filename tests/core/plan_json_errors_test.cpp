// Plans that are not valid JSON are rejected as values, never by an exception: the
// cases fuzz.plan_json found (tests/fuzz/corpus/plan_json/ keeps their inputs).

#include "core/plan_json.hpp"

#include <gtest/gtest.h>

using lp::core::parse_plan_json;

TEST(PlanJsonErrors, ANumberTooLargeForADoubleIsAnErrorNotAnException) {
  const char* text = R"({"name": "big", "rps": 1e400, "tasks": []})";

  auto plan = parse_plan_json(text);

  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("plan is not valid JSON"), std::string::npos) << plan.error().message;
  EXPECT_NE(plan.error().message.find("1e400"), std::string::npos) << plan.error().message;
}
