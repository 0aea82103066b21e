#include "cli/junit.hpp"

#include <gtest/gtest.h>

namespace lp::cli {
namespace {

ResultsInput run_with(std::vector<metrics::ThresholdResult> thresholds) {
  ResultsInput in;
  in.scenario = "Shop";
  in.target_url = "http://127.0.0.1:8000/?a=1&b=2";
  in.started_at = 1'700'000'000.0;
  in.finished_at = 1'700'000'030.25;
  in.final.requests_total = 3000;
  in.final.load_secs = 30;
  in.thresholds = std::move(thresholds);
  return in;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Junit, OneTestCasePerThresholdWithAFailureForEachBreach) {
  const std::string xml = junit_xml(run_with({{"p99_ms", 500, 612.3456, false, false, {}},
                                              {"error_rate", 1, 0.2, true, false, {}},
                                              {"dropped_rate", 1, 0, true, true, {}}}));

  EXPECT_EQ(count(xml, "<testcase "), 3u);
  EXPECT_EQ(count(xml, "<failure "), 1u);
  EXPECT_NE(xml.find("<testsuites name=\"loadpilot\" tests=\"3\" failures=\"1\" errors=\"0\" time=\"30.250\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<testcase name=\"p99_ms &lt;= 500 ms\" classname=\"loadpilot.Shop.thresholds\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("message=\"p99_ms was 612.346 ms, over the limit of 500 ms\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"dropped_rate &lt;= 1 % (default)\""), std::string::npos);
  EXPECT_NE(xml.find("timestamp=\"2023-11-14T22:13:20\""), std::string::npos);
}

TEST(Junit, ALimitWithNothingToJudgeSaysWhy) {
  const std::string xml = junit_xml(run_with({{"p99_ms", 200, 0, false, false, metrics::kNoResponsesReason}}));

  EXPECT_NE(xml.find("message=\"p99_ms: no responses to measure (limit 200 ms)\""), std::string::npos) << xml;
}

TEST(Junit, PropertiesAreEscaped) {
  ResultsInput in = run_with({});
  in.scenario = "A<\"B\">\x01";

  const std::string xml = junit_xml(in);

  EXPECT_NE(xml.find("value=\"http://127.0.0.1:8000/?a=1&amp;b=2\""), std::string::npos);
  EXPECT_NE(xml.find("name=\"loadpilot.A&lt;&quot;B&quot;&gt;\xef\xbf\xbd\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("tests=\"0\" failures=\"0\""), std::string::npos);
}

}  // namespace
}  // namespace lp::cli
