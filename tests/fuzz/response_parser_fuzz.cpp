// libFuzzer target: http::ResponseParser on arbitrary bytes from a server.
//
// Input: the bytes the server sent, verbatim (so a seed is a plain HTTP response).
// Properties: the parser never crashes; feeding the bytes in pieces (one byte at a time,
// and at cut points drawn from the input's hash) gives the same outcome, response by
// response, as feeding them at once; capture mode changes nothing but what is kept;
// the invariants of FeedResult hold. Each check runs for a GET and for a HEAD.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "http/response_parser.hpp"

namespace {

using lp::http::FeedResult;
using lp::http::ParseStatus;
using lp::http::ResponseParser;

// Everything a caller can observe about one response.
struct Outcome {
  ParseStatus status = ParseStatus::NeedMore;
  int code = 0;
  bool keep_alive = false;
  std::uint64_t body_bytes = 0;
  std::size_t consumed = 0;  // bytes of the stream up to the end of this response; 0 when Invalid
  std::string error;

  bool operator==(const Outcome&) const = default;
};

std::string describe(const std::vector<Outcome>& outcomes) {
  static const char* const kStatus[] = {"NeedMore", "Done", "Invalid"};
  std::string out;
  for (const Outcome& o : outcomes) {
    char line[160];
    std::snprintf(line, sizeof line, "  %s status=%d keep_alive=%d body=%llu consumed=%zu error='%s'\n",
                  kStatus[static_cast<int>(o.status)], o.code, o.keep_alive,
                  static_cast<unsigned long long>(o.body_bytes), o.consumed, o.error.c_str());
    out += line;
  }
  return out.empty() ? "  (no response)\n" : out;
}

// Feeds `wire` in the pieces between `cuts` as a connection does: reset after each Done
// and feed what is left, report EOF at the end if a response was begun.
std::vector<Outcome> parse_stream(std::string_view wire, const std::vector<std::size_t>& cuts, bool capture,
                                  bool head) {
  ResponseParser parser(capture);
  parser.reset(head);
  std::vector<Outcome> out;
  std::size_t consumed = 0;
  std::size_t pos = 0;
  auto record = [&](ParseStatus status) {
    out.push_back({status, parser.status(), parser.keep_alive(), parser.body_bytes(),
                   status == ParseStatus::Invalid ? 0 : consumed, parser.error()});
    LP_FUZZ_CHECK((status == ParseStatus::Invalid) == (*parser.error() != '\0'),
                  "status %d with error '%s'", static_cast<int>(status), parser.error());
    if (capture) {
      LP_FUZZ_CHECK(parser.body().size() == parser.body_bytes(), "captured %zu body bytes, counted %llu",
                    parser.body().size(), static_cast<unsigned long long>(parser.body_bytes()));
    }
  };
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t cut = i < cuts.size() ? cuts[i] : wire.size();
    const char* data = wire.data() + pos;
    std::size_t left = cut - pos;
    pos = cut;
    while (left > 0) {
      const FeedResult r = parser.feed(data, left);
      LP_FUZZ_CHECK(r.consumed <= left, "consumed %zu of %zu", r.consumed, left);
      consumed += r.consumed;
      if (r.status == ParseStatus::NeedMore) {
        LP_FUZZ_CHECK(r.consumed == left, "NeedMore after consuming %zu of %zu", r.consumed, left);
        break;
      }
      record(r.status);
      if (r.status == ParseStatus::Invalid) return out;
      data += r.consumed;
      left -= r.consumed;
      consumed = 0;
      parser.reset(head);
    }
  }
  if (parser.started()) record(parser.finish_eof());
  return out;
}

// splitmix64: a few well-spread cut points from one seed.
std::uint64_t next(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
  return z ^ (z >> 31);
}

std::vector<std::size_t> random_cuts(std::size_t size, std::uint64_t& state) {
  std::vector<std::size_t> cuts;
  if (size < 2) return cuts;
  std::size_t at = 0;
  while (true) {
    at += 1 + next(state) % 64;  // pieces of 1..64 bytes
    if (at >= size) return cuts;
    cuts.push_back(at);
  }
}

std::vector<std::size_t> every_byte(std::size_t size) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < size; ++i) cuts.push_back(i);
  return cuts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view wire(reinterpret_cast<const char*>(data), size);
  std::uint64_t state = std::hash<std::string_view>{}(wire);

  for (const bool head : {false, true}) {
    const std::vector<Outcome> whole = parse_stream(wire, {}, /*capture=*/false, head);
    const std::vector<std::vector<std::size_t>> splits = {every_byte(size), random_cuts(size, state),
                                                          random_cuts(size, state)};
    for (std::size_t s = 0; s < splits.size(); ++s) {
      for (const bool capture : {false, true}) {
        const std::vector<Outcome> pieces = parse_stream(wire, splits[s], capture, head);
        LP_FUZZ_CHECK(pieces == whole, "%s, split #%zu (%zu cuts), capture=%d: in pieces\n%sat once\n%s",
                      head ? "HEAD" : "GET", s, splits[s].size(), capture, describe(pieces).c_str(),
                      describe(whole).c_str());
      }
    }
  }
  return 0;
}
