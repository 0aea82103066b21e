#include "metrics/prometheus.hpp"

#include <gtest/gtest.h>

#include <string>

namespace lp::metrics {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

Snapshot sample_snapshot() {
  Snapshot s;
  s.current_rps = 998.756;
  s.target_rps = 1'000;
  s.requests_total = 12'345;
  s.errors_total = 17;
  s.active_workers = 4;
  s.latency = {1.0, 2.5, 2.0, 9.0, 12.25, 40.0, 99.125, 250.0};
  s.errors_by_kind[static_cast<std::size_t>(ErrorKind::Timeout)] = 17;
  s.late = 3;
  s.dropped = 1;
  s.tasks = {{"home", 10'000, 7, {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}}};
  return s;
}

TEST(Prometheus, WritesEveryRunMetricWithHelpAndType) {
  const Snapshot s = sample_snapshot();

  const std::string text = to_prometheus(s);

  EXPECT_TRUE(has_line(text, "# TYPE loadpilot_rps_actual gauge")) << text;
  EXPECT_TRUE(has_line(text, "loadpilot_rps_actual 998.76"));
  EXPECT_TRUE(has_line(text, "# TYPE loadpilot_rps_target gauge"));
  EXPECT_TRUE(has_line(text, "loadpilot_rps_target 1000"));
  EXPECT_TRUE(has_line(text, "# TYPE loadpilot_requests_total counter"));
  EXPECT_TRUE(has_line(text, "loadpilot_requests_total 12345"));
  EXPECT_TRUE(has_line(text, "# TYPE loadpilot_errors_total counter"));
  EXPECT_TRUE(has_line(text, "loadpilot_errors_total 17"));
  EXPECT_TRUE(has_line(text, "loadpilot_active_workers 4"));
  EXPECT_TRUE(has_line(text, "loadpilot_latency_max_ms 250"));
  EXPECT_TRUE(has_line(text, "loadpilot_dropped_total 1"));
  EXPECT_NE(text.find("# HELP loadpilot_requests_total "), std::string::npos);
}

TEST(Prometheus, WritesLatencyByQuantile) {
  const Snapshot s = sample_snapshot();

  const std::string text = to_prometheus(s);

  EXPECT_TRUE(has_line(text, "loadpilot_latency_ms{quantile=\"0.5\"} 2"));
  EXPECT_TRUE(has_line(text, "loadpilot_latency_ms{quantile=\"0.9\"} 9"));
  EXPECT_TRUE(has_line(text, "loadpilot_latency_ms{quantile=\"0.95\"} 12.25"));
  EXPECT_TRUE(has_line(text, "loadpilot_latency_ms{quantile=\"0.99\"} 40"));
  EXPECT_TRUE(has_line(text, "loadpilot_latency_ms{quantile=\"0.999\"} 99.125"));
}

TEST(Prometheus, WritesEveryErrorKindEvenAtZero) {
  const Snapshot s = sample_snapshot();

  const std::string text = to_prometheus(s);

  EXPECT_TRUE(has_line(text, "loadpilot_errors_by_kind_total{kind=\"timeout\"} 17"));
  for (const char* kind :
       {"connect", "reset", "tls", "http_4xx", "http_5xx", "protocol", "check"}) {
    EXPECT_TRUE(has_line(text, std::string("loadpilot_errors_by_kind_total{kind=\"") + kind +
                                   "\"} 0"))
        << kind;
  }
}

TEST(Prometheus, WritesPerTaskSeries) {
  const Snapshot s = sample_snapshot();

  const std::string text = to_prometheus(s);

  EXPECT_TRUE(has_line(text, "loadpilot_task_requests_total{task=\"home\"} 10000"));
  EXPECT_TRUE(has_line(text, "loadpilot_task_errors_total{task=\"home\"} 7"));
  EXPECT_TRUE(has_line(text, "loadpilot_task_latency_ms{task=\"home\",quantile=\"0.99\"} 6"));
}

TEST(Prometheus, EscapesBackslashQuoteAndNewlineInLabels) {
  Snapshot s;
  s.tasks = {{"a\\b \"c\"\nd", 1, 0, {}}};

  const std::string text = to_prometheus(s);

  EXPECT_TRUE(has_line(text, R"(loadpilot_task_requests_total{task="a\\b \"c\"\nd"} 1)"))
      << text;
}

TEST(Prometheus, DeclaresEachFamilyOnceAndEndsWithANewline) {
  Snapshot s = sample_snapshot();
  s.tasks.push_back({"search", 1, 0, {}});

  const std::string text = to_prometheus(s);

  const std::string type_line = "# TYPE loadpilot_task_latency_ms gauge\n";
  const auto first = text.find(type_line);
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(text.find(type_line, first + 1), std::string::npos);
  EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace lp::metrics
