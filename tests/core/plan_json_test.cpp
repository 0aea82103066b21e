#include "core/plan_json.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using lp::core::Headers;
using lp::core::Plan;

namespace {

/// Every field away from its default, so a field the JSON forgets fails the round trip.
Plan full_plan() {
  Plan p;
  p.name = "Checkout";
  p.rps = 12.5;
  p.duration_secs = 90;
  p.ramp_up_secs = 15;
  p.mode = lp::core::Mode::Step;
  p.steps = 4;
  p.target_url = "https://shop.test:8443/base";
  lp::core::Task browse;
  browse.name = "browse";
  browse.weight = 3;
  browse.method = "POST";
  browse.url = "/api/items?q=1";
  // Order and repeated names matter: a server may read the first or the last.
  browse.headers = {{"X-B", "2"}, {"Accept", "a"}, {"X-B", "1"}};
  browse.body_template = "{\"a\":1}";
  browse.requests = {{"POST", "/api/items?q=1", {{"X-B", "2"}, {"X-B", "1"}}, "{\"a\":1}"},
                     {"DELETE", "https://other.test/x", {{"Z", "z"}, {"A", "a"}}, ""}};
  p.tasks.push_back(browse);
  lp::core::Task read;
  read.name = "read";
  read.url = "/r";
  p.tasks.push_back(read);
  lp::core::VUserConfig vu;
  vu.task_headers["browse"] = {{"Authorization", "Bearer t1"}, {"Cookie", "a=1"}, {"Cookie", "b=2"}};
  vu.task_urls["read"] = "/api/v1/projects/7";
  // A user's own calls: two for browse (order, repeated headers, a body), one for read.
  vu.task_calls["browse"] = {{"PATCH", "/api/v1/projects/42", {{"Authorization", "Bearer u1"}, {"X-B", "1"}, {"X-B", "2"}},
                              "{\"description\":\"renamed\"}"},
                             {"GET", "https://other.test/y?q=2", {}, ""}};
  vu.task_calls["read"] = {{"GET", "/api/v1/projects/42", {{"Authorization", "Bearer u1"}}, ""}};
  p.vuser_configs.push_back(vu);
  lp::core::VUserConfig second;  // a user with calls only: the other maps stay empty
  second.task_calls["read"] = {{"HEAD", "/api/v1/projects/43", {{"Authorization", "Bearer u2"}}, ""}};
  p.vuser_configs.push_back(second);
  p.thresholds.p50_ms = 10;
  p.thresholds.p95_ms = 20;
  p.thresholds.p99_ms = 30;
  p.thresholds.max_ms = 40;
  p.thresholds.error_rate = 1.5;
  p.thresholds.dropped_rate = 2.5;
  p.settings.timeout_ms = 1234;
  p.settings.max_connections = 77;
  p.settings.threads = 3;
  p.settings.insecure_tls = true;
  return p;
}

}  // namespace

TEST(PlanJson, RoundTripKeepsEveryField) {
  const Plan plan = full_plan();

  auto back = lp::core::parse_plan_json(lp::core::plan_to_json(plan, /*pretty=*/false));

  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, plan);
}

TEST(PlanJson, HeadersTravelAsOrderedPairsWithRepeatedNames) {
  auto j = nlohmann::json::parse(lp::core::plan_to_json(full_plan(), false));

  EXPECT_EQ(j["tasks"][0]["headers"], nlohmann::json::parse(R"([["X-B","2"],["Accept","a"],["X-B","1"]])"));
  EXPECT_EQ(j["vuser_configs"][0]["task_headers"]["browse"][2], nlohmann::json::parse(R"(["Cookie","b=2"])"));
  EXPECT_EQ(j["vuser_configs"][0]["task_calls"]["browse"][0]["headers"],
            nlohmann::json::parse(R"([["Authorization","Bearer u1"],["X-B","1"],["X-B","2"]])"));
}

TEST(PlanJson, WritesTaskCallsOnlyForUsersThatHaveThem) {
  Plan plan = full_plan();
  plan.vuser_configs.push_back({});

  auto j = nlohmann::json::parse(lp::core::plan_to_json(plan, false));

  EXPECT_TRUE(j["vuser_configs"][1].contains("task_calls"));
  EXPECT_FALSE(j["vuser_configs"][2].contains("task_calls"));
}

TEST(PlanJson, NamesABadTaskCallsEntry) {
  auto plan = lp::core::parse_plan_json(R"({"target_url": "http://h", "tasks": [{"name": "t", "url": "/"}],
      "vuser_configs": [{"task_calls": {"t": [], "u": [{"method": "GET", "url": "/x"}], "v": "nope"}},
                        {"task_calls": {"t": [{"url": 7}]}}]})");

  ASSERT_FALSE(plan.ok());
  const std::string& m = plan.error().message;
  EXPECT_NE(m.find("vuser_configs[0]: task_calls['t'] must be a non-empty list of calls, got []"), std::string::npos) << m;
  EXPECT_NE(m.find("vuser_configs[0]: task_calls['v'] must be a non-empty list of calls"), std::string::npos) << m;
  EXPECT_NE(m.find("vuser_configs[0]: task_calls names unknown task 'u'"), std::string::npos) << m;
  EXPECT_NE(m.find("vuser_configs[1].task_calls['t'][0]: url must be a string, got 7"), std::string::npos) << m;
}

TEST(PlanJson, AcceptsHeadersAsAnObjectInFileOrder) {
  auto plan = lp::core::parse_plan_json(R"({"target_url": "http://h", "tasks": [
      {"name": "t", "url": "/", "headers": {"Zeta": "1", "Alpha": "2"}}]})");

  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->tasks[0].headers, (Headers{{"Zeta", "1"}, {"Alpha", "2"}}));
}

TEST(PlanJson, NamesABadHeaderPair) {
  auto plan = lp::core::parse_plan_json(R"({"target_url": "http://h", "tasks": [
      {"name": "t", "url": "/", "headers": [["A", "1"], ["B"]]}]})");

  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("tasks[0]: headers[1] must be a [name, value] pair of strings"),
            std::string::npos)
      << plan.error().message;
}

TEST(PlanJson, WritesExactlyTheDocumentedKeys) {
  auto j = nlohmann::json::parse(lp::core::plan_to_json(full_plan(), false));

  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());

  // A new Plan field must be added here, to full_plan() and to docs/architecture.md.
  EXPECT_EQ(keys, (std::vector<std::string>{"duration_secs", "insecure_tls", "max_connections", "mode", "name",
                                            "ramp_up_secs", "rps", "steps", "target_url", "tasks", "threads",
                                            "thresholds", "timeout_ms", "vuser_configs"}));
}
