#include "metrics/stats_codec.hpp"

#include <gtest/gtest.h>

#include <set>

namespace lp::metrics {
namespace {

// Every field of a histogram, saturated() included (operator== leaves it out).
void expect_same(const Histogram& a, const Histogram& b, const std::string& what) {
  EXPECT_EQ(a, b) << what;
  EXPECT_EQ(a.saturated(), b.saturated()) << what;
}

// Every field of RunStats, compared one by one so a field the codec forgets fails here.
void expect_same(const RunStats& a, const RunStats& b) {
  ASSERT_EQ(a.tasks.size(), b.tasks.size());
  for (std::size_t i = 0; i < a.tasks.size(); ++i) {
    const std::string at = "task " + std::to_string(i);
    EXPECT_EQ(a.tasks[i].requests, b.tasks[i].requests) << at;
    EXPECT_EQ(a.tasks[i].errors, b.tasks[i].errors) << at;
    EXPECT_EQ(a.tasks[i].errors_without_request, b.tasks[i].errors_without_request) << at;
    EXPECT_EQ(a.tasks[i].errors_by_kind, b.tasks[i].errors_by_kind) << at;
    expect_same(a.tasks[i].latency, b.tasks[i].latency, at + " latency");
    expect_same(a.tasks[i].service, b.tasks[i].service, at + " service");
    expect_same(a.tasks[i].success, b.tasks[i].success, at + " success");
  }
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.late, b.late);
  EXPECT_EQ(a.dropped, b.dropped);
  EXPECT_EQ(a.retries, b.retries);
  EXPECT_EQ(a.in_flight, b.in_flight);
  EXPECT_EQ(a.connections, b.connections);
}

// Stats where every field holds a value no other field holds, so a swap or an omission
// shows: distinct counters per task, per error kind, and distinct histograms.
RunStats distinct_stats(std::size_t tasks) {
  RunStats s(tasks);
  std::uint64_t v = 3;
  for (std::size_t i = 0; i < tasks; ++i) {
    TaskStats& t = s.tasks[i];
    for (int k = 0; k < 40 + 10 * int(i); ++k) t.record_ok(100 + 37 * k + 1000 * i, 50 + 11 * k);
    for (std::size_t kind = 0; kind < kErrorKindCount; ++kind) {
      for (std::size_t n = 0; n <= kind + i; ++n) t.record_error(static_cast<ErrorKind>(kind));
    }
    t.record_http_error(ErrorKind::Http5xx, 7'000'000 + i, 6'000 + i);
    t.record_failure(ErrorKind::Timeout, 30'000'000 + i);
    t.latency.record(Histogram::kMaxValueUs + 5);  // saturated
    t.errors_without_request = 2 + i;
    t.success.record(v++);
  }
  s.iterations = 1001;
  s.late = 17;
  s.dropped = 23;
  s.retries = 5;
  s.in_flight = 9;
  s.connections = 64;
  return s;
}

StatsMessage message_of(const RunStats& stats) {
  StatsMessage m;
  m.header.run_id = "7f3a9c";
  m.header.agent_id = "agent-1";
  m.header.instance = 0xDEADBEEFCAFEF00DULL;
  m.header.seq = 42;
  m.header.final = true;
  m.header.state = AgentState::Paused;
  m.header.elapsed_secs = 12.345;
  m.header.start_unix_ms = 1'764'000'000'123.456;
  m.header.active_workers = 2;
  m.header.slots = {{0, 840, false}, {3, 1'000'003, true}};
  m.stats = to_wire(stats);
  return m;
}

RunStats from_wire(const WireStats& w) {
  RunStats out;
  auto merged = merge_wire(out, w);
  EXPECT_TRUE(merged.ok()) << merged.error().message;
  return out;
}

TEST(StatsCodec, RoundTripKeepsEveryFieldOfHeaderAndStats) {
  const RunStats stats = distinct_stats(3);
  const StatsMessage sent = message_of(stats);

  auto got = decode_stats(encode_stats(sent));

  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->header, sent.header);
  EXPECT_EQ(got->stats, sent.stats);
  expect_same(from_wire(got->stats), stats);
}

TEST(StatsCodec, EveryHeaderFieldTravels) {
  // Changing any one header field changes what decodes: none is dropped or fixed.
  const StatsMessage base = message_of(distinct_stats(1));
  std::vector<StatsMessage> variants(11, base);
  variants[0].header.run_id = "other";
  variants[1].header.agent_id = "agent-9";
  variants[2].header.instance ^= 1;
  variants[3].header.seq += 1;
  variants[4].header.final = false;
  variants[5].header.state = AgentState::Idle;
  variants[6].header.elapsed_secs += 0.001;
  variants[7].header.start_unix_ms += 0.001;
  variants[8].header.active_workers += 1;
  variants[9].header.slots[1].closed = false;
  variants[10].header.slots[0].next_index += 1;

  for (std::size_t i = 0; i < variants.size(); ++i) {
    auto got = decode_stats(encode_stats(variants[i]));
    ASSERT_TRUE(got.ok()) << i;
    EXPECT_EQ(got->header, variants[i].header) << i;
    EXPECT_NE(got->header, base.header) << i;
  }
}

TEST(StatsCodec, MergingDecodedAgentsEqualsMergingTheirStats) {
  RunStats a = distinct_stats(2), b = distinct_stats(2);
  b.tasks[1].record_ok(123'456, 1);
  RunStats both = a;
  both.merge(b);

  RunStats merged;
  for (const RunStats* s : {&a, &b}) {
    auto got = decode_stats(encode_stats(message_of(*s)));
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(merge_wire(merged, got->stats).ok());
  }

  expect_same(merged, both);
}

TEST(StatsCodec, EveryTruncationIsAnErrorNotACrash) {
  const std::string bytes = encode_stats(message_of(distinct_stats(2)));

  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto got = decode_stats(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(got.ok()) << "decoded " << n << " of " << bytes.size() << " bytes";
  }
}

TEST(StatsCodec, BytesLeftOverAreRefused) {
  auto got = decode_stats(encode_stats(message_of(distinct_stats(1))) + "x");

  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("left over"), std::string::npos) << got.error().message;
}

TEST(StatsCodec, AnotherVersionIsRefusedWithAHint) {
  std::string bytes = encode_stats(message_of(distinct_stats(1)));
  bytes[0] = 7;

  auto got = decode_stats(bytes);

  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, "stats message version 7 (this build reads 1)");
  EXPECT_FALSE(got.error().hint.empty());
}

TEST(StatsCodec, ABucketOutOfRangeIsRefused) {
  StatsMessage m = message_of(RunStats(1));
  m.stats.tasks[0].latency.buckets = {{static_cast<std::uint32_t>(Histogram::kBucketCount), 1}};

  auto got = decode_stats(encode_stats(m));

  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("out of range"), std::string::npos) << got.error().message;
}

TEST(StatsCodec, ACountThatWouldNeedMoreBytesThanSentIsRefusedBeforeAllocating) {
  // A hostile "2^60 buckets" must not make the decoder reserve memory for them.
  StatsMessage m = message_of(RunStats(1));
  std::string bytes = encode_stats(m);
  auto good = decode_stats(bytes);
  ASSERT_TRUE(good.ok());
  // The first histogram's bucket count is the byte after the 9 error-kind counters.
  StatsMessage no_tasks{m.header, {}};
  no_tasks.stats.task_count = 1;
  const std::string prefix = encode_stats(no_tasks);
  // header + counters with 0 entries; ours has 1 entry: patch entries, then the task.
  std::string hostile = bytes;
  const std::size_t task_at = prefix.size();
  const std::size_t buckets_at = task_at + 5 + kErrorKindCount;  // index, 3 counters, kinds count, kinds
  hostile.replace(buckets_at, 1, std::string("\xff\xff\xff\xff\xff\xff\xff\xff\x0f", 9));

  auto got = decode_stats(hostile);

  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, "truncated stats message");
}

TEST(StatsCodec, LargeStatsAreSplitPerTaskUnderTheLimitAndJoinBack) {
  const RunStats stats = distinct_stats(12);
  const StatsMessage sent = message_of(stats);
  const std::size_t whole = encode_stats(sent).size();
  const std::size_t limit = whole / 4;

  auto parts = encode_stats_parts(sent, limit);

  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_GE(parts->size(), 4u);
  std::vector<StatsMessage> decoded;
  std::set<std::uint32_t> numbers;
  for (const std::string& p : *parts) {
    EXPECT_LE(p.size(), limit);
    auto m = decode_stats(p);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(m->header.parts, parts->size());
    numbers.insert(m->header.part);
    decoded.push_back(std::move(*m));
  }
  EXPECT_EQ(numbers.size(), parts->size());
  std::swap(decoded.front(), decoded.back());  // any order

  auto joined = join_stats_parts(std::move(decoded));

  ASSERT_TRUE(joined.ok()) << joined.error().message;
  EXPECT_EQ(joined->header, sent.header);
  expect_same(from_wire(joined->stats), stats);
}

TEST(StatsCodec, SmallStatsTravelInOnePart) {
  const StatsMessage sent = message_of(distinct_stats(2));

  auto parts = encode_stats_parts(sent, 1024 * 1024);

  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0], encode_stats(sent));
}

TEST(StatsCodec, ATaskTooLargeForOneMessageIsAnErrorNamingSizeAndLimit) {
  const StatsMessage sent = message_of(distinct_stats(1));

  auto parts = encode_stats_parts(sent, 100);

  ASSERT_FALSE(parts.ok());
  EXPECT_NE(parts.error().message.find("above the NATS server's max_payload of 100 bytes"), std::string::npos)
      << parts.error().message;
  EXPECT_NE(parts.error().message.find(" need "), std::string::npos);
}

TEST(StatsCodec, JoiningWithAPartMissingFails) {
  const StatsMessage sent = message_of(distinct_stats(12));
  auto parts = encode_stats_parts(sent, encode_stats(sent).size() / 3);
  ASSERT_TRUE(parts.ok());
  std::vector<StatsMessage> decoded;
  for (std::size_t i = 1; i < parts->size(); ++i) decoded.push_back(*decode_stats((*parts)[i]));

  auto joined = join_stats_parts(std::move(decoded));

  EXPECT_FALSE(joined.ok());
}

TEST(StatsCodec, AnEmptyRunRoundTrips) {
  const RunStats empty(4);

  auto got = decode_stats(encode_stats(message_of(empty)));

  ASSERT_TRUE(got.ok());
  expect_same(from_wire(got->stats), empty);
}

}  // namespace
}  // namespace lp::metrics
