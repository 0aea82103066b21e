#include "cluster/aggregator.hpp"

#include <gtest/gtest.h>

namespace lp::cluster {
namespace {

metrics::StatsMessage message(const std::string& agent, std::uint64_t instance, std::uint64_t seq,
                              std::uint64_t requests) {
  metrics::RunStats stats(2);
  for (std::uint64_t i = 0; i < requests; ++i) stats.tasks[i % 2].record_ok(1000 + i, 900);
  stats.iterations = requests;
  metrics::StatsMessage m;
  m.header.run_id = "r";
  m.header.agent_id = agent;
  m.header.instance = instance;
  m.header.seq = seq;
  m.stats = metrics::to_wire(stats);
  return m;
}

TEST(Aggregator, KeepsTheNewestSeqOfEachInstance) {
  Aggregator agg(2);

  ASSERT_TRUE(agg.add(message("a", 1, 2, 20)).ok());
  auto older = agg.add(message("a", 1, 1, 10));  // late, out of order

  ASSERT_TRUE(older.ok());
  EXPECT_FALSE(older->has_value());
  EXPECT_EQ(agg.merged().total().requests, 20u);
  EXPECT_EQ(agg.requests("a"), 20u);
}

TEST(Aggregator, MergesAgentsExactly) {
  Aggregator agg(2);
  agg.add(message("a", 1, 5, 30));
  agg.add(message("b", 7, 3, 12));

  const metrics::RunStats merged = agg.merged();

  EXPECT_EQ(merged.total().requests, 42u);
  EXPECT_EQ(merged.iterations, 42u);
  EXPECT_EQ(merged.total().latency.count(), 42u);
  EXPECT_EQ(merged.total().latency.max_us(), 1029u);
}

TEST(Aggregator, ARestartedAgentIsANewInstanceAndNothingCountsTwice) {
  Aggregator agg(2);
  agg.add(message("a", 1, 9, 50));  // the first process, killed after 50 requests
  agg.add(message("a", 2, 1, 5));   // its successor
  agg.add(message("a", 2, 2, 8));

  EXPECT_EQ(agg.requests("a"), 58u);
  EXPECT_EQ(agg.merged().total().requests, 58u);
  ASSERT_NE(agg.latest("a"), nullptr);
  EXPECT_EQ(agg.latest("a")->instance, 2u);
}

TEST(Aggregator, ASplitMessageCountsOnceAllItsPartsAreIn) {
  Aggregator agg(2);
  metrics::StatsMessage whole = message("a", 1, 4, 100);
  auto parts = metrics::encode_stats_parts(whole, metrics::encode_stats(whole).size() / 2 + 40);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 2u);

  auto first = agg.add(*metrics::decode_stats((*parts)[1]));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());
  EXPECT_EQ(agg.merged().total().requests, 0u);
  auto second = agg.add(*metrics::decode_stats((*parts)[0]));

  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ(agg.merged().total().requests, 100u);
}

TEST(Aggregator, StatsForAnotherTaskCountAreRefused) {
  Aggregator agg(3);

  auto added = agg.add(message("a", 1, 1, 4));

  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().message, "stats from a have 2 tasks, the run has 3");
}

}  // namespace
}  // namespace lp::cluster
