#pragma once
// Incremental parser for what a NATS client sends a server (the client protocol:
// CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG). Bytes arrive in whatever pieces the
// socket hands over; feed() stops after each complete operation, so the caller acts on
// it before feeding the rest, exactly like http::ResponseParser.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lp::broker {

enum class OpKind : std::uint8_t { Connect, Pub, Hpub, Sub, Unsub, Ping, Pong };

/// One client operation. Every view points into the parser's own buffers or into the
/// bytes passed to the feed() call that returned it: valid until the next feed() or
/// reset(). Fields an operation does not have are empty / 0.
struct Operation {
  OpKind kind = OpKind::Ping;
  std::string_view subject;       ///< PUB, HPUB, SUB
  std::string_view reply;         ///< PUB, HPUB: the optional reply subject
  std::string_view queue;         ///< SUB: the optional queue group
  std::string_view sid;           ///< SUB, UNSUB: the client's subscription id
  std::uint64_t max_msgs = 0;     ///< UNSUB: the optional auto-unsubscribe count
  bool has_max = false;           ///< UNSUB: whether max_msgs was given (it may be 0)
  std::string_view json;          ///< CONNECT: the JSON argument, unparsed
  std::size_t header_bytes = 0;   ///< HPUB: the first header_bytes of `payload` are the header block
  std::string_view payload;       ///< PUB, HPUB: every byte announced (headers included), no CRLF
};

/// Why the input is not the client protocol. Each maps to the -ERR a server sends
/// before closing (broker/server_loop.cpp).
enum class ProtocolError : std::uint8_t {
  None,
  UnknownOperation,  ///< unknown verb, malformed arguments, payload not followed by CRLF
  MaxControlLine,    ///< a control line longer than Limits::max_control_line
  MaxPayload,        ///< PUB/HPUB announcing more than Limits::max_payload bytes
};

enum class ParseStatus : std::uint8_t { NeedMore, Op, Error };

struct FeedResult {
  ParseStatus status;
  /// Bytes taken from this call's input. NeedMore: all of them. Op: up to the last
  /// byte of the operation (its CRLF included). Error: unspecified (close the client).
  std::size_t consumed;
};

struct ParserLimits {
  std::size_t max_control_line = 4096;    ///< bytes, CR/LF excluded (nats-server's default)
  std::size_t max_payload = 1024 * 1024;  ///< bytes per PUB/HPUB, headers included
};

/// Parses NATS client operations from a byte stream.
///
/// - A control line ends with LF, optionally preceded by CR (nats-server accepts both).
///   Verbs are case-insensitive; arguments are separated by runs of spaces or tabs.
///   PING and PONG ignore anything after the verb, as nats-server does.
/// - A PUB/HPUB payload is read by its announced byte count, never by lines, and must be
///   followed by exactly CRLF. `PUB subj reply n`: the size is always the last argument.
/// - Results do not depend on how the input is split across feed() calls.
///
/// Memory: the parser keeps a partial control line (at most ParserLimits::max_control_line + 1 bytes)
/// and a payload split across feed() calls (at most max_payload bytes). Both buffers
/// keep their capacity, so a steady stream allocates nothing per operation; a payload
/// that arrives whole in one feed() is not copied at all. Not thread-safe: one per client.
class ProtocolParser {
 public:
  using Limits = ParserLimits;

  explicit ProtocolParser(Limits limits = {});

  /// Parses `n` bytes at `data`, stopping after the first complete operation. After
  /// Error, further calls consume nothing and return Error until reset(). `data` may be
  /// null when `n` is 0.
  FeedResult feed(const char* data, std::size_t n) noexcept;

  /// The operation of the last feed() that returned Op.
  const Operation& op() const noexcept { return op_; }

  /// What made the input invalid; None unless feed() returned Error.
  ProtocolError error() const noexcept { return error_; }

  /// Forgets any partial operation and a sticky error (buffers keep their capacity).
  void reset() noexcept;

  const Limits& limits() const noexcept { return limits_; }

 private:
  enum class State : std::uint8_t {
    Line,       // collecting a control line up to LF
    Payload,    // copying a payload split across feed() calls
    PayloadCr,  // the CR after the payload
    PayloadLf,  // the LF after it
    Failed,     // sticky error
  };

  // An argument as an offset into the current control line, so the line can move from
  // the caller's input into line_ without re-parsing.
  struct Span {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
  };

  FeedResult fail(ProtocolError error) noexcept;
  // Parses a whole control line (no CR/LF). Returns false when it is invalid (error_ set).
  bool parse_line(std::string_view line) noexcept;
  // Points op_'s views at `base` (the control line's first byte).
  void bind_views(const char* base) noexcept;

  Limits limits_;
  State state_ = State::Line;
  ProtocolError error_ = ProtocolError::None;
  std::string line_;     // a control line split across feed() calls (or kept for a payload)
  std::string payload_;  // a payload split across feed() calls
  bool line_kept_ = false;  // the current line lives in line_, not in the caller's input
  bool op_done_ = false;    // op_ was returned: its buffers are reused on the next feed()

  Operation op_;
  Span subject_, reply_, queue_, sid_, json_;
  std::size_t payload_bytes_ = 0;  // announced size of the pending PUB/HPUB
};

}  // namespace lp::broker
