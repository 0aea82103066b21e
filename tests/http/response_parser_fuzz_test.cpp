// Deterministic fuzzing: random bytes and mutations of valid responses, fed whole and
// in random pieces. The parser must never crash (run once under
// -fsanitize=address,undefined), and however the bytes are split it must say the same.

#include "http/response_parser.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace lp::http {
namespace {

constexpr int kIterations = 200'000;
constexpr std::uint64_t kSeed = 0x10AD'F11E'5EED;

const std::vector<std::string> kSeeds = {
    "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\nContent-Length: 23\r\n"
    "Connection: keep-alive\r\n\r\n{\"id\":1,\"name\":\"bench\"}",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;a=b\r\nhello\r\n7\r\n, world\r\n0\r\nT: 1\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabcHTTP/1.0 404 Nope\n\nbody",
    "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nTransfer-Encoding: gzip,\r\n\tchunked\r\n\r\n"
    "5 ; a = \"q\\\"x\" ;b\r\nhello\r\n0\r\n\r\n",
    "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
};

// Fragments that steer mutations toward the parser's decision points.
const std::vector<std::string> kTokens = {
    "\r\n", "\n", "\r", ":", " ", ";", ",", "0", "ff", "ffffffffffffffffff", "chunked", "close",
    "Content-Length: ", "Transfer-Encoding: chunked\r\n", "Connection: close\r\n", "HTTP/1.1 ", "100",
    "18446744073709551616", "\r\n\r\n", std::string(1, '\0'), "\r\n ", "\r\n\t", "\"", "\\", "=",
};

// Everything a caller can observe about one response.
struct Outcome {
  ParseStatus status = ParseStatus::NeedMore;
  int code = 0;
  bool keep_alive = false;
  std::uint64_t body_bytes = 0;
  std::size_t consumed = 0;  // 0 when Invalid, where it is unspecified
  std::string error;

  bool operator==(const Outcome&) const = default;
};

// Feeds `wire` in the pieces between `cuts` like a connection would: reset after each
// Done, feed the leftover, report EOF at the end if a response was begun.
std::vector<Outcome> parse_stream(std::string_view wire, const std::vector<std::size_t>& cuts, bool capture) {
  ResponseParser parser(capture);
  std::vector<Outcome> out;
  std::size_t consumed = 0;
  std::size_t pos = 0;
  auto record = [&](ParseStatus status) {
    out.push_back({status, parser.status(), parser.keep_alive(), parser.body_bytes(),
                   status == ParseStatus::Invalid ? 0 : consumed, parser.error()});
    // Invariants that hold for any input.
    EXPECT_EQ(status == ParseStatus::Invalid, *parser.error() != '\0');
    if (capture) {
      EXPECT_EQ(parser.body().size(), parser.body_bytes());
    }
  };
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t cut = i < cuts.size() ? cuts[i] : wire.size();
    const char* data = wire.data() + pos;
    std::size_t left = cut - pos;
    pos = cut;
    while (left > 0) {
      const FeedResult r = parser.feed(data, left);
      EXPECT_LE(r.consumed, left);
      consumed += r.consumed;
      if (r.status == ParseStatus::NeedMore) {
        EXPECT_EQ(r.consumed, left);
        break;
      }
      record(r.status);
      if (r.status == ParseStatus::Invalid) return out;
      data += r.consumed;
      left -= r.consumed;
      consumed = 0;
      parser.reset();
    }
  }
  if (parser.started()) record(parser.finish_eof());
  return out;
}

std::string mutate(std::string s, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::size_t mutations = 1 + pick(4);
  for (std::size_t m = 0; m < mutations; ++m) {
    const std::size_t at = s.empty() ? 0 : pick(s.size() + 1);
    switch (pick(6)) {
      case 0:  // flip one byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
        break;
      case 1:  // insert a random byte
        s.insert(at, 1, static_cast<char>(rng()));
        break;
      case 2:  // delete a range
        s.erase(std::min(at, s.size()), 1 + pick(8));
        break;
      case 3:  // insert a steering token
        s.insert(at, kTokens[pick(kTokens.size())]);
        break;
      case 4:  // duplicate a range
        if (at < s.size()) s.insert(at, s.substr(at, 1 + pick(32)));
        break;
      default:  // truncate
        s.resize(std::min(at, s.size()));
        break;
    }
  }
  return s;
}

std::string random_bytes(std::mt19937_64& rng) {
  std::string s(rng() % 300, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::vector<std::size_t> random_cuts(std::size_t size, std::mt19937_64& rng) {
  std::vector<std::size_t> cuts;
  if (size < 2) return cuts;
  if (rng() % 8 == 0) {  // byte at a time
    for (std::size_t i = 1; i < size; ++i) cuts.push_back(i);
    return cuts;
  }
  const std::size_t count = rng() % 8;
  for (std::size_t i = 0; i < count; ++i) cuts.push_back(1 + rng() % (size - 1));
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  return cuts;
}

TEST(ResponseParserFuzz, RandomAndMutatedInputsNeverCrashAndIgnoreSplits) {
  std::mt19937_64 rng(kSeed);
  int invalid = 0;
  int done = 0;

  for (int i = 0; i < kIterations; ++i) {
    const std::string wire = rng() % 4 == 0 ? random_bytes(rng) : mutate(kSeeds[rng() % kSeeds.size()], rng);
    const std::vector<Outcome> whole = parse_stream(wire, {}, /*capture=*/false);
    const std::vector<Outcome> pieces = parse_stream(wire, random_cuts(wire.size(), rng), /*capture=*/true);

    ASSERT_EQ(pieces, whole) << "iteration " << i << ", input: " << ::testing::PrintToString(wire);
    for (const Outcome& o : whole) (o.status == ParseStatus::Invalid ? invalid : done) += 1;
  }

  // The mutations must reach both outcomes often, or this test proves little.
  EXPECT_GT(invalid, kIterations / 10);
  EXPECT_GT(done, kIterations / 10);
}

}  // namespace
}  // namespace lp::http
