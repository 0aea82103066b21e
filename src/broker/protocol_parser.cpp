#include "broker/protocol_parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace lp::broker {
namespace {

// The most arguments any operation takes (HPUB subject reply hdr_len total_len), plus
// one so that a line with too many is told apart.
constexpr std::size_t kMaxArgs = 5;

constexpr std::size_t kTypicalLine = 128;

bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_nocase(std::string_view a, std::string_view lower_b) noexcept {
  if (a.size() != lower_b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower_b[i]) return false;
  }
  return true;
}

// A decimal size: digits only, no sign, no overflow. nats-server's parseSize rejects
// the same inputs (a non-digit or more than an int64 holds).
bool parse_size(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty() || s.size() > 18) return false;  // 18 digits cannot overflow
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

}  // namespace

ProtocolParser::ProtocolParser(Limits limits) : limits_(limits) {
  // Room for a typical split control line (`PUB <subject> <reply> <size>`) from the
  // start, so a stream whose lines happen to split late does not grow it mid-run.
  line_.reserve(kTypicalLine);
}

void ProtocolParser::reset() noexcept {
  state_ = State::Line;
  error_ = ProtocolError::None;
  line_.clear();
  payload_.clear();
  line_kept_ = false;
  op_done_ = false;
  op_ = Operation{};
}

FeedResult ProtocolParser::fail(ProtocolError error) noexcept {
  error_ = error;
  state_ = State::Failed;
  return {ParseStatus::Error, 0};
}

FeedResult ProtocolParser::feed(const char* data, std::size_t n) noexcept {
  if (state_ == State::Failed) return {ParseStatus::Error, 0};
  if (op_done_) {
    // The last operation's views may point into these buffers: only now are they free.
    line_.clear();
    payload_.clear();
    line_kept_ = false;
    op_done_ = false;
  }
  std::size_t pos = 0;
  while (pos < n) {
    switch (state_) {
      case State::Line: {
        const char* start = data + pos;
        const std::size_t avail = n - pos;
        const auto* nl = static_cast<const char*>(std::memchr(start, '\n', avail));
        // A line may be max_control_line bytes plus the CR before its LF.
        const std::size_t bound = limits_.max_control_line + 1;
        if (nl == nullptr) {
          if (line_.size() + avail > bound) return fail(ProtocolError::MaxControlLine);
          line_.append(start, avail);
          return {ParseStatus::NeedMore, n};
        }
        const auto body = static_cast<std::size_t>(nl - start);  // bytes before the LF
        std::string_view line;
        if (line_.empty()) {
          line = std::string_view(start, body);
          line_kept_ = false;
        } else {
          if (line_.size() + body > bound) return fail(ProtocolError::MaxControlLine);
          line_.append(start, body);
          line = line_;
          line_kept_ = true;
        }
        pos += body + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > limits_.max_control_line) return fail(ProtocolError::MaxControlLine);
        if (!parse_line(line)) return fail(error_);
        if (op_.kind != OpKind::Pub && op_.kind != OpKind::Hpub) {
          bind_views(line.data());
          op_done_ = true;
          return {ParseStatus::Op, pos};
        }
        const std::size_t rest = n - pos;
        if (rest >= payload_bytes_ + 2) {
          // The whole payload is in this input: point at it, copy nothing.
          const char* p = data + pos;
          if (p[payload_bytes_] != '\r' || p[payload_bytes_ + 1] != '\n') {
            return fail(ProtocolError::UnknownOperation);
          }
          bind_views(line.data());
          op_.payload = std::string_view(p, payload_bytes_);
          op_done_ = true;
          return {ParseStatus::Op, pos + payload_bytes_ + 2};
        }
        // The payload continues in a later feed(): keep the line, since the caller's
        // input will be gone by then.
        if (!line_kept_) {
          line_.assign(line.data(), line.size());
          line_kept_ = true;
        }
        payload_.clear();
        payload_.reserve(payload_bytes_);
        state_ = payload_bytes_ > 0 ? State::Payload : State::PayloadCr;
        break;
      }
      case State::Payload: {
        const std::size_t take = std::min(n - pos, payload_bytes_ - payload_.size());
        payload_.append(data + pos, take);
        pos += take;
        if (payload_.size() == payload_bytes_) state_ = State::PayloadCr;
        break;
      }
      case State::PayloadCr:
        if (data[pos] != '\r') return fail(ProtocolError::UnknownOperation);
        ++pos;
        state_ = State::PayloadLf;
        break;
      case State::PayloadLf:
        if (data[pos] != '\n') return fail(ProtocolError::UnknownOperation);
        ++pos;
        bind_views(line_.data());
        op_.payload = payload_;
        state_ = State::Line;
        op_done_ = true;
        return {ParseStatus::Op, pos};
      case State::Failed:
        return {ParseStatus::Error, 0};
    }
  }
  return {ParseStatus::NeedMore, n};
}

bool ProtocolParser::parse_line(std::string_view line) noexcept {
  std::array<Span, kMaxArgs + 1> args{};
  std::size_t count = 0;  // the verb is args[0]
  std::size_t i = 0;
  while (i < line.size() && count < args.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i == line.size()) break;
    const std::size_t begin = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    args[count++] = Span{static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(i - begin)};
    if (count == 1 && equals_nocase(line.substr(begin, i - begin), "connect")) {
      // The JSON argument may contain spaces: it is the rest of the line.
      while (i < line.size() && is_space(line[i])) ++i;
      json_ = Span{static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(line.size() - i)};
      break;
    }
  }
  // The verb must open the line: nats-server rejects leading whitespace too.
  if (count == 0 || args[0].offset != 0) {
    error_ = ProtocolError::UnknownOperation;
    return false;
  }
  auto arg = [&](std::size_t k) { return line.substr(args[k].offset, args[k].length); };
  const std::string_view verb = arg(0);
  const std::size_t nargs = count - 1;
  op_ = Operation{};
  subject_ = reply_ = queue_ = sid_ = Span{};
  payload_bytes_ = 0;
  auto bad = [&](ProtocolError e) {
    error_ = e;
    return false;
  };

  if (equals_nocase(verb, "ping")) {
    op_.kind = OpKind::Ping;
    return true;
  }
  if (equals_nocase(verb, "pong")) {
    op_.kind = OpKind::Pong;
    return true;
  }
  if (equals_nocase(verb, "connect")) {
    op_.kind = OpKind::Connect;
    return true;
  }
  if (equals_nocase(verb, "pub")) {
    if (nargs != 2 && nargs != 3) return bad(ProtocolError::UnknownOperation);
    op_.kind = OpKind::Pub;
    subject_ = args[1];
    if (nargs == 3) reply_ = args[2];
    std::uint64_t size = 0;
    if (!parse_size(arg(nargs), size)) return bad(ProtocolError::UnknownOperation);
    if (size > limits_.max_payload) return bad(ProtocolError::MaxPayload);
    payload_bytes_ = static_cast<std::size_t>(size);
    return true;
  }
  if (equals_nocase(verb, "hpub")) {
    if (nargs != 3 && nargs != 4) return bad(ProtocolError::UnknownOperation);
    op_.kind = OpKind::Hpub;
    subject_ = args[1];
    if (nargs == 4) reply_ = args[2];
    std::uint64_t header = 0, total = 0;
    if (!parse_size(arg(nargs - 1), header) || !parse_size(arg(nargs), total) || header > total) {
      return bad(ProtocolError::UnknownOperation);
    }
    if (total > limits_.max_payload) return bad(ProtocolError::MaxPayload);
    op_.header_bytes = static_cast<std::size_t>(header);
    payload_bytes_ = static_cast<std::size_t>(total);
    return true;
  }
  if (equals_nocase(verb, "sub")) {
    if (nargs != 2 && nargs != 3) return bad(ProtocolError::UnknownOperation);
    op_.kind = OpKind::Sub;
    subject_ = args[1];
    if (nargs == 3) queue_ = args[2];
    sid_ = args[nargs];
    return true;
  }
  if (equals_nocase(verb, "unsub")) {
    if (nargs != 1 && nargs != 2) return bad(ProtocolError::UnknownOperation);
    op_.kind = OpKind::Unsub;
    sid_ = args[1];
    if (nargs == 2) {
      if (!parse_size(arg(2), op_.max_msgs)) return bad(ProtocolError::UnknownOperation);
      op_.has_max = true;
    }
    return true;
  }
  return bad(ProtocolError::UnknownOperation);
}

void ProtocolParser::bind_views(const char* base) noexcept {
  auto view = [base](Span s) { return std::string_view(base + s.offset, s.length); };
  if (op_.kind == OpKind::Connect) op_.json = view(json_);
  op_.subject = view(subject_);
  op_.reply = view(reply_);
  op_.queue = view(queue_);
  op_.sid = view(sid_);
}

}  // namespace lp::broker
