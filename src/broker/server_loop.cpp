#include "broker/server_loop.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fcntl.h>

namespace lp::broker {
namespace {

constexpr std::size_t kMaxEvents = 256;
constexpr int kMaxAcceptsPerRound = 64;
// Output buffers shrink back below this once empty, so a burst does not pin memory.
constexpr std::size_t kKeepOutCapacity = 256 * 1024;

// Tags told apart from Client pointers in epoll_event.data.ptr.
char listen_tag;
char wake_tag;

constexpr std::string_view kPong = "PONG\r\n";
constexpr std::string_view kPing = "PING\r\n";
constexpr std::string_view kOk = "+OK\r\n";
// nats-server's answer to a request nobody listens to: a header-only HMSG, status 503.
constexpr std::string_view kNoRespondersHeader = "NATS/1.0 503\r\n\r\n";

std::string peer_address(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    ::inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
    port = ntohs(a.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    ::inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
    port = ntohs(a.sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

std::string_view ip_of(std::string_view address) { return address.substr(0, address.rfind(':')); }

// Decimal digits of `v` into `buf`; returns the view.
std::string_view digits(std::size_t v, char (&buf)[24]) {
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string_view(buf, static_cast<std::size_t>(r.ptr - buf));
}

}  // namespace

ServerLoop::ServerLoop(const BrokerOptions& options, ServerInfo info, int listen_fd, int wake_fd,
                       LiveCounters& counters)
    : options_(options),
      info_(std::move(info)),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      counters_(counters),
      queue_pick_(static_cast<std::uint32_t>(Clock::now().time_since_epoch().count())) {}

ServerLoop::~ServerLoop() {
  for (auto& c : clients_) ::close(c->fd);
  LiveCounters::sub(counters_.clients, clients_.size());
  LiveCounters::sub(counters_.subscriptions, index_.size());
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

void ServerLoop::log(const char* format, ...) {
  char line[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  options_.log(line);
}

int ServerLoop::setup() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return errno;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &listen_tag;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) return errno;
  ev.data.ptr = &wake_tag;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) return errno;
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return 0;
}

void ServerLoop::run() {

  // Timers (PINGs, the CONNECT deadline) are checked on a cadence fine enough for the
  // shortest of them: a quarter of it, between 1 ms and 1 s.
  auto shortest = std::min(options_.ping_interval, options_.auth_timeout);
  auto cadence = std::clamp<std::chrono::milliseconds>(shortest / 4, std::chrono::milliseconds(1),
                                                       std::chrono::seconds(1));
  now_ = Clock::now();
  Clock::time_point next_check = now_ + cadence;
  std::array<epoll_event, kMaxEvents> events{};
  bool stopping = false;
  while (!stopping) {
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_check - now_);
    const int timeout_ms = static_cast<int>(std::max<std::int64_t>(0, wait.count()));
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) {
      log("epoll_wait failed: %s; the broker stops", std::strerror(errno));
      return;
    }
    now_ = Clock::now();
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &wake_tag) {
        stopping = true;
      } else if (tag == &listen_tag) {
        accept_clients();
      } else {
        auto* c = static_cast<Client*>(tag);
        // Read first even on EPOLLHUP/ERR: the last bytes (and the EOF) are in there.
        if (!c->closing && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))) on_readable(*c);
        if (!c->closing && (events[i].events & EPOLLOUT)) on_writable(*c);
      }
    }
    if (now_ >= next_check) {
      check_timers(now_);
      next_check = now_ + cadence;
    }
    flush_dirty();
    reap();
  }
}

void ServerLoop::accept_clients() {
  for (int i = 0; i < kMaxAcceptsPerRound; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
        // Out of descriptors: refuse this one (free the spare, accept, close) instead of
        // spinning on a listening socket that stays readable.
        log("out of file descriptors: refusing a connection (%zu clients)", clients_.size());
        ::close(spare_fd_);
        const int refused = ::accept(listen_fd_, nullptr, nullptr);
        if (refused >= 0) ::close(refused);
        spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      }
      return;  // EAGAIN: nothing more pending
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ProtocolParser::Limits limits;
    limits.max_payload = options_.max_payload;
    auto owned = std::make_unique<Client>(next_client_id_++, fd, peer_address(addr), limits);
    Client& c = *owned;
    c.connected_at = c.last_read = c.next_ping_check = now_;
    c.next_ping_check += options_.ping_interval;
    c.slot = clients_.size();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = &c;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    clients_.push_back(std::move(owned));
    LiveCounters::add(counters_.clients);
    LiveCounters::add(counters_.connections_total);
    send_line(c, render_info(info_, c.id, ip_of(c.address)));
  }
}

void ServerLoop::on_readable(Client& c) {
  ssize_t n;
  do {
    n = ::recv(c.fd, read_buf_.data(), read_buf_.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n <= 0) {  // EOF or a reset: the client is gone
    close_client(c, false);
    return;
  }
  c.last_read = now_;
  const char* data = read_buf_.data();
  auto left = static_cast<std::size_t>(n);
  while (left > 0 && !c.closing) {
    const FeedResult r = c.parser.feed(data, left);
    if (r.status == ParseStatus::Error) {
      switch (c.parser.error()) {
        case ProtocolError::MaxPayload:
          fail(c, "Maximum Payload Violation", counters_.protocol_errors);
          break;
        case ProtocolError::MaxControlLine:
          fail(c, "Maximum Control Line Exceeded", counters_.protocol_errors);
          break;
        default:
          fail(c, "Unknown Protocol Operation", counters_.protocol_errors);
          break;
      }
      return;
    }
    data += r.consumed;
    left -= r.consumed;
    if (r.status == ParseStatus::Op) handle(c, c.parser.op());
  }
}

void ServerLoop::on_writable(Client& c) {
  std::size_t written = 0;
  switch (c.out.flush(c.fd, written)) {
    case OutBuffer::FlushStatus::Done:
      set_write_interest(c, false);
      c.out.trim(kKeepOutCapacity);
      break;
    case OutBuffer::FlushStatus::Partial:
      break;
    case OutBuffer::FlushStatus::Failed:
      close_client(c, false);
      break;
  }
}

void ServerLoop::handle(Client& c, const Operation& op) {
  if (info_.auth_required && !c.connect_received && op.kind != OpKind::Connect) {
    // With a token, CONNECT must come first (nats-server's rule).
    log("authorization violation: client %llu %s sent an operation before CONNECT",
        static_cast<unsigned long long>(c.id), c.address.c_str());
    fail(c, "Authorization Violation", counters_.auth_failures);
    return;
  }
  switch (op.kind) {
    case OpKind::Connect:
      on_connect(c, op);
      break;
    case OpKind::Ping:
      c.last_ping_received = now_;
      send_line(c, kPong);
      break;
    case OpKind::Pong:
      c.pings_out = 0;
      break;
    case OpKind::Pub:
    case OpKind::Hpub:
      on_publish(c, op);
      break;
    case OpKind::Sub:
      on_subscribe(c, op);
      break;
    case OpKind::Unsub:
      on_unsubscribe(c, op);
      break;
  }
}

void ServerLoop::on_connect(Client& c, const Operation& op) {
  auto parsed = parse_connect(op.json);
  if (!parsed) {
    fail(c, "Unknown Protocol Operation", counters_.protocol_errors);
    return;
  }
  ConnectOptions& o = parsed.value();
  if (info_.auth_required && !token_matches(o.auth_token, options_.token)) {
    log("authorization violation: client %llu %s (%s) gave %s token",
        static_cast<unsigned long long>(c.id), c.address.c_str(), o.name.empty() ? "unnamed" : o.name.c_str(),
        o.auth_token.empty() ? "no" : "a wrong");
    fail(c, "Authorization Violation", counters_.auth_failures);
    return;
  }
  if (o.protocol < 0 || o.protocol > 1) {
    fail(c, "invalid client protocol", counters_.protocol_errors);
    return;
  }
  if (o.no_responders && !o.headers) {
    fail(c, "no responders requires headers support", counters_.protocol_errors);
    return;
  }
  c.options = std::move(o);
  c.connect_received = true;
  if (c.options.verbose) send_line(c, kOk);
}

void ServerLoop::on_publish(Client& c, const Operation& op) {
  const bool has_headers = op.kind == OpKind::Hpub;
  if (has_headers && !c.options.headers) {
    // nats-server closes such a client too: it never said it speaks headers.
    fail(c, "Unknown Protocol Operation", counters_.protocol_errors);
    return;
  }
  LiveCounters::add(counters_.messages_in);
  LiveCounters::add(counters_.bytes_in, op.payload.size());
  if (c.options.verbose && !send_line(c, kOk)) return;
  if (!is_valid_publish_subject(op.subject)) {
    // Nothing can subscribe to it. Only a pedantic client is told: any other -ERR makes
    // libnats close the connection for good.
    if (c.options.pedantic) send_line(c, "-ERR 'Invalid Publish Subject'\r\n");
    return;
  }
  route(c, op.subject, op.reply, has_headers, op.header_bytes, op.payload);
}

void ServerLoop::route(Client& from, std::string_view subject, std::string_view reply, bool has_headers,
                       std::size_t header_bytes, std::string_view payload) {
  matches_.clear();
  queued_.clear();
  index_.match(subject, matches_);
  bool delivered = false;
  for (Subscription* sub : matches_) {
    if (sub->client->closing || (!from.options.echo && sub->client == &from)) continue;
    if (!sub->queue.empty()) {
      queued_.push_back(sub);
      continue;
    }
    // deliver() may remove `sub` (UNSUB max reached): it is not touched afterwards.
    delivered |= deliver(*sub, subject, reply, has_headers, header_bytes, payload);
    if (from.closing) return;  // the publisher itself was a slow consumer
  }
  if (!queued_.empty()) {
    // One member per group: group the members by queue name, then pick one at random.
    std::sort(queued_.begin(), queued_.end(),
              [](const Subscription* a, const Subscription* b) { return a->queue < b->queue; });
    for (std::size_t begin = 0; begin < queued_.size();) {
      std::size_t end = begin + 1;
      while (end < queued_.size() && queued_[end]->queue == queued_[begin]->queue) ++end;
      const std::size_t members = end - begin;
      const std::size_t first = begin + queue_pick_() % members;
      // A member dropped earlier in this round is skipped for the next one.
      for (std::size_t k = 0; k < members; ++k) {
        Subscription* sub = queued_[begin + (first - begin + k) % members];
        if (sub->client->closing) continue;
        delivered |= deliver(*sub, subject, reply, has_headers, header_bytes, payload);
        break;
      }
      if (from.closing) return;
      begin = end;
    }
  }
  if (!delivered && !reply.empty() && from.options.no_responders) {
    // A request nobody can answer: tell the requester at once, on its own subscription
    // to the reply subject (as nats-server does), rather than letting it time out.
    matches_.clear();
    index_.match(reply, matches_);
    for (Subscription* sub : matches_) {
      if (sub->client != &from || !sub->queue.empty()) continue;
      char size[24];
      const std::string_view n = digits(kNoRespondersHeader.size(), size);
      std::string line;
      line.reserve(reply.size() + sub->sid.size() + 64);
      line.append("HMSG ").append(reply).append(" ").append(sub->sid);
      line.append(" ").append(n).append(" ").append(n).append("\r\n");
      line.append(kNoRespondersHeader).append("\r\n");
      send_line(from, line);
      break;
    }
  }
}

bool ServerLoop::deliver(Subscription& sub, std::string_view subject, std::string_view reply, bool has_headers,
                         std::size_t header_bytes, std::string_view payload) {
  Client& to = *sub.client;
  // A client that did not ask for headers gets the message without them (nats-server).
  const bool as_hmsg = has_headers && to.options.headers;
  if (has_headers && !as_hmsg) {
    payload.remove_prefix(header_bytes);
    header_bytes = 0;
  }
  char hdr_buf[24];
  char size_buf[24];
  const std::string_view hdr = digits(header_bytes, hdr_buf);
  const std::string_view size = digits(payload.size(), size_buf);
  const std::string_view verb = as_hmsg ? "HMSG " : "MSG ";
  const std::size_t bytes = verb.size() + subject.size() + 1 + sub.sid.size() + (reply.empty() ? 0 : reply.size() + 1) +
                            (as_hmsg ? hdr.size() + 1 : 0) + 1 + size.size() + 2 + payload.size() + 2;
  if (to.out.pending() + bytes > options_.max_pending_bytes) {
    slow_consumer(to, bytes);
    return false;
  }
  OutBuffer& out = to.out;
  out.append(verb);
  out.append(subject);
  out.append(" ");
  out.append(sub.sid);
  if (!reply.empty()) {
    out.append(" ");
    out.append(reply);
  }
  if (as_hmsg) {
    out.append(" ");
    out.append(hdr);
  }
  out.append(" ");
  out.append(size);
  out.append("\r\n");
  out.append(payload);
  out.append("\r\n");
  mark_dirty(to);
  LiveCounters::add(counters_.messages_out);
  LiveCounters::add(counters_.bytes_out, payload.size());
  ++sub.delivered;
  if (sub.max_msgs > 0 && sub.delivered >= sub.max_msgs) remove_subscription(to, sub);  // frees `sub`
  return true;
}

void ServerLoop::on_subscribe(Client& c, const Operation& op) {
  if (!is_valid_subject(op.subject) || (!op.queue.empty() && !is_valid_publish_subject(op.queue))) {
    send_line(c, "-ERR 'Invalid Subject'\r\n");
    return;
  }
  auto [it, inserted] = c.subs.try_emplace(std::string(op.sid));
  if (inserted) {
    // A repeated sid keeps the first subscription, as in nats-server.
    auto sub = std::make_unique<Subscription>();
    sub->client = &c;
    sub->subject = op.subject;
    sub->queue = op.queue;
    sub->sid = op.sid;
    index_.insert(sub.get());
    it->second = std::move(sub);
    LiveCounters::add(counters_.subscriptions);
  }
  if (c.options.verbose) send_line(c, kOk);
}

void ServerLoop::on_unsubscribe(Client& c, const Operation& op) {
  if (c.options.verbose && !send_line(c, kOk)) return;
  auto it = c.subs.find(std::string(op.sid));
  if (it == c.subs.end()) return;
  Subscription& sub = *it->second;
  if (op.has_max && op.max_msgs > sub.delivered) {
    sub.max_msgs = op.max_msgs;  // counts what was already delivered, as nats-server does
  } else {
    remove_subscription(c, sub);
  }
}

void ServerLoop::remove_subscription(Client& c, Subscription& sub) {
  index_.remove(&sub);
  LiveCounters::sub(counters_.subscriptions);
  c.subs.erase(sub.sid);  // frees `sub`
}

bool ServerLoop::send_line(Client& c, std::string_view line) {
  if (c.out.pending() + line.size() > options_.max_pending_bytes) {
    slow_consumer(c, line.size());
    return false;
  }
  c.out.append(line);
  mark_dirty(c);
  return true;
}

void ServerLoop::fail(Client& c, std::string_view text, LiveCounters::Field& counter) {
  LiveCounters::add(counter);
  std::string line;
  line.reserve(text.size() + 10);
  line.append("-ERR '").append(text).append("'\r\n");
  send_line(c, line);
  close_client(c, true);
}

void ServerLoop::slow_consumer(Client& c, std::size_t wanted) {
  if (c.closing) return;
  LiveCounters::add(counters_.slow_consumers);
  log("slow consumer: client %llu %s, %zu bytes pending (limit %zu, %zu more wanted): dropped",
      static_cast<unsigned long long>(c.id), c.address.c_str(), c.out.pending(), options_.max_pending_bytes, wanted);
  close_client(c, false);
}

void ServerLoop::mark_dirty(Client& c) {
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(&c);
  }
}

void ServerLoop::set_write_interest(Client& c, bool on) {
  if (c.write_armed == on) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u);
  ev.data.ptr = &c;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  c.write_armed = on;
}

void ServerLoop::close_client(Client& c, bool flush_first) {
  if (c.closing) return;
  c.closing = true;
  c.flush_on_close = flush_first;
  closing_.push_back(&c);
}

void ServerLoop::flush_dirty() {
  for (Client* c : dirty_) {
    c->dirty = false;
    if (c->closing || c->write_armed) continue;  // an armed socket is flushed by EPOLLOUT
    std::size_t written = 0;
    switch (c->out.flush(c->fd, written)) {
      case OutBuffer::FlushStatus::Done:
        c->out.trim(kKeepOutCapacity);
        break;
      case OutBuffer::FlushStatus::Partial:
        set_write_interest(*c, true);
        break;
      case OutBuffer::FlushStatus::Failed:
        close_client(*c, false);
        break;
    }
  }
  dirty_.clear();
}

void ServerLoop::reap() {
  for (Client* c : closing_) {
    if (c->flush_on_close) {
      // Best effort, never waiting: the -ERR goes out, then FIN. Reading what is left
      // avoids a reset that could destroy the -ERR before the client reads it.
      std::size_t written = 0;
      c->out.flush(c->fd, written);
      ::shutdown(c->fd, SHUT_WR);
      for (int i = 0; i < 16 && ::recv(c->fd, read_buf_.data(), read_buf_.size(), MSG_DONTWAIT) > 0; ++i) {
      }
    } else {
      // Reset rather than let the kernel trickle a dropped client's queue out to it (a
      // slow consumer's may be megabytes): its memory comes back now.
      const linger abort{1, 0};
      ::setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    }
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    for (auto& [sid, sub] : c->subs) index_.remove(sub.get());
    LiveCounters::sub(counters_.subscriptions, c->subs.size());
    LiveCounters::sub(counters_.clients);
    // Swap-remove from clients_, keeping slots right.
    const std::size_t slot = c->slot;
    if (slot + 1 != clients_.size()) {
      std::swap(clients_[slot], clients_.back());
      clients_[slot]->slot = slot;
    }
    clients_.pop_back();  // frees *c
  }
  closing_.clear();
}

void ServerLoop::check_timers(Clock::time_point now) {
  for (auto& owned : clients_) {
    Client& c = *owned;
    if (c.closing) continue;
    if (!c.connect_received) {
      // Never PING before CONNECT: a PING ahead of the first PONG has broken clients
      // (nats-server#1174). A client that never sends CONNECT is dropped instead.
      if (info_.auth_required && now - c.connected_at >= options_.auth_timeout) {
        log("authentication timeout: client %llu %s sent no CONNECT", static_cast<unsigned long long>(c.id),
            c.address.c_str());
        fail(c, "Authentication Timeout", counters_.auth_failures);
      } else if (!info_.auth_required && now - c.connected_at >= (kMaxPingsOut + 1) * options_.ping_interval) {
        fail(c, "Stale Connection", counters_.stale_connections);
      }
      continue;
    }
    if (now < c.next_ping_check) continue;
    c.next_ping_check = now + options_.ping_interval;
    // Anything heard from the client within the interval proves it alive (nats-server).
    if (now - c.last_read < options_.ping_interval || now - c.last_ping_received < options_.ping_interval) continue;
    if (c.pings_out + 1 > kMaxPingsOut) {
      log("stale connection: client %llu %s left %d PINGs unanswered: dropped", static_cast<unsigned long long>(c.id),
          c.address.c_str(), c.pings_out);
      fail(c, "Stale Connection", counters_.stale_connections);
      continue;
    }
    ++c.pings_out;
    LiveCounters::add(counters_.pings_sent);
    send_line(c, kPing);
  }
}

}  // namespace lp::broker
