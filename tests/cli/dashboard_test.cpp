#include "cli/dashboard.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace lp::cli {
namespace {

// Collects what is written to a FILE* in memory (open_memstream).
class Capture {
 public:
  Capture() : file_(open_memstream(&buf_, &size_)) {}
  ~Capture() {
    if (file_ != nullptr) std::fclose(file_);
    std::free(buf_);
  }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(buf_, size_);
  }

 private:
  char* buf_ = nullptr;
  std::size_t size_ = 0;
  std::FILE* file_;
};

std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

metrics::Snapshot steady_snapshot() {
  metrics::Snapshot s;
  s.elapsed_secs = 5.4;
  s.current_rps = 99.84;
  s.target_rps = 100;
  s.requests_total = 512;
  s.errors_total = 0;
  s.phase = "steady";
  s.latency.p50_ms = 1.2;
  s.latency.p95_ms = 3.4;
  s.latency.p99_ms = 5.0;
  s.latency.max_ms = 9.1;
  s.interval.secs = 1.0;
  s.interval.requests = 100;
  s.interval.errors = 1;
  s.interval.rps = 99.84;
  s.interval.latency.p50_ms = 1.3;
  s.interval.latency.p95_ms = 3.6;
  s.interval.latency.p99_ms = 7.5;
  metrics::TaskSnapshot browse;
  browse.name = "browse";
  browse.requests = 400;
  browse.errors = 2;
  browse.latency.p50_ms = 1.1;
  browse.latency.p99_ms = 4.9;
  metrics::TaskSnapshot checkout;
  checkout.name = "checkout";
  checkout.requests = 112;
  s.tasks = {browse, checkout};
  return s;
}

TEST(Dashboard, NonInteractivePrintsOnePlainLinePerSnapshot) {
  Capture out;
  Dashboard dashboard(out.file(), false, "shop", 30, {"browse", "checkout"});

  dashboard.update(steady_snapshot());
  dashboard.update(steady_snapshot());

  const std::string line =
      "[00:05/00:30] steady rps 99.8/100 p50 1.3ms p95 3.6ms p99 7.5ms (last 1s) · total reqs 512 err 0 "
      "(0.00%) p99 5.0ms max 9.1ms\n";
  EXPECT_EQ(out.text(), line + line);
}

TEST(Dashboard, NonInteractiveLineDuringTheDrainSaysHowManyRequestsItWaitsFor) {
  Capture out;
  Dashboard dashboard(out.file(), false, "shop", 30, {});
  auto s = steady_snapshot();
  s.phase = "draining";
  s.in_flight = 5;

  dashboard.update(s);

  EXPECT_EQ(out.text().rfind("[00:05/00:30] draining 5 requests still in flight (each keeps its own timeout) · "
                             "total reqs 512",
                             0),
            0u)
      << out.text();
}

TEST(Dashboard, AfterAStopTheDrainLineSaysHowToCutItShort) {
  Dashboard dashboard(nullptr, true, "shop", 30, {});
  auto s = steady_snapshot();
  s.phase = "draining";
  s.stopped = true;
  s.in_flight = 1;

  const auto lines = dashboard.frame(s, 0);

  bool found = false;
  for (const auto& line : lines) found = found || line == "stopping: draining 1 request (Ctrl+C again to cut them off)";
  EXPECT_TRUE(found);
}

TEST(Dashboard, TheFinalLineShowsTheAchievedRate) {
  Capture out;
  Dashboard dashboard(out.file(), false, "shop", 30, {});
  auto s = steady_snapshot();
  s.phase = "done";
  s.current_rps = 17.07;

  dashboard.update(s);

  EXPECT_NE(out.text().find("] done rps 17.1 achieved · total reqs 512"), std::string::npos) << out.text();
}

TEST(Dashboard, NonInteractiveLineAddsLateAndDroppedWhenNonZero) {
  Capture out;
  Dashboard dashboard(out.file(), false, "shop", 30, {});
  auto s = steady_snapshot();
  s.late = 7;
  s.dropped = 2;
  s.errors_total = 3;

  dashboard.update(s);

  const std::string text = out.text();
  EXPECT_NE(text.find("err 3 (0.59%)"), std::string::npos) << text;
  EXPECT_NE(text.find("max 9.1ms late 7 dropped 2\n"), std::string::npos) << text;
}

TEST(Dashboard, NonInteractiveLineLeavesOutAnUnknownTotal) {
  Capture out;
  Dashboard dashboard(out.file(), false, "shop", 0, {});

  dashboard.update(steady_snapshot());

  EXPECT_EQ(out.text().rfind("[00:05] steady ", 0), 0u) << out.text();
}

TEST(Dashboard, NonInteractiveWritesNoEscapes) {
  Capture out;
  Dashboard dashboard(out.file(), false, "shop", 30, {});

  dashboard.update(steady_snapshot());
  dashboard.finish();

  EXPECT_EQ(out.text().find('\x1b'), std::string::npos);
}

TEST(Dashboard, InteractiveFirstFrameHasNoCursorMovement) {
  Capture out;
  Dashboard dashboard(out.file(), true, "shop", 30, {"browse", "checkout"});

  dashboard.update(steady_snapshot());

  EXPECT_EQ(out.text().find("\x1b["), std::string::npos);
}

TEST(Dashboard, InteractiveRedrawMovesUpOverThePreviousFrameAndClears) {
  Capture out;
  Dashboard dashboard(out.file(), true, "shop", 30, {"browse", "checkout"});
  const auto s = steady_snapshot();
  const std::size_t height = dashboard.frame(s, 0).size();

  dashboard.update(s);
  dashboard.update(s);

  const std::string escape = "\x1b[" + std::to_string(height) + "A\r\x1b[J";
  EXPECT_EQ(count_of(out.text(), escape), 1u);
  EXPECT_EQ(count_of(out.text(), "\n"), 2 * height);
}

TEST(Dashboard, InteractiveFrameShowsTotalsLatencyProgressAndTaskRows) {
  Capture out;
  Dashboard dashboard(out.file(), true, "shop", 30, {"browse", "checkout"});

  dashboard.update(steady_snapshot());

  const std::string text = out.text();
  EXPECT_NE(text.find("shop"), std::string::npos);
  EXPECT_NE(text.find("00:05 / 00:30"), std::string::npos);
  EXPECT_NE(text.find("steady"), std::string::npos);
  EXPECT_NE(text.find("99.8 / 100"), std::string::npos);
  EXPECT_NE(text.find("last 1s  p50 1.3ms   p95 3.6ms   p99 7.5ms   (100 requests, 1 errors)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("total    requests 512   errors 0 (0.00%)"), std::string::npos) << text;
  EXPECT_NE(text.find("latency  p50 1.2ms   p95 3.4ms   p99 5.0ms   max 9.1ms"), std::string::npos) << text;
  EXPECT_NE(text.find("█░"), std::string::npos);
  EXPECT_NE(text.find("18%"), std::string::npos);
  EXPECT_NE(text.find("browse          400        2     1.1ms     4.9ms"), std::string::npos)
      << text;
  EXPECT_NE(text.find("checkout        112        0"), std::string::npos) << text;
}

TEST(Dashboard, InteractiveWarnsOnlyWhenTheGeneratorFellBehind) {
  Dashboard dashboard(nullptr, true, "shop", 30, {});
  auto behind = steady_snapshot();
  behind.late = 5;
  behind.dropped = 2;

  const auto calm_lines = dashboard.frame(steady_snapshot(), 0);
  const auto behind_lines = dashboard.frame(behind, 0);

  for (const auto& line : calm_lines) EXPECT_EQ(line.find("generator behind"), std::string::npos);
  EXPECT_EQ(behind_lines.back(),
            "generator behind: 5 sent late (≥10 ms after due), 2 dropped");
}

TEST(Dashboard, TaskNamesFromTheConstructorFillRowsTheSnapshotLacks) {
  Dashboard dashboard(nullptr, true, "shop", 30, {"browse", "checkout", "search"});
  auto s = steady_snapshot();
  s.tasks.resize(1);

  const auto lines = dashboard.frame(s, 0);

  bool found = false;
  for (const auto& line : lines) found = found || line.rfind("search", 0) == 0;
  EXPECT_TRUE(found);
}

TEST(Dashboard, FrameLinesAreCutToTheTerminalWidth) {
  Dashboard dashboard(nullptr, true, std::string(200, 'x'), 30, {});

  const auto lines = dashboard.frame(steady_snapshot(), 40);

  for (const auto& line : lines) EXPECT_LE(display_width(line), 40u) << line;
}

TEST(Dashboard, ManyTasksAreFoldedIntoOneLine) {
  std::vector<std::string> names;
  for (int i = 0; i < 25; ++i) names.push_back("t" + std::to_string(i));
  Dashboard dashboard(nullptr, true, "shop", 30, names);

  const auto lines = dashboard.frame(metrics::Snapshot{}, 0);

  EXPECT_EQ(lines.back(), "… and 5 more tasks");
}

TEST(Dashboard, FinishStopsTheNextUpdateFromDrawingOverEarlierOutput) {
  Capture out;
  Dashboard dashboard(out.file(), true, "shop", 30, {});
  dashboard.update(steady_snapshot());

  dashboard.finish();
  dashboard.update(steady_snapshot());

  EXPECT_EQ(out.text().find("\x1b["), std::string::npos);
}

TEST(Dashboard, PrintAboveRedrawsTheFrameBelowTheLine) {
  Capture out;
  Dashboard dashboard(out.file(), true, "shop", 30, {});
  const auto s = steady_snapshot();
  const std::size_t height = dashboard.frame(s, 0).size();
  dashboard.update(s);

  dashboard.print_above("agent 2 joined");

  const std::string text = out.text();
  const auto escape = text.find("\x1b[" + std::to_string(height) + "A\r\x1b[J");
  const auto note = text.find("agent 2 joined\n");
  ASSERT_NE(escape, std::string::npos);
  ASSERT_NE(note, std::string::npos);
  EXPECT_LT(escape, note);
  EXPECT_EQ(count_of(text.substr(note), "loadpilot · shop"), 1u);
}

}  // namespace
}  // namespace lp::cli
