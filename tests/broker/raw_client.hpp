#pragma once
// A NATS client that is just a socket: tests write exact protocol bytes and read back
// exact lines, so they can check what a server says byte for byte. Every read waits at
// most the given time (default 5 s) and reports a timeout instead of hanging.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lp::testing {

class RawClient {
 public:
  using ms = std::chrono::milliseconds;
  static constexpr ms kWait{5000};

  /// `receive_buffer` > 0 fixes SO_RCVBUF before connecting: a small one makes the
  /// kernel stop taking bytes early (slow-consumer tests).
  explicit RawClient(std::uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawClient() { close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }

  bool send(std::string_view bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// The next line, CRLF included; nullopt on timeout or EOF.
  std::optional<std::string> line(ms wait = kWait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      if (const auto end = buf_.find("\r\n"); end != std::string::npos) {
        std::string out = buf_.substr(0, end + 2);
        buf_.erase(0, end + 2);
        return out;
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }

  /// Exactly `n` bytes; nullopt on timeout or EOF.
  std::optional<std::string> bytes(std::size_t n, ms wait = kWait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (buf_.size() < n) {
      if (!fill(deadline)) return std::nullopt;
    }
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

  /// Reads the INFO line; returns its JSON or "" when the first line is not INFO.
  std::string info(ms wait = kWait) {
    auto l = line(wait);
    if (!l || l->rfind("INFO ", 0) != 0) return {};
    return l->substr(5, l->size() - 7);
  }

  /// True once the server has closed the connection (EOF or reset), reading and
  /// discarding anything before it; false if it is still open after `wait`.
  bool closed_by_server(ms wait = kWait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      buf_.clear();
      if (!fill(deadline)) return eof_;
    }
  }

  /// Whatever arrives within `wait` (for "nothing else was sent" checks).
  std::string drain(ms wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (fill(deadline)) {
    }
    std::string out;
    out.swap(buf_);
    return out;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  // Reads once into buf_; false on timeout, EOF or error (eof_ set for the last two).
  bool fill(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buf_;
};

}  // namespace lp::testing
