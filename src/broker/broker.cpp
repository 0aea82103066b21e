#include "broker/broker.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>

#include "broker/handshake.hpp"
#include "broker/live_counters.hpp"
#include "broker/server_loop.hpp"

namespace lp::broker {
namespace {

// nats-server refuses a max_payload above 64 MiB; so do we.
constexpr std::size_t kMaxPayloadLimit = 64 * 1024 * 1024;

void log_to_stderr(std::string_view line) {
  std::fprintf(stderr, "loadpilot broker: %.*s\n", static_cast<int>(line.size()), line.data());
}

std::string random_server_id() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::random_device rd;
  std::string id = "LP";
  for (int i = 0; i < 22; ++i) id += kAlphabet[rd() % 32];
  return id;
}

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  bool loopback = false;
  bool wildcard = false;
  bool v6 = false;
};

bool parse_address(const std::string& text, std::uint16_t port, Address& out) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.length = sizeof(sockaddr_in);
    const std::uint32_t host = ntohl(v4->sin_addr.s_addr);
    out.loopback = (host >> 24) == 127;
    out.wildcard = host == INADDR_ANY;
    return true;
  }
  out.storage = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.length = sizeof(sockaddr_in6);
    out.loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
    out.wildcard = IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr);
    out.v6 = true;
    return true;
  }
  return false;
}

std::string host_port(const std::string& host, bool v6, std::uint16_t port) {
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

struct Broker::Impl {
  BrokerOptions options;
  LiveCounters counters;
  std::unique_ptr<ServerLoop> loop;
  std::thread thread;
  int listen_fd = -1;
  int wake_fd = -1;
  std::atomic<std::uint16_t> port{0};
  std::atomic<bool> running{false};
  bool v6 = false;
  bool wildcard = false;

  void close_fds() {
    if (listen_fd >= 0) ::close(listen_fd);
    if (wake_fd >= 0) ::close(wake_fd);
    listen_fd = wake_fd = -1;
  }
};

Broker::Broker() : impl_(std::make_unique<Impl>()) {}

Broker::~Broker() { stop(); }

Status Broker::start(BrokerOptions options) {
  Impl& s = *impl_;
  if (s.running.load()) return make_error(ErrorCode::Internal, "the broker is already running");
  if (!options.log) options.log = log_to_stderr;

  std::string problems;
  auto problem = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
  if (options.max_payload == 0 || options.max_payload > kMaxPayloadLimit) {
    problem("max_payload must be between 1 byte and 64 MiB, got " + std::to_string(options.max_payload));
  }
  if (options.ping_interval.count() <= 0) problem("ping_interval must be > 0");
  if (options.auth_timeout.count() <= 0) problem("auth_timeout must be > 0");
  if (options.max_pending_bytes < options.max_payload) {
    problem("max_pending_bytes (" + std::to_string(options.max_pending_bytes) + ") must be at least max_payload (" +
            std::to_string(options.max_payload) + "), or every large message drops its receiver");
  }
  Address addr;
  if (!parse_address(options.bind_addr, options.port, addr)) {
    problem("broker bind address '" + options.bind_addr + "' is not an IPv4 or IPv6 address");
  }
  if (!problems.empty()) {
    return make_error(ErrorCode::Invalid, problems,
                      "use 127.0.0.1 for agents on this machine, 0.0.0.0 to accept agents from others");
  }

  const std::string where = host_port(options.bind_addr, addr.v6, options.port);
  s.listen_fd = ::socket(addr.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.listen_fd < 0) {
    return make_error(ErrorCode::Io, std::string("cannot create the broker's socket: ") + std::strerror(errno));
  }
  // Lets a restarted broker take its port back while old connections sit in TIME_WAIT.
  const int one = 1;
  ::setsockopt(s.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(s.listen_fd, reinterpret_cast<sockaddr*>(&addr.storage), addr.length) != 0 ||
      ::listen(s.listen_fd, SOMAXCONN) != 0) {
    const int err = errno;
    s.close_fds();
    return make_error(ErrorCode::Unavailable, "the broker cannot listen on " + where + ": " + std::strerror(err),
                      err == EADDRINUSE ? "another process uses that port: stop it or choose another port" : "");
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const std::uint16_t port = addr.v6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                     : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  s.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s.wake_fd < 0) {
    const int err = errno;
    s.close_fds();
    return make_error(ErrorCode::Io, std::string("cannot create the broker's eventfd: ") + std::strerror(err));
  }

  ServerInfo info;
  info.server_id = random_server_id();
  info.server_name = options.server_name;
  info.host = options.bind_addr;
  info.port = port;
  info.max_payload = options.max_payload;
  info.auth_required = !options.token.empty();

  s.options = std::move(options);
  s.loop = std::make_unique<ServerLoop>(s.options, std::move(info), s.listen_fd, s.wake_fd, s.counters);
  if (const int err = s.loop->setup(); err != 0) {
    s.loop.reset();
    s.close_fds();
    return make_error(ErrorCode::Io, std::string("cannot set up the broker's event loop: ") + std::strerror(err));
  }
  if (s.options.token.empty() && !addr.loopback) {
    s.options.log("warning: listening on " + host_port(s.options.bind_addr, addr.v6, port) +
                  " without a token: anyone who can reach this port can join (and receive the plan). "
                  "Set a token (--nats-token or NATS_TOKEN) on the coordinator and the agents.");
  }
  s.v6 = addr.v6;
  s.wildcard = addr.wildcard;
  s.port.store(port);
  s.running.store(true);
  s.thread = std::thread([loop = s.loop.get(), init = s.options.thread_init] {
    if (init) init();
    loop->run();
  });
  return Ok{};
}

void Broker::stop() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(s.wake_fd, &one, sizeof one);
  s.thread.join();
  s.loop.reset();  // closes every client
  s.close_fds();
  s.port.store(0);
  s.running.store(false);
}

std::uint16_t Broker::port() const noexcept { return impl_->port.load(); }

std::string Broker::url() const {
  const Impl& s = *impl_;
  std::string host = s.options.bind_addr;
  if (s.wildcard) host = s.v6 ? "::1" : "127.0.0.1";
  return "nats://" + host_port(host, s.v6, port());
}

BrokerCounters Broker::counters() const noexcept { return impl_->counters.snapshot(); }

bool Broker::running() const noexcept { return impl_->running.load(); }

}  // namespace lp::broker
