#include "cli/results.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/temp_dir.hpp"

namespace lp::cli {
namespace {

using metrics::ThresholdResult;

namespace fs = std::filesystem;
using lp::testing::read_text;
using lp::testing::TempDir;
using nlohmann::json;

ResultsInput finished_run() {
  ResultsInput in;
  in.scenario = "shop";
  in.target_url = "http://localhost:8000";
  in.plan.rps = 100;
  in.plan.duration_secs = 60;
  in.plan.mode = core::Mode::Constant;
  in.started_at = 1'700'000'000.0;
  in.finished_at = 1'700'000'060.5;
  auto& f = in.final;
  f.elapsed_secs = 60;
  f.requests_total = 6000;
  f.errors_total = 3;
  f.latency = {0.41, 1.23, 1.1, 2.0, 2.5, 4.9, 8.8, 9.1};
  f.service = {0.3, 0.9, 0.8, 1.5, 1.9, 3.1, 6.0, 7.0};
  f.errors_by_kind[static_cast<std::size_t>(metrics::ErrorKind::Timeout)] = 3;
  f.late = 4;
  f.dropped = 1;
  metrics::TaskSnapshot browse;
  browse.name = "browse";
  browse.requests = 6000;
  browse.errors = 3;
  browse.latency = f.latency;
  f.tasks = {browse};
  in.thresholds = {{"p99_ms", 5, 4.9, true, false, {}}, {"error_rate", 0.01, 0.05, false, false, {}}};
  in.setup = SetupStats{20, 1};
  for (int i = 1; i <= 3; ++i) {
    metrics::Snapshot s;
    s.elapsed_secs = i;
    s.current_rps = 99.5;
    s.target_rps = 100;
    s.requests_total = 100u * static_cast<unsigned>(i);
    s.latency.p50_ms = 1.1;
    s.latency.p95_ms = 2.5;
    s.latency.p99_ms = 4.9;
    s.phase = "steady";
    s.interval.secs = 1.0;
    s.interval.requests = 100;
    s.interval.errors = 1;
    s.interval.rps = 100;
    s.interval.latency.p99_ms = 30.0;
    in.timeline.push_back(s);
  }
  return in;
}

TEST(ResultsJson, HasEveryTopLevelKey) {
  const auto doc = json::parse(results_json(finished_run()));

  for (const char* key :
       {"schema_version", "loadpilot", "command_line", "scenario", "target_url", "mode", "plan",
        "started_at", "started_at_iso", "finished_at", "duration_secs", "load_secs", "stopped", "agents", "vusers",
        "requests_total", "errors_total", "error_rate", "errors_without_request", "rps_actual",
        "rps_target", "latency", "success_latency", "service_latency", "errors_by_kind", "iterations",
        "late", "dropped", "dropped_rate", "tasks", "thresholds", "passed", "steps", "knee", "setup",
        "check_failures", "timeline", "histograms"}) {
    EXPECT_TRUE(doc.contains(key)) << key;
  }
}

TEST(ResultsJson, TotalsRatesAndDurationsHaveTheirUnits) {
  const auto doc = json::parse(results_json(finished_run()));

  EXPECT_EQ(doc["scenario"], "shop");
  EXPECT_EQ(doc["target_url"], "http://localhost:8000");
  EXPECT_EQ(doc["started_at"], 1'700'000'000.0);
  EXPECT_EQ(doc["duration_secs"], 60.5);
  EXPECT_EQ(doc["requests_total"], 6000);
  EXPECT_EQ(doc["errors_total"], 3);
  EXPECT_EQ(doc["error_rate"], 0.05);
  EXPECT_EQ(doc["rps_actual"], 100.0);
  EXPECT_EQ(doc["rps_target"], 100.0);
  EXPECT_EQ(doc["plan"], (json{{"mode", "constant"}, {"rps", 100.0}, {"duration_secs", 60.0},
                               {"ramp_up_secs", 0.0}, {"steps", 0}, {"total_secs", 60.0}, {"vusers", 0}}));
  EXPECT_EQ(doc["late"], 4);
  EXPECT_EQ(doc["dropped"], 1);
}

TEST(ResultsJson, LatencyObjectsHaveEveryPercentile) {
  const auto doc = json::parse(results_json(finished_run()));

  const json expected = {{"min_ms", 0.41}, {"mean_ms", 1.23}, {"p50_ms", 1.1},
                         {"p90_ms", 2.0},  {"p95_ms", 2.5},   {"p99_ms", 4.9},
                         {"p999_ms", 8.8}, {"max_ms", 9.1},   {"count", 0}};
  EXPECT_EQ(doc["latency"], expected);
  EXPECT_EQ(doc["service_latency"]["max_ms"], 7.0);
  EXPECT_EQ(doc["tasks"][0]["latency"], expected);
}

TEST(ResultsJson, ErrorsByKindListsEveryKind) {
  const auto doc = json::parse(results_json(finished_run()));

  EXPECT_EQ(doc["errors_by_kind"].size(), metrics::kErrorKindCount);
  EXPECT_EQ(doc["errors_by_kind"]["timeout"], 3);
  EXPECT_EQ(doc["errors_by_kind"]["connect"], 0);
}

TEST(ResultsJson, TasksThresholdsSetupAndTimelineHaveTheirFields) {
  const auto doc = json::parse(results_json(finished_run()));

  EXPECT_EQ(doc["tasks"][0]["name"], "browse");
  EXPECT_EQ(doc["tasks"][0]["requests"], 6000);
  EXPECT_EQ(doc["tasks"][0]["errors"], 3);
  EXPECT_EQ(doc["tasks"][0]["error_rate"], 0.05);
  EXPECT_EQ(doc["thresholds"][0],
            (json{{"key", "p99_ms"}, {"limit", 5.0}, {"actual", 4.9}, {"unit", "ms"}, {"passed", true},
                  {"default", false}}));
  EXPECT_EQ(doc["thresholds"][1]["unit"], "percent");
  EXPECT_EQ(doc["thresholds"][1]["passed"], false);
  EXPECT_EQ(doc["passed"], false);
  EXPECT_EQ(doc["setup"], (json{{"requests", 20}, {"errors", 1}}));
  ASSERT_EQ(doc["timeline"].size(), 3u);
  EXPECT_EQ(doc["timeline"][2]["elapsed_secs"], 3.0);
  EXPECT_EQ(doc["timeline"][2]["phase"], "steady");
  EXPECT_EQ(doc["timeline"][2]["current_rps"], 99.5);
  EXPECT_EQ(doc["timeline"][2]["target_rps"], 100.0);
  EXPECT_EQ(doc["timeline"][2]["requests_total"], 300);
  EXPECT_EQ(doc["timeline"][2]["p99_ms"], 4.9);
}

TEST(ResultsJson, TimelineKeepsEachIntervalsOwnFigures) {
  const auto doc = json::parse(results_json(finished_run()));

  const json& interval = doc["timeline"][2]["interval"];

  EXPECT_EQ(interval["secs"], 1.0);
  EXPECT_EQ(interval["requests"], 100);
  EXPECT_EQ(interval["errors"], 1);
  EXPECT_EQ(interval["rps"], 100.0);
  EXPECT_EQ(interval["latency"]["p99_ms"], 30.0);
}

TEST(ResultsJson, AchievedRateIsRequestsOverTheLoadDuration) {
  ResultsInput in = finished_run();
  in.final.elapsed_secs = 62.5;  // 2.5 s of drain after a 60 s load
  in.final.load_secs = 60;

  const auto doc = json::parse(results_json(in));

  EXPECT_EQ(doc["rps_actual"], 100.0);
  EXPECT_EQ(doc["load_secs"], 60.0);
}

TEST(ResultsJson, DroppedRateAndDefaultedThresholdsAreWritten) {
  ResultsInput in = finished_run();
  in.final.iterations = 99;
  in.final.dropped = 1;
  in.thresholds = {{"dropped_rate", 1.0, 1.0, true, true, {}}, {"p99_ms", 5, 0, false, false, "no responses to measure"}};

  const auto doc = json::parse(results_json(in));

  EXPECT_EQ(doc["dropped_rate"], 1.0);
  EXPECT_EQ(doc["thresholds"][0]["default"], true);
  EXPECT_FALSE(doc["thresholds"][0].contains("reason"));
  EXPECT_EQ(doc["thresholds"][1]["reason"], "no responses to measure");
}

TEST(ResultsJson, RoundTripsThroughNlohmannUnchanged) {
  const std::string text = results_json(finished_run());

  const auto doc = nlohmann::ordered_json::parse(text);

  EXPECT_EQ(doc.dump(2) + "\n", text);
}

TEST(ResultsJson, EmptyRunHasZerosAndPasses) {
  const auto doc = json::parse(results_json(ResultsInput{}));

  EXPECT_EQ(doc["error_rate"], 0.0);
  EXPECT_EQ(doc["rps_actual"], 0.0);
  EXPECT_EQ(doc["passed"], true);
  EXPECT_EQ(doc["setup"], (json{{"requests", 0}, {"errors", 0}}));
  EXPECT_TRUE(doc["tasks"].empty());
  EXPECT_TRUE(doc["timeline"].empty());
  EXPECT_TRUE(doc["knee"].is_null());
  EXPECT_TRUE(doc["started_at_iso"].is_null());
}

TEST(ResultsJson, InvalidUtf8InANameDoesNotThrow) {
  auto in = finished_run();
  in.scenario = "caf\xe9";

  const auto doc = json::parse(results_json(in));

  EXPECT_EQ(doc["scenario"], "caf\xef\xbf\xbd");
}

TEST(ResultsJson, NonFiniteNumbersBecomeNull) {
  auto in = finished_run();
  in.final.latency.max_ms = std::numeric_limits<double>::quiet_NaN();

  const auto doc = json::parse(results_json(in));

  EXPECT_TRUE(doc["latency"]["max_ms"].is_null());
}

TEST(ResultsJson, SaysWhichLoadPilotAndCommandLineProducedIt) {
  ResultsInput in = finished_run();
  in.command_line = {"loadpilot", "run", "shop.py", "--rps", "50"};

  const auto doc = json::parse(results_json(in));

  EXPECT_EQ(doc["schema_version"], 2);
  EXPECT_EQ(doc["loadpilot"]["version"], LOADPILOT_VERSION);
  EXPECT_FALSE(doc["loadpilot"]["commit"].get<std::string>().empty());
  EXPECT_FALSE(doc["loadpilot"]["compiler"].get<std::string>().empty());
  EXPECT_EQ(doc["command_line"], (json{"loadpilot", "run", "shop.py", "--rps", "50"}));
  EXPECT_EQ(doc["started_at_iso"], "2023-11-14T22:13:20Z");
}

TEST(ResultsJson, TimelineIntervalsCarryTheirOwnErrorKindsLateAndDropped) {
  ResultsInput in = finished_run();
  auto& kinds2 = in.timeline[1].errors_by_kind;
  auto& kinds3 = in.timeline[2].errors_by_kind;
  kinds2[static_cast<std::size_t>(metrics::ErrorKind::Http5xx)] = 4;
  kinds3[static_cast<std::size_t>(metrics::ErrorKind::Http5xx)] = 10;
  kinds3[static_cast<std::size_t>(metrics::ErrorKind::Timeout)] = 1;
  in.timeline[1].dropped = 2;
  in.timeline[2].dropped = 7;
  in.timeline[2].in_flight = 12;

  const auto doc = json::parse(results_json(in));

  const json& third = doc["timeline"][2];
  EXPECT_EQ(third["interval"]["errors_by_kind"], (json{{"timeout", 1}, {"http_5xx", 6}}));
  EXPECT_EQ(third["interval"]["dropped"], 5);
  EXPECT_EQ(third["dropped"], 7);
  EXPECT_EQ(third["in_flight"], 12);
  EXPECT_TRUE(doc["timeline"][0]["interval"]["errors_by_kind"].empty());
}

TEST(ResultsJson, HistogramsAreSparseWithBucketBoundsAndPerTaskSuccessLatency) {
  ResultsInput in = finished_run();
  metrics::RunStats stats(1);
  stats.tasks[0].record_ok(1'000, 800);
  stats.tasks[0].record_ok(1'000, 800);
  stats.tasks[0].record_http_error(metrics::ErrorKind::Http5xx, 40'000, 39'000);
  in.final_stats = stats;

  const auto doc = json::parse(results_json(in));

  const json& latency = doc["histograms"]["latency"];
  EXPECT_EQ(latency["count"], 3);
  EXPECT_EQ(latency["min_us"], 1'000);
  EXPECT_EQ(latency["max_us"], 40'000);
  EXPECT_EQ(latency["sum_us"], 42'000);
  ASSERT_EQ(latency["buckets"].size(), 2u);
  EXPECT_EQ(latency["buckets"][0], (json{1'000, 1'003, 2}));
  EXPECT_EQ(latency["buckets"][1][2], 1);
  EXPECT_EQ(doc["histograms"]["success"]["count"], 2);
  EXPECT_EQ(doc["histograms"]["tasks"][0]["name"], "browse");
  EXPECT_EQ(doc["tasks"][0]["success_latency"]["count"], 2);
  EXPECT_EQ(doc["tasks"][0]["errors_by_kind"], (json{{"http_5xx", 1}}));
}

TEST(ResultsJson, WithoutStatsHistogramsAreNull) {
  const auto doc = json::parse(results_json(finished_run()));

  EXPECT_TRUE(doc["histograms"].is_null());
  EXPECT_TRUE(doc["tasks"][0]["success_latency"].is_null());
}

TEST(ResultsJson, CheckFailuresKeepTheirMessageAndCount) {
  ResultsInput in = finished_run();
  in.check_failures = {{"browse: AssertionError: status 500", 7}, {"gone: x", 1}};

  const auto doc = json::parse(results_json(in));

  EXPECT_EQ(doc["check_failures"], (json{{{"message", "browse: AssertionError: status 500"}, {"count", 7}},
                                         {{"message", "gone: x"}, {"count", 1}}}));
}

TEST(ResultsJson, PythonModesPoolOfVirtualUsersIsWritten) {
  ResultsInput in = finished_run();
  const auto without = json::parse(results_json(in));
  in.vusers = VUsersRow{5, 8, 1000, false, false};

  const auto doc = json::parse(results_json(in));

  EXPECT_TRUE(without["vusers"].is_null());
  EXPECT_EQ(doc["vusers"],
            (json{{"size", 5}, {"started", 8}, {"cap", 1000}, {"fixed", false}, {"saturated", false}}));
}

TEST(ResultsJson, AgentsAreListed) {
  ResultsInput in = finished_run();
  in.agents = {{"agent-0", "done", 3000, 0.4}, {"agent-1", "timed_out", 2900, 1.25}};

  const auto doc = json::parse(results_json(in));

  ASSERT_EQ(doc["agents"].size(), 2u);
  EXPECT_EQ(doc["agents"][1],
            (json{{"id", "agent-1"}, {"state", "timed_out"}, {"requests", 2900}, {"start_skew_ms", 1.25}}));
}

TEST(ResultsJson, StepsAndTheKneeAreWritten) {
  ResultsInput in = finished_run();
  in.plan.mode = core::Mode::Step;
  in.plan.steps = 2;
  StepResult one;
  one.step = 1;
  one.target_rps = 50;
  one.passed = true;
  one.figures.latency.p99_ms = 4.0;
  StepResult two;
  two.step = 2;
  two.target_rps = 100;
  two.passed = false;
  in.steps = {one, two};

  const auto doc = json::parse(results_json(in));

  ASSERT_EQ(doc["steps"].size(), 2u);
  EXPECT_EQ(doc["steps"][0]["target_rps"], 50.0);
  EXPECT_EQ(doc["steps"][1]["passed"], false);
  EXPECT_EQ(doc["knee"]["step"], 1);
  EXPECT_EQ(doc["knee"]["p99_ms"], 4.0);
  EXPECT_EQ(doc["knee"]["last_step"], false);
  EXPECT_EQ(doc["plan"]["steps"], 2);
}

TEST(WriteFileAtomic, CreatesParentDirectoriesAndWritesTheContent) {
  TempDir dir;
  const auto path = dir.path() / ".loadpilot" / "baseline.json";

  auto status = write_file_atomic(path.string(), "{\"a\":1}\n");

  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(read_text(path), "{\"a\":1}\n");
}

TEST(WriteFileAtomic, ReplacesAnExistingFileAndLeavesNoTemporary) {
  TempDir dir;
  const auto path = dir.path() / "r.json";
  ASSERT_TRUE(write_file_atomic(path.string(), "old, longer content").ok());

  auto status = write_file_atomic(path.string(), "new");

  ASSERT_TRUE(status.ok());
  EXPECT_EQ(read_text(path), "new");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}), 1);
}

TEST(WriteFileAtomic, FailureNamesThePathAndTheReason) {
  TempDir dir;
  const auto blocker = dir.path() / "file";
  ASSERT_TRUE(write_file_atomic(blocker.string(), "x").ok());
  const auto path = (blocker / "r.json").string();  // a parent that is a file

  auto status = write_file_atomic(path, "{}");

  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::Io);
  EXPECT_NE(status.error().message.find("cannot write " + path + ": "), std::string::npos);
  EXPECT_GT(status.error().message.size(), ("cannot write " + path + ": ").size());
}

}  // namespace
}  // namespace lp::cli
