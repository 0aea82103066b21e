#include "service/run_stream.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "metrics/stats_codec.hpp"

namespace lp::service {
namespace {

using metrics::ErrorKind;
using metrics::Histogram;
using metrics::RunStats;

// Every field distinct from every other, so a field the stream drops or swaps shows.
RunStats distinct_stats() {
  RunStats s(2);
  for (std::size_t i = 0; i < s.tasks.size(); ++i) {
    auto& t = s.tasks[i];
    for (int k = 0; k < 30 + 7 * int(i); ++k) t.record_ok(120 + 41 * k + 900 * i, 60 + 13 * k);
    for (std::size_t kind = 0; kind < metrics::kErrorKindCount; ++kind) {
      for (std::size_t n = 0; n <= kind + i; ++n) t.record_error(static_cast<ErrorKind>(kind));
    }
    t.record_failure(ErrorKind::Timeout, 30'000'000 + i);
    t.latency.record(Histogram::kMaxValueUs + 9);  // saturated
    t.errors_without_request = 4 + i;
  }
  s.iterations = 777;
  s.late = 11;
  s.dropped = 13;
  s.retries = 3;
  s.in_flight = 6;
  s.connections = 31;
  return s;
}

metrics::Snapshot snapshot_of(const RunStats& stats, const std::string& phase) {
  metrics::Snapshot s = metrics::make_snapshot(stats, {"browse", "checkout"});
  s.phase = phase;
  s.elapsed_secs = 12.5;
  s.load_secs = 12.0;
  s.current_rps = 99.25;
  s.target_rps = 100;
  s.active_workers = 3;
  s.agents = {{"agent-0", "running", 500, 0.0}, {"agent-1", "done", 277, 0.125}};
  s.start_skew_ms = 0.125;
  return s;
}

TEST(RunStream, ASnapshotLineIsTheSnapshotJsonOnOneLine) {
  const RunStats stats = distinct_stats();
  const metrics::Snapshot snap = snapshot_of(stats, "steady");

  const std::string line = snapshot_line(snap, nullptr);

  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  EXPECT_EQ(line, snap.to_json() + "\n");  // the stdin mode's stream, unchanged
}

TEST(RunStream, StatsTravelWithEveryFieldAndTheSnapshotStaysReadable) {
  const RunStats stats = distinct_stats();
  const metrics::Snapshot snap = snapshot_of(stats, "steady");
  const std::string line = snapshot_line(snap, &stats);

  auto got = parse_stream_line(std::string_view(line).substr(0, line.size() - 1));

  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->kind, StreamLine::Kind::Snapshot);
  ASSERT_TRUE(got->stats.has_value());
  EXPECT_EQ(metrics::to_wire(*got->stats), metrics::to_wire(stats));  // every counter, bucket and extra
  EXPECT_EQ(got->snapshot, *metrics::parse_snapshot(snap.to_json()));
  EXPECT_FALSE(got->thresholds.has_value());
}

TEST(RunStream, ALineWithoutStatsReadsWithoutStats) {
  const metrics::Snapshot snap = snapshot_of(distinct_stats(), "ramp_up");

  auto got = parse_stream_line(snap.to_json());

  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->kind, StreamLine::Kind::Snapshot);
  EXPECT_FALSE(got->stats.has_value());
}

TEST(RunStream, TheFinalLineCarriesTheVerdictThresholdByThreshold) {
  const RunStats stats = distinct_stats();
  const metrics::Snapshot snap = snapshot_of(stats, "done");
  const std::vector<metrics::ThresholdResult> thresholds = {
      {"p99_ms", 500, 612.375, false, false, ""},
      {"error_rate", 1.5, 0.25, true, false, ""},
      {"p50_ms", 20, 0, false, false, metrics::kNoResponsesReason},
      {"dropped_rate", 1, 0.5, true, true, ""},
  };
  const std::string line = final_line(snap, &stats, thresholds);

  auto got = parse_stream_line(std::string_view(line).substr(0, line.size() - 1));

  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  EXPECT_EQ(got->kind, StreamLine::Kind::Final);
  ASSERT_TRUE(got->thresholds.has_value());
  EXPECT_EQ(*got->thresholds, thresholds);
  ASSERT_TRUE(got->stats.has_value());
  EXPECT_EQ(metrics::to_wire(*got->stats), metrics::to_wire(stats));
  EXPECT_EQ(got->snapshot.agents, snap.agents);
}

TEST(RunStream, AnErrorLineSaysWhatFailedAndWhatToDo) {
  const std::string line = error_line(make_error(ErrorCode::Unavailable, "agent-1 cannot run the plan: cannot resolve host 'shop'",
                                                 "every agent must reach the target"));

  auto got = parse_stream_line(std::string_view(line).substr(0, line.size() - 1));

  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->kind, StreamLine::Kind::Error);
  EXPECT_EQ(got->error.message, "agent-1 cannot run the plan: cannot resolve host 'shop'");
  EXPECT_EQ(got->error.hint, "every agent must reach the target");
}

TEST(RunStream, StatsThatDoNotDecodeAreAnErrorNamingThem) {
  auto not_base64 = parse_stream_line(R"({"phase": "steady", "stats": "%%%%"})");
  auto truncated = parse_stream_line(R"({"phase": "steady", "stats": "AQ=="})");
  auto not_json = parse_stream_line("{\"phase\": \"ste");

  ASSERT_FALSE(not_base64.ok());
  EXPECT_NE(not_base64.error().message.find("\"stats\""), std::string::npos);
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error().message.find("\"stats\""), std::string::npos) << truncated.error().message;
  EXPECT_FALSE(not_json.ok());
}

TEST(RunStream, ErrorBodiesKeepMessageHintAndEveryProblem) {
  const std::string body = error_body(make_error(ErrorCode::Invalid, "invalid plan: 2 problems", "fix them"),
                                      R"({"problems": ["rps must be > 0, got 0", "task 'a': weight must be > 0, got 0"]})");

  auto got = parse_error_body(body);

  ASSERT_TRUE(got.has_value()) << body;
  EXPECT_EQ(got->message, "invalid plan: 2 problems");
  EXPECT_EQ(got->hint, "fix them");
  EXPECT_EQ(got->problems, (std::vector<std::string>{"rps must be > 0, got 0", "task 'a': weight must be > 0, got 0"}));
  EXPECT_FALSE(parse_error_body("<html>bad gateway</html>").has_value());
}

TEST(Base64, MatchesTheRfcVectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), plain);
  }
}

TEST(Base64, EveryByteValueRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (std::size_t cut = 0; cut < 4; ++cut) {
    const std::string bytes = all.substr(cut);

    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes) << cut;
  }
}

TEST(Base64, RefusesWhatIsNotBase64) {
  EXPECT_FALSE(base64_decode("Zm9").has_value());       // length not a multiple of 4
  EXPECT_FALSE(base64_decode("Zm9v!A==").has_value());  // outside the alphabet
  EXPECT_FALSE(base64_decode("Z=9v").has_value());      // padding in the middle
  EXPECT_FALSE(base64_decode("Zm=v").has_value());
}

}  // namespace
}  // namespace lp::service
