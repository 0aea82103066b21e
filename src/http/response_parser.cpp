#include "http/response_parser.hpp"

#include <cstring>
#include <string_view>

namespace lp::http {
namespace {

// Character classes from RFC 9110 §5.6.2 (tchar) and §5.5 (field-vchar, SP, HTAB,
// obs-text). A table lookup per byte is what keeps header validation cheap.
struct CharTables {
  bool token[256] = {};
  bool field_value[256] = {};
  signed char hex[256] = {};
};

constexpr CharTables make_tables() {
  CharTables t{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    t.token[c] = alpha || digit;
    t.field_value[c] = c == '\t' || (c >= 0x20 && c != 0x7F);
    t.hex[c] = digit ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                               : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
  }
  for (const char c : std::string_view("!#$%&'*+-.^_`|~")) t.token[static_cast<unsigned char>(c)] = true;
  return t;
}

constexpr CharTables kChars = make_tables();

inline unsigned char byte(char c) { return static_cast<unsigned char>(c); }
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }

// True when every byte of [s, s + n) may appear in a field value (RFC 9110 §5.5): no
// control character but HTAB. Most values are plain text, so eight bytes are cleared
// at once when none is below 0x20 or equal to 0x7F; a word that might hold one
// (usually an HTAB) is settled byte by byte.
inline bool is_field_value(const char* s, std::size_t n) {
  constexpr std::uint64_t kOnes = 0x0101010101010101;
  constexpr std::uint64_t kHighs = 0x8080808080808080;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s + i, 8);
    const std::uint64_t del = w ^ (kOnes * 0x7F);
    const std::uint64_t suspects = ((w - kOnes * 0x20) & ~w) | ((del - kOnes) & ~del);
    if ((suspects & kHighs) == 0) continue;
    for (std::size_t j = i; j < i + 8; ++j) {
      if (!kChars.field_value[byte(s[j])]) return false;
    }
  }
  for (; i < n; ++i) {
    if (!kChars.field_value[byte(s[i])]) return false;
  }
  return true;
}

// Compares with a lower-case literal made of letters, digits and '-'. Setting bit 5
// folds ASCII case; the only other byte it maps onto '-' is CR, which never reaches
// here because lines with a stray CR are rejected first.
inline bool equals_lower(const char* s, std::size_t len, std::string_view lower) {
  if (len != lower.size()) return false;
  for (std::size_t i = 0; i < len; ++i) {
    if ((byte(s[i]) | 0x20) != byte(lower[i])) return false;
  }
  return true;
}

// Calls `element(begin, len)` for each non-empty element of a comma-separated list,
// OWS trimmed (RFC 9110 §5.6.1 lets senders leave empty elements). Stops early when
// `element` returns false, and then returns false.
template <typename F>
bool for_each_element(const char* s, std::size_t len, F&& element) {
  const char* p = s;
  const char* const end = s + len;
  while (p < end) {
    const char* comma = static_cast<const char*>(std::memchr(p, ',', static_cast<std::size_t>(end - p)));
    const char* stop = comma ? comma : end;
    const char* b = p;
    const char* e = stop;
    while (b < e && is_ows(*b)) ++b;
    while (e > b && is_ows(e[-1])) --e;
    if (b < e && !element(b, static_cast<std::size_t>(e - b))) return false;
    p = comma ? comma + 1 : end;
  }
  return true;
}

// Checks what follows the chunk size on its line (RFC 9112 §7.1.1), which the caller
// has checked for control characters; returns why it is invalid, or null.
//   chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   chunk-ext-name = token;  chunk-ext-val = token / quoted-string
// Extensions carry nothing we use; they are checked so that a malformed line is an
// error at once, never taken as a size and never a wait for more body.
const char* check_chunk_extensions(const char* s, std::size_t len) {
  const char* p = s;
  const char* const end = s + len;
  auto skip_bws = [&] {
    while (p < end && is_ows(*p)) ++p;
  };
  auto skip_token = [&] {
    const char* from = p;
    while (p < end && kChars.token[byte(*p)]) ++p;
    return p != from;
  };
  bool any = false;
  while (p < end) {
    const char* before = p;
    skip_bws();
    if (p == end) return any ? "whitespace at the end of a chunk extension" : "whitespace after chunk size";
    if (*p != ';') return any || p != before ? "invalid chunk extension" : "chunk size is not hex";
    ++p;
    skip_bws();
    if (!skip_token()) return "empty chunk extension name";
    any = true;
    const char* after_name = p;
    skip_bws();
    if (p == end || *p != '=') {
      p = after_name;  // BWS belongs to the next extension (or is trailing: an error)
      continue;
    }
    ++p;
    skip_bws();
    if (p < end && *p == '"') {
      // quoted-string: qdtext or quoted-pair; the caller ruled out control characters,
      // so only the closing DQUOTE and backslash escapes need finding.
      for (++p;; ++p) {
        if (p == end) return "unterminated quoted string in chunk extension";
        if (*p == '"') break;
        if (*p == '\\' && ++p == end) return "unterminated quoted string in chunk extension";
      }
      ++p;
    } else if (!skip_token()) {
      return "empty chunk extension value";
    }
  }
  return nullptr;
}

}  // namespace

ResponseParser::ResponseParser(bool capture) noexcept : capture_(capture) {}

void ResponseParser::reset(bool head_request) noexcept {
  state_ = State::StatusLine;
  head_request_ = head_request;
  started_ = false;
  http10_ = false;
  keep_alive_ = false;
  status_ = 0;
  line_len_ = 0;
  phys_len_ = 0;
  field_open_ = false;
  fold_ws_ = false;
  interim_ = false;
  block_bytes_ = 0;
  remaining_ = 0;
  body_bytes_ = 0;
  error_ = "";
  clear_head();
  body_.clear();
}

void ResponseParser::clear_head() noexcept {
  has_content_length_ = false;
  has_transfer_encoding_ = false;
  chunked_ = false;
  connection_close_ = false;
  connection_keep_alive_ = false;
  content_length_ = 0;
  headers_.clear();
}

void ResponseParser::fail(const char* why) noexcept {
  state_ = State::Invalid;
  error_ = why;
  keep_alive_ = false;
}

const char* ResponseParser::line_limit_error() const noexcept {
  switch (state_) {
    case State::ChunkSize: return "chunk size line exceeds 8 KiB";
    case State::Trailer: return "trailer line exceeds 8 KiB";
    default: return "header line exceeds 8 KiB";
  }
}

// Takes the bytes of a line (status line, field line, chunk size line, trailer line)
// from [p, end): either completes one line and returns just after its LF, or keeps a
// partial line in line_ and returns `end`. Forced inline into feed(): as a call it
// costs 15 % of the time to parse a typical response.
[[gnu::always_inline]] inline const char* ResponseParser::feed_line(const char* p, const char* const end) noexcept {
  if (field_open_) {
    // line_ holds a whole field line; the first byte after it says whether it goes on.
    field_open_ = false;
    if (!is_ows(*p)) {
      const std::size_t len = line_len_;
      line_len_ = 0;
      on_field_line(line_.data(), len, state_ == State::Trailer);
      return p;
    }
    // RFC 9112 §5.2: a user agent replaces each obs-fold with SP and reads on. The
    // folded field counts as one line for kMaxLineBytes.
    if (line_len_ >= kMaxLineBytes) {
      fail(line_limit_error());
      return end;
    }
    line_[line_len_++] = ' ';
    fold_ws_ = true;
  }
  if (fold_ws_) {  // the continuation's leading whitespace is part of the fold
    while (p < end && is_ows(*p)) {
      ++p;
      ++phys_len_;
    }
    if (p == end) return end;
    fold_ws_ = false;
  }

  const auto avail = static_cast<std::size_t>(end - p);
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', avail));
  const std::size_t part = nl ? static_cast<std::size_t>(nl - p) : avail;
  // Checked on every piece, so the verdict does not depend on the split: a line is too
  // long exactly when its bytes before LF exceed the limit.
  if (part > kMaxLineBytes - line_len_) {
    fail(line_limit_error());
    return end;
  }
  if (!nl) {
    std::memcpy(line_.data() + line_len_, p, part);
    line_len_ += static_cast<std::uint32_t>(part);
    phys_len_ += static_cast<std::uint32_t>(part);
    return end;
  }
  const char* line = p;
  std::size_t len = part;
  if (line_len_ != 0) {  // finish a line begun in an earlier call (or a folded field)
    std::memcpy(line_.data() + line_len_, p, part);
    line = line_.data();
    len = line_len_ + part;
    line_len_ = 0;
  }
  const std::size_t raw_bytes = phys_len_ + part + 1;  // as received, LF included
  phys_len_ = 0;
  p = nl + 1;

  if (state_ != State::ChunkSize) {
    block_bytes_ += static_cast<std::uint32_t>(raw_bytes);
    if (block_bytes_ > kMaxHeaderBlockBytes) {
      fail(state_ == State::Trailer ? "trailer block exceeds 64 KiB" : "header block exceeds 64 KiB");
      return p;
    }
  }
  if (len != 0 && line[len - 1] == '\r') --len;
  switch (state_) {
    case State::StatusLine:
      on_status_line(line, len);
      break;
    case State::ChunkSize:
      on_chunk_size_line(line, len);
      break;
    default:  // HeaderLine, Trailer
      if (len != 0 && (p == end || is_ows(*p))) {
        // The next line may continue this field (obs-fold): hold it until that line's
        // first byte is known. Everything but the meaning of its value is checked now,
        // so a bad line is Invalid at once. Most fields are followed by another field
        // in the same piece and are handled at once, without a copy.
        if (check_field_line(line, len) == 0) break;
        if (line != line_.data()) std::memcpy(line_.data(), line, len);
        line_len_ = static_cast<std::uint32_t>(len);
        field_open_ = true;
        break;
      }
      on_field_line(line, len, state_ == State::Trailer);
      break;
  }
  return p;
}

FeedResult ResponseParser::feed(const char* data, std::size_t n) noexcept {
  const char* p = data;
  const char* const end = data + n;
  if (n != 0 && state_ != State::Done && state_ != State::Invalid) started_ = true;

  while (p < end) {
    switch (state_) {
      case State::FixedBody:
      case State::ChunkData: {
        const auto avail = static_cast<std::size_t>(end - p);
        const std::size_t take = remaining_ < avail ? static_cast<std::size_t>(remaining_) : avail;
        if (capture_) body_.append(p, take);
        body_bytes_ += take;
        remaining_ -= take;
        p += take;
        if (remaining_ == 0) state_ = state_ == State::FixedBody ? State::Done : State::ChunkDataCr;
        break;
      }
      case State::UntilClose: {
        const auto avail = static_cast<std::size_t>(end - p);
        if (capture_) body_.append(p, avail);
        body_bytes_ += avail;
        p = end;
        break;
      }
      case State::ChunkDataCr:
        if (*p == '\r') {
          state_ = State::ChunkDataLf;
        } else if (*p == '\n') {
          state_ = State::ChunkSize;
        } else {
          fail("chunk data not followed by CRLF");
          break;
        }
        ++p;
        break;
      case State::ChunkDataLf:
        if (*p != '\n') {
          fail("chunk data not followed by CRLF");
          break;
        }
        state_ = State::ChunkSize;
        ++p;
        break;
      case State::Done:
        return {ParseStatus::Done, static_cast<std::size_t>(p - data)};
      case State::Invalid:
        return {ParseStatus::Invalid, static_cast<std::size_t>(p - data)};
      case State::StatusLine:
      case State::HeaderLine:
      case State::ChunkSize:
      case State::Trailer:
        p = feed_line(p, end);
        break;
    }
  }

  switch (state_) {
    case State::Done: return {ParseStatus::Done, static_cast<std::size_t>(p - data)};
    case State::Invalid: return {ParseStatus::Invalid, static_cast<std::size_t>(p - data)};
    default: return {ParseStatus::NeedMore, n};
  }
}

ParseStatus ResponseParser::finish_eof() noexcept {
  switch (state_) {
    case State::Done: return ParseStatus::Done;
    case State::Invalid: return ParseStatus::Invalid;
    case State::UntilClose:
      state_ = State::Done;
      keep_alive_ = false;
      return ParseStatus::Done;
    default:
      fail(started_ ? "connection closed mid-response" : "connection closed before the response started");
      return ParseStatus::Invalid;
  }
}

void ResponseParser::on_status_line(const char* s, std::size_t len) noexcept {
  // Some servers send an extra CRLF after a 1xx. The empty lines still count toward
  // the header block, so an endless stream of them is Invalid, not a hang.
  if (len == 0 && interim_) return;
  if (len < 12 || std::memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' || s[8] != ' ') {
    return fail("status line is not HTTP/1.x");
  }
  const bool digits = s[9] >= '0' && s[9] <= '9' && s[10] >= '0' && s[10] <= '9' &&
                      s[11] >= '0' && s[11] <= '9';
  if (!digits || (len > 12 && s[12] != ' ')) return fail("status code is not three digits");
  const int code = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
  if (code < 100 || code > 599) return fail("status code outside 100..599");
  if (len > 13 && !is_field_value(s + 13, len - 13)) return fail("control character in reason phrase");
  status_ = code;
  http10_ = s[7] == '0';
  state_ = State::HeaderLine;
}

std::size_t ResponseParser::check_field_line(const char* s, std::size_t len) noexcept {
  // A folded line continues the field before it (feed_line joined them), so one that
  // starts with whitespace here has no field to continue (RFC 9112 §2.2).
  if (is_ows(s[0])) return fail("whitespace before the first field line"), 0;
  std::size_t colon = 0;
  while (colon < len && kChars.token[byte(s[colon])]) ++colon;
  if (colon == len) return fail("header line has no colon"), 0;
  if (s[colon] != ':') {
    std::size_t next = colon;
    while (next < len && is_ows(s[next])) ++next;
    fail(next > colon && next < len && s[next] == ':' ? "whitespace before colon in header"
                                                       : "invalid character in header name");
    return 0;
  }
  if (colon == 0) return fail("empty header name"), 0;
  if (!is_field_value(s + colon + 1, len - colon - 1)) return fail("control character in header value"), 0;
  return colon;
}

void ResponseParser::on_field_line(const char* s, std::size_t len, bool trailer) noexcept {
  if (len == 0) {
    if (trailer) {
      state_ = State::Done;
      return;
    }
    return on_head_complete();
  }
  const std::size_t colon = check_field_line(s, len);
  if (colon == 0) return;
  std::size_t begin = colon + 1;
  while (begin < len && is_ows(s[begin])) ++begin;
  std::size_t stop = len;
  while (stop > begin && is_ows(s[stop - 1])) --stop;
  if (trailer) return;  // checked, then discarded: trailers never change framing

  const char* value = s + begin;
  const std::size_t value_len = stop - begin;
  // Dispatch on length first so most fields cost one comparison.
  switch (colon) {
    case 14:
      if (equals_lower(s, colon, "content-length")) on_content_length(value, value_len);
      break;
    case 17:
      if (equals_lower(s, colon, "transfer-encoding")) on_transfer_encoding(value, value_len);
      break;
    case 10:
      if (equals_lower(s, colon, "connection")) on_connection(value, value_len);
      break;
    default:
      break;
  }
  if (capture_ && state_ != State::Invalid) headers_.emplace_back(std::string(s, colon), std::string(value, value_len));
}

void ResponseParser::on_content_length(const char* value, std::size_t len) noexcept {
  // RFC 9110 §8.6: a list of identical values (or repeated fields) is one length.
  bool any = false;
  const char* why = nullptr;
  for_each_element(value, len, [&](const char* v, std::size_t n) {
    std::uint64_t length = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (v[i] < '0' || v[i] > '9') {
        why = "Content-Length is not a number";
        return false;
      }
      const auto digit = static_cast<std::uint64_t>(v[i] - '0');
      if (length > (UINT64_MAX - digit) / 10) {
        why = "Content-Length overflows";
        return false;
      }
      length = length * 10 + digit;
    }
    if (has_content_length_ && length != content_length_) {
      why = "conflicting Content-Length values";
      return false;
    }
    has_content_length_ = true;
    content_length_ = length;
    any = true;
    return true;
  });
  if (why) return fail(why);
  if (!any) fail("Content-Length is not a number");
}

void ResponseParser::on_transfer_encoding(const char* value, std::size_t len) noexcept {
  // Repeated fields form one list (RFC 9110 §5.3), so `chunked_` carries across fields.
  has_transfer_encoding_ = true;
  const char* why = nullptr;
  bool any = false;
  for_each_element(value, len, [&](const char* v, std::size_t n) {
    any = true;
    std::size_t name = 0;  // a coding may carry parameters: "gzip;q=1"
    while (name < n && v[name] != ';' && !is_ows(v[name])) ++name;
    if (chunked_) {
      why = equals_lower(v, name, "chunked") ? "chunked transfer coding applied twice"
                                             : "chunked is not the last transfer coding";
      return false;
    }
    chunked_ = equals_lower(v, name, "chunked");
    return true;
  });
  if (why) return fail(why);
  if (!any) fail("empty Transfer-Encoding");
}

void ResponseParser::on_connection(const char* value, std::size_t len) noexcept {
  for_each_element(value, len, [&](const char* v, std::size_t n) {
    if (equals_lower(v, n, "close")) connection_close_ = true;
    else if (equals_lower(v, n, "keep-alive")) connection_keep_alive_ = true;
    return true;
  });
}

void ResponseParser::on_head_complete() noexcept {
  if (status_ < 200 && status_ != 101) {
    // Interim response: its fields say nothing about the final one.
    clear_head();
    interim_ = true;
    state_ = State::StatusLine;
    return;
  }
  keep_alive_ = http10_ ? connection_keep_alive_ && !connection_close_ : !connection_close_;
  if (status_ == 101) {
    keep_alive_ = false;  // the connection now speaks another protocol
    state_ = State::Done;
    return;
  }
  if (head_request_ || status_ == 204 || status_ == 304) {
    state_ = State::Done;
    return;
  }
  if (has_transfer_encoding_) {
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, but a peer sending
    // both is confused or hostile, so the connection is not reused. Nor is it after an
    // HTTP/1.0 response with Transfer-Encoding, whose framing §6.1 calls faulty.
    if (has_content_length_ || http10_) keep_alive_ = false;
    if (chunked_) {
      block_bytes_ = 0;  // the trailer block gets its own budget
      state_ = State::ChunkSize;
    } else {
      keep_alive_ = false;
      state_ = State::UntilClose;
    }
    return;
  }
  if (has_content_length_) {
    remaining_ = content_length_;
    state_ = content_length_ == 0 ? State::Done : State::FixedBody;
    return;
  }
  keep_alive_ = false;
  state_ = State::UntilClose;
}

void ResponseParser::on_chunk_size_line(const char* s, std::size_t len) noexcept {
  std::uint64_t size = 0;
  std::size_t i = 0;
  for (; i < len; ++i) {
    const int digit = kChars.hex[byte(s[i])];
    if (digit < 0) break;
    if (size >> 60 != 0) return fail("chunk size overflows");
    size = (size << 4) | static_cast<std::uint64_t>(digit);
  }
  if (i == 0) return fail("chunk size is not hex");
  if (i < len) {
    if (!is_field_value(s + i, len - i)) return fail("control character in chunk extension");
    if (const char* why = check_chunk_extensions(s + i, len - i)) return fail(why);
  }
  if (size == 0) {
    state_ = State::Trailer;
    return;
  }
  remaining_ = size;
  state_ = State::ChunkData;
}

}  // namespace lp::http
