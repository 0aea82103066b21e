#pragma once
// One HTTP/1.1 client connection driven by an edge-triggered epoll loop.
//
// The socket is registered once for IN|OUT|RDHUP (edge-triggered) when it is opened and
// never re-armed: a request is written directly, and only a short write waits for the
// next writable edge. That leaves two syscalls per request (send, recv) plus a share of
// epoll_wait, where wrk spends four (it arms and disarms EPOLLOUT around each request).
//
// Every read loop reads until EAGAIN or EOF, never stopping at a short read: with
// edge-triggered epoll, a FIN that arrives with the last bytes of a response brings no
// further edge. The socket is read while a request is still being written too, so a
// response the server sends early (413 or 401 to a large body) is not lost.
//
// All of a connection's transitions live in connection.cpp; fail() is the single exit
// path for every I/O failure (wrk's `goto error`, done with a function).

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "http/endpoint.hpp"
#include "http/method.hpp"
#include "http/response_parser.hpp"

typedef struct ssl_st SSL;          // NOLINT: OpenSSL's own forward declarations
typedef struct ssl_ctx_st SSL_CTX;  // NOLINT

namespace lp::http {

using Clock = std::chrono::steady_clock;

enum class Failure : std::uint8_t {
  Connect,   ///< the TCP connection could not be opened
  Timeout,   ///< expire() was called: the owner's deadline passed
  Reset,     ///< closed or reset before the response was complete
  Tls,       ///< handshake, certificate or record failure
  Protocol,  ///< the bytes received are not an HTTP/1.x response
};

class Connection;

/// What a connection tells its owner (the worker). Callbacks may call send() on the
/// same connection (the next call of a chain, or the next due request).
class ConnectionObserver {
 public:
  /// A whole response arrived. `response` is valid only during the call.
  virtual void on_response(Connection& conn, const ResponseParser& response) noexcept = 0;
  /// The request failed and the connection is closed. `retryable`: sending the request
  /// again on a fresh connection is safe. That is the case when a reused keep-alive
  /// connection was closed or reset before any byte of a response (the server most
  /// likely dropped it as idle) and either no byte of the request was written or the
  /// method is idempotent. A POST or PATCH that may have reached the server never is.
  virtual void on_failure(Connection& conn, Failure failure, bool retryable) noexcept = 0;

 protected:
  ~ConnectionObserver() = default;
};

class Connection {
 public:
  enum class State : std::uint8_t { Closed, Connecting, Handshaking, Writing, Reading, Idle };

  /// `recv_buf` is the worker's scratch buffer, shared by all its connections (a
  /// connection only reads inside on_event). `tls` is null for http:// endpoints.
  Connection(int epoll_fd, std::uint32_t slot, const Endpoint& endpoint, SSL_CTX* tls,
             ConnectionObserver& observer, char* recv_buf, std::size_t recv_cap, bool capture);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Starts a request, opening the connection first when it is closed. `data` must stay
  /// valid until the response or failure callback. `method` says whether the response
  /// can have a body (HEAD) and whether a failure may be retried. May report the
  /// failure (or even the response) before it returns. Must not be called while busy().
  void send(const char* data, std::size_t size, MethodTraits method) noexcept;
  /// Handles an epoll event whose tag() matched this connection's current socket.
  void on_event(std::uint32_t events) noexcept;
  /// The owner's deadline passed: fails the request in flight with Failure::Timeout.
  void expire() noexcept;
  /// Closes the socket without reporting anything (idle close, shutdown).
  void close() noexcept;

  State state() const noexcept { return state_; }
  bool busy() const noexcept { return state_ != State::Idle && state_ != State::Closed; }
  bool open() const noexcept { return state_ != State::Closed; }
  const Endpoint& endpoint() const noexcept { return endpoint_; }
  /// epoll tag of the current socket: slot and a generation, so events still queued for
  /// a socket that was closed and replaced in the same batch are recognised as stale.
  std::uint64_t tag() const noexcept { return (std::uint64_t{slot_} << 32) | generation_; }
  static std::uint32_t slot_of(std::uint64_t tag) noexcept { return static_cast<std::uint32_t>(tag >> 32); }
  /// When the request's first byte was written (service time starts here).
  Clock::time_point write_started() const noexcept { return write_started_; }

  /// Asks the kernel to stamp every segment this connection receives (SO_TIMESTAMPNS)
  /// and reads with recvmsg() to get the stamp, so a response read some time after it
  /// arrived is still timed at its arrival. Plain TCP only: TLS reads go through
  /// OpenSSL. Applies from the next socket opened.
  void set_rx_timestamps(bool on) noexcept { rx_timestamps_ = on; }
  /// The kernel's receive time (CLOCK_REALTIME, ns since the epoch) of the last bytes
  /// read for the current request; 0 when there is none (stamps off, TLS, or the
  /// kernel had not stamped the segment).
  std::int64_t rx_stamp_ns() const noexcept { return rx_stamp_ns_; }

  /// Owner's bookkeeping, untouched by the connection.
  Clock::time_point deadline{};
  void* context = nullptr;

 private:
  void open_socket() noexcept;
  void on_connected() noexcept;
  void handshake() noexcept;
  void write_request() noexcept;
  /// Reads until EAGAIN or EOF; returns true when the request ended (response or
  /// failure reported). `events`: the epoll events that led here (0 when none).
  bool read_available(std::uint32_t events) noexcept;
  /// recv() into recv_buf_, through recvmsg() with the kernel's stamp when asked for.
  ssize_t receive() noexcept;
  void check_idle() noexcept;
  /// Feeds received bytes (n == 0: the peer closed); returns true when the request
  /// ended (response or failure reported).
  bool consume(const char* data, std::size_t n, std::uint32_t events) noexcept;
  bool retryable(Failure failure) const noexcept;
  void fail(Failure failure) noexcept;
  void close_socket() noexcept;

  int epoll_fd_;
  std::uint32_t slot_;
  std::uint32_t generation_ = 0;
  const Endpoint& endpoint_;
  SSL_CTX* tls_ctx_;
  ConnectionObserver& observer_;
  char* recv_buf_;
  std::size_t recv_cap_;

  State state_ = State::Closed;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  const char* data_ = nullptr;     ///< request bytes, owned by the plan or the caller
  std::size_t size_ = 0;
  std::size_t written_ = 0;
  MethodTraits method_{};
  bool sent_any_ = false;          ///< a byte of this request may have reached the server
  std::uint64_t responses_ = 0;    ///< completed on this socket: > 0 means reused
  Clock::time_point write_started_{};
  bool rx_timestamps_ = false;
  std::int64_t rx_stamp_ns_ = 0;   ///< see rx_stamp_ns()
  ResponseParser parser_;
};

}  // namespace lp::http
