#pragma once
// A tiny blocking HTTP server for unit tests: binds 127.0.0.1 port 0, one thread per
// connection, plain or TLS (a certificate made in memory). Each request's reply is
// scripted: the bytes to write, whether to write them before reading the request body
// (an early response), and what to do with the connection after (keep it, close it
// with the FIN in the same segment as the last bytes, or reset it). Counts requests,
// accepted and finished connections, so tests can check reuse and resends.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/self_signed.hpp"

namespace lp::testing {

/// One request as the server read it.
struct ServerRequest {
  std::string head;    ///< request line and header fields, up to and including the blank line
  int connection = 0;  ///< 0 for the first connection the server accepted, 1 for the next, ...
  int index = 0;       ///< 0 for the first request on its connection, 1 for the next, ...
};

/// What the server does with one request.
struct Reply {
  enum class After : std::uint8_t {
    KeepOpen,  ///< read the next request on this connection
    Close,     ///< FIN in the same segment as the last bytes (no TLS close_notify), then
               ///< read and drop whatever the client still sends, until it closes
    Reset,     ///< close with SO_LINGER 0: an RST
  };
  std::string bytes;         ///< written in one go (may be empty: write nothing)
  bool before_body = false;  ///< reply as soon as the head is read, before the body
  After after = After::KeepOpen;
  bool hold = false;         ///< after writing, wait for release() before doing `after`
};

class LoopbackServer {
 public:
  using Script = std::function<Reply(const ServerRequest&)>;
  enum class Tls : std::uint8_t { Off, On };

  explicit LoopbackServer(Script script, Tls tls = Tls::Off) : script_(std::move(script)) {
    if (tls == Tls::On) tls_ = make_self_signed_server_context();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 128);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  /// `respond(request_head)` returns the raw response. Empty: close without answering;
  /// a response with `Connection: close`: close after it; otherwise keep the connection.
  explicit LoopbackServer(std::function<std::string(const std::string&)> respond, Tls tls = Tls::Off)
      : LoopbackServer(Script([respond = std::move(respond)](const ServerRequest& r) {
                         Reply reply;
                         reply.bytes = respond(r.head);
                         if (reply.bytes.empty() || reply.bytes.find("Connection: close") != std::string::npos) {
                           reply.after = Reply::After::Close;
                         }
                         return reply;
                       }),
                       tls) {}

  ~LoopbackServer() {
    stopping_ = true;
    release();
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    accept_thread_.join();
    {
      std::lock_guard lock(mu_);
      for (int c : clients_) {
        if (c >= 0) ::shutdown(c, SHUT_RDWR);
      }
    }
    for (auto& t : threads_) t.join();
    if (tls_) SSL_CTX_free(tls_);
  }

  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  int requests() const { return requests_.load(); }
  int connections() const { return connections_.load(); }

  /// Lets every reply with `hold` go on to its `after`.
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  /// Waits until the server has closed (sent its FIN) or reset `n` connections, at most
  /// `limit` (a broken test fails instead of hanging); returns whether it has.
  bool wait_closed(int n, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return closed_ >= n; });
  }

 private:
  struct Io {
    int fd;
    SSL* ssl;
    long read(char* buf, std::size_t n) const {
      return ssl ? SSL_read(ssl, buf, static_cast<int>(n)) : ::recv(fd, buf, n, 0);
    }
    bool write_all(const std::string& s) const {
      std::size_t done = 0;
      while (done < s.size()) {
        long n = ssl ? SSL_write(ssl, s.data() + done, static_cast<int>(s.size() - done))
                     : ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
      }
      return true;
    }
  };

  void accept_loop() {
    while (!stopping_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      int one = 1;  // as real servers do: a reply is never held back by Nagle
      ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      int number = connections_++;
      std::lock_guard lock(mu_);
      clients_.push_back(c);
      std::size_t slot = clients_.size() - 1;
      threads_.emplace_back([this, c, number, slot] { serve(c, number, slot); });
    }
  }

  static std::size_t content_length(const std::string& head) {
    static constexpr char kName[] = "\r\ncontent-length:";
    for (std::size_t i = 0; i + sizeof kName - 1 <= head.size(); ++i) {
      if (strncasecmp(head.data() + i, kName, sizeof kName - 1) == 0) {
        return std::stoul(head.substr(i + sizeof kName - 1));
      }
    }
    return 0;
  }

  void serve(int c, int number, std::size_t slot) {
    SSL* ssl = nullptr;
    if (tls_) {
      ssl = SSL_new(tls_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) != 1) return finish(c, ssl, slot, Reply::After::Reset);
    }
    Io io{c, ssl};
    std::string buf;
    char tmp[16 * 1024];
    auto fill = [&](std::size_t want) {  // until buf holds `want` bytes; false on EOF or error
      while (buf.size() < want) {
        long n = io.read(tmp, sizeof tmp);
        if (n <= 0) return false;
        buf.append(tmp, static_cast<std::size_t>(n));
      }
      return true;
    };
    for (int index = 0;; ++index) {
      std::size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!fill(buf.size() + 1)) return finish(c, ssl, slot, Reply::After::Close);
      }
      ServerRequest request{buf.substr(0, end + 4), number, index};
      std::size_t body = content_length(request.head);
      ++requests_;
      Reply reply = script_(request);
      auto read_body = [&] {
        if (!fill(end + 4 + body)) return false;
        buf.erase(0, end + 4 + body);
        return true;
      };
      if (!reply.before_body && !read_body()) return finish(c, ssl, slot, Reply::After::Close);
      if (reply.after == Reply::After::Close) {
        int one = 1;  // the FIN then leaves in the same segment as the last bytes
        ::setsockopt(c, IPPROTO_TCP, TCP_CORK, &one, sizeof one);
      }
      if (!io.write_all(reply.bytes)) return finish(c, ssl, slot, Reply::After::Close);
      if (reply.hold) {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return released_; });
      }
      if (reply.after != Reply::After::KeepOpen) return finish(c, ssl, slot, reply.after);
      if (reply.before_body && !read_body()) return finish(c, ssl, slot, Reply::After::Close);
    }
  }

  void finish(int c, SSL* ssl, std::size_t slot, Reply::After how) {
    if (how == Reply::After::Close) {
      ::shutdown(c, SHUT_WR);
      count_closed();
      char tmp[16 * 1024];
      while (::recv(c, tmp, sizeof tmp, 0) > 0) {
      }
    } else {
      linger hard{1, 0};
      ::setsockopt(c, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    if (ssl) SSL_free(ssl);
    std::lock_guard lock(mu_);
    ::close(c);
    clients_[slot] = -1;  // the number may be reused at once: never shut it down again
    if (how != Reply::After::Close) {
      ++closed_;
      cv_.notify_all();
    }
  }

  void count_closed() {
    std::lock_guard lock(mu_);
    ++closed_;
    cv_.notify_all();
  }

  Script script_;
  SSL_CTX* tls_ = nullptr;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0}, connections_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int closed_ = 0;
  std::vector<int> clients_;  ///< open client sockets; -1 once closed
  std::vector<std::thread> threads_;
};

}  // namespace lp::testing
