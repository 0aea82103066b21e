#include "cli/compare.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"

namespace lp::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

CompareFigures figures(double rps, double p50, double p95, double p99, double error_rate) {
  CompareFigures f;
  f.scenario = "shop";
  f.rps = rps;
  f.p50_ms = p50;
  f.p95_ms = p95;
  f.p99_ms = p99;
  f.error_rate = error_rate;
  return f;
}

const CompareRow& row(const Comparison& c, const std::string& metric) {
  for (const auto& r : c.rows) {
    if (r.metric == metric) return r;
  }
  throw std::runtime_error("no row " + metric);
}

// A results document with `intervals` steady intervals whose p99 alternates around `p99`.
json document(double p99, int intervals = 0, double p99_swing = 0, int schema = 2) {
  json doc = {{"schema_version", schema}, {"scenario", "shop"}, {"target_url", "http://127.0.0.1:1"},
              {"rps_actual", 100.0}, {"error_rate", 0.0},
              {"latency", {{"p50_ms", 1.0}, {"p95_ms", 2.0}, {"p99_ms", p99}}},
              {"plan", {{"mode", "constant"}, {"rps", 100.0}, {"duration_secs", 60.0}}}};
  json timeline = json::array();
  for (int i = 0; i <= intervals; ++i) {
    const double v = p99 + (i % 2 == 0 ? p99_swing : -p99_swing);
    timeline.push_back({{"phase", "steady"},
                        {"interval", {{"secs", 1.0}, {"rps", 100.0}, {"requests", 100}, {"errors", 0},
                                      {"latency", {{"count", 100}, {"p50_ms", 1.0}, {"p95_ms", 2.0}, {"p99_ms", v}}}}}});
  }
  doc["timeline"] = timeline;
  return doc;
}

std::string run(const CompareArgs& args, int& exit_code, bool color = false) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  exit_code = compare_command(args, out, err, color);
  std::string text;
  for (std::FILE* f : {out, err}) {
    std::rewind(f);
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
  }
  return text;
}

TEST(Compare, LatencyWorseBeyondTheThresholdIsARegression) {
  const Comparison c = compare_runs(figures(100, 1, 2, 7.5, 0), figures(100, 1, 2, 5, 0), 10);

  EXPECT_EQ(row(c, "p99_ms").verdict, Verdict::Regression);
  EXPECT_DOUBLE_EQ(*row(c, "p99_ms").change_pct, 50.0);
  EXPECT_EQ(row(c, "p50_ms").verdict, Verdict::Same);
  EXPECT_TRUE(c.regressed);
}

TEST(Compare, WorseWithinTheThresholdIsNotARegression) {
  const Comparison c = compare_runs(figures(100, 1, 2, 5.4, 0), figures(100, 1, 2, 5, 0), 10);

  EXPECT_EQ(row(c, "p99_ms").verdict, Verdict::Worse);
  EXPECT_FALSE(c.regressed);
}

TEST(Compare, FewerRequestsPerSecondIsWorseAndLowerLatencyBetter) {
  const Comparison c = compare_runs(figures(80, 0.5, 2, 5, 0), figures(100, 1, 2, 5, 0), 10);

  EXPECT_EQ(row(c, "rps").verdict, Verdict::Regression);
  EXPECT_EQ(row(c, "p50_ms").verdict, Verdict::Better);
}

TEST(Compare, ErrorsWhereThereWereNoneAreBeyondAnyThreshold) {
  const Comparison c = compare_runs(figures(100, 1, 2, 5, 0.5), figures(100, 1, 2, 5, 0), 1000);

  EXPECT_FALSE(row(c, "error_rate").change_pct.has_value());
  EXPECT_EQ(row(c, "error_rate").verdict, Verdict::Regression);
}

TEST(Compare, AChangeWithinTheRunsIntervalSpreadIsNoise) {
  CompareFigures base = figures(100, 1, 2, 5, 0);
  CompareFigures cur = figures(100, 1, 2, 6, 0);
  base.p99_spread = 1.5;

  const Comparison c = compare_runs(cur, base, 10);

  EXPECT_EQ(row(c, "p99_ms").verdict, Verdict::WithinNoise);
  EXPECT_FALSE(c.regressed);
}

TEST(Compare, ReadsTheSpreadFromSteadyIntervals) {
  lp::testing::TempDir files;
  const std::string path = files.write("r.json", document(5, 10, 1.0).dump());

  auto f = read_compare_figures(path);

  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->steady_intervals, 10u);  // the first steady snapshot's interval is left out
  ASSERT_TRUE(f->p99_spread.has_value());
  EXPECT_NEAR(*f->p99_spread, 1.05, 0.01);
  EXPECT_NEAR(*f->rps_spread, 0.0, 1e-9);
}

TEST(Compare, TooFewIntervalsGiveNoSpread) {
  lp::testing::TempDir files;

  auto f = read_compare_figures(files.write("r.json", document(5, 2, 1.0).dump()));

  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->p99_spread.has_value());
}

TEST(Compare, CommandExitsOneOnARegressionAndZeroOtherwise) {
  lp::testing::TempDir files;
  const std::string base = files.write("base.json", document(5).dump());
  const std::string worse = files.write("worse.json", document(8).dump());
  int code = -1;

  const std::string text = run({worse, base, "10"}, code);

  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("REGRESSION"), std::string::npos) << text;
  EXPECT_NE(text.find("1 figure regressed by more than 10%: p99_ms"), std::string::npos) << text;
  run({worse, base, "100"}, code);
  EXPECT_EQ(code, 0);
}

TEST(Compare, ColoursOnlyWhenAsked) {
  lp::testing::TempDir files;
  const std::string base = files.write("base.json", document(5).dump());
  const std::string worse = files.write("worse.json", document(8).dump());
  int code = -1;

  EXPECT_EQ(run({worse, base, "10"}, code).find("\x1b["), std::string::npos);
  EXPECT_NE(run({worse, base, "10"}, code, /*color=*/true).find("\x1b[31m"), std::string::npos);
}

TEST(Compare, ReadsSchemaOneDocuments) {
  lp::testing::TempDir files;

  auto f = read_compare_figures(files.write("v1.json", document(5, 0, 0, /*schema=*/1).dump()));

  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_DOUBLE_EQ(f->p99_ms, 5.0);
}

TEST(Compare, UnreadableOrWrongFilesExitTwoWithTheReason) {
  lp::testing::TempDir files;
  const std::string good = files.write("good.json", document(5).dump());
  json v3 = document(5);
  v3["schema_version"] = 3;
  json partial = document(5);
  partial.erase("rps_actual");
  struct Case {
    std::string path, message;
  };
  const Case cases[] = {
      {files.write("missing_dir/none.json", ""), "cannot read"},
      {files.write("text.json", "not json"), "is not a results file: it is not a JSON object"},
      {files.write("plan.json", R"({"name": "x", "rps": 1})"), "is not a LoadPilot results file: it has no schema_version"},
      {files.write("v3.json", v3.dump()), "has results schema 3; this loadpilot reads schemas 1 to 2"},
      {files.write("partial.json", partial.dump()), "lacks rps_actual"},
  };
  for (const auto& c : cases) {
    int code = -1;

    const std::string text = run({c.path, good, "10"}, code);

    EXPECT_EQ(code, 2) << c.path;
    EXPECT_NE(text.find(c.message), std::string::npos) << text;
  }
}

TEST(Compare, KeysOfTheWrongTypeReadAsMissingInsteadOfThrowing) {
  lp::testing::TempDir files;
  json doc = document(5, 4);
  doc["timeline"][1]["phase"] = 5;
  doc["timeline"][2]["interval"]["secs"] = "one";
  doc["timeline"][3]["interval"]["latency"] = "fast";
  doc["plan"]["mode"] = nullptr;

  auto f = read_compare_figures(files.write("odd.json", doc.dump()));

  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_DOUBLE_EQ(f->p99_ms, 5.0);
}

TEST(Compare, ABadThresholdIsAUsageError) {
  int code = -1;

  const std::string text = run({"a.json", "b.json", "-5"}, code);

  EXPECT_EQ(code, 2);
  EXPECT_NE(text.find("--threshold must be a percent >= 0, got '-5'"), std::string::npos);
}

TEST(Compare, NotesWhenTheRunsDiffer) {
  CompareFigures base = figures(100, 1, 2, 5, 0);
  CompareFigures cur = base;
  cur.scenario = "other";
  cur.target_url = "http://elsewhere";

  const Comparison c = compare_runs(cur, base, 10);

  ASSERT_EQ(c.notes.size(), 2u);
  EXPECT_NE(c.notes[0].find("different scenarios"), std::string::npos);
}

}  // namespace
}  // namespace lp::cli
