// libFuzzer target for broker::ProtocolParser, the code that reads every byte a NATS
// client (or anyone reaching the broker's port) sends.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc
//           tests/fuzz/broker_protocol_fuzz.cpp src/broker/protocol_parser.cpp -o broker_protocol_fuzz
//   ./broker_protocol_fuzz -max_total_time=30 tests/fuzz/corpus/broker_protocol
//
// Input: byte 0 picks the limits and how to cut the rest; bytes 1.. are the stream.
// The stream is parsed whole, then in pieces (random cuts, or every byte for short
// inputs); both must give the same operations and the same final state, and neither
// may crash. Every piece is its own allocation, so a view kept past its feed() is a
// use-after-free that ASan reports. The same check runs in the unit tests
// (tests/broker/protocol_parser_fuzz_test.cpp) over the seed corpus and mutations.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/protocol_parser.hpp"

namespace lp::broker::fuzz {
namespace {

// Everything a caller can observe about one operation.
std::string describe(const Operation& op) {
  std::string s;
  s += static_cast<char>('0' + static_cast<int>(op.kind));
  for (std::string_view part : {op.subject, op.reply, op.queue, op.sid, op.json, op.payload}) {
    s += '|';
    s += std::to_string(part.size());
    s += ':';
    s.append(part.data(), part.size());
  }
  s += '|' + std::to_string(op.header_bytes) + '|' + std::to_string(op.max_msgs) + (op.has_max ? "m" : "");
  return s;
}

// Parses `stream` cut before each offset of `cuts`; returns the operations, then the
// final state.
std::vector<std::string> run(std::string_view stream, const std::vector<std::size_t>& cuts, ParserLimits limits,
                             bool& ok) {
  ProtocolParser parser(limits);
  std::vector<std::string> out;
  std::size_t pos = 0;
  bool partial = false;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t end = i < cuts.size() ? cuts[i] : stream.size();
    const std::size_t n = end > pos ? end - pos : 0;  // cuts ascend; this keeps gcc's bound checker calm
    auto piece = std::make_unique<char[]>(n + 1);
    if (n > 0) std::memcpy(piece.get(), stream.data() + pos, n);
    pos = end;
    std::size_t off = 0;
    while (off < n) {
      const FeedResult r = parser.feed(piece.get() + off, n - off);
      if (r.status == ParseStatus::Error) {
        ok &= parser.error() != ProtocolError::None;
        out.push_back("error " + std::to_string(static_cast<int>(parser.error())));
        return out;
      }
      ok &= r.consumed <= n - off;
      ok &= r.status != ParseStatus::NeedMore || r.consumed == n - off;
      ok &= r.status != ParseStatus::Op || r.consumed > 0;
      off += r.consumed;
      partial = r.status == ParseStatus::NeedMore;
      if (r.status == ParseStatus::Op) {
        const Operation& op = parser.op();
        if (op.kind == OpKind::Pub || op.kind == OpKind::Hpub) {
          ok &= op.payload.size() <= limits.max_payload && op.header_bytes <= op.payload.size();
        }
        out.push_back(describe(op));
      }
    }
  }
  if (partial) out.push_back("partial");
  return out;
}

}  // namespace

/// True when parsing `data` whole and in pieces agree and every invariant held.
bool same_operations_however_cut(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return true;
  const std::uint8_t config = data[0];
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  ParserLimits limits;
  limits.max_control_line = (config & 1) ? 64 : 4096;
  limits.max_payload = (config & 2) ? 16 : 1024 * 1024;

  bool ok = true;
  const auto whole = run(stream, {}, limits, ok);
  std::vector<std::size_t> cuts;
  if (stream.size() <= 256 && (config & 4)) {
    for (std::size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  } else {
    std::uint32_t x = 0x9E3779B9u ^ config ^ static_cast<std::uint32_t>(stream.size());
    std::size_t at = 0;
    while (!stream.empty()) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      at += 1 + x % 23;
      if (at >= stream.size()) break;
      cuts.push_back(at);
    }
  }
  const auto pieces = run(stream, cuts, limits, ok);
  return ok && pieces == whole;
}

}  // namespace lp::broker::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (!lp::broker::fuzz::same_operations_however_cut(data, size)) __builtin_trap();
  return 0;
}
