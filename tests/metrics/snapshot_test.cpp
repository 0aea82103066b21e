#include "metrics/snapshot.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace lp::metrics {
namespace {

using json = nlohmann::ordered_json;  // keeps key order, which the test checks

LatencySummary latency(double base_ms) {
  return {base_ms, base_ms + 0.5, base_ms + 1, base_ms + 2, base_ms + 3, base_ms + 4,
          base_ms + 5.125, base_ms + 6.001};
}

// Every value already at the wire's precision, so a round trip is exact.
Snapshot sample_snapshot() {
  Snapshot s;
  s.timestamp_secs = 1'732'611'200.25;
  s.elapsed_secs = 12.5;
  s.current_rps = 998.75;
  s.target_rps = 1'000;
  s.requests_total = 12'345;
  s.errors_total = 17;
  s.active_workers = 4;
  s.phase = "steady";
  s.latency = latency(1.25);
  s.service = latency(0.75);
  s.send_lag = latency(0.05);
  s.send_early = latency(0.02);
  for (std::size_t i = 0; i < kErrorKindCount; ++i) s.errors_by_kind[i] = i * 2;
  s.late = 3;
  s.dropped = 1;
  s.in_flight = 8;
  s.connections = 16;
  s.tasks = {{"home", 10'000, 7, latency(1.0), 0}, {"checkout", 2'345, 10, latency(20.0), 3}};
  s.load_secs = 12.5;
  s.iterations = 12'000;
  s.stopped = true;
  s.success = latency(1.0);
  s.errors_without_request = 3;
  s.interval = {1.001, 1'000, 2, 999.0, latency(20.0)};
  return s;
}

TEST(LatencySummary, ConvertsMicrosecondsToMilliseconds) {
  Histogram h;
  for (std::uint64_t v : {1'234u, 2'000u, 102u}) h.record(v);

  const LatencySummary s = LatencySummary::of(h);

  EXPECT_DOUBLE_EQ(s.min_ms, 0.102);
  EXPECT_DOUBLE_EQ(s.max_ms, 2.0);
  EXPECT_DOUBLE_EQ(s.mean_ms, 1.112);
  EXPECT_DOUBLE_EQ(s.p50_ms, double(h.value_at_quantile(0.5)) / 1000.0);
  EXPECT_DOUBLE_EQ(s.p999_ms, double(h.value_at_quantile(0.999)) / 1000.0);
}

TEST(LatencySummary, OfAnEmptyHistogramIsAllZeros) {
  const Histogram empty;

  const LatencySummary s = LatencySummary::of(empty);

  EXPECT_EQ(s, LatencySummary{});
}

TEST(MakeSnapshot, TakesTotalsFromEveryTaskAndNamesThem) {
  RunStats stats(2);
  stats.tasks[0].record_ok(1'000, 900);
  stats.tasks[1].record_ok(3'000, 2'000);
  stats.tasks[1].record_error(ErrorKind::Http4xx);
  stats.late = 5;
  stats.dropped = 6;
  stats.in_flight = 7;
  stats.connections = 8;

  const Snapshot s = make_snapshot(stats, {"home", "search"});

  EXPECT_EQ(s.requests_total, 3u);
  EXPECT_EQ(s.errors_total, 1u);
  EXPECT_EQ(s.errors_by_kind[static_cast<std::size_t>(ErrorKind::Http4xx)], 1u);
  EXPECT_DOUBLE_EQ(s.latency.max_ms, 3.0);
  EXPECT_DOUBLE_EQ(s.service.min_ms, 0.9);
  EXPECT_EQ(s.late, 5u);
  EXPECT_EQ(s.dropped, 6u);
  EXPECT_EQ(s.in_flight, 7u);
  EXPECT_EQ(s.connections, 8u);
  ASSERT_EQ(s.tasks.size(), 2u);
  EXPECT_EQ(s.tasks[1].name, "search");
  EXPECT_EQ(s.tasks[1].requests, 2u);
  EXPECT_EQ(s.tasks[1].errors, 1u);
  EXPECT_DOUBLE_EQ(s.tasks[0].latency.p50_ms, 1.0);
}

TEST(MakeSnapshot, LeavesTheCallersFieldsAtTheirDefaults) {
  const RunStats stats(1);

  const Snapshot s = make_snapshot(stats, {"home"});

  EXPECT_EQ(s.timestamp_secs, 0.0);
  EXPECT_EQ(s.elapsed_secs, 0.0);
  EXPECT_EQ(s.current_rps, 0.0);
  EXPECT_EQ(s.target_rps, 0.0);
  EXPECT_EQ(s.active_workers, 0u);
  EXPECT_EQ(s.phase, "");
}

TEST(MakeSnapshot, NamesTasksWithoutANameByIndex) {
  const RunStats stats(2);

  const Snapshot s = make_snapshot(stats, {"home"});

  ASSERT_EQ(s.tasks.size(), 2u);
  EXPECT_EQ(s.tasks[1].name, "task_1");
}

TEST(Snapshot, ParsingItsJsonGivesItBack) {
  const Snapshot original = sample_snapshot();

  const std::optional<Snapshot> parsed = parse_snapshot(original.to_json());

  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, original);
}

TEST(Snapshot, JsonHasExactlyTheDocumentedKeys) {
  const json j = json::parse(sample_snapshot().to_json());

  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  std::vector<std::string> latency_keys;
  for (const auto& [key, value] : j["latency"].items()) latency_keys.push_back(key);
  std::vector<std::string> task_keys;
  for (const auto& [key, value] : j["tasks"][0].items()) task_keys.push_back(key);

  std::vector<std::string> interval_keys;
  for (const auto& [key, value] : j["interval"].items()) interval_keys.push_back(key);

  EXPECT_EQ(keys, (std::vector<std::string>{
                      "timestamp_secs", "elapsed_secs", "load_secs", "current_rps", "target_rps",
                      "requests_total", "errors_total", "iterations", "active_workers", "phase",
                      "stopped", "interval", "latency", "success_latency", "service_latency", "send_lag", "send_early",
                      "errors_by_kind", "errors_without_request", "late", "dropped", "in_flight",
                      "connections", "tasks"}));
  EXPECT_EQ(latency_keys, (std::vector<std::string>{"min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms",
                                                    "p99_ms", "p999_ms", "max_ms", "count"}));
  EXPECT_EQ(task_keys, (std::vector<std::string>{"name", "requests", "errors", "errors_without_request",
                                                 "latency"}));
  EXPECT_EQ(interval_keys, (std::vector<std::string>{"secs", "requests", "errors", "rps", "latency"}));
  EXPECT_TRUE(j["service_latency"].contains("p999_ms"));
  EXPECT_TRUE(j["success_latency"].contains("p999_ms"));
}

TEST(Snapshot, JsonListsEveryErrorKindEvenAtZero) {
  const Snapshot empty;

  const json j = json::parse(empty.to_json());

  ASSERT_EQ(j["errors_by_kind"].size(), kErrorKindCount);
  for (const char* kind :
       {"connect", "timeout", "reset", "tls", "http_4xx", "http_5xx", "protocol", "check", "interrupted"}) {
    EXPECT_EQ(j["errors_by_kind"].value(kind, 99u), 0u) << kind;
  }
}

TEST(Snapshot, JsonRoundsMillisecondsToThreeDecimalsAndRatesToTwo) {
  Snapshot s;
  s.current_rps = 1'234.56789;
  s.latency.mean_ms = 12.3456789;
  s.elapsed_secs = 1.23456;

  const std::string line = s.to_json();

  EXPECT_NE(line.find("\"current_rps\":1234.57"), std::string::npos) << line;
  EXPECT_NE(line.find("\"mean_ms\":12.346"), std::string::npos) << line;
  EXPECT_NE(line.find("\"elapsed_secs\":1.235"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Snapshot, JsonReplacesInvalidUtf8InsteadOfThrowing) {
  Snapshot s;
  s.tasks.push_back({"bad\xff name", 1, 0, {}});

  const std::string line = s.to_json();

  const std::optional<Snapshot> parsed = parse_snapshot(line);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->tasks.at(0).name, "bad\xEF\xBF\xBD name");
}

TEST(ParseSnapshot, FillsMissingKeysWithDefaults) {
  const std::optional<Snapshot> parsed = parse_snapshot(
      R"({"requests_total": 5, "latency": {"p99_ms": 12.5}, "tasks": [{"name": "a"}]})");

  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->requests_total, 5u);
  EXPECT_EQ(parsed->latency.p99_ms, 12.5);
  EXPECT_EQ(parsed->latency.p50_ms, 0.0);
  EXPECT_EQ(parsed->errors_total, 0u);
  ASSERT_EQ(parsed->tasks.size(), 1u);
  EXPECT_EQ(parsed->tasks[0].name, "a");
  EXPECT_EQ(parsed->tasks[0].requests, 0u);
}

TEST(ParseSnapshot, IgnoresValuesOfTheWrongType) {
  const std::optional<Snapshot> parsed = parse_snapshot(
      R"({"requests_total": -3, "errors_total": "7", "current_rps": null, "phase": 1,
          "errors_by_kind": {"timeout": 4, "unknown_kind": 9}, "tasks": [1, {"name": "x"}]})");

  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->requests_total, 0u);
  EXPECT_EQ(parsed->errors_total, 0u);
  EXPECT_EQ(parsed->current_rps, 0.0);
  EXPECT_EQ(parsed->phase, "");
  EXPECT_EQ(parsed->errors_by_kind[static_cast<std::size_t>(ErrorKind::Timeout)], 4u);
  ASSERT_EQ(parsed->tasks.size(), 1u);
  EXPECT_EQ(parsed->tasks[0].name, "x");
}

TEST(ParseSnapshot, RejectsLinesThatAreNotAJsonObject) {
  EXPECT_FALSE(parse_snapshot("").has_value());
  EXPECT_FALSE(parse_snapshot("{\"requests_total\": 1").has_value());
  EXPECT_FALSE(parse_snapshot("[1, 2]").has_value());
  EXPECT_FALSE(parse_snapshot("42").has_value());
}

}  // namespace
}  // namespace lp::metrics

namespace lp::metrics {
namespace {

TEST(Snapshot, ADistributedSnapshotCarriesItsAgentsAndStartSkewAndParsesBack) {
  Snapshot s;
  s.phase = "steady";
  s.agents = {{"agent-0", "running", 1'200, 0.0}, {"agent-1", "timed_out", 310, 0.412}, {"agent-2", "waiting", 0, {}}};
  s.start_skew_ms = 0.412;

  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(s.to_json());
  const std::optional<Snapshot> parsed = parse_snapshot(s.to_json());

  ASSERT_TRUE(j.contains("agents"));
  EXPECT_EQ(j["agents"][1]["state"], "timed_out");
  EXPECT_EQ(j["agents"][1]["requests"], 310);
  EXPECT_TRUE(j["agents"][2]["start_skew_ms"].is_null());
  EXPECT_EQ(j["start_skew_ms"], 0.412);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, s);
}

TEST(Snapshot, ALocalSnapshotHasNoAgentKeys) {
  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(Snapshot{}.to_json());

  EXPECT_FALSE(j.contains("agents"));
  EXPECT_FALSE(j.contains("start_skew_ms"));
}

}  // namespace
}  // namespace lp::metrics
