#pragma once
// The broker's event loop: accepts clients, parses what they send, routes messages to
// subscribers, PINGs idle clients and drops stale, slow or misbehaving ones. One
// thread; every socket non-blocking.
//
// epoll is level-triggered: each readable client gets one recv() (up to 64 KiB) per
// round, so a client flooding the broker cannot starve the others, and nothing is lost
// when a round stops early. Writes are queued per client and sent once per round, after
// every event of the round is handled, so one send() carries many messages; EPOLLOUT is
// armed only while a socket is full.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "broker/broker.hpp"
#include "broker/client.hpp"
#include "broker/handshake.hpp"
#include "broker/live_counters.hpp"
#include "broker/subject_index.hpp"

namespace lp::broker {

class ServerLoop {
 public:
  static constexpr std::size_t kReadBufferSize = 64 * 1024;
  /// PINGs a client may leave unanswered; the next one due drops it (nats-server's ping_max).
  static constexpr int kMaxPingsOut = 2;

  /// `listen_fd` (listening, non-blocking) and `wake_fd` (an eventfd: readable = stop)
  /// stay owned by the caller. `options.log` must be set.
  ServerLoop(const BrokerOptions& options, ServerInfo info, int listen_fd, int wake_fd, LiveCounters& counters);
  ~ServerLoop();  ///< closes every client socket
  ServerLoop(const ServerLoop&) = delete;
  ServerLoop& operator=(const ServerLoop&) = delete;

  /// Creates the epoll set. Returns 0 or the errno that made it fail. Call once, first.
  int setup();

  /// Serves until `wake_fd` becomes readable (or epoll fails, which is logged).
  void run();

 private:
  void accept_clients();
  void on_readable(Client& c);
  void on_writable(Client& c);
  void handle(Client& c, const Operation& op);
  void on_connect(Client& c, const Operation& op);
  void on_publish(Client& c, const Operation& op);
  void on_subscribe(Client& c, const Operation& op);
  void on_unsubscribe(Client& c, const Operation& op);

  /// Routes one message to every matching subscription (one member per queue group).
  void route(Client& from, std::string_view subject, std::string_view reply, bool has_headers,
             std::size_t header_bytes, std::string_view payload);
  /// Queues MSG/HMSG for `sub`; false if its client was dropped as a slow consumer.
  bool deliver(Subscription& sub, std::string_view subject, std::string_view reply, bool has_headers,
               std::size_t header_bytes, std::string_view payload);
  void remove_subscription(Client& c, Subscription& sub);

  /// Queues a control line (CRLF included); false if that made `c` a slow consumer.
  bool send_line(Client& c, std::string_view line);
  /// Sends `-ERR '<text>'`, then drops the client.
  void fail(Client& c, std::string_view text, LiveCounters::Field& counter);
  void slow_consumer(Client& c, std::size_t wanted);
  void mark_dirty(Client& c);
  void set_write_interest(Client& c, bool on);

  /// Marks `c` dropped: delivery skips it from now on; its socket and subscriptions go
  /// at the end of the round (pointers to it may still be in this round's events).
  void close_client(Client& c, bool flush_first);
  void flush_dirty();
  void reap();
  void check_timers(Clock::time_point now);
  void log(const char* format, ...) __attribute__((format(printf, 2, 3)));

  const BrokerOptions& options_;
  ServerInfo info_;
  int listen_fd_;
  int wake_fd_;
  LiveCounters& counters_;
  int epoll_fd_ = -1;
  int spare_fd_ = -1;  // kept open so that at EMFILE one pending connection can be refused
  std::uint64_t next_client_id_ = 1;
  Clock::time_point now_{};

  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<Client*> dirty_;    // clients with bytes queued this round
  std::vector<Client*> closing_;  // clients dropped this round
  SubjectIndex index_;
  std::vector<Subscription*> matches_;  // reused per publish
  std::vector<Subscription*> queued_;   // queue-group members among matches_
  std::minstd_rand queue_pick_;          // spreads queue-group deliveries (nats-server picks at random)
  std::array<char, kReadBufferSize> read_buf_{};
};

}  // namespace lp::broker
