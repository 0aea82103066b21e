// Runs the libFuzzer target's check (tests/fuzz/broker_protocol_fuzz.cpp) in the unit
// tests: over the seed corpus, then over deterministic mutations of it, so every
// `ctest` exercises what the fuzzer does, without clang.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace lp::broker::fuzz {
bool same_operations_however_cut(const std::uint8_t* data, std::size_t size);
}  // namespace lp::broker::fuzz

namespace {

constexpr int kMutations = 40'000;

std::vector<std::string> corpus() {
  std::vector<std::string> seeds;
  for (const auto& entry : std::filesystem::directory_iterator(LP_BROKER_PROTOCOL_CORPUS)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    seeds.push_back(ss.str());
  }
  return seeds;
}

bool check(const std::string& input) {
  return lp::broker::fuzz::same_operations_however_cut(reinterpret_cast<const std::uint8_t*>(input.data()),
                                                        input.size());
}

TEST(BrokerProtocolFuzz, SeedCorpusParsesTheSameHoweverCut) {
  const auto seeds = corpus();
  ASSERT_GE(seeds.size(), 5u);

  for (const auto& s : seeds) EXPECT_TRUE(check(s)) << s;
}

TEST(BrokerProtocolFuzz, MutationsParseTheSameHoweverCut) {
  const auto seeds = corpus();
  ASSERT_FALSE(seeds.empty());
  const std::vector<std::string> tokens = {"\r\n", "\n", "\r", " ", "\t", "PUB ", "HPUB ", "SUB ", "UNSUB ",
                                           "PING", "0", "9", "99999999999999999999", "a.>", "*", "CONNECT {}"};
  std::mt19937_64 rng(0xB10CE5);

  for (int i = 0; i < kMutations; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const std::size_t at = rng() % s.size();
      switch (rng() % 4) {
        case 0:
          s[at] = static_cast<char>(rng());
          break;
        case 1:
          s.erase(at, 1 + rng() % 8);
          break;
        case 2:
          s.insert(at, tokens[rng() % tokens.size()]);
          break;
        case 3:
          s.insert(at, s.substr(rng() % s.size(), rng() % 32));
          break;
      }
    }
    ASSERT_TRUE(check(s)) << "mutation " << i;
  }
}

}  // namespace
