#include "http/connection.hpp"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <ctime>
#include <mutex>

#include <arpa/inet.h>

namespace lp::http {

namespace {

constexpr std::uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

bool is_ip_literal(const std::string& host) {
  in6_addr buf;
  return inet_pton(AF_INET, host.c_str(), &buf) == 1 || inet_pton(AF_INET6, host.c_str(), &buf) == 1;
}

}  // namespace

Connection::Connection(int epoll_fd, std::uint32_t slot, const Endpoint& endpoint, SSL_CTX* tls,
                       ConnectionObserver& observer, char* recv_buf, std::size_t recv_cap,
                       bool capture)
    : epoll_fd_(epoll_fd),
      slot_(slot),
      endpoint_(endpoint),
      tls_ctx_(tls),
      observer_(observer),
      recv_buf_(recv_buf),
      recv_cap_(recv_cap),
      parser_(capture) {
  // Plain sends pass MSG_NOSIGNAL, but OpenSSL writes with write(): a server that closes
  // while a TLS record is written would kill the process with SIGPIPE. A peer closing is
  // an error we count, so whoever drives connections (workers, Python mode's CallLoop,
  // an agent, a test) gets SIGPIPE ignored, once, unless the program set a handler.
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  });
}

Connection::~Connection() { close_socket(); }

void Connection::send(const char* data, std::size_t size, MethodTraits method) noexcept {
  data_ = data;
  size_ = size;
  written_ = 0;
  method_ = method;
  sent_any_ = false;
  rx_stamp_ns_ = 0;
  parser_.reset(method.head);
  if (state_ == State::Closed) return open_socket();
  state_ = State::Writing;
  write_request();
}

void Connection::open_socket() noexcept {
  ++generation_;
  responses_ = 0;
  fd_ = ::socket(endpoint_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return fail(Failure::Connect);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (rx_timestamps_ && !endpoint_.tls) ::setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  epoll_event ev{};
  ev.events = kEvents;
  ev.data.u64 = tag();
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd_, &ev) != 0) return fail(Failure::Connect);
  state_ = State::Connecting;
  int rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&endpoint_.addr), endpoint_.addr_len);
  if (rc == 0) return on_connected();
  if (errno != EINPROGRESS) return fail(Failure::Connect);
}

void Connection::on_connected() noexcept {
  if (!endpoint_.tls) {
    state_ = State::Writing;
    return write_request();
  }
  ssl_ = SSL_new(tls_ctx_);
  if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) return fail(Failure::Tls);
  if (!is_ip_literal(endpoint_.host)) SSL_set_tlsext_host_name(ssl_, endpoint_.host.c_str());
  if (SSL_CTX_get_verify_mode(tls_ctx_) != SSL_VERIFY_NONE) SSL_set1_host(ssl_, endpoint_.host.c_str());
  SSL_set_connect_state(ssl_);
  state_ = State::Handshaking;
  handshake();
}

void Connection::handshake() noexcept {
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    state_ = State::Writing;
    return write_request();
  }
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
  fail(Failure::Tls);
}

void Connection::write_request() noexcept {
  if (written_ == 0) write_started_ = Clock::now();
  while (written_ < size_) {
    if (ssl_) {
      int n = SSL_write(ssl_, data_ + written_, static_cast<int>(size_ - written_));
      if (n > 0) {
        sent_any_ = true;
        written_ += static_cast<std::size_t>(n);
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
        sent_any_ = true;  // part of a record may be on the wire already
        return;
      }
      if (err == SSL_ERROR_SSL) return fail(Failure::Tls);
      // EPIPE or ECONNRESET from the socket, as below. A failed socket write does not
      // put OpenSSL in its fatal state (that takes a protocol error), so the records
      // the server sent before closing can still be read.
      ERR_clear_error();
      if (!read_available(0)) fail(Failure::Reset);
      return;
    }
    ssize_t n = ::send(fd_, data_ + written_, size_ - written_, MSG_NOSIGNAL);
    if (n > 0) {
      sent_any_ = true;
      written_ += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      return;  // the next writable edge resumes here
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      // EPIPE or ECONNRESET: the server may have answered before closing (an early
      // 413 to a body it will not read). What it sent is still in the socket.
      if (!read_available(0)) fail(Failure::Reset);
      return;
    }
  }
  state_ = State::Reading;
  // TLS may already hold (part of) the response in its buffer, read from the socket
  // with the handshake or a session ticket: no edge will come for it.
  if (ssl_ && SSL_has_pending(ssl_)) read_available(0);
}

bool Connection::read_available(std::uint32_t events) noexcept {
  for (;;) {
    if (ssl_) {
      int n = SSL_read(ssl_, recv_buf_, static_cast<int>(recv_cap_));
      if (n > 0) {
        if (consume(recv_buf_, static_cast<std::size_t>(n), events)) return true;
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return false;
      if (err == SSL_ERROR_SSL) return fail(Failure::Tls), true;
      return consume(nullptr, 0, events);  // close_notify, EOF (or a reset)
    }
    ssize_t n = receive();
    if (n > 0) {
      // Never stop at a short read: the FIN may have come with these bytes, and then
      // no new edge comes for it.
      if (consume(recv_buf_, static_cast<std::size_t>(n), events)) return true;
    } else if (n == 0) {
      return consume(nullptr, 0, events);
    } else if (errno == EAGAIN) {
      return false;
    } else if (errno != EINTR) {
      return consume(nullptr, 0, events);  // ECONNRESET: what came before it still counts
    }
  }
}

ssize_t Connection::receive() noexcept {
  if (!rx_timestamps_ || ssl_) return ::recv(fd_, recv_buf_, recv_cap_, 0);
  iovec iov{recv_buf_, recv_cap_};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(fd_, &msg, 0);
  if (n <= 0) return n;
  // TCP reports the stamp of the last segment this read took bytes from: for the read
  // that completes a response, the arrival of its last byte.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      rx_stamp_ns_ = std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
    }
  }
  return n;
}

bool Connection::consume(const char* data, std::size_t n, std::uint32_t events) noexcept {
  if (n == 0) {  // the peer closed (or reset) the connection
    if (parser_.finish_eof() == ParseStatus::Done) {
      close_socket();
      observer_.on_response(*this, parser_);
      return true;
    }
    fail(Failure::Reset);
    return true;
  }
  FeedResult r = parser_.feed(data, n);
  if (r.status == ParseStatus::NeedMore) return false;
  if (r.status == ParseStatus::Invalid) {
    fail(Failure::Protocol);
    return true;
  }
  // Not reused when: bytes follow the response that we did not ask for (we never
  // pipeline); the server says so; the response came before the whole request was
  // written (the server will not read the rest as a request); or the server has
  // already closed its side (the FIN came in the same batch of events, so no later
  // edge would tell the idle connection).
  if (r.consumed < n || !parser_.keep_alive() || written_ < size_ || (events & (EPOLLRDHUP | EPOLLHUP))) {
    close_socket();
  } else {
    ++responses_;
    state_ = State::Idle;
  }
  observer_.on_response(*this, parser_);
  return true;
}

void Connection::on_event(std::uint32_t events) noexcept {
  switch (state_) {
    case State::Closed:
      return;
    case State::Connecting: {
      if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0 ||
          (events & (EPOLLERR | EPOLLHUP))) {
        return fail(Failure::Connect);
      }
      return on_connected();
    }
    case State::Handshaking:
      return handshake();
    case State::Writing:
      // The server may answer before reading the whole request (413 or 401 to a large
      // body), then close. The readable edge comes now, while we write, and never
      // again: read it first, then go on writing if the request is still open.
      if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) && read_available(events)) return;
      return write_request();
    case State::Reading:
      read_available(events);
      return;
    case State::Idle:
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) check_idle();
      return;
  }
}

void Connection::check_idle() noexcept {
  // Readable while idle: the server closed the keep-alive connection (or sent bytes we
  // did not ask for). Either way the connection is no longer usable.
  if (ssl_) {
    int n = SSL_read(ssl_, recv_buf_, static_cast<int>(recv_cap_));
    if (n <= 0) {
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;  // e.g. a session ticket
    }
    return close();
  }
  ssize_t n = ::recv(fd_, recv_buf_, recv_cap_, 0);
  if (n < 0 && errno == EAGAIN) return;
  close();
}

void Connection::expire() noexcept {
  if (busy()) fail(Failure::Timeout);
}

bool Connection::retryable(Failure failure) const noexcept {
  // A reused connection closed before any response byte: the server most likely
  // dropped it as idle and never saw the request. Resending is safe if nothing of it
  // was written, or if the method is idempotent (RFC 9112 §9.3.1).
  return failure == Failure::Reset && responses_ > 0 && !parser_.started() && (!sent_any_ || method_.idempotent);
}

void Connection::fail(Failure failure) noexcept {
  const bool retry = retryable(failure);
  close_socket();
  observer_.on_failure(*this, failure, retry);
}

void Connection::close() noexcept { close_socket(); }

void Connection::close_socket() noexcept {
  if (ssl_) {
    SSL_free(ssl_);
    ssl_ = nullptr;
    // SSL_get_error() reads this thread's error queue: what a failed connection left
    // there would be taken for the next connection's error.
    ERR_clear_error();
  }
  if (fd_ >= 0) {
    ::close(fd_);  // also removes it from the epoll set
    fd_ = -1;
  }
  state_ = State::Closed;
}

}  // namespace lp::http
