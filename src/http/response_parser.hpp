#pragma once
// Incremental HTTP/1.1 response parser for the load engine's hot path. Bytes arrive in
// whatever pieces the socket hands over; the parser keeps only a fixed-size buffer for a
// partial line and counts body bytes without storing them (unless capturing for Python).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lp::http {

/// Outcome of feeding bytes: keep reading, a whole response is parsed, or the bytes are
/// not a valid response (close the connection; the parser stays Invalid until reset()).
enum class ParseStatus : std::uint8_t { NeedMore, Done, Invalid };

struct FeedResult {
  ParseStatus status;
  /// Bytes taken from this call's input. NeedMore: all of them. Done: up to the last
  /// byte of the response, so bytes after it belong to the next (pipelined) response.
  /// Invalid: unspecified, since the connection cannot be reused.
  std::size_t consumed;
};

/// Longest line (status line, header field, chunk-size line or trailer field) counting
/// its CR but not its LF. Longer is Invalid.
inline constexpr std::size_t kMaxLineBytes = 8 * 1024;

/// Largest header block: status line and fields of the final response and of every
/// interim (1xx) response before it, terminators included. Applies separately to the
/// trailer block of a chunked body. Larger is Invalid.
inline constexpr std::size_t kMaxHeaderBlockBytes = 64 * 1024;

/// Parses one HTTP/1.x response at a time from a byte stream.
///
/// - Status line `HTTP/1.<digit> <3-digit code 100..599>[ reason]`; CRLF or bare LF ends
///   every line; a CR anywhere else in a line is Invalid.
/// - Body framing: Transfer-Encoding whose last coding is `chunked` (chunk extensions
///   are checked against RFC 9112 §7.1.1 and discarded, trailer fields are checked and
///   discarded); else Content-Length (a repeated or comma-listed value must be
///   identical everywhere); else until the peer closes. A Transfer-Encoding whose last
///   coding is not `chunked` also reads until close, and `chunked` listed before
///   another coding or twice is Invalid.
/// - No body for 204, 304, 101 and responses to HEAD. Interim responses (100, 102,
///   103, ...) are skipped, and so are empty lines after one; 101 Switching Protocols
///   is final and ends HTTP on the connection (keep_alive() is false).
/// - Obsolete line folding (a field line starting with SP/HTAB) continues the field
///   before it, joined with one SP (RFC 9112 §5.2); the folded field counts as one
///   line for kMaxLineBytes. Whitespace before the first field line is Invalid.
/// - docs/architecture.md has the table of every leniency and why.
///
/// Results do not depend on how the input is split across feed() calls. Not
/// thread-safe: one parser per connection.
class ResponseParser {
 public:
  /// capture=false: feed() never allocates; only the status line and framing headers
  /// are kept. capture=true (Python mode): also keeps every header field and the whole
  /// body in memory, growing without limit; feed() is noexcept, so running out of
  /// memory there terminates the process.
  explicit ResponseParser(bool capture = false) noexcept;

  /// Makes the parser ready for the next response on the same connection, keeping
  /// captured buffers' capacity. head_request=true: the request was HEAD, so the final
  /// response has no body whatever its Content-Length or Transfer-Encoding says.
  void reset(bool head_request = false) noexcept;

  /// Parses `n` bytes at `data`, stopping exactly after the last byte of the response.
  /// After Done or Invalid, further calls consume nothing and return the same status
  /// until reset(). `data` may be null when `n` is 0.
  FeedResult feed(const char* data, std::size_t n) noexcept;

  /// The peer closed the connection. Completes a body that runs until close (Done);
  /// keeps Done and Invalid; anything else is a truncated response and becomes Invalid.
  ParseStatus finish_eof() noexcept;

  /// True once any byte of this response (or of an interim response before it) was
  /// fed: tells "closed before responding" from "closed mid-response".
  bool started() const noexcept { return started_; }

  /// True once a whole final response has been parsed.
  bool done() const noexcept { return state_ == State::Done; }

  /// Status code of the last status line parsed (an interim 1xx until the final one
  /// arrives); 0 before any.
  int status() const noexcept { return status_; }

  /// Whether the connection may carry another request after this response. False for
  /// `Connection: close`, HTTP/1.0 without `Connection: keep-alive`, bodies read until
  /// close, 101, both Transfer-Encoding and Content-Length present (a smuggling
  /// signature), Transfer-Encoding in an HTTP/1.0 response, and until the response
  /// head is complete or when Invalid.
  bool keep_alive() const noexcept { return keep_alive_ && state_ != State::Invalid; }

  /// Body bytes seen so far: payload only, without chunk framing.
  std::uint64_t body_bytes() const noexcept { return body_bytes_; }

  /// What made the input Invalid, as a static string; "" when nothing did.
  const char* error() const noexcept { return error_; }

  /// Whether this parser keeps headers and body (the constructor's `capture`).
  bool capturing() const noexcept { return capture_; }

  /// Capture mode: the body received so far (chunk framing removed). Empty otherwise.
  const std::string& body() const noexcept { return body_; }

  /// Capture mode: the final response's header fields in order, names as received,
  /// values without surrounding whitespace. Interim responses and trailers are not
  /// kept. Empty otherwise.
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept {
    return headers_;
  }

 private:
  enum class State : std::uint8_t {
    StatusLine,   // waiting for "HTTP/1.x SSS reason"
    HeaderLine,   // field lines until the empty line
    FixedBody,    // Content-Length body, remaining_ bytes left
    ChunkSize,    // hex size line, maybe with extensions
    ChunkData,    // remaining_ bytes of the current chunk left
    ChunkDataCr,  // CRLF (or bare LF) that must follow chunk data
    ChunkDataLf,  // LF after that CR
    Trailer,      // trailer field lines until the empty line
    UntilClose,   // body ends when the peer closes
    Done,
    Invalid,
  };

  const char* feed_line(const char* p, const char* end) noexcept;
  const char* line_limit_error() const noexcept;
  void on_status_line(const char* line, std::size_t len) noexcept;
  /// Checks a field line's name and value bytes; returns the colon's index, or 0 after fail().
  std::size_t check_field_line(const char* line, std::size_t len) noexcept;
  void on_field_line(const char* line, std::size_t len, bool trailer) noexcept;
  void on_chunk_size_line(const char* line, std::size_t len) noexcept;
  void on_head_complete() noexcept;
  void on_content_length(const char* value, std::size_t len) noexcept;
  void on_transfer_encoding(const char* value, std::size_t len) noexcept;
  void on_connection(const char* value, std::size_t len) noexcept;
  void clear_head() noexcept;
  void fail(const char* why) noexcept;

  State state_ = State::StatusLine;
  bool capture_ = false;           // keep headers_ and body_
  bool head_request_ = false;      // final response has no body (HEAD)
  bool started_ = false;           // a byte of this response was fed
  bool http10_ = false;            // status line said HTTP/1.0
  bool has_content_length_ = false;
  bool has_transfer_encoding_ = false;
  bool chunked_ = false;           // Transfer-Encoding's last coding is chunked
  bool connection_close_ = false;  // Connection lists "close"
  bool connection_keep_alive_ = false;  // Connection lists "keep-alive"
  bool keep_alive_ = false;        // decided when the head completes
  bool interim_ = false;           // a 1xx was parsed: a stray empty line may follow
  bool field_open_ = false;        // line_ holds a whole field line that may be folded
  bool fold_ws_ = false;           // skipping the leading whitespace of a folded line
  int status_ = 0;
  std::uint32_t line_len_ = 0;     // bytes of a partial (or open folded) line held in line_
  std::uint32_t phys_len_ = 0;     // bytes of the current physical line received so far
  std::uint32_t block_bytes_ = 0;  // bytes of the current header or trailer block
  std::uint64_t content_length_ = 0;
  std::uint64_t remaining_ = 0;    // of the fixed body or the current chunk
  std::uint64_t body_bytes_ = 0;
  const char* error_ = "";
  std::string body_;                                          // capture mode only
  std::vector<std::pair<std::string, std::string>> headers_;  // capture mode only
  std::array<char, kMaxLineBytes> line_;  // a line split across feed() calls
};

}  // namespace lp::http
