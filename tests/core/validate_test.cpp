#include "core/validate.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/plan_json.hpp"

using lp::core::Plan;
using lp::core::Task;

namespace {

Plan valid_plan() {
  Plan p;
  p.rps = 10;
  p.duration_secs = 30;
  p.ramp_up_secs = 5;
  p.target_url = "http://127.0.0.1:8000";
  Task t;
  t.name = "browse";
  t.url = "/api/products";
  p.tasks.push_back(t);
  return p;
}

bool has(const std::vector<std::string>& v, const std::string& text) {
  return std::find(v.begin(), v.end(), text) != v.end();
}

}  // namespace

TEST(Validate, AcceptsAValidPlan) {
  EXPECT_TRUE(lp::core::validate(valid_plan()).empty());
}

TEST(Validate, ListsEveryProblemAtOnce) {
  Plan p = valid_plan();
  p.rps = 0;
  p.target_url = "localhost:8000";
  p.ramp_up_secs = 90;
  p.tasks[0].weight = 0;
  p.tasks[0].method = "FETCH";

  auto problems = lp::core::validate(p);

  EXPECT_TRUE(has(problems, "rps must be > 0, got 0"));
  EXPECT_TRUE(has(problems, "target_url must start with http:// or https://, got 'localhost:8000'"));
  EXPECT_TRUE(has(problems, "ramp_up (1m30s) exceeds duration (30s)"));
  EXPECT_TRUE(has(problems, "task 'browse': weight must be > 0, got 0"));
  EXPECT_TRUE(has(problems, "task 'browse': unknown method 'FETCH' (use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)"));
  EXPECT_EQ(problems.size(), 5u);
}

TEST(Validate, AcceptsHeadAndOptions) {
  Plan p = valid_plan();
  p.tasks[0].method = "HEAD";
  p.tasks[0].requests = {{"HEAD", "/a", {}, ""}, {"OPTIONS", "/b", {}, ""}};

  EXPECT_TRUE(lp::core::validate(p).empty());
}

TEST(Validate, MethodsAreCaseSensitive) {
  Plan p = valid_plan();
  p.tasks[0].method = "get";

  EXPECT_TRUE(has(lp::core::validate(p),
                  "task 'browse': unknown method 'get' (use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)"));
}

TEST(Validate, RefusesHeaderValuesWithCrOrLfNamingTaskAndHeader) {
  Plan p = valid_plan();
  p.tasks[0].headers = {{"X-Trace", "abc\r\nX-Injected: 1"}, {"X-Fine", "ok"}};
  Task chained;
  chained.name = "checkout";
  chained.url = "/a";
  chained.requests = {{"GET", "/a", {}, ""}, {"POST", "/b", {{"Authorization", "Bearer t\n"}}, ""}};
  p.tasks.push_back(chained);

  auto problems = lp::core::validate(p);

  EXPECT_TRUE(has(problems, "task 'browse': header 'X-Trace' has a CR, LF or NUL in its value "
                            "(a header value is one line: remove the line break)"));
  EXPECT_TRUE(has(problems, "task 'checkout' call 2: header 'Authorization' has a CR, LF or NUL in its value "
                            "(a header value is one line: remove the line break)"));
  EXPECT_EQ(problems.size(), 2u);
}

TEST(Validate, RefusesBadHeadersOfVirtualUsers) {
  Plan p = valid_plan();
  lp::core::VUserConfig vu;
  vu.task_headers["browse"] = {{"Authorization", "Bearer x\r\n\r\nGET /admin HTTP/1.1"}};
  p.vuser_configs.push_back(vu);

  auto problems = lp::core::validate(p);

  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "vuser_configs[0] task 'browse': header 'Authorization' has a CR, LF or NUL in its value "
                         "(a header value is one line: remove the line break)");
  EXPECT_EQ(problems[0].find("Bearer"), std::string::npos);  // a credential is never echoed
}

TEST(Validate, RefusesBadCallsOfVirtualUsers) {
  Plan p = valid_plan();
  lp::core::VUserConfig vu;
  vu.task_calls["browse"] = {{"GET", "/ok", {}, ""}, {"FETCH", "no-slash", {{"X-A", "1\n2"}}, ""}};
  vu.task_calls["gone"] = {{"GET", "/x", {}, ""}};
  p.vuser_configs.push_back(vu);

  auto problems = lp::core::validate(p);

  EXPECT_TRUE(has(problems, "vuser_configs[0]: task_calls names unknown task 'gone'"));
  EXPECT_TRUE(has(problems, "vuser_configs[0] task 'browse' call 2: header 'X-A' has a CR, LF or NUL in its value "
                            "(a header value is one line: remove the line break)"));
  EXPECT_EQ(problems.size(), 4u);  // and the method and the URL of call 2
}

TEST(Validate, RefusesHeaderNamesThatAreNotTokens) {
  Plan p = valid_plan();
  p.tasks[0].headers = {{"X-A\r\nX-B", "v"}, {"Bad Name", "v"}, {"", "v"}, {"X:Y", "v"}};

  auto problems = lp::core::validate(p);

  const std::string rule = "' is not a token (use letters, digits and !#$%&'*+-.^_`|~; no spaces, colons or line breaks)";
  EXPECT_TRUE(has(problems, "task 'browse': header name 'X-A\\r\\nX-B" + rule));
  EXPECT_TRUE(has(problems, "task 'browse': header name 'Bad Name" + rule));
  EXPECT_TRUE(has(problems, "task 'browse': a header has an empty name"));
  EXPECT_TRUE(has(problems, "task 'browse': header name 'X:Y" + rule));
  EXPECT_EQ(problems.size(), 4u);
}

TEST(HeaderProblem, AcceptsOrdinaryHeaders) {
  EXPECT_EQ(lp::core::header_problem("Content-Type", "application/json; charset=utf-8"), "");
  EXPECT_EQ(lp::core::header_problem("X-Tab", "a\tb"), "");
  EXPECT_EQ(lp::core::header_problem("X-Empty", ""), "");
}

TEST(Validate, RequiresAtLeastOneTask) {
  Plan p = valid_plan();
  p.tasks.clear();

  EXPECT_TRUE(has(lp::core::validate(p), "no tasks: add at least one @task method to the scenario"));
}

TEST(Validate, RampUpLongerThanDurationIsFineOutsideRampMode) {
  Plan p = valid_plan();
  p.mode = lp::core::Mode::Constant;
  p.ramp_up_secs = 90;

  EXPECT_TRUE(lp::core::validate(p).empty());
}

TEST(PlanJson, RoundTripsEveryField) {
  Plan p = valid_plan();
  p.tasks[0].headers = {{"Authorization", "Bearer x"}};
  p.tasks[0].requests = {{"POST", "/api/cart", {{"Content-Type", "application/json"}}, "{\"a\":1}"}};
  lp::core::VUserConfig vu;
  vu.task_headers["browse"] = {{"Authorization", "Bearer y"}};
  vu.task_urls["browse"] = "/api/products/7";
  p.vuser_configs.push_back(vu);
  p.thresholds.p99_ms = 250;
  p.settings.threads = 1;

  auto back = lp::core::parse_plan_json(lp::core::plan_to_json(p));

  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(lp::core::plan_to_json(*back), lp::core::plan_to_json(p));
  EXPECT_EQ(back->vuser_configs[0].task_urls.at("browse"), "/api/products/7");
  EXPECT_EQ(*back->thresholds.p99_ms, 250);
}

TEST(PlanJson, ReportsTypeAndValidationProblemsTogether) {
  auto r = lp::core::parse_plan_json(
      R"({"rps": "fast", "duration_secs": 10, "mode": "wave", "target_url": "ftp://x",
          "tasks": [{"name": "a", "url": "/", "weight": -1}]})");

  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("rps must be a number, got \"fast\""), std::string::npos) << m;
  EXPECT_NE(m.find("mode must be one of ramp, constant, step, spike, got 'wave'"), std::string::npos) << m;
  EXPECT_NE(m.find("target_url must start with http:// or https://"), std::string::npos) << m;
  EXPECT_NE(m.find("task 'a': weight must be > 0, got -1"), std::string::npos) << m;
}

TEST(PlanJson, NamesTheSyntaxError) {
  auto r = lp::core::parse_plan_json("{\"rps\": 10,");

  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("plan is not valid JSON"), std::string::npos);
}

TEST(PlanJson, AcceptsDurationStrings) {
  auto r = lp::core::parse_plan_json(
      R"({"rps": 1, "duration_secs": "2m", "ramp_up_secs": "500ms", "target_url": "http://a",
          "tasks": [{"name": "a", "url": "/"}]})");

  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_DOUBLE_EQ(r->duration_secs, 120);
  EXPECT_DOUBLE_EQ(r->ramp_up_secs, 0.5);
}

TEST(Validate, RejectsMoreStepsThanTheProfileHolds) {
  // 4294967295 steps made the profile allocate a segment each: out of memory under ASan.
  Plan p = valid_plan();
  p.mode = lp::core::Mode::Step;
  p.steps = 4'294'967'295;

  auto problems = lp::core::validate(p);

  EXPECT_TRUE(has(problems, "steps must be <= 1000, got 4294967295")) << ::testing::PrintToString(problems);
}

TEST(Validate, RejectsMoreIterationsThanTheScheduleCountsExactly) {
  // rps 1e300 for 30 s overflowed the iteration count (UBSan: float-cast-overflow in
  // engine::RateSchedule); iteration numbers are exact doubles only up to 2^53.
  Plan p = valid_plan();
  p.rps = 1e300;

  auto problems = lp::core::validate(p);

  ASSERT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems);
  EXPECT_EQ(problems[0], "rps 1e+300 for 35s is more than 2^53 iterations: lower rps or the duration");
}
