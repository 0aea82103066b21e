#pragma once
// The embedded NATS broker: a server speaking the NATS client protocol (what libnats
// and the other official clients speak), run by the coordinator so that `--agents` and
// `--external-agents` need no nats-server. One thread, one epoll loop; see
// docs/distributed.md ("Transport") for what it implements and what it does not.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace lp::broker {

struct BrokerOptions {
  /// IPv4 or IPv6 address to listen on: 127.0.0.1 for `--agents`, 0.0.0.0 for
  /// `--external-agents`. Without a token on a non-loopback address, start() logs a
  /// warning that anyone who can reach the port can join.
  std::string bind_addr = "127.0.0.1";
  std::uint16_t port = 0;  ///< 0 = pick a free port (read it back with port())
  /// Required in every CONNECT (`auth_token`) when not empty; a wrong or missing one
  /// gets `-ERR 'Authorization Violation'` and the connection is closed.
  std::string token;
  std::size_t max_payload = 1024 * 1024;  ///< bytes per message, headers included (nats-server's default)
  /// The server PINGs a client it has heard nothing from for this long, and drops one
  /// that leaves two PINGs unanswered (`-ERR 'Stale Connection'`).
  std::chrono::milliseconds ping_interval{std::chrono::minutes(2)};
  /// Bytes queued for one client beyond which it is a slow consumer and is dropped (the
  /// broker never waits for one client). nats-server's default.
  std::size_t max_pending_bytes = 64 * 1024 * 1024;
  /// With a token set, a client that has not sent CONNECT by then is dropped
  /// (`-ERR 'Authentication Timeout'`).
  std::chrono::milliseconds auth_timeout{std::chrono::seconds(2)};
  std::string server_name = "loadpilot-broker";
  /// Where log lines go (slow consumers, stale clients, auth failures, the open-port
  /// warning); one line per call, no newline. Called on the broker's thread (and on the
  /// caller's in start()). Default: stderr, prefixed "loadpilot broker: ".
  std::function<void(std::string_view)> log;
  /// Called first on the broker's thread, if set (to name or pin it; the allocation
  /// test uses it to count that thread's allocations).
  std::function<void()> thread_init;
};

/// Totals since the Broker was created (over restarts), and two gauges (clients,
/// subscriptions), for tests and metrics. Readable from any thread while the broker
/// runs: each field is exact, the set is not one atomic snapshot.
struct BrokerCounters {
  std::uint64_t clients = 0;              ///< connections open now
  std::uint64_t connections_total = 0;    ///< connections accepted
  std::uint64_t messages_in = 0;          ///< PUB/HPUB received
  std::uint64_t messages_out = 0;         ///< MSG/HMSG delivered (one per receiving subscription)
  std::uint64_t bytes_in = 0;             ///< payload bytes received
  std::uint64_t bytes_out = 0;            ///< payload bytes delivered
  std::uint64_t slow_consumers = 0;       ///< clients dropped for exceeding max_pending_bytes
  std::uint64_t stale_connections = 0;    ///< clients dropped after two unanswered PINGs
  std::uint64_t auth_failures = 0;        ///< wrong/missing token, or no CONNECT in time
  std::uint64_t protocol_errors = 0;      ///< clients dropped for a protocol violation
  std::uint64_t subscriptions = 0;        ///< subscriptions live now
  std::uint64_t pings_sent = 0;           ///< keepalive PINGs sent to idle clients
};

class Broker {
 public:
  Broker();
  ~Broker();  ///< stop()s
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  /// Binds, listens and starts the broker's thread. Fails (without a thread) on invalid
  /// options, an address that is not an IP literal, or a port that cannot be bound.
  /// A stopped broker may be started again, e.g. on the same port.
  Status start(BrokerOptions options);

  /// Closes every client and the listening socket, then joins the thread. Idempotent.
  void stop();

  /// The port listened on (the one picked when options.port was 0); 0 when not running.
  std::uint16_t port() const noexcept;

  /// `nats://<bind_addr>:<port>`, with 127.0.0.1 for a wildcard bind.
  std::string url() const;

  BrokerCounters counters() const noexcept;

  bool running() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lp::broker
