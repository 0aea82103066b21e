#include "cli/report.hpp"

#include <gtest/gtest.h>

#include <regex>

#include "cli/results.hpp"

namespace lp::cli {
namespace {

std::string sample_document(const std::string& scenario) {
  ResultsInput in;
  in.scenario = scenario;
  in.target_url = "https://api.example.com";
  in.final.requests_total = 10;
  return results_json(in);
}

TEST(Report, IsOnePageWithTheResultsStyleAndScriptInline) {
  const std::string html = report_html(sample_document("Shop"), {});

  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>LoadPilot report · Shop</title>"), std::string::npos);
  EXPECT_NE(html.find("<script type=\"application/json\" id=\"lp-results\">{"), std::string::npos);
  EXPECT_NE(html.find("\"requests_total\": 10"), std::string::npos);
  EXPECT_NE(html.find("function valueAtQuantile"), std::string::npos);  // the script is inline
  EXPECT_NE(html.find(".chart svg"), std::string::npos);                // and the stylesheet
  EXPECT_NE(html.find("{\"ranges_ms\":[100.0,500.0,1000.0]}"), std::string::npos);
}

TEST(Report, ReferencesNothingOutsideTheFile) {
  const std::string html = report_html(sample_document("Shop"), {});

  // No src=, href= or url( pointing anywhere (the target URL is only data).
  const std::regex remote(R"((src|href)\s*=\s*["']?\s*[a-z]+:|url\(\s*["']?\s*[a-z]+:|@import)", std::regex::icase);
  EXPECT_FALSE(std::regex_search(html, remote));
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);  // the page could not fetch even by mistake
}

TEST(Report, NamesThatLookLikeMarkupCannotEndTheScript) {
  const std::string html = report_html(sample_document("</script><script>alert(1)</script>"), {});

  EXPECT_EQ(html.find("</script><script>alert"), std::string::npos);
  EXPECT_NE(html.find("\\u003c/script>\\u003cscript>alert(1)"), std::string::npos);
  EXPECT_NE(html.find("<title>LoadPilot report · &lt;/script&gt;"), std::string::npos);
}

TEST(Report, RangesAreParsedAscending) {
  auto ok = parse_report_ranges("50, 200ms,1000");
  auto descending = parse_report_ranges("500,100");
  auto junk = parse_report_ranges("100,fast");

  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, (std::vector<double>{50, 200, 1000}));
  ASSERT_FALSE(descending.ok());
  EXPECT_NE(descending.error().message.find("must be ascending"), std::string::npos);
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.error().message.find("'fast' is not a number of milliseconds > 0"), std::string::npos);
}

}  // namespace
}  // namespace lp::cli
