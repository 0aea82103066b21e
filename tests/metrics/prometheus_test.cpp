#include "metrics/prometheus.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace lp::metrics {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

/// The value of the sample line that starts with `prefix` (name and labels).
double value_of(const std::string& text, const std::string& prefix) {
  const auto at = ("\n" + text).find("\n" + prefix + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + prefix.size() + 1));
}

struct SampleRun {
  Snapshot snapshot;
  RunStats stats{2};
};

SampleRun sample_run() {
  SampleRun r;
  r.snapshot.phase = "steady";
  r.snapshot.elapsed_secs = 12.5;
  r.snapshot.interval.rps = 998.75;
  r.snapshot.target_rps = 1'000;
  r.snapshot.active_workers = 4;
  r.snapshot.in_flight = 3;
  r.snapshot.interval.latency.p99_ms = 40.0;
  r.snapshot.tasks = {{"home", 0, 0, {}}, {"search", 0, 0, {}}};
  for (std::uint64_t us : {100, 1'000, 5'000}) r.stats.tasks[0].record_ok(us, us);
  r.stats.tasks[0].record_http_error(ErrorKind::Http5xx, 2'000, 1'900);
  r.stats.tasks[1].record_failure(ErrorKind::Connect, 0);
  r.stats.iterations = 5;
  r.stats.dropped = 1;
  return r;
}

ExpositionInfo info() { return {"Shop", "http://127.0.0.1:8000", "static", "ramp", "0.1.0"}; }

TEST(Prometheus, ActiveAgentsAreTheSnapshotsLiveAgents) {
  SampleRun r = sample_run();
  EXPECT_TRUE(has_line(to_prometheus(r.snapshot, r.stats, info()), "loadpilot_active_agents 0"));  // this machine

  for (const char* state : {"running", "rejoined", "waiting", "suspect", "timed_out", "done"}) {
    r.snapshot.agents.push_back(AgentSnapshot{std::string("agent-") + state, state, 10, std::nullopt});
  }

  EXPECT_TRUE(has_line(to_prometheus(r.snapshot, r.stats, info()), "loadpilot_active_agents 3"));
}

TEST(Prometheus, WritesEveryFamilyWithHelpAndType) {
  const SampleRun r = sample_run();

  const std::string text = to_prometheus(r.snapshot, r.stats, info());

  for (const char* family : {"loadpilot_info gauge", "loadpilot_phase gauge", "loadpilot_elapsed_seconds gauge",
                             "loadpilot_rps_current gauge", "loadpilot_rps_target gauge",
                             "loadpilot_requests_total counter", "loadpilot_errors_total counter",
                             "loadpilot_iterations_total counter", "loadpilot_late_total counter",
                             "loadpilot_dropped_total counter", "loadpilot_in_flight gauge",
                             "loadpilot_connections gauge", "loadpilot_active_workers gauge",
                             "loadpilot_active_agents gauge", "loadpilot_request_duration_seconds histogram",
                             "loadpilot_latency_seconds gauge"}) {
    EXPECT_TRUE(has_line(text, std::string("# TYPE ") + family)) << family;
  }
  EXPECT_TRUE(has_line(text, "loadpilot_rps_current 998.75"));
  EXPECT_TRUE(has_line(text, "loadpilot_rps_target 1000"));
  EXPECT_TRUE(has_line(text, "loadpilot_active_workers 4"));
  EXPECT_TRUE(has_line(text, "loadpilot_dropped_total 1"));
  EXPECT_TRUE(has_line(text, "loadpilot_latency_seconds{percentile=\"99\"} 0.04"));
  EXPECT_TRUE(has_line(text, "loadpilot_info{scenario=\"Shop\",target=\"http://127.0.0.1:8000\",mode=\"static\","
                             "profile=\"ramp\",version=\"0.1.0\"} 1"));
  EXPECT_EQ(text.back(), '\n');
}

TEST(Prometheus, CountsRequestsAndErrorsPerTaskAndKind) {
  const SampleRun r = sample_run();

  const std::string text = to_prometheus(r.snapshot, r.stats, info());

  EXPECT_TRUE(has_line(text, "loadpilot_requests_total{task=\"home\"} 4"));
  EXPECT_TRUE(has_line(text, "loadpilot_requests_total{task=\"search\"} 1"));
  EXPECT_TRUE(has_line(text, "loadpilot_errors_total{task=\"home\",kind=\"http_5xx\"} 1"));
  EXPECT_TRUE(has_line(text, "loadpilot_errors_total{task=\"search\",kind=\"connect\"} 1"));
  EXPECT_TRUE(has_line(text, "loadpilot_errors_total{task=\"search\",kind=\"timeout\"} 0"));  // every kind, from 0
}

TEST(Prometheus, PhaseIsOneHot) {
  const SampleRun r = sample_run();

  const std::string text = to_prometheus(r.snapshot, r.stats, info());

  EXPECT_TRUE(has_line(text, "loadpilot_phase{phase=\"steady\"} 1"));
  EXPECT_TRUE(has_line(text, "loadpilot_phase{phase=\"ramp_up\"} 0"));
  EXPECT_TRUE(has_line(text, "loadpilot_phase{phase=\"done\"} 0"));
}

TEST(Prometheus, LatencyHistogramBucketsAreCumulativeAndExact) {
  const SampleRun r = sample_run();  // home: 100 µs, 1 ms, 2 ms (a 500), 5 ms

  const std::string text = to_prometheus(r.snapshot, r.stats, info());

  const std::string b = "loadpilot_request_duration_seconds_bucket{task=\"home\",le=";
  EXPECT_TRUE(has_line(text, b + "\"0.000096\"} 0"));
  EXPECT_TRUE(has_line(text, b + "\"0.000112\"} 1"));
  EXPECT_TRUE(has_line(text, b + "\"0.001024\"} 2"));
  EXPECT_TRUE(has_line(text, b + "\"0.002048\"} 3"));
  EXPECT_TRUE(has_line(text, b + "\"0.00512\"} 4"));
  EXPECT_TRUE(has_line(text, b + "\"67.108864\"} 4"));
  EXPECT_TRUE(has_line(text, b + "\"+Inf\"} 4"));
  EXPECT_TRUE(has_line(text, "loadpilot_request_duration_seconds_count{task=\"home\"} 4"));
  EXPECT_TRUE(has_line(text, "loadpilot_request_duration_seconds_sum{task=\"home\"} 0.0081"));
  EXPECT_TRUE(has_line(text, "loadpilot_request_duration_seconds_count{task=\"search\"} 0"));  // a connect error has no latency
}

TEST(Prometheus, EveryBucketBoundIsAHistogramBucketBoundary) {
  const auto& bounds = duration_bucket_bounds_us();

  ASSERT_EQ(bounds.size(), 89u);
  EXPECT_EQ(bounds.front(), 16u);
  EXPECT_EQ(bounds.back(), std::uint64_t{1} << 26);
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    EXPECT_EQ(Histogram::bucket_lower(Histogram::bucket_of(bounds[i])), bounds[i]) << bounds[i];
    if (i > 0) EXPECT_LT(bounds[i - 1], bounds[i]);
  }
}

TEST(Prometheus, BucketsOfMergedStatsAreTheSumOfEachAgents) {
  SampleRun a = sample_run(), b = sample_run();
  for (std::uint64_t us : {150, 7'777, 90'000}) b.stats.tasks[0].record_ok(us, us);
  RunStats merged = a.stats;
  merged.merge(b.stats);

  const std::string ta = to_prometheus(a.snapshot, a.stats, info());
  const std::string tb = to_prometheus(b.snapshot, b.stats, info());
  const std::string tm = to_prometheus(a.snapshot, merged, info());

  const std::regex bucket(R"re(loadpilot_request_duration_seconds_bucket\{task="home",le="([^"]+)"\} (\d+))re");
  std::size_t checked = 0;
  for (std::sregex_iterator it(tm.begin(), tm.end(), bucket), end; it != end; ++it, ++checked) {
    const std::string prefix = "loadpilot_request_duration_seconds_bucket{task=\"home\",le=\"" + (*it)[1].str() + "\"}";
    EXPECT_EQ(std::stoull((*it)[2]), static_cast<unsigned long long>(value_of(ta, prefix) + value_of(tb, prefix)))
        << prefix;
  }
  EXPECT_EQ(checked, 90u);
}

TEST(Prometheus, EscapesBackslashQuoteAndNewlineInLabels) {
  SampleRun r = sample_run();
  r.snapshot.tasks[0].name = "a\\b \"c\"\nd";

  const std::string text = to_prometheus(r.snapshot, r.stats, info());

  EXPECT_TRUE(has_line(text, R"(loadpilot_requests_total{task="a\\b \"c\"\nd"} 4)")) << text;
}

TEST(Prometheus, DeclaresEachFamilyOnce) {
  const SampleRun r = sample_run();

  const std::string text = to_prometheus(r.snapshot, r.stats, info());

  const std::string type_line = "# TYPE loadpilot_request_duration_seconds histogram\n";
  const auto first = text.find(type_line);
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(text.find(type_line, first + 1), std::string::npos);
}

}  // namespace
}  // namespace lp::metrics
